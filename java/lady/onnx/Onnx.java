package lady.onnx;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;

import lady.LadyException;
import lady.checkpoint.DType;
import lady.checkpoint.StateDict;
import lady.io.AtomicFiles;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.StringStringEntryProto;
import lady.onnx.proto.Onnx.TensorProto;

/**
 * Reading and writing ONNX model files.
 *
 * <p>{@link #read} parses the whole file (protobuf; the file must be under 2 GiB, protobuf's limit: larger
 * models keep their weights in external data files, which are read from the model's folder and never from
 * outside it) and validates it into an {@link OnnxModel}. A truncated or corrupt file, an external data
 * location that escapes the folder or is missing, negative or overflowing dimensions, data whose length
 * does not match its shape, and unknown data types all give a one-line {@link LadyException}; sizes are
 * checked against the data actually present before anything is allocated.
 *
 * <p>{@link #write} writes a model back with some or all initializers replaced: the graph, node order,
 * attributes, metadata, unknown fields, types and each initializer's storage form (raw_data, typed field,
 * external) are kept. Writing a model back with its own, unchanged initializers gives the same bytes as the
 * file read, for models whose initializers are inline (the exporters' usual form; tested on PyTorch's
 * exports). Externally stored initializers are written to one new data file beside the output,
 * {@code <output file name>.data} (never to the input's data files, which the input model still needs), so
 * their {@code location}, {@code offset} and {@code length} entries change and a stale {@code checksum}
 * entry is dropped. Writes are atomic ({@link AtomicFiles}): the data file first, then the model.
 */
public final class Onnx {
    private Onnx() {}

    /** Largest model file protobuf can parse (2 GiB - 1). */
    public static final long MAX_FILE_BYTES = Integer.MAX_VALUE;
    /** Offsets of tensors in a written external data file are multiples of this. */
    static final int EXTERNAL_ALIGNMENT = 4096;

