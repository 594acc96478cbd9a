package lady.onnx;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.FloatTensors;
import lady.util.Parallel;
import lady.util.Seeds;
import lady.util.Text;

/**
 * Runs an ONNX model with ONNX Runtime (CPU): on given inputs ({@link #run}), on seeded random inputs
 * whose shapes come from the graph's inputs ({@link #seededInputs}, dynamic dimensions from
 * {@link Options}), as a classifier of image batches ({@link #logits}, what {@code lady eval} uses), and
 * two models side by side ({@link #compare}). Inputs and outputs are float32 libtorch tensors. ONNX Runtime runs
 * in a child process ({@link OrtWorker}): a model on which it aborts or crashes ends that process, never Lady's.
 * The model is validated by {@link Onnx#read} before ONNX Runtime sees it, and every ONNX Runtime failure becomes a
 * one-line {@link LadyException}. ONNX Runtime's own log is silenced (library code never prints); its intra-op
 * threads follow {@link Parallel#threads()}, and deterministic compute is on.
 */
public final class OrtRunner implements AutoCloseable {
    /** Generated inputs larger than this (elements per input) are refused. */
    public static final long MAX_SEEDED_ELEMENTS = 1L << 28;

    /**
     * Sizes for the dimensions of graph inputs that the file does not fix.
     *
     * @param batch size of a free first dimension (the batch)
     * @param side  size of any other free dimension (e.g. image height and width)
     * @param named sizes of symbolic dimensions by name ("batch", "height"); they win over the two above
     */
    public record Options(long batch, long side, Map<String, Long> named) {
        /** Batch 2, other free dimensions 32 (the built-in data's image side), no named sizes. */
        public static final Options DEFAULT = new Options(2, lady.data.Dataset.SIDE, Map.of());

        public Options {
            if (batch < 1 || side < 1) {
                throw new LadyException(LadyException.Kind.USAGE, "input sizes must be >= 1, got batch " + batch
                        + " and side " + side);
            }
            named = Map.copyOf(named);
            for (Map.Entry<String, Long> e : named.entrySet()) {
                if (e.getValue() < 1) {
                    throw new LadyException(LadyException.Kind.USAGE, "dimension '" + e.getKey() + "' must be >= 1, got "
                            + e.getValue());
                }
            }
        }
    }

    /**
     * How far one output of a model is from the same output of a reference model.
     *
     * @param output name of the output
     * @param shape  its shape
     * @param maxAbs largest absolute difference of two elements (NaN when either model gives a NaN)
     * @param maxRel {@code maxAbs} divided by the largest magnitude of the reference's output (0 when both
     *               are all zeros, infinite when only the reference is)
     */
    public record OutputDifference(String output, long[] shape, double maxAbs, double maxRel) {}

    private final OnnxModel model;
    /** The session's id in {@link OrtWorker}'s child process, and the child's generation it was opened in. */
    private int session;
    private long generation;
    /** A file written for this runner (with its external data file), deleted by {@link #close}; or null. */
    private Path temporary;

    private OrtRunner(OnnxModel model) {
        this.model = model;
        openSession();
    }

    /** Opens this runner's session in the child now serving ({@link OrtWorker}). */
    private void openSession() {
        session = OrtWorker.open(model.path(), Parallel.threads());
        generation = OrtWorker.generation();
    }

