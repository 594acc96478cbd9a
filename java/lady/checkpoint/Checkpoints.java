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

/**
 * Reading and writing model checkpoints: PyTorch's zip format ({@code torch.save}, PyTorch >= 1.6),
 * safetensors, and Hugging Face model folders of either (sharded or not). The format is detected from the file's first bytes, never from its name, and
 * nothing from a file is ever executed (see {@link Unpickler}). Writes are atomic
 * ({@link AtomicFiles}) and deterministic: the same state dict gives the same bytes. Neither reading
 * nor writing loads libtorch: tensors are {@link lady.tensor.HostTensor}s over the mapped input.
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

    /**
     * Reads the state dict of a checkpoint: a file in either format, or a Hugging Face model folder (one
     * or several shards, see {@link HuggingFaceFolder}).
     */
    public static StateDict read(Path path) {
        if (Files.isDirectory(path)) {
            return HuggingFaceFolder.read(path);
        }
        return readFile(path);
    }

    /** Reads one checkpoint file (either format). */
    static StateDict readFile(Path path) {
        try (FileChannel ch = open(path)) {
            Format f = detect(ch, path);
            return f == Format.TORCH_ZIP ? TorchZip.read(ch, path) : SafeTensors.read(ch, path);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** The format of an existing checkpoint file, from its content (a model folder has shards: {@link #writeLike}). */
    public static Format formatOf(Path path) {
        try (FileChannel ch = open(path)) {
            return detect(ch, path);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code sd} to {@code path} in the file format {@code format}, atomically (never a half-written
     * file). A model folder is written in the layout of an input folder: {@link #writeLike}.
     */
    public static void write(Path path, StateDict sd, Format format) {
        AtomicFiles.write(path, ch -> {
            if (format == Format.TORCH_ZIP) {
                TorchZip.write(ch, sd);
            } else {
                SafeTensors.write(ch, sd);
            }
        });
    }

    /**
     * Writes {@code sd} to {@code path} the way the checkpoint {@code like} is stored: a file in its format,
     * or a Hugging Face folder in its layout (same shards, index and other files: {@link HuggingFaceFolder}).
     * What a command that changes a model's weights writes.
     */
    public static void writeLike(Path path, StateDict sd, Path like) {
        if (Files.isDirectory(like)) {
            HuggingFaceFolder.write(path, sd, like);
        } else {
            write(path, sd, formatOf(like));
        }
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
