package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.torch.Torch;

/**
 * Reading and writing model checkpoints: PyTorch's zip format ({@code torch.save}, PyTorch >= 1.6)
 * and safetensors. The format is detected from the file's first bytes, never from its name, and
 * nothing from a file is ever executed (see {@link Unpickler}). Writes are atomic
 * ({@link AtomicFiles}) and deterministic: the same state dict gives the same bytes.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** The checkpoint formats Lady reads and writes. */
    public enum Format {
        /** PyTorch's zip format, as torch.save writes it (usually .pt / .pth). */
        TORCH_ZIP,
        /** safetensors (.safetensors). */
        SAFETENSORS
    }

    private static final int ZIP_MAGIC = 0x04034b50; // "PK\3\4", little-endian
    private static final int EMPTY_ZIP_MAGIC = 0x06054b50;
    private static final int PICKLE_PROTO = 0x80;
    private static final int MAGIC_BYTES = 9;

    /** Reads the state dict of a checkpoint in either format. */
    public static StateDict read(Path path) {
        Torch.init();
        try (FileChannel ch = open(path)) {
            Format f = detect(ch, path);
            return f == Format.TORCH_ZIP ? TorchZip.read(ch, path.toString()) : SafeTensors.read(ch, path.toString());
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** The format of an existing checkpoint, from its content. */
    public static Format formatOf(Path path) {
        try (FileChannel ch = open(path)) {
            return detect(ch, path);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** The format a new checkpoint named {@code path} gets: safetensors for a {@code .safetensors} name, else
     * PyTorch's zip format. */
    public static Format formatForName(Path path) {
        return path.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".safetensors")
                ? Format.SAFETENSORS : Format.TORCH_ZIP;
    }

    /** Writes {@code sd} to {@code path} in {@code format}, atomically (never a half-written file). */
    public static void write(Path path, StateDict sd, Format format) {
        Torch.init();
        AtomicFiles.write(path, ch -> {
            if (format == Format.TORCH_ZIP) {
                TorchZip.write(ch, sd);
            } else {
                SafeTensors.write(ch, sd);
            }
        });
    }

    private static FileChannel open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            throw new LadyException(LadyException.Kind.IO, "not a file: " + path);
        }
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new LadyException(LadyException.Kind.IO, "no such file: " + path);
        }
    }

    private static Format detect(FileChannel ch, Path path) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(MAGIC_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
            // read up to MAGIC_BYTES
        }
        b.flip();
        if (b.remaining() >= 4 && (b.getInt(0) == ZIP_MAGIC || b.getInt(0) == EMPTY_ZIP_MAGIC)) {
            return Format.TORCH_ZIP;
        }
        if (b.remaining() >= 1 && (b.get(0) & 0xFF) == PICKLE_PROTO) {
            throw LadyException.invalidInput(path + " is in PyTorch's legacy (pre-1.6, non-zip) format, which Lady does "
                    + "not read; re-save it with PyTorch >= 1.6: torch.save(torch.load(old), new)");
        }
        if (b.remaining() == MAGIC_BYTES && b.get(LENGTH_OFFSET) == '{' && b.getLong(0) > 0) {
            return Format.SAFETENSORS;
        }
        throw LadyException.invalidInput(path + " is neither a PyTorch zip checkpoint nor a safetensors file");
    }

    /** Position of the JSON header's opening brace in a safetensors file. */
    private static final int LENGTH_OFFSET = SafeTensors.LENGTH_BYTES;
}
