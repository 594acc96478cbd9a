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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.io.AtomicFiles;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.StringStringEntryProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.tensor.HostTensor;
import lady.util.Text;

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
        java.nio.MappedByteBuffer bytes;
        try {
            if (Files.isDirectory(path)) {
                throw new LadyException(LadyException.Kind.IO, "not a file: " + path);
            }
            long size = Files.size(path);
            if (size > MAX_FILE_BYTES) {
                throw LadyException.invalidInput(path + " has " + size + " bytes; an ONNX file holds at most "
                        + MAX_FILE_BYTES + " (protobuf's limit: larger models keep their weights in external data files)");
            }
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                // mapped, not read into the heap: raw_data fields alias the mapping (the model keeps it)
                bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            }
        } catch (NoSuchFileException e) {
            throw new LadyException(LadyException.Kind.IO, "no such file: " + path);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + path + ": " + e.getMessage(), e);
        }
        ModelProto proto;
        try {
            // raw_data fields alias the read-only mapping instead of copying it: protobuf aliases only a buffer it
            // knows immutable, which CodedInputStream.newInstance(ByteBuffer) does not claim (it copies every
            // bytes field into a fresh byte[]); a ByteString's own input does
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
     * Writes {@code source} to {@code out} with the tensors named in {@code updated} (keys of
     * {@link OnnxModel#tensors()}: initializers, and the later uses of shared ones) replaced by its tensors
     * (same type and shape as the initializer they replace; the others keep their values). A later use of a
     * shared initializer whose new values differ from what it would read through the graph gets an
     * initializer of its own ({@link OnnxModel}'s class comment); one whose values agree stays shared.
     *
     * @throws LadyException INVALID_INPUT when a name is no tensor of {@code source}, or a tensor's type
     *                       or shape differs from the initializer's
     */
    public static void write(Path out, OnnxModel source, StateDict updated) {
        write(out, source, updated, false);
    }

    /**
     * As {@link #write(Path, OnnxModel, StateDict)}; with {@code resized}, a tensor may have another shape than its
     * initializer (a structural undo gave a widened suspect back its reference's widths): it is stored as raw data
     * with its own shape, and the graph's value_info (optional shapes of intermediate values, which the new widths
     * may contradict) is dropped; a later use of a shared initializer in another shape gets an initializer of its own.
     * Such a tensor must be stored in the model file (not in external data, not in parts).
     */
    public static void write(Path out, OnnxModel source, StateDict updated, boolean resized) {
        GraphProto.Builder graph = source.proto().getGraph().toBuilder();
        Map<String, HostTensor> replaced = new HashMap<>(); // initializer -> its new values
        Map<String, HostTensor> reshaped = new HashMap<>(); // initializer -> its new values in another shape
        Map<String, HostTensor> uses = new LinkedHashMap<>(); // a later use of a shared initializer -> its values
        for (Map.Entry<String, HostTensor> e : wholes(source, updated).entrySet()) {
            String name = e.getKey();
            OnnxModel.TensorUse use = source.tensors().get(name);
            if (use == null) {
                throw LadyException.invalidInput("'" + name + "' is no tensor of " + source.path());
            }
            OnnxInitializer info = source.initializer(use.initializer());
            HostTensor t = e.getValue();
            boolean sameShape = java.util.Arrays.equals(t.shape(), info.shape());
            if (t.dtype() != info.dtype().checkpointType() || !sameShape && !resized) {
                throw LadyException.invalidInput("tensor '" + name + "' is " + t.dtype() + " "
                        + OnnxTensors.shapeOf(t.shape()) + ", but the model's initializer is " + info.dtype() + " "
                        + OnnxTensors.shapeOf(info.shape()));
            }
            if (!sameShape && (info.storage() == OnnxInitializer.Storage.EXTERNAL || source.parts().containsKey(name))) {
                throw LadyException.invalidInput("tensor '" + name + "' of " + source.path() + " would change shape "
                        + OnnxTensors.shapeOf(info.shape()) + " -> " + OnnxTensors.shapeOf(t.shape()) + ", which Lady "
                        + "writes for initializers stored in the model file, not in external data or in parts");
            }
            if (!sameShape && use.kind() == OnnxModel.TensorUse.Kind.INITIALIZER) {
                reshaped.put(name, t);
            } else if (use.kind() == OnnxModel.TensorUse.Kind.INITIALIZER) {
                replaced.put(name, t);
            } else {
                uses.put(name, t);
            }
        }
        Map<String, HostTensor> written = new HashMap<>(replaced); // what each initializer holds once written
        written.putAll(reshaped);
        boolean expanded = !uses.isEmpty() && unshare(source, graph, written, uses);
        List<Integer> external = new ArrayList<>();
        for (int i = 0; i < source.initializers().size(); i++) { // un-shared copies come after these
            OnnxInitializer info = source.initializers().get(i);
            if (info.storage() == OnnxInitializer.Storage.EXTERNAL) {
                external.add(i);
            } else if (replaced.containsKey(info.name())) {
                OnnxTensors.setData(graph.getInitializerBuilder(i), info, replaced.get(info.name()));
            } else if (reshaped.containsKey(info.name())) {
                OnnxTensors.setReshaped(graph.getInitializerBuilder(i), reshaped.get(info.name()));
            }
        }
        if (!reshaped.isEmpty()) {
            graph.clearValueInfo();
            for (int i = 0; i < graph.getInputCount(); i++) { // initializers listed as inputs too (IR version < 4)
                HostTensor t = reshaped.get(graph.getInput(i).getName());
                if (t != null && graph.getInput(i).getType().hasTensorType()) {
                    lady.onnx.proto.Onnx.TensorShapeProto.Builder shape = lady.onnx.proto.Onnx.TensorShapeProto.newBuilder();
                    for (long d : t.shape()) {
                        shape.addDim(lady.onnx.proto.Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
                    }
                    graph.getInputBuilder(i).getTypeBuilder().getTensorTypeBuilder().setShape(shape);
                }
            }
        }
        if (!external.isEmpty()) {
            writeExternal(out, source, graph, external, replaced);
        }
        ModelProto.Builder built = source.proto().toBuilder().setGraph(graph);
        if (expanded) { // the functions' nodes are in the main graph now
            built.addAllOpsetImport(OnnxFunctions.extraOpsets(source.proto(), source.path()));
        }
        ModelProto model = built.build();
        AtomicFiles.writeStream(out, model::writeTo);
        Reference.reachabilityFence(updated); // RAW initializers wrap its tensors' memory until written
    }

    /**
     * The first integer constant of {@code a}'s main graph, an initializer or a Constant node's value (the shapes a
     * Reshape, Expand or Slice reads), that {@code b} lacks or holds with other values; null when they agree. A widened
     * copy of a network exported with its widths in such constants cannot be given its original widths by rewriting
     * its initializers.
     */
    public static String differingShapeConstant(OnnxModel a, OnnxModel b) {
        Map<String, TensorProto> theirs = integerConstants(b);
        for (Map.Entry<String, TensorProto> e : integerConstants(a).entrySet()) {
            if (!e.getValue().equals(theirs.get(e.getKey()))) {
                return e.getKey();
            }
        }
        return null;
    }

    /** The integer-typed initializers and Constant nodes' values of {@code m}'s main graph, by name (the node's output). */
    private static Map<String, TensorProto> integerConstants(OnnxModel m) {
        Map<String, TensorProto> out = new LinkedHashMap<>();
        GraphProto g = m.proto().getGraph();
        java.util.function.Predicate<TensorProto> integer = t -> t.getDataType() == TensorProto.DataType.INT64_VALUE
                || t.getDataType() == TensorProto.DataType.INT32_VALUE;
        for (TensorProto t : g.getInitializerList()) {
            if (integer.test(t)) {
                out.put(t.getName(), t.toBuilder().clearName().build());
            }
        }
        for (lady.onnx.proto.Onnx.NodeProto n : g.getNodeList()) {
            if (!n.getOpType().equals("Constant") || n.getOutputCount() != 1) {
                continue;
            }
            for (lady.onnx.proto.Onnx.AttributeProto at : n.getAttributeList()) {
                TensorProto value = switch (at.getName()) {
                    case "value" -> integer.test(at.getT()) ? at.getT().toBuilder().clearName().build() : null;
                    case "value_int" -> TensorProto.newBuilder().addInt64Data(at.getI()).build();
                    case "value_ints" -> TensorProto.newBuilder().addDims(at.getIntsCount()).addAllInt64Data(at.getIntsList())
                            .build();
                    default -> null;
                };
                if (value != null) {
                    out.put(n.getOutput(0), value);
                }
            }
        }
        return out;
    }

    /**
     * {@code updated}'s tensors by name, those read in parts ({@link OnnxModel#parts()}) stacked back into one along a
     * new axis 0, as the model stores them.
     *
     * @throws LadyException INVALID_INPUT when some parts of a tensor are there and others not, or differ in type or
     *                       shape
     */
    private static Map<String, HostTensor> wholes(OnnxModel source, StateDict updated) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : updated) {
            out.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, List<String>> p : source.parts().entrySet()) {
            List<String> names = p.getValue();
            List<HostTensor> parts = new ArrayList<>();
            for (String n : names) {
                HostTensor t = out.remove(n);
                if (t != null) {
                    parts.add(t);
                }
            }
            if (parts.isEmpty()) {
                continue;
            }
            HostTensor first = parts.get(0);
            if (parts.size() != names.size() || parts.stream().anyMatch(t -> t.dtype() != first.dtype()
                    || !java.util.Arrays.equals(t.shape(), first.shape()))) {
                throw LadyException.invalidInput("tensor '" + p.getKey() + "' is stored as its parts " + names
                        + ", which must all be there, of one type and shape");
            }
            long[] shape = new long[first.shape().length + 1];
            shape[0] = parts.size();
            System.arraycopy(first.shape(), 0, shape, 1, first.shape().length);
            HostTensor whole = HostTensor.allocate(first.dtype(), shape);
            for (int i = 0; i < parts.size(); i++) {
                HostTensor.copyBytes(whole.address() + i * first.byteSize(), parts.get(i).address(), first.byteSize());
            }
            Reference.reachabilityFence(parts);
            out.put(p.getKey(), whole);
        }
        return out;
    }

    /**
     * Gives the later uses of shared initializers whose new values differ from those they would read through
     * the graph an initializer of their own, named after the tensor ({@link OnnxModel#tensors()}): an alias
     * use loses the Identity node that wrote its name, a copy use's node input is pointed at the new name.
     * The new initializers (raw_data, the source initializer's type and shape) come after the file's. A node to point
     * inside a local function's call makes the main graph the expanded one ({@link OnnxFunctions}); returns whether it
     * did.
     */
    private static boolean unshare(OnnxModel source, GraphProto.Builder graph, Map<String, HostTensor> replaced,
            Map<String, HostTensor> uses) {
        Map<String, HostTensor> effective = new HashMap<>(); // value name -> what it holds once written
        java.util.function.Function<String, HostTensor> valueOf = new java.util.function.Function<>() {
            @Override
            public HostTensor apply(String v) {
                HostTensor t = effective.get(v);
                if (t == null) {
                    String parent = source.aliasParent(v);
                    t = parent != null ? apply(parent) : replaced.containsKey(v) ? replaced.get(v) : source.decode(v);
                    effective.put(v, t);
                }
                return t;
            }
        };
        List<String> materialized = new ArrayList<>();
        java.util.Set<Integer> dropped = new java.util.HashSet<>();
        // aliases parents first (the order they were found in), so that a child compares with what it will read
        for (String alias : source.aliases().keySet()) {
            HostTensor t = uses.get(alias);
            OnnxModel.TensorUse use = source.tensors().get(alias);
            if (t == null || use == null || use.kind() != OnnxModel.TensorUse.Kind.ALIAS) {
                continue;
            }
            if (!t.sameContent(valueOf.apply(source.aliasParent(alias)))) {
                effective.put(alias, t);
                materialized.add(alias);
                dropped.add(source.aliasNode(alias));
            }
        }
        Map<Integer, Map<Integer, String>> repoint = new HashMap<>();
        for (Map.Entry<String, HostTensor> e : uses.entrySet()) {
            OnnxModel.TensorUse use = source.tensors().get(e.getKey());
            if (use.kind() == OnnxModel.TensorUse.Kind.COPY && !e.getValue().sameContent(valueOf.apply(use.read()))) {
                materialized.add(use.name());
                repoint.computeIfAbsent(use.node(), k -> new HashMap<>()).put(use.input(), use.name());
            }
        }
        if (materialized.isEmpty()) {
            return false;
        }
        boolean expanded = source.expandsFunctions();
        if (expanded) { // node indices are the expanded graph's: write it
            graph.clearNode().addAllNode(source.nodeProtos());
        }
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            if (dropped.contains(i)) {
                graph.removeNode(i);
            }
        }
        // node indices shift by the dropped Identity nodes before them
        for (Map.Entry<Integer, Map<Integer, String>> e : repoint.entrySet()) {
            int before = (int) dropped.stream().filter(d -> d < e.getKey()).count();
            var node = graph.getNodeBuilder(e.getKey() - before);
            e.getValue().forEach(node::setInput);
        }
        for (String name : materialized) {
            OnnxModel.TensorUse use = source.tensors().get(name);
            OnnxInitializer from = source.initializer(use.initializer());
            TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(from.dtype().code());
            long[] shape = uses.get(name).shape(); // (the initializer's, or a structural undo's new one)
            long elements = 1;
            for (long d : shape) {
                b.addDims(d);
                elements *= d;
            }
            OnnxInitializer info = new OnnxInitializer(name, from.dtype(), shape, OnnxInitializer.Storage.RAW,
                    from.dtype().bytes(elements));
            OnnxTensors.setData(b, info, uses.get(name)); // uses' tensors stay reachable through updated
            graph.addInitializer(b);
        }
        return expanded;
    }

    /** Writes every external initializer into {@code <out>.data} and points the graph at it. */
    private static void writeExternal(Path out, OnnxModel source, GraphProto.Builder graph, List<Integer> external,
            Map<String, HostTensor> replaced) {
        String dataName = out.getFileName() + ".data";
        Path dataFile = out.toAbsolutePath().resolveSibling(dataName);
        AtomicFiles.write(dataFile, ch -> {
            long offset = 0;
            for (int i : external) {
                OnnxInitializer info = source.initializers().get(i);
                long aligned = (offset + EXTERNAL_ALIGNMENT - 1) / EXTERNAL_ALIGNMENT * EXTERNAL_ALIGNMENT;
                ch.position(aligned);
                HostTensor t = replaced.get(info.name());
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

    /**
     * A node for a message: "the 'Conv' node 'name'", or, for a node without a name, "the 'Conv' node writing 'out'"
     * (escaped and cut: a file's strings are untrusted).
     */
    static String nodeLabel(String opType, String name, List<String> outputs) {
        return "the " + Text.quote(opType) + " node " + (!name.isEmpty() ? Text.quote(name) : !outputs.isEmpty()
                ? "writing " + Text.quote(outputs.get(0)) : "without a name");
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