    /** Reads and validates the ONNX model in {@code path}. */
    public static OnnxModel read(Path path) {
        byte[] bytes;
        try {
            if (Files.isDirectory(path)) {
                throw new LadyException(LadyException.Kind.IO, "not a file: " + path);
            }
            long size = Files.size(path);
            if (size > MAX_FILE_BYTES) {
                throw LadyException.invalidInput(path + " has " + size + " bytes; an ONNX file holds at most "
                        + MAX_FILE_BYTES + " (protobuf's limit: larger models keep their weights in external data files)");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new LadyException(LadyException.Kind.IO, "no such file: " + path);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
        ModelProto proto;
        try {
            // raw_data fields share the file's bytes instead of copying them (the array is never changed)
            CodedInputStream in = UnsafeByteOperations.unsafeWrap(bytes).newCodedInput();
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            proto = ModelProto.parseFrom(in);
        } catch (IOException e) { // InvalidProtocolBufferException: the bytes are in memory already
            throw LadyException.invalidInput(path + " is not a valid ONNX file (truncated or corrupt protobuf: "
                    + firstLine(e.getMessage()) + ")");
        }
        return new OnnxModel(path, proto);
    }

    /**
     * Writes {@code source} to {@code out} with the initializers named in {@code updated} replaced by its
     * tensors (same type and shape as the initializer they replace; the others keep their values).
     *
     * @throws LadyException INVALID_INPUT when a name is no initializer of {@code source}, or a tensor's type
     *                       or shape differs from the initializer's
     */
    public static void write(Path out, OnnxModel source, StateDict updated) {
        GraphProto.Builder graph = source.proto().getGraph().toBuilder();
        List<Tensor> keep = new ArrayList<>();
        Map<String, Tensor> replaced = new HashMap<>();
        for (Map.Entry<String, Tensor> e : updated) {
            String name = e.getKey();
            OnnxInitializer info = source.initializer(name);
            if (info == null) {
                throw LadyException.invalidInput("'" + name + "' is no initializer of " + source.path());
            }
            Tensor t = e.getValue();
            DType dtype = DType.of(t.scalar_type());
            long[] shape = t.sizes().vec().get();
            if (dtype != info.dtype().checkpointType() || !java.util.Arrays.equals(shape, info.shape())) {
                throw LadyException.invalidInput("tensor '" + name + "' is " + dtype + " " + OnnxTensors.shapeOf(shape)
                        + ", but the model's initializer is " + info.dtype() + " " + OnnxTensors.shapeOf(info.shape()));
            }
            if (!t.is_cpu()) {
                throw LadyException.invalidInput("tensor '" + name + "' is not on the CPU");
            }
            Tensor c = t.is_contiguous() ? t : t.contiguous();
            keep.add(c);
            replaced.put(name, c);
        }
        List<Integer> external = new ArrayList<>();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            OnnxInitializer info = source.initializers().get(i);
            if (info.storage() == OnnxInitializer.Storage.EXTERNAL) {
                external.add(i);
            } else if (replaced.containsKey(info.name())) {
                OnnxTensors.setData(graph.getInitializerBuilder(i), info, replaced.get(info.name()));
            }
        }
        if (!external.isEmpty()) {
            writeExternal(out, source, graph, external, replaced);
        }
        ModelProto model = source.proto().toBuilder().setGraph(graph).build();
        AtomicFiles.writeStream(out, model::writeTo);
        Reference.reachabilityFence(keep); // RAW initializers wrap these tensors' memory until written
    }

    /** Writes every external initializer into {@code <out>.data} and points the graph at it. */
    private static void writeExternal(Path out, OnnxModel source, GraphProto.Builder graph, List<Integer> external,
            Map<String, Tensor> replaced) {
        String dataName = out.getFileName() + ".data";
        Path dataFile = out.toAbsolutePath().resolveSibling(dataName);
        AtomicFiles.write(dataFile, ch -> {
            long offset = 0;
            for (int i : external) {
                OnnxInitializer info = source.initializers().get(i);
                long aligned = (offset + EXTERNAL_ALIGNMENT - 1) / EXTERNAL_ALIGNMENT * EXTERNAL_ALIGNMENT;
                ch.position(aligned);
                Tensor t = replaced.get(info.name());
                if (t != null) {
                    OnnxTensors.writeBytes(ch, t, info.bytes());
                } else {
                    copy(source.external(info.name()), ch);
                }
                TensorProto.Builder tb = graph.getInitializerBuilder(i);
                List<StringStringEntryProto> entries = new ArrayList<>();
                boolean hasOffset = false;
                boolean hasLength = false;
                for (StringStringEntryProto e : tb.getExternalDataList()) {
                    switch (e.getKey()) {
                        case "location" -> entries.add(entry("location", dataName));
                        case "offset" -> {
                            entries.add(entry("offset", Long.toString(aligned)));
                            hasOffset = true;
                        }
                        case "length" -> {
                            entries.add(entry("length", Long.toString(info.bytes())));
                            hasLength = true;
                        }
                        case "checksum" -> { } // would be stale
                        default -> entries.add(e);
                    }
                }
                if (!hasOffset) {
                    entries.add(entry("offset", Long.toString(aligned)));
                }
                if (!hasLength) {
                    entries.add(entry("length", Long.toString(info.bytes())));
                }
                tb.clearExternalData().addAllExternalData(entries);
                offset = aligned + info.bytes();
            }
        });
    }

    private static void copy(OnnxTensors.External from, FileChannel to) throws IOException {
        try (FileChannel in = FileChannel.open(from.file(), StandardOpenOption.READ)) {
            long done = 0;
            while (done < from.length()) {
                long n = in.transferTo(from.offset() + done, from.length() - done, to);
                if (n <= 0) {
                    throw new IOException(from.file() + " ends before the data it held when the model was read");
                }
                done += n;
            }
        }
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    /** The first line of a (library's) message. */
    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