    /**
     * An ONNX Runtime session on {@code source} with its tensors replaced by {@code weights} (keys of
     * {@link OnnxModel#tensors()}, as {@link Onnx#write} takes them): the model is written to a temporary file,
     * which {@link #close} deletes. Its graph is {@code source}'s, checked once ({@link #requireLoadable}).
     */
    public static OrtRunner open(OnnxModel source, StateDict weights) {
        requireLoadable(source);
        Path tmp;
        try {
            tmp = Files.createTempFile("lady-", ".onnx");
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create a temporary file: " + e.getMessage(), e);
        }
        try {
            Onnx.write(tmp, source, weights);
            OrtRunner r = new OrtRunner(Onnx.read(tmp));
            r.temporary = tmp;
            return r;
        } catch (RuntimeException e) {
            delete(tmp);
            throw e;
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
            Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".data"));
        } catch (IOException e) {
            // a temporary file left behind is not worth failing the command for
        }
    }

    /**
     * An ONNX Runtime session on {@code model} (which must have been read from a file).
     *
     * @throws LadyException INVALID_INPUT when ONNX Runtime cannot load it, or when {@link #requireLoadable} refuses it
     */
    public static OrtRunner open(OnnxModel model) {
        requireLoadable(model);
        return new OrtRunner(model);
    }

    /**
     * Refuses a model that ONNX Runtime would not refuse but crash on while it loads it: a node with an attribute that
     * ONNX requires positive at zero or below ({@link #requirePositiveSizes}: ONNX Runtime divides by some of them), or
     * reading inputs of ranks its operator does not accept ({@link OnnxModel#malformedNodes}: its shape inference asserts
     * on some).
     */
    private static void requireLoadable(OnnxModel model) {
        requirePositiveSizes(model.nodeProtos(), model.path());
        List<String> malformed = model.malformedNodes();
        if (!malformed.isEmpty()) {
            throw LadyException.invalidInput(model.path() + ": " + malformed.get(0) + (malformed.size() > 1 ? " (and "
                    + (malformed.size() - 1) + " more)" : "") + ", which its operator does not accept: the file is malformed");
        }
    }

    /** Attributes whose entries ONNX requires positive: strides, dilations, kernel sizes, group and block counts. */
    private static final Set<String> POSITIVE = Set.of("strides", "dilations", "kernel_shape", "group",
            "num_groups", "blocksize");

    /**
     * Refuses nodes (the model's, local functions expanded, and their subgraphs) with an attribute of {@link #POSITIVE}
     * at zero or below: ONNX Runtime 1.23 divides by a stride of 0 (Conv, ConvTranspose, the pools), a ConvTranspose's
     * group of 0 and a GroupNormalization's num_groups of 0 while it loads the model, which ends its process with SIGFPE
     * instead of an error.
     */
    static void requirePositiveSizes(List<NodeProto> nodes, Path file) {
        for (NodeProto n : nodes) {
            for (AttributeProto a : n.getAttributeList()) {
                boolean bad = POSITIVE.contains(a.getName()) && (a.getType()
                        == AttributeProto.AttributeType.INT ? a.getI() < 1
                        : a.getIntsList().stream().anyMatch(v -> v < 1));
                if (bad) {
                    String value = a.getType() == AttributeProto.AttributeType.INT
                            ? Long.toString(a.getI()) : a.getIntsList().toString();
                    throw LadyException.invalidInput(file + ": " + Onnx.nodeLabel(n.getOpType(), n.getName(),
                            n.getOutputList()) + " has " + a.getName() + " " + Text.cut(value) + ", which ONNX requires "
                            + "positive: the file is malformed");
                }
                if (a.hasG()) {
                    requirePositiveSizes(a.getG().getNodeList(), file);
                }
                for (GraphProto g : a.getGraphsList()) {
                    requirePositiveSizes(g.getNodeList(), file);
                }
            }
        }
    }

    public OnnxModel model() {
        return model;
    }

    /** The concrete shape of every graph input under {@code options}, in the graph's order. */
    public Map<String, long[]> inputShapes(Options options) {
        return inputShapes(model, options);
    }

    /**
     * The concrete shape of every graph input of {@code model} under {@code options} (dimensions the file
     * fixes as they are; symbolic ones by name from the options, else the batch for the first axis and the
     * side for the others), in the graph's order.
     */
    public static Map<String, long[]> inputShapes(OnnxModel model, Options options) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (OnnxValue in : model.inputs()) {
            long[] s = concreteShape(in, options);
            if (s == null) {
                throw LadyException.invalidInput(model.path() + ": input '" + in.name() + "' has no shape in the file");
            }
            shapes.put(in.name(), s);
        }
        return shapes;
    }

    /** The concrete shape of graph input {@code in} under {@code options} ({@link #inputShapes}), or null without one. */
    static long[] concreteShape(OnnxValue in, Options options) {
        if (in.shape() == null) {
            return null;
        }
        long[] s = new long[in.shape().size()];
        for (int i = 0; i < s.length; i++) {
            OnnxValue.Dim d = in.shape().get(i);
            if (d.fixed()) {
                s[i] = d.value();
            } else if (d.param() != null && options.named().containsKey(d.param())) {
                s[i] = options.named().get(d.param());
            } else {
                s[i] = i == 0 ? options.batch() : options.side();
            }
        }
        return s;
    }

    /**
     * Seeded inputs for every graph input (shapes from {@link #inputShapes}), drawn from {@code seed} and the input's
     * name: the same seed gives the same bytes. Float inputs are standard normal; integer inputs (INT64, INT32: token
     * ids, position ids, attention masks) uniform below {@link #indexBound}, carried as float32 and cast by
     * {@link #run}.
     */
    public Map<String, Tensor> seededInputs(long seed, Options options) {
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : inputShapes(options).entrySet()) {
            String name = e.getKey();
            OnnxDType type = inputType(name);
            boolean integer = integer(type);
            if (!floating(type) && !integer) {
                throw LadyException.invalidInput(model.path() + ": input '" + name + "' is of type " + type
                        + "; only floating-point (FLOAT, FLOAT16, BFLOAT16) and integer (INT64, INT32) inputs are "
                        + "generated");
            }
            long bound = integer ? indexBound(name) : 0;
            long n = 1;
            for (long d : e.getValue()) {
                n = d == 0 ? 0 : n <= MAX_SEEDED_ELEMENTS / d ? n * d : MAX_SEEDED_ELEMENTS + 1;
            }
            if (n > MAX_SEEDED_ELEMENTS) {
                throw LadyException.invalidInput(model.path() + ": input '" + name + "' of shape "
                        + Arrays.toString(e.getValue()) + " has more than " + MAX_SEEDED_ELEMENTS + " elements");
            }
            SplittableRandom r = new SplittableRandom(Seeds.derive(seed, "onnx-input:" + name));
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = integer ? r.nextLong(bound) : (float) gaussian(r);
            }
            inputs.put(name, FloatTensors.of(v, e.getValue())); // integers held exactly (below 2^24), cast in run
        }
        return inputs;
    }

    /**
     * The values an integer input may take: below the rows of every table a Gather looks them up in (token ids,
     * position ids: the smallest such table), else 0 and 1 (an attention mask, token types).
     */
    private long indexBound(String input) {
        long bound = Long.MAX_VALUE;
        for (OnnxModel.ResolvedNode r : model.topologicalOrder()) {
            OnnxNode n = r.node();
            if (n.opType().equals("Gather") && n.domain().isEmpty() && r.inputs().size() == 2
                    && r.inputs().get(1).name().equals(input)
                    && r.inputs().get(0).kind() == OnnxModel.Operand.Kind.INITIALIZER) {
                long[] table = model.initializer(r.inputs().get(0).name()).shape();
                int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), table.length);
                if (axis >= 0 && table[axis] > 0) {
                    bound = Math.min(bound, table[axis]);
                }
            }
        }
        return bound == Long.MAX_VALUE ? 2 : Math.min(bound, 1 << 24);
    }

    /** The element type of graph input {@code name} (float for a name that is no input). */
    private OnnxDType inputType(String name) {
        return model.inputs().stream().filter(v -> v.name().equals(name)).map(OnnxValue::elemType).findFirst()
                .orElse(OnnxDType.FLOAT);
    }

    /** Whether inputs of {@code type} are generated as integers (token ids, position ids, masks). */
    private static boolean integer(OnnxDType type) {
        return type == OnnxDType.INT64 || type == OnnxDType.INT32;
    }

    /** Whether inputs of {@code type} are generated as float32 values (rounded to half precision in the child). */
    private static boolean floating(OnnxDType type) {
        return type == OnnxDType.FLOAT || type == OnnxDType.FLOAT16 || type == OnnxDType.BFLOAT16;
    }

    /** A standard normal draw (Box-Muller; SplittableRandom has no nextGaussian in Java 17). */
    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(); // (0, 1]
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /**
     * Runs the model on float32 inputs (an integer input's values carried as floats, cast to its type in ONNX Runtime's
     * process); every output as a new float32 libtorch tensor, in the graph's order (integer outputs converted exactly,
     * see {@link OrtWorker.Output}).
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        List<OrtWorker.Feed> feeds = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
            Tensor t = e.getValue();
            if (t.scalar_type().value != torch.ScalarType.Float.value) {
                throw new LadyException(LadyException.Kind.INTERNAL, "input '" + e.getKey() + "' is not float32");
            }
            OnnxDType type = inputType(e.getKey());
            feeds.add(new OrtWorker.Feed(e.getKey(), integer(type) || floating(type) ? type : OnnxDType.FLOAT,
                    t.sizes().vec().get(), FloatTensors.read(t))); // integers and half floats carried as floats, cast in the child
        }
        if (generation != OrtWorker.generation()) { // the child that held the session has ended: open it again
            openSession();
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, OrtWorker.Output> e : OrtWorker.run(session, model.path(), feeds).entrySet()) {
            OrtWorker.Output o = e.getValue();
            if (o.values() == null) {
                throw LadyException.invalidInput(model.path() + ": output '" + e.getKey() + "' is neither a "
                        + "floating-point tensor nor one of integers that float32 holds exactly (" + o.unsupported() + ")");
            }
            out.put(e.getKey(), FloatTensors.of(o.values(), o.shape()));
        }
        return out;
    }

    /**
     * Logits of a classifier with one input for a batch of {@code N x ...} images: the model's first output,
     * which must be {@code N x classes}. A model whose batch dimension is fixed runs in chunks of that size
     * (the last one padded with zeros, its padding dropped from the result).
     */
    public Tensor logits(Tensor images) {
        if (model.inputs().size() != 1) {
            throw LadyException.invalidInput(model.path() + " has " + model.inputs().size()
                    + " inputs; a classifier evaluated here takes one (the images)");
        }
        OnnxValue in = model.inputs().get(0);
        long[] shape = images.sizes().vec().get();
        long n = shape[0];
        long chunk = n;
        if (in.shape() != null) {
            boolean fits = in.shape().size() == shape.length;
            for (int i = 1; fits && i < shape.length; i++) {
                OnnxValue.Dim d = in.shape().get(i);
                fits = !d.fixed() || d.value() == shape[i];
            }
            if (!fits) {
                throw LadyException.invalidInput(model.path() + " takes input " + in.shape() + "; the data gives "
                        + Arrays.toString(shape));
            }
            OnnxValue.Dim batch = in.shape().get(0);
            if (batch.fixed()) {
                chunk = batch.value();
            }
        }
        List<Tensor> parts = new ArrayList<>();
        for (long from = 0; from < n; from += chunk) {
            long len = Math.min(chunk, n - from);
            Tensor x = images.narrow(0, from, len);
            if (len < chunk) {
                long[] padded = shape.clone();
                padded[0] = chunk - len;
                x = torch.cat(new org.bytedeco.pytorch.TensorVector(x, torch.zeros(padded)), 0);
            }
            Tensor out = run(Map.of(in.name(), x)).values().iterator().next();
            long[] s = out.sizes().vec().get();
            if (s.length != 2 || s[0] != chunk) {
                throw LadyException.invalidInput(model.path() + " gives an output of shape " + Arrays.toString(s)
                        + " for " + chunk + " images; a classifier gives images x classes");
            }
            parts.add(len < chunk ? out.narrow(0, 0, len) : out);
        }
        return parts.size() == 1 ? parts.get(0)
                : torch.cat(new org.bytedeco.pytorch.TensorVector(parts.toArray(new Tensor[0])), 0);
    }

    /**
     * Runs {@code reference} and {@code candidate} on the same seeded inputs (shapes from the reference's
     * graph) and measures, output by output, how far the candidate is from the reference.
     *
     * @throws LadyException INVALID_INPUT when the two models' inputs or outputs differ in names or shapes
     */
    public static List<OutputDifference> compare(OnnxModel reference, OnnxModel candidate, long seed, Options options) {
        return comparison(reference, candidate, seed, options).differences();
    }

    /**
     * {@link #compare}'s differences, and whether the reference's outputs depend on its inputs at all: false when every
     * output is the same on a second set of seeded inputs, within the check's own tolerance (relative
     * {@link lady.kernels.Tolerances#LOGITS_MAX_ABS_DIFF}): a classifier whose head is initialized to zeros, as
     * torchvision's ViT, or a random network whose batch-norm statistics do not match its activations; the differences
     * then cannot tell a wrong permutation from a right one.
     */
    public record Comparison(List<OutputDifference> differences, boolean inputsMatter) {}

    /** {@link #compare}, with whether the check could see anything ({@link Comparison}). */
    public static Comparison comparison(OnnxModel reference, OnnxModel candidate, long seed, Options options) {
        try (OrtRunner a = open(reference); OrtRunner b = open(candidate)) {
            Map<String, Tensor> inputs = a.seededInputs(seed, options);
            Map<String, Tensor> y = a.run(inputs);
            List<OutputDifference> d = differences(a, y, b, inputs);
            Map<String, Tensor> other = a.run(a.seededInputs(Seeds.derive(seed, "other inputs"), options));
            boolean matter = false;
            for (String name : y.keySet()) { // beyond the check's own tolerance (NaN counts as a difference)
                matter |= !(difference(name, y.get(name), other.get(name)).maxRel()
                        <= lady.kernels.Tolerances.LOGITS_MAX_ABS_DIFF);
            }
            return new Comparison(d, matter);
        }
    }

    /** {@link #compare} of two open sessions: {@code b}'s outputs against {@code a}'s on {@code a}'s seeded inputs. */
    private static List<OutputDifference> differences(OrtRunner a, OrtRunner b, long seed, Options options) {
        Map<String, Tensor> inputs = a.seededInputs(seed, options);
        return differences(a, a.run(inputs), b, inputs);
    }

    /** As above, on {@code inputs}, {@code a}'s outputs on them given ({@code ya}). */
    private static List<OutputDifference> differences(OrtRunner a, Map<String, Tensor> ya, OrtRunner b,
            Map<String, Tensor> inputs) {
        Map<String, Tensor> yb = b.run(inputs);
        if (!ya.keySet().equals(yb.keySet())) {
            throw LadyException.invalidInput(b.model.path() + " has outputs " + yb.keySet() + ", " + a.model.path()
                    + " has " + ya.keySet());
        }
        List<OutputDifference> diffs = new ArrayList<>();
        for (String name : ya.keySet()) {
            diffs.add(difference(name, ya.get(name), yb.get(name)));
        }
        return diffs;
    }

    /**
     * The model's own float32 noise: the largest relative output difference (as {@link OutputDifference#maxRel}) between
     * {@code model} and the same model with every float32 weight moved by one unit in the last place, up or down as a
     * seeded coin says, on the same seeded inputs. Float32 rounding makes changes of that size anyway, and so does any
     * rewriting that sums in another order (a permutation): a difference a few times this large is rounding, not a
     * change of function.
     */
    public static double floatNoise(OnnxModel model, long seed, Options options) {
        StateDict moved = model.stateDict();
        SplittableRandom coin = new SplittableRandom(seed);
        for (Map.Entry<String, HostTensor> e : moved) {
            e.getValue().nudge(coin);
        }
        try (OrtRunner a = open(model); OrtRunner b = open(model, moved)) {
            return differences(a, b, seed, options).stream().mapToDouble(OutputDifference::maxRel).max().orElse(0);
        }
    }

    /** How far {@code candidate} is from {@code reference} (same shape), as {@link OutputDifference}. */
    public static OutputDifference difference(String name, Tensor reference, Tensor candidate) {
        long[] shape = reference.sizes().vec().get();
        if (!Arrays.equals(shape, candidate.sizes().vec().get())) {
            throw LadyException.invalidInput("output '" + name + "' has shape " + Arrays.toString(candidate.sizes().vec().get())
                    + ", the reference's has " + Arrays.toString(shape));
        }
        float[] a = FloatTensors.read(reference);
        float[] b = FloatTensors.read(candidate);
        double maxAbs = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                maxAbs = Double.NaN;
            } else if (!Double.isNaN(maxAbs)) {
                maxAbs = Math.max(maxAbs, d);
            }
            scale = Math.max(scale, Math.abs(a[i]));
        }
        double rel = maxAbs == 0 ? 0 : scale == 0 ? Double.POSITIVE_INFINITY : maxAbs / scale;
        return new OutputDifference(name, shape, maxAbs, rel);
    }

    @Override
    public void close() {
        try {
            OrtWorker.close(session, generation, model.path());
        } finally {
            if (temporary != null) {
                delete(temporary);
            }
        }
    }
}
