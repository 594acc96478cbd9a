package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.util.Text;

/**
 * Reading and writing model checkpoints: PyTorch's zip format ({@code torch.save}, PyTorch >= 1.6),
 * safetensors, the initializers of ONNX models ({@link GraphFileFormat}), and Hugging Face model folders
 * of safetensors or zip files (sharded or not). The format is detected from the file's first bytes,
 * never from its name, and nothing from a file is ever executed (see {@link Unpickler}). Writes are
 * atomic ({@link AtomicFiles}) and deterministic: the same state dict gives the same bytes. Reading and
 * writing zip and safetensors files never loads libtorch: tensors are {@link lady.tensor.HostTensor}s
 * over the mapped input.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** The checkpoint formats Lady reads and writes. */
    public enum Format {
        /** PyTorch's zip format, as torch.save writes it (usually .pt / .pth); files in PyTorch's legacy format
         * (before 1.6) are read as this format and written in it. */
        TORCH_ZIP,
        /** safetensors (.safetensors). */
        SAFETENSORS,
        /** An ONNX model (.onnx): its initializers are the state dict; written back into its own graph
         * ({@link #writeLike}). */
        ONNX;

        /** Whether a state dict alone is written in this format (an ONNX file needs its model's graph). */
        public boolean standalone() {
            return this != ONNX;
        }
    }

    private static final int ZIP_MAGIC = 0x04034b50; // "PK\3\4", little-endian
    private static final int EMPTY_ZIP_MAGIC = 0x06054b50;
    private static final int MAGIC_BYTES = 9;

    /**
     * Reads the state dict of a checkpoint: a file in either format, or a Hugging Face model folder (one
     * or several shards, see {@link HuggingFaceFolder}). A folder's {@code config.json} comes with it
     * ({@link StateDict#config()}), also when its single weights file ({@code model.safetensors},
     * {@code pytorch_model.bin}) is read on its own.
     */
    public static StateDict read(Path path) {
        StateDict sd;
        if (Files.isDirectory(path)) {
            sd = HuggingFaceFolder.read(path);
        } else {
            sd = readFile(path);
            sd.setConfig(HuggingFaceFolder.configBeside(path));
        }
        FusedExperts.split(sd);
        return sd;
    }

    /** Reads one checkpoint file (either format). */
    static StateDict readFile(Path path) {
        try (FileChannel ch = open(path)) {
            return switch (detect(ch, path)) {
                case TORCH_ZIP -> TorchLegacy.is(ch) ? TorchLegacy.read(ch, path) : TorchZip.read(ch, path);
                case SAFETENSORS -> SafeTensors.read(ch, path);
                case ONNX -> GraphFileFormat.get().read(path);
            };
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * The files of a Hugging Face model folder that hold other copies of its weights (a {@code pytorch_model.bin}
     * beside {@code model.safetensors}, {@code consolidated.safetensors}, {@code original/*.pth}, ...; relative
     * paths): {@link #writeLike} leaves them out of the folder it writes, since they keep the input's neuron order.
     * Empty for a file.
     */
    public static List<String> weightsLeftOut(Path path) {
        return Files.isDirectory(path) ? HuggingFaceFolder.leftOut(path) : List.of();
    }

    /** What a command that wrote a folder like {@code input} says of {@link #weightsLeftOut}: "" when nothing was. */
    public static String leftOutNote(Path input) {
        List<String> left = weightsLeftOut(input);
        return left.isEmpty() ? "" : "; left out " + left.size() + " other weight file" + (left.size() == 1 ? "" : "s")
                + " of the input folder, which keep its neuron order: " + Text.list(left, 4);
    }

    /**
     * The format of an existing checkpoint file, from its content; for a model folder, the format of its first
     * shard (never ONNX: a folder is written with {@link #writeLike}, which keeps every shard's format).
     */
    public static Format formatOf(Path path) {
        if (Files.isDirectory(path)) {
            HuggingFaceFolder.Layout layout = HuggingFaceFolder.layout(path);
            if (layout.shards().isEmpty()) {
                throw LadyException.invalidInput(path + "'s index lists no shard: no weights to read");
            }
            return formatOf(path.resolve(layout.shards().get(0)));
        }
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

    /**
     * Writes {@code sd} to {@code path} in the file format {@code format}, atomically (never a half-written
     * file). An ONNX file needs its graph and a model folder its layout: write those with {@link #writeLike}.
     */
    public static void write(Path path, StateDict sd, Format format) {
        if (!format.standalone()) {
            throw new LadyException(LadyException.Kind.USAGE, "an ONNX model is written from the model it came from "
                    + "(its graph): write " + path + " in the format of its input instead");
        }
        AtomicFiles.writeSink(path, sink -> {
            if (format == Format.TORCH_ZIP) {
                TorchZip.write(sink, sd);
            } else {
                SafeTensors.write(sink, sd);
            }
        });
    }

    /**
     * Writes {@code sd} to {@code path} the way the checkpoint {@code like} is stored: a file in its format;
     * for an ONNX input, the input model with its initializers replaced by {@code sd}'s tensors (graph and
     * everything else kept); a Hugging Face folder in its layout (same shards, index and other files:
     * {@link HuggingFaceFolder}). What a command that changes a model's weights writes.
     */
    public static void writeLike(Path path, StateDict sd, Path like) {
        if (Files.isDirectory(like)) {
            HuggingFaceFolder.write(path, sd, like);
            return;
        }
        Format format = formatOf(like);
        if (format == Format.ONNX) {
            GraphFileFormat.get().write(path, sd, like);
            return;
        }
        if (format == Format.TORCH_ZIP) {
            try (TorchZip.ScriptCopy copy = TorchZip.scriptCopy(sd, like)) {
                if (copy != null) { // a TorchScript archive keeps its code: torch.jit.load runs it on the new weights
                    AtomicFiles.writeSink(path, copy::write);
                    return;
                }
            }
        }
        write(path, sd, format);
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
        // safetensors before the pickle: its first byte is the header length's lowest, 0x80 (the pickle opcode) for
        // one header length in 256 (a Qwen2 shard's 640-byte header was refused as a legacy PyTorch file); a legacy
        // file has its magic number's bytes, never '{', at the header's place
        if (b.remaining() == MAGIC_BYTES && b.get(LENGTH_OFFSET) == '{' && b.getLong(0) > 0) {
            return Format.SAFETENSORS;
        }
        if (b.remaining() >= 1 && (b.get(0) & 0xFF) == TorchLegacy.PICKLE_PROTO) {
            if (TorchLegacy.is(ch)) {
                return Format.TORCH_ZIP; // read by TorchZip as the legacy format, written in the zip format
            }
            throw LadyException.invalidInput(path + " is a pickle but not a PyTorch checkpoint (neither the zip format "
                    + "nor the legacy one: its first value is not torch.save's magic number)");
        }
        if (looksLikeOnnx(b)) {
            return Format.ONNX;
        }
        throw LadyException.invalidInput(path + " is neither a PyTorch zip checkpoint nor a safetensors file, nor an ONNX model");
    }

    /** Protobuf tag of ModelProto.ir_version (field 1, varint), the first field exporters write. */
    private static final int ONNX_IR_VERSION_TAG = 0x08;
    /** Protobuf wire types. */
    private static final int WIRE_VARINT = 0;
    private static final int WIRE_LENGTH_DELIMITED = 2;

    /**
     * An ONNX model starts with its ir_version (a small varint) followed by the one-byte tag of the next
     * ModelProto field (producer_name .. opset_import: varint or length-delimited). Protobuf has no magic
     * number: this is a heuristic, and the reader validates the whole file afterwards.
     */
    private static boolean looksLikeOnnx(ByteBuffer b) {
        if (b.remaining() < 3 || (b.get(0) & 0xFF) != ONNX_IR_VERSION_TAG) {
            return false;
        }
        int version = b.get(1) & 0xFF;
        int tag = b.get(2) & 0xFF;
        int field = tag >>> 3;
        int wire = tag & 7;
        return version >= 1 && version < 0x80 && tag < 0x80 && field >= 2
                && (wire == WIRE_VARINT || wire == WIRE_LENGTH_DELIMITED);
    }

    /** Position of the JSON header's opening brace in a safetensors file. */
    private static final int LENGTH_OFFSET = SafeTensors.LENGTH_BYTES;
}
