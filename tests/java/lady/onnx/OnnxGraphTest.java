package lady.onnx;

import static lady.onnx.OnnxTestModels.floats;
import static lady.onnx.OnnxTestModels.intAttr;
import static lady.onnx.OnnxTestModels.ints;
import static lady.onnx.OnnxTestModels.longs;
import static lady.onnx.OnnxTestModels.model;
import static lady.onnx.OnnxTestModels.node;
import static lady.onnx.OnnxTestModels.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.kernels.Backend;
import lady.model.Models;
import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.FunctionProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.OperatorSetIdProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.torch.Torch;

/**
 * The ONNX import ({@link OnnxGraph}) on small models built in Java: the groups it derives, and, for each, that
 * permuting every group (and writing the model back, un-sharing what must be) leaves ONNX Runtime's outputs
 * unchanged on seeded inputs. No Python needed.
 */
class OnnxGraphTest {
    /** ONNX Runtime on the same inputs before and after a permutation: float32 sums in another order. */
    private static final double MAX_REL = 1e-5;
    private static final int BATCH = 0; // symbolic

    @TempDir
    Path dir;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    // ---- model building ----

    /** Each test's own values (JUnit makes an instance per test): the same whatever runs before it. */
    private final SplittableRandom random = new SplittableRandom(5);

    private TensorProto random(String name, long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return floats(name, v, dims);
    }

    private static NodeProto constant(String out, float v) {
        return node("Constant", out, new String[0], new String[] {out}, AttributeProto.newBuilder().setName("value")
                .setType(AttributeProto.AttributeType.TENSOR).setT(floats(out, new float[] {v})).build());
    }

    private static NodeProto n(String op, String name, String in, String out, AttributeProto... attrs) {
        return node(op, name, in.split(","), new String[] {out}, attrs);
    }

    private Path write(String name, GraphProto g) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, model(g).toByteArray());
        return p;
    }

    /** As {@link #write(String, GraphProto)}, with the default domain at {@code opset}. */
    private Path write(String name, GraphProto g, long opset) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, model(g).toBuilder().setOpsetImport(0, lady.onnx.proto.Onnx.OperatorSetIdProto.newBuilder()
                .setDomain("").setVersion(opset)).build().toByteArray());
        return p;
    }

    private static PermutationSpec spec(Path p) {
        OnnxModel m = Onnx.read(p);
        return Models.spec(m.stateDict(), null, null, p);
    }

    /** Every member of {@code group} as "tensor[axis]@offset/block:role". */
    private static TreeSet<String> members(PermutationSpec spec, String group) {
        TreeSet<String> out = new TreeSet<>();
        for (Member m : Permuter.group(spec, group).members()) {
            out.add(m.tensor() + "[" + m.axis() + "]@" + m.offset() + "/" + m.block() + ":" + m.role().key());
        }
        return out;
    }

    /**
     * Permutes every group of the model in {@code p} with {@code seed}, writes it, and checks that ONNX Runtime
     * gives the same outputs; returns the written file.
     */
    private Path permuteAndCompare(Path p, long seed) {
        OnnxModel m = Onnx.read(p);
        StateDict state = m.stateDict();
        PermutationSpec spec = OnnxGraph.of(m).spec(Models.shapes(state));
        List<String> all = spec.groups().stream().map(Group::name).toList();
        Map<String, Permutation> perms = Permuter.random(spec, all, seed);
        Permuter.applyInPlace(state, spec, perms, Backend.CPU);
        Path out = dir.resolve("p-" + p.getFileName());
        Onnx.write(out, m, state);
        OnnxModel back = Onnx.read(out);
        for (OrtRunner.OutputDifference d : OrtRunner.compare(m, back, 3, OrtRunner.Options.DEFAULT)) {
            assertTrue(d.maxRel() <= MAX_REL, p.getFileName() + ": " + d);
        }
        StateDict written = back.stateDict();
        assertEquals(state.names(), written.names(), "the written model has the same tensors");
        for (String name : state.names()) {
            assertTrue(state.get(name).sameContent(written.get(name)), name);
        }
        assertFalse(written.sameTensors(m.stateDict()), "the permutation moved nothing");
        return out;
    }

    /** {@code lady resync} of {@code suspect} against {@code reference}, written to {@code name} in the test's folder. */
    private Path resynced(Path reference, Path suspect, String name) {
        Path restored = dir.resolve(name);
        CliRun r = CliRun.of("resync", "--reference", reference.toString(), "--suspect", suspect.toString(), "--out",
                restored.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        return restored;
    }

    /** {@code spec} made wrong on purpose: {@code groups} instead of its own, and {@code alsoFixed} held in place too. */
    private static PermutationSpec wrong(PermutationSpec spec, List<Group> groups, String... alsoFixed) {
        java.util.Set<String> fixed = new java.util.LinkedHashSet<>(spec.fixed());
        fixed.addAll(List.of(alsoFixed));
        return new PermutationSpec(spec.architecture(), groups, fixed, spec.notes());
    }

    /**
     * The largest relative difference of ONNX Runtime's outputs between the model in {@code p} and the same model
     * permuted by {@code perms} under {@code spec} (a spec made wrong on purpose).
     */
    private double outputChange(Path p, PermutationSpec spec, Map<String, Permutation> perms) {
        OnnxModel m = Onnx.read(p);
        StateDict state = m.stateDict();
        Permuter.applyInPlace(state, spec, perms, Backend.CPU);
        Path bad = dir.resolve("wrong-" + p.getFileName());
        Onnx.write(bad, m, state);
        double worst = 0;
        for (OrtRunner.OutputDifference d : OrtRunner.compare(m, Onnx.read(bad), 3, OrtRunner.Options.DEFAULT)) {
            worst = Math.max(worst, d.maxRel());
        }
        return worst;
    }

    // ---- the tests ----

    /**
     * A token MLP block: a stream opened by MatMul (weight stored [in, out]) plus a bias Add, layer norms over
     * the channels, an MLP whose GELU is the Erf form, and a residual add.
     */
    @Test
    void tokenStreamAndMlpHiddenUnitsWithWeightsStoredTransposed() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("tokens")
                .addNode(n("MatMul", "embed", "x,w0", "e"))
                .addNode(n("Add", "embed_bias", "e,b0", "s"))
                .addNode(n("LayerNormalization", "ln1", "s,g1,be1", "l1", intAttr("axis", -1)))
                .addNode(n("MatMul", "fc1", "l1,w1", "h"))
                .addNode(n("Add", "fc1_bias", "h,b1", "h2"))
                .addNode(constant("sqrt2", 1.4142135f))
                .addNode(constant("one", 1f))
                .addNode(constant("half", 0.5f))
                .addNode(n("Div", "gelu_div", "h2,sqrt2", "gd"))
                .addNode(n("Erf", "gelu_erf", "gd", "ge"))
                .addNode(n("Add", "gelu_add", "ge,one", "ga"))
                .addNode(n("Mul", "gelu_mul", "h2,ga", "gm"))
                .addNode(n("Mul", "gelu_half", "gm,half", "gh"))
                .addNode(n("MatMul", "fc2", "gh,w2", "m"))
                .addNode(n("Add", "fc2_bias", "b2,m", "m2"))
                .addNode(n("Add", "residual", "s,m2", "s2"))
                .addNode(n("LayerNormalization", "ln2", "s2,g2,be2", "l2", intAttr("axis", -1)))
                .addNode(n("MatMul", "head", "l2,wout", "y"))
                .addInitializer(random("w0", 4, 5)).addInitializer(random("b0", 5))
                .addInitializer(random("g1", 5)).addInitializer(random("be1", 5))
                .addInitializer(random("w1", 5, 6)).addInitializer(random("b1", 6))
                .addInitializer(random("w2", 6, 5)).addInitializer(random("b2", 5))
                .addInitializer(random("g2", 5)).addInitializer(random("be2", 5))
                .addInitializer(random("wout", 5, 2))
                .addInput(value("x", BATCH, 3, 4)).addOutput(value("y", BATCH, 3, 2)).build();
        Path p = write("tokens.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of("stream.embed:5", "fc1:6"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("w0[1]@0/1:producer_weight", "b0[0]@0/1:producer_bias", "g1[0]@0/1:norm_weight",
                "be1[0]@0/1:norm_bias", "w1[0]@0/1:consumer_weight", "w2[1]@0/1:producer_weight", "b2[0]@0/1:producer_bias",
                "g2[0]@0/1:norm_weight", "be2[0]@0/1:norm_bias", "wout[0]@0/1:consumer_weight")), members(spec, "stream.embed"));
        assertEquals(new TreeSet<>(List.of("w1[1]@0/1:producer_weight", "b1[0]@0/1:producer_bias",
                "w2[0]@0/1:consumer_weight")), members(spec, "fc1"));
        assertEquals(new TreeSet<>(List.of("w0[0]", "wout[1]")), new TreeSet<>(spec.fixed()));
        assertEquals(List.of(), spec.notes());
        permuteAndCompare(p, 1);
    }

    /**
     * Convolutions: PReLU, a depthwise branch, a concatenation scaled by a squeeze-excitation (ReduceMean, 1x1
     * convs), a per-channel scale and shift, max pool, flatten and a Gemm with transB = 0; and a bias shared
     * (through an Identity alias) by two convolutions in different groups, which the write un-shares.
     */
    @Test
    void convolutionsConcatenationExcitationAndASharedBias() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("convs")
                .addNode(n("Identity", "share", "bshared", "c2.bias"))
                .addNode(n("Conv", "c1", "x,w1,bshared", "c1o", ints("pads", 1, 1, 1, 1)))
                .addNode(n("Relu", "r1", "c1o", "r1o"))
                .addNode(n("Conv", "c2", "r1o,w2,c2.bias", "c2o"))
                .addNode(n("PRelu", "p2", "c2o,slope", "p2o"))
                .addNode(n("Conv", "dw", "r1o,wdw", "dwo", ints("pads", 1, 1, 1, 1), intAttr("group", 4)))
                .addNode(n("Concat", "cat", "p2o,dwo", "cat", intAttr("axis", 1)))
                .addNode(n("ReduceMean", "gap", "cat", "gap", ints("axes", 2, 3), intAttr("keepdims", 1)))
                .addNode(n("Conv", "f1", "gap,wf1,bf1", "f1o"))
                .addNode(n("Relu", "f1r", "f1o", "f1r"))
                .addNode(n("Conv", "f2", "f1r,wf2,bf2", "f2o"))
                .addNode(n("Sigmoid", "sig", "f2o", "sig"))
                .addNode(n("Mul", "excite", "cat,sig", "se"))
                .addNode(n("Mul", "scale", "se,k", "sc"))
                .addNode(n("Add", "shift", "sc,shv", "sh"))
                .addNode(n("MaxPool", "pool", "sh", "mp", ints("kernel_shape", 2, 2), ints("strides", 2, 2)))
                .addNode(n("Flatten", "flat", "mp", "fl", intAttr("axis", 1)))
                .addNode(n("Gemm", "fc", "fl,wfc,bfc", "y", intAttr("transB", 0)))
                .addInitializer(random("bshared", 4)).addInitializer(random("w1", 4, 3, 3, 3))
                .addInitializer(random("w2", 4, 4, 1, 1)).addInitializer(random("slope", 4, 1, 1))
                .addInitializer(random("wdw", 4, 1, 3, 3))
                .addInitializer(random("wf1", 2, 8, 1, 1)).addInitializer(random("bf1", 2))
                .addInitializer(random("wf2", 8, 2, 1, 1)).addInitializer(random("bf2", 8))
                .addInitializer(random("k", 1, 8, 1, 1)).addInitializer(random("shv", 8, 1, 1))
                .addInitializer(random("wfc", 128, 3)).addInitializer(random("bfc", 3))
                .addInput(value("x", BATCH, 3, 8, 8)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("convs.onnx", g);
        OnnxModel m = Onnx.read(p);
        assertEquals(OnnxModel.TensorUse.Kind.ALIAS, m.tensors().get("c2.bias").kind());
        PermutationSpec spec = spec(p);
        assertEquals(List.of("c1:4", "c2:4", "f1:2"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("w1[0]@0/1:producer_weight", "bshared[0]@0/1:producer_bias",
                "w2[1]@0/1:consumer_weight", "wdw[0]@0/1:channel_weight", "wf1[1]@4/1:consumer_weight",
                "wf2[0]@4/1:producer_weight", "bf2[0]@4/1:producer_bias", "k[1]@4/1:parameter", "shv[0]@4/1:parameter",
                "wfc[0]@64/16:consumer_weight")), members(spec, "c1"));
        assertEquals(new TreeSet<>(List.of("w2[0]@0/1:producer_weight", "c2.bias[0]@0/1:producer_bias",
                "slope[0]@0/1:parameter", "wf1[1]@0/1:consumer_weight", "wf2[0]@0/1:producer_weight",
                "bf2[0]@0/1:producer_bias", "k[1]@0/1:parameter", "shv[0]@0/1:parameter", "wfc[0]@0/16:consumer_weight")),
                members(spec, "c2"));
        assertEquals(new TreeSet<>(List.of("wf1[0]@0/1:producer_weight", "bf1[0]@0/1:producer_bias",
                "wf2[1]@0/1:consumer_weight")), members(spec, "f1"));
        assertEquals(new TreeSet<>(List.of("w1[1]", "wdw[1]", "wfc[1]", "bfc")), new TreeSet<>(spec.fixed()));

        Path out = permuteAndCompare(p, 2);
        // c1 and c2 moved the shared bias differently: c2's is an initializer of its own now, named as its alias
        OnnxModel back = Onnx.read(out);
        assertTrue(back.initializer("c2.bias") != null, "the alias became an initializer");
        assertTrue(back.nodes().stream().noneMatch(x -> x.opType().equals("Identity")), "its Identity node is gone");
        assertEquals(OnnxModel.TensorUse.Kind.INITIALIZER, back.tensors().get("c2.bias").kind());

        // and resync puts everything back, shared tensors included
        assertTrue(Onnx.read(resynced(p, out, "restored.onnx")).stateDict().sameTensors(m.stateDict()));
    }

    /**
     * A Pad whose pads are computed as PyTorch exports {@code F.pad(x, [0, 1, 0, 1])} (Swin's window padding): the
     * torch-ordered pads concatenated with zeros, viewed as pairs, the pairs reversed by a Slice of step -1, transposed
     * and flattened. Folded, they pad the spatial axes only, so the channels move through it (not folded, or folded
     * without the reversal, they would pad the channel axis or be unknown, and pin the channels with a note).
     */
    @Test
    void padsComputedAsPyTorchExportsThemAreFolded() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("pads")
                .addNode(n("Conv", "c1", "x,w1", "c1o"))
                .addNode(n("Concat", "all", "torch_pads,zeros", "all", intAttr("axis", 0)))
                .addNode(n("Reshape", "pairs", "all,pair_shape", "pairs"))
                .addNode(n("Slice", "reversed", "pairs,starts,ends,axes,steps", "rev"))
                .addNode(n("Transpose", "swap", "rev", "swapped", ints("perm", 1, 0)))
                .addNode(n("Reshape", "onnx_pads", "swapped,flat", "pads"))
                .addNode(n("Pad", "pad", "c1o,pads", "padded"))
                .addNode(n("Conv", "c2", "padded,w2", "c2o"))
                .addNode(n("GlobalAveragePool", "gap", "c2o", "gap"))
                .addNode(n("Flatten", "flatten", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("w1", 4, 3, 1, 1)).addInitializer(random("w2", 5, 4, 2, 2))
                .addInitializer(random("wfc", 2, 5))
                .addInitializer(longs("torch_pads", 0, 1, 0, 1)).addInitializer(longs("zeros", 0, 0, 0, 0))
                .addInitializer(longs("pair_shape", -1, 2)).addInitializer(longs("starts", -1))
                .addInitializer(longs("ends", Long.MIN_VALUE + 1)).addInitializer(longs("axes", 0))
                .addInitializer(longs("steps", -1)).addInitializer(longs("flat", -1))
                .addInput(value("x", BATCH, 3, 4, 4)).addOutput(value("y", BATCH, 2)).build();
        Path p = write("pads.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("c1:4", "c2:5"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        permuteAndCompare(p, 3);
    }

    /** An initializer that two nodes read by the same name: the second use is a tensor of its own. */
    @Test
    void aNameReadTwiceIsTwoTensorsAndIsSplitOnlyWhenTheValuesDiffer() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("twice")
                .addNode(n("Gemm", "fc1", "x,w,b1", "h", intAttr("transB", 1)))
                .addNode(n("Relu", "relu", "h", "r"))
                .addNode(n("Gemm", "fc2", "r,w,b2", "y", intAttr("transB", 1)))
                .addInitializer(random("w", 4, 4)).addInitializer(random("b1", 4)).addInitializer(random("b2", 4))
                .addInput(value("x", BATCH, 4)).addOutput(value("y", BATCH, 4)).build();
        Path p = write("twice.onnx", g);
        OnnxModel m = Onnx.read(p);
        assertEquals(OnnxModel.TensorUse.Kind.COPY, m.tensors().get("w#2").kind());
        assertEquals(List.of("w", "b1", "b2", "w#2"), new ArrayList<>(m.stateDict().names()));
        PermutationSpec spec = spec(p);
        assertEquals(new TreeSet<>(List.of("w[0]@0/1:producer_weight", "b1[0]@0/1:producer_bias",
                "w#2[1]@0/1:consumer_weight")), members(spec, "fc1"));
        // unchanged: written back as it was, byte for byte
        Path same = dir.resolve("same.onnx");
        Onnx.write(same, m, m.stateDict());
        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(same));
        Path out = permuteAndCompare(p, 4);
        OnnxModel back = Onnx.read(out);
        assertTrue(back.initializer("w#2") != null);
        assertEquals("w#2", back.nodes().get(2).inputs().get(1), "fc2 reads its own copy");
    }

    /** A quantized tensor: {@code v} stored as {@code type} (INT8 or INT32), little-endian. */
    private static TensorProto quantized(String name, int type, long[] v, long... dims) {
        int size = type == TensorProto.DataType.INT8_VALUE ? 1 : 4;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(size * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (long x : v) {
            if (size == 1) {
                b.put((byte) x);
            } else {
                b.putInt((int) x);
            }
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type)
                .setRawData(com.google.protobuf.ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** {@code n} random int8 weights (-127 .. 127), or int32 biases when {@code wide}. */
    private long[] integers(int n, boolean wide) {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = wide ? random.nextInt(-4000, 4001) : random.nextInt(-127, 128);
        }
        return v;
    }

    /** {@code n} distinct positive scales, one per channel. */
    private TensorProto scales(String name, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (0.005 + 0.02 * random.nextDouble());
        }
        return floats(name, v, n);
    }

    /**
     * A deployed int8 model in QDQ form (what ONNX Runtime's static quantization writes): int8 weights read back by
     * DequantizeLinear with a scale per output channel (axis 0), an int32 bias with its own scales, a zero point shared
     * by two weights, activations quantized with one scale for the whole tensor. The scales and zero points move with
     * their weight's rows (a zero point read by two weights becomes a tensor per use); ONNX Runtime's outputs stay the
     * same; a permutation that leaves one weight's scales in place changes them; resync restores every tensor.
     */
    @Test
    void quantizedWeightsMoveWithTheirPerChannelScalesAndZeroPoints() throws Exception {
        AttributeProto axis0 = intAttr("axis", 0);
        GraphProto g = GraphProto.newBuilder().setName("qdq")
                .addNode(n("QuantizeLinear", "xq", "x,xs,xz", "xq"))
                .addNode(n("DequantizeLinear", "xd", "xq,xs,xz", "xd"))
                .addNode(n("DequantizeLinear", "w1d", "w1q,w1s,zp4", "w1", axis0))
                .addNode(n("DequantizeLinear", "b1d", "b1q,b1s", "b1", axis0))
                .addNode(n("Conv", "c1", "xd,w1,b1", "c1o", ints("pads", 1, 1, 1, 1)))
                .addNode(n("Relu", "r1", "c1o", "r1o"))
                .addNode(n("QuantizeLinear", "aq", "r1o,as,az", "aq"))
                .addNode(n("DequantizeLinear", "ad", "aq,as,az", "ad"))
                .addNode(n("DequantizeLinear", "w2d", "w2q,w2s,zp4", "w2", axis0))
                .addNode(n("Conv", "c2", "ad,w2", "c2o"))
                .addNode(n("Relu", "r2", "c2o", "r2o"))
                .addNode(n("GlobalAveragePool", "gap", "r2o", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("DequantizeLinear", "wfd", "wfq,wfs", "wf", axis0))
                .addNode(n("Gemm", "fc", "fl,wf,bf", "y", intAttr("transB", 1)))
                .addInitializer(floats("xs", new float[] {0.01f})).addInitializer(quantized("xz", TensorProto.DataType
                        .INT8_VALUE, new long[] {0}))
                .addInitializer(floats("as", new float[] {0.05f})).addInitializer(quantized("az", TensorProto.DataType
                        .INT8_VALUE, new long[] {-128}))
                .addInitializer(quantized("w1q", TensorProto.DataType.INT8_VALUE, integers(4 * 3 * 9, false), 4, 3, 3, 3))
                .addInitializer(scales("w1s", 4))
                .addInitializer(quantized("zp4", TensorProto.DataType.INT8_VALUE, new long[] {0, 0, 0, 0}, 4))
                .addInitializer(quantized("b1q", TensorProto.DataType.INT32_VALUE, integers(4, true), 4))
                .addInitializer(scales("b1s", 4))
                .addInitializer(quantized("w2q", TensorProto.DataType.INT8_VALUE, integers(4 * 4, false), 4, 4, 1, 1))
                .addInitializer(scales("w2s", 4))
                .addInitializer(quantized("wfq", TensorProto.DataType.INT8_VALUE, integers(3 * 4, false), 3, 4))
                .addInitializer(scales("wfs", 3)).addInitializer(random("bf", 3))
                .addInput(value("x", BATCH, 3, 6, 6)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("qdq.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("c1:4", "c2:4"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("w1q[0]@0/1:producer_weight", "w1s[0]@0/1:producer_bias",
                "zp4[0]@0/1:producer_bias", "b1q[0]@0/1:producer_bias", "b1s[0]@0/1:producer_bias",
                "w2q[1]@0/1:consumer_weight")), members(spec, "c1"));
        assertEquals(new TreeSet<>(List.of("w2q[0]@0/1:producer_weight", "w2s[0]@0/1:producer_bias",
                "zp4#2[0]@0/1:producer_bias", "wfq[1]@0/1:consumer_weight")), members(spec, "c2"));
        Path out = permuteAndCompare(p, 6);

        // the same permutation with c1's weight scales left in place: another function
        List<Group> groups = new ArrayList<>();
        for (Group x : spec.groups()) {
            groups.add(new Group(x.name(), x.size(), x.members().stream().filter(k -> !k.tensor().equals("w1s")).toList()));
        }
        PermutationSpec wrong = wrong(spec, groups, "w1s");
        double worst = outputChange(p, wrong, Permuter.random(wrong, List.of("c1", "c2"), 6));
        assertTrue(worst > 1e-2, "scales left behind change the outputs: " + worst);

        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(resynced(p, out, "restored.onnx")));
    }

    /**
     * A float16 model (weights, input and output in half precision, as exporters write for inference): ONNX Runtime is
     * fed float16 inputs and its float16 outputs read back (before, {@code --verify} refused the input's type), the
     * permuted model gives the same outputs, a wrong permutation (the hidden units moved in the first layer only) does
     * not, and resync gives the file back byte for byte.
     */
    @Test
    void halfPrecisionModelsAreRunAndChecked() throws Exception {
        SplittableRandom r = new SplittableRandom(17);
        GraphProto g = GraphProto.newBuilder().setName("half")
                .addNode(n("MatMul", "fc1", "x,w1", "h"))
                .addNode(n("Add", "fc1_bias", "h,b1", "hb"))
                .addNode(n("Relu", "relu", "hb", "a"))
                .addNode(n("MatMul", "fc2", "a,w2", "o"))
                .addNode(n("Add", "fc2_bias", "o,b2", "y"))
                .addInitializer(half("w1", r, 6, 8)).addInitializer(half("b1", r, 8))
                .addInitializer(half("w2", r, 8, 3)).addInitializer(half("b2", r, 3))
                .addInput(halfValue("x", 6)).addOutput(halfValue("y", 3)).build();
        Path p = write("half.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(1, spec.groups().size());
        assertEquals(8, spec.groups().get(0).size());

        Path out = dir.resolve("half-p.onnx");
        CliRun c = CliRun.of("permute", "--model", p.toString(), "--groups", "all", "--seed", "3", "--verify", "--out",
                out.toString(), "--secret", dir.resolve("half.json").toString(), "--format", "json");
        assertEquals(0, c.code(), c.err());
        Map<String, Object> json = (Map<String, Object>) lady.report.Json.parse(c.out());
        assertEquals(Boolean.TRUE, json.get("verify_outputs_depend_on_inputs"), c.out());
        assertFalse(Onnx.read(out).stateDict().sameTensors(Onnx.read(p).stateDict()), "the permutation moved nothing");

        Group hidden = spec.groups().get(0);
        PermutationSpec wrong = wrong(spec, List.of(new Group(hidden.name(), hidden.size(), hidden.members().stream()
                .filter(k -> !k.tensor().equals("w2")).toList())), "w2");
        double worst = outputChange(p, wrong, Map.of(hidden.name(), Permutation.of(1, 0, 2, 3, 4, 5, 6, 7)));
        assertTrue(worst > 1e-2, "a wrong permutation changes the float16 outputs: " + worst);

        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(resynced(p, out, "half-restored.onnx")));
    }

    /** A float16 initializer of uniform values in [-1, 1). */
    private static TensorProto half(String name, SplittableRandom r, long... dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(2 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putShort(lady.tensor.HostTensor.floatToFloat16((float) (r.nextDouble() * 2 - 1)));
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT16_VALUE)
                .setRawData(com.google.protobuf.ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** A float16 value of shape [batch, width], the batch symbolic. */
    private static lady.onnx.proto.Onnx.ValueInfoProto halfValue(String name, long width) {
        lady.onnx.proto.Onnx.ValueInfoProto v = value(name, 0, width);
        return v.toBuilder().setType(v.getType().toBuilder().setTensorType(v.getType().getTensorType().toBuilder()
                .setElemType(TensorProto.DataType.FLOAT16_VALUE))).build();
    }

    /** {@code n} of the com.microsoft domain (ONNX Runtime's contrib operators). */
    private static NodeProto microsoft(String op, String name, String in, String out, AttributeProto... attrs) {
        return n(op, name, in, out, attrs).toBuilder().setDomain("com.microsoft").build();
    }

    /** A per-tensor uint8 zero point. */
    private static TensorProto zeroPoint(String name, int v) {
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.UINT8_VALUE)
                .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[] {(byte) v})).build();
    }

    /**
     * The integer operators of ONNX Runtime's two other quantized forms, read as the float operators they compute:
     * QOperator (QLinearConv with a scale and zero point per output channel and an int32 bias, a residual QLinearAdd
     * and QLinearGlobalAveragePool of the com.microsoft domain) and dynamic quantization (DynamicQuantizeLinear, then
     * MatMulInteger with a zero point per column, its output scaled per column by the input's scale times the weight's),
     * and the fused forms of an optimized model (QGemm, DynamicQuantizeMatMul and MatMulIntegerToFloat with their bias).
     * Every per-channel vector moves with its weight.
     */
    @Test
    void integerOperatorsOfQuantizedModelsMoveWithTheirScales() throws Exception {
        int i8 = TensorProto.DataType.INT8_VALUE;
        GraphProto q = GraphProto.newBuilder().setName("qoperator")
                .addNode(n("QuantizeLinear", "xq", "x,xs,xz", "xq"))
                .addNode(n("QLinearConv", "c1", "xq,xs,xz,w1,w1s,w1z,as,az,b1", "c1o", ints("pads", 1, 1, 1, 1)))
                .addNode(n("QLinearConv", "c2", "c1o,as,az,w2,w2s,w2z,as,az,b2", "c2o", ints("pads", 1, 1, 1, 1)))
                .addNode(microsoft("QLinearAdd", "res", "c1o,as,az,c2o,as,az,as,az", "res"))
                .addNode(n("QLinearConv", "c3", "res,as,az,w3,w3s,w3z,as,az", "c3o"))
                .addNode(microsoft("QLinearGlobalAveragePool", "gap", "c3o,as,az,ps,pz", "gap", intAttr("channels_last", 0)))
                .addNode(n("DequantizeLinear", "gapf", "gap,ps,pz", "gapf"))
                .addNode(n("Flatten", "flat", "gapf", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc,bfc", "y", intAttr("transB", 1)))
                .addInitializer(floats("xs", new float[] {0.02f})).addInitializer(zeroPoint("xz", 128))
                .addInitializer(floats("as", new float[] {0.05f})).addInitializer(zeroPoint("az", 0))
                .addInitializer(floats("ps", new float[] {0.03f})).addInitializer(zeroPoint("pz", 0))
                .addInitializer(quantized("w1", i8, integers(4 * 3 * 9, false), 4, 3, 3, 3)).addInitializer(scales("w1s", 4))
                .addInitializer(quantized("w1z", i8, new long[4], 4))
                .addInitializer(quantized("b1", TensorProto.DataType.INT32_VALUE, integers(4, true), 4))
                .addInitializer(quantized("w2", i8, integers(4 * 4 * 9, false), 4, 4, 3, 3)).addInitializer(scales("w2s", 4))
                .addInitializer(quantized("w2z", i8, new long[4], 4))
                .addInitializer(quantized("b2", TensorProto.DataType.INT32_VALUE, integers(4, true), 4))
                .addInitializer(quantized("w3", i8, integers(5 * 4, false), 5, 4, 1, 1)).addInitializer(scales("w3s", 5))
                .addInitializer(quantized("w3z", i8, new long[5], 5))
                .addInitializer(random("wfc", 3, 5)).addInitializer(random("bfc", 3))
                .addInput(value("x", BATCH, 3, 6, 6)).addOutput(value("y", BATCH, 3)).build();
        Path p = dir.resolve("qoperator.onnx");
        Files.write(p, model(q).toBuilder().addOpsetImport(lady.onnx.proto.Onnx.OperatorSetIdProto.newBuilder()
                .setDomain("com.microsoft").setVersion(1)).build().toByteArray());
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("stream.c1:4", "c3:5"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("w3[0]@0/1:producer_weight", "w3s[0]@0/1:producer_bias",
                "w3z[0]@0/1:producer_bias", "wfc[1]@0/1:consumer_weight")), members(spec, "c3"));
        assertTrue(members(spec, "stream.c1").containsAll(List.of("w2s[0]@0/1:producer_bias", "b2[0]@0/1:producer_bias",
                "w1s[0]@0/1:producer_bias", "w3[1]@0/1:consumer_weight")), members(spec, "stream.c1").toString());
        permuteAndCompare(p, 7);

        GraphProto d = GraphProto.newBuilder().setName("dynamic")
                .addNode(node("DynamicQuantizeLinear", "dq", new String[] {"x"}, new String[] {"xq", "xsc", "xzp"}))
                .addNode(n("MatMulInteger", "m1", "xq,W1,xzp,W1z", "m1"))
                .addNode(n("Cast", "c1", "m1", "m1f", intAttr("to", TensorProto.DataType.FLOAT_VALUE)))
                .addNode(n("Mul", "s1", "xsc,W1s", "s1"))
                .addNode(n("Mul", "m1s", "m1f,s1", "m1s"))
                .addNode(n("Add", "h1", "m1s,b1", "h1"))
                .addNode(n("Relu", "r1", "h1", "r1"))
                .addNode(n("Gemm", "fc", "r1,W2", "y"))
                .addInitializer(quantized("W1", i8, integers(6 * 8, false), 6, 8))
                .addInitializer(quantized("W1z", i8, new long[8], 8)).addInitializer(scales("W1s", 8))
                .addInitializer(random("b1", 8)).addInitializer(random("W2", 8, 3))
                .addInput(value("x", 2, 6)).addOutput(value("y", 2, 3)).build();
        Path dp = write("dynamic.onnx", d);
        PermutationSpec ds = spec(dp);
        assertEquals(List.of(), ds.notes());
        assertEquals(new TreeSet<>(List.of("W1[1]@0/1:producer_weight", "W1z[0]@0/1:producer_bias",
                "W1s[0]@0/1:parameter", "b1[0]@0/1:parameter", "W2[0]@0/1:consumer_weight")), members(ds, "m1"));
        permuteAndCompare(dp, 8);

        // ONNX Runtime's fused forms, as an optimized model is saved: QGemm, DynamicQuantizeMatMul, MatMulIntegerToFloat
        GraphProto f = GraphProto.newBuilder().setName("fused")
                .addNode(n("QuantizeLinear", "xq", "x,xs,xz", "xq"))
                .addNode(microsoft("QGemm", "g1", "xq,xs,xz,G1,G1s,G1z,G1b,as,az", "g1", intAttr("transB", 1)))
                .addNode(n("DequantizeLinear", "g1f", "g1,as,az", "g1f"))
                .addNode(n("Relu", "r1", "g1f", "r1"))
                .addNode(microsoft("DynamicQuantizeMatMul", "m2", "r1,M2,M2s,M2z,M2b", "m2"))
                .addNode(n("Relu", "r2", "m2", "r2"))
                .addNode(node("DynamicQuantizeLinear", "dq", new String[] {"r2"}, new String[] {"r2q", "r2s", "r2z"}))
                .addNode(microsoft("MatMulIntegerToFloat", "m3", "r2q,M3,r2s,M3s,r2z,M3z,M3b", "y"))
                .addInitializer(floats("xs", new float[] {0.02f})).addInitializer(zeroPoint("xz", 128))
                .addInitializer(floats("as", new float[] {0.05f})).addInitializer(zeroPoint("az", 128))
                .addInitializer(quantized("G1", i8, integers(8 * 6, false), 8, 6)).addInitializer(scales("G1s", 8))
                .addInitializer(quantized("G1z", i8, new long[8], 8))
                .addInitializer(quantized("G1b", TensorProto.DataType.INT32_VALUE, integers(8, true), 8))
                .addInitializer(quantized("M2", i8, integers(8 * 5, false), 8, 5)).addInitializer(scales("M2s", 5))
                .addInitializer(quantized("M2z", i8, new long[5], 5)).addInitializer(random("M2b", 5))
                .addInitializer(quantized("M3", i8, integers(5 * 3, false), 5, 3)).addInitializer(scales("M3s", 3))
                .addInitializer(quantized("M3z", i8, new long[3], 3)).addInitializer(random("M3b", 3))
                .addInput(value("x", 2, 6)).addOutput(value("y", 2, 3)).build();
        Path fp = dir.resolve("fused.onnx");
        Files.write(fp, model(f).toBuilder().addOpsetImport(lady.onnx.proto.Onnx.OperatorSetIdProto.newBuilder()
                .setDomain("com.microsoft").setVersion(1)).build().toByteArray());
        PermutationSpec fs = spec(fp);
        assertEquals(List.of(), fs.notes());
        assertEquals(new TreeSet<>(List.of("G1[0]@0/1:producer_weight", "G1s[0]@0/1:producer_bias",
                "G1z[0]@0/1:producer_bias", "G1b[0]@0/1:producer_bias", "M2[0]@0/1:consumer_weight")), members(fs, "g1"));
        assertEquals(new TreeSet<>(List.of("M2[1]@0/1:producer_weight", "M2s[0]@0/1:producer_bias",
                "M2z[0]@0/1:producer_bias", "M2b[0]@0/1:producer_bias", "M3[0]@0/1:consumer_weight")), members(fs, "m2"));
        permuteAndCompare(fp, 11);
    }

    /**
     * A group norm as PyTorch 1.13 exports {@code nn.GroupNorm(4, 8)} (opset 17 has no GroupNormalization): a Reshape
     * into the groups, InstanceNormalization (here with a scale and bias per group), a Reshape back to the input's shape
     * (computed by Shape), the affine Mul and Add per channel. Channels move inside their group, and the groups trade
     * places whole with their per-group values; moving a channel out of its group changes ONNX Runtime's outputs.
     */
    @Test
    void aGroupNormMovesChannelsInsideTheirGroupsAndWholeGroups() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("groupnorm")
                .addNode(n("Conv", "c1", "x,w1,b1", "c1o", ints("pads", 1, 1, 1, 1)))
                .addNode(n("Reshape", "into", "c1o,groups", "grouped"))
                .addNode(n("InstanceNormalization", "gn", "grouped,gs,gb", "normed"))
                .addNode(n("Shape", "shape", "c1o", "shape"))
                .addNode(n("Reshape", "back", "normed,shape", "back"))
                .addNode(n("Mul", "gamma", "back,gamma", "scaled"))
                .addNode(n("Add", "beta", "scaled,beta", "shifted"))
                .addNode(n("Relu", "relu", "shifted", "r"))
                .addNode(n("Conv", "c2", "r,w2", "c2o"))
                .addNode(n("GlobalAveragePool", "gap", "c2o", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("w1", 8, 3, 3, 3)).addInitializer(random("b1", 8))
                .addInitializer(longs("groups", 2, 4, -1)).addInitializer(random("gs", 4)).addInitializer(random("gb", 4))
                .addInitializer(random("gamma", 8, 1, 1)).addInitializer(random("beta", 8, 1, 1))
                .addInitializer(random("w2", 5, 8, 1, 1)).addInitializer(random("wfc", 3, 5))
                .addInput(value("x", 2, 3, 6, 6)).addOutput(value("y", 2, 3)).build();
        Path p = write("groupnorm.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        Map<String, String> outers = lady.permutation.Nesting.of(spec).outers();
        List<Group> inner = spec.groups().stream().filter(x -> "gn".equals(outers.get(x.name()))).toList();
        assertEquals(4, inner.size(), spec.groups().stream().map(Group::name).toList().toString());
        assertEquals(new TreeSet<>(List.of("w1[0]@0/2:producer_weight", "b1[0]@0/2:producer_bias",
                "gamma[0]@0/2:parameter", "beta[0]@0/2:parameter", "w2[1]@0/2:consumer_weight", "gs[0]@0/1:norm_weight",
                "gb[0]@0/1:norm_bias")), members(spec, "gn"));
        for (int k = 0; k < 4; k++) {
            assertEquals(2, inner.get(k).size());
            assertTrue(members(spec, inner.get(k).name()).contains("w1[0]@" + 2 * k + "/1:producer_weight"),
                    members(spec, inner.get(k).name()).toString());
        }
        Path out = permuteAndCompare(p, 9);

        // c1's channels moved as if no group norm held them: another function
        List<Member> free = new ArrayList<>();
        for (Member k : Permuter.group(spec, "gn").members()) {
            if (!k.tensor().equals("gs") && !k.tensor().equals("gb")) {
                free.add(new Member(k.tensor(), k.axis(), k.offset(), 1, k.role()));
            }
        }
        PermutationSpec wrong = wrong(spec, List.of(new Group("c1", 8, free)), "gs", "gb");
        double worst = outputChange(p, wrong, Map.of("c1", Permutation.of(0, 2, 1, 3, 4, 5, 6, 7)));
        assertTrue(worst > 1e-3, "a channel moved to another group changes the outputs: " + worst);

        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(resynced(p, out, "restored-gn.onnx")));
    }

    /** ONNX's own GroupNormalization (opset 18: a scale and a bias per group): the same groups as PyTorch's form. */
    @Test
    void theGroupNormalizationOperatorGivesTheSameGroups() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("groupnorm18")
                .addNode(n("Conv", "c1", "x,w1,b1", "c1o", ints("pads", 1, 1, 1, 1)))
                .addNode(n("GroupNormalization", "gn", "c1o,gs,gb", "normed", intAttr("num_groups", 4)))
                .addNode(n("Relu", "relu", "normed", "r"))
                .addNode(n("Conv", "c2", "r,w2", "c2o"))
                .addNode(n("GlobalAveragePool", "gap", "c2o", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("w1", 8, 3, 3, 3)).addInitializer(random("b1", 8))
                .addInitializer(random("gs", 4)).addInitializer(random("gb", 4))
                .addInitializer(random("w2", 5, 8, 1, 1)).addInitializer(random("wfc", 3, 5))
                .addInput(value("x", BATCH, 3, 6, 6)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("groupnorm18.onnx", g, 18);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(new TreeSet<>(List.of("w1[0]@0/2:producer_weight", "b1[0]@0/2:producer_bias",
                "w2[1]@0/2:consumer_weight", "gs[0]@0/1:norm_weight", "gb[0]@0/1:norm_bias")), members(spec, "gn"));
        assertEquals(4, lady.permutation.Nesting.of(spec).outers().values().stream().filter("gn"::equals).count());
        permuteAndCompare(p, 10);
    }

    /**
     * A hand-written Gemm with alpha and beta other than 1 and its bias stored [1, out]: the scalars do not touch the
     * channels, the bias row moves with the weight's rows (along its axis 1).
     */
    @Test
    void aGemmWithAlphaBetaAndABiasRowMovesItsOutputs() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("gemm")
                .addNode(n("Gemm", "fc1", "x,w1,b1", "h", intAttr("transB", 1), AttributeProto.newBuilder().setName("alpha")
                        .setType(AttributeProto.AttributeType.FLOAT).setF(0.5f).build(), AttributeProto.newBuilder()
                        .setName("beta").setType(AttributeProto.AttributeType.FLOAT).setF(2f).build()))
                .addNode(n("Relu", "relu", "h", "r"))
                .addNode(n("Gemm", "fc2", "r,w2", "y"))
                .addInitializer(random("w1", 6, 4)).addInitializer(random("b1", 1, 6)).addInitializer(random("w2", 6, 3))
                .addInput(value("x", BATCH, 4)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("gemm.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(new TreeSet<>(List.of("w1[0]@0/1:producer_weight", "b1[1]@0/1:producer_bias",
                "w2[0]@0/1:consumer_weight")), members(spec, "fc1"));
        permuteAndCompare(p, 12);
    }

    /**
     * ShuffleNet's channel shuffle as PyTorch exports it (Reshape to [N, 2, C / 2, H, W], Transpose of axes 1 and 2,
     * Reshape back): the two concatenated branches must move alike (one group, both convs' rows), and each of its
     * neurons is a block of 2 channels for the conv after it. Moving the branches independently changes the outputs.
     */
    @Test
    void aChannelShuffleTiesItsRunsAndInterleavesThem() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("shuffle")
                .addNode(n("Conv", "a", "x,wa,ba", "ao"))
                .addNode(n("Conv", "b", "x,wb", "bo"))
                .addNode(n("Relu", "rb", "bo", "rbo"))
                .addNode(n("Concat", "cat", "ao,rbo", "cat", intAttr("axis", 1)))
                .addNode(n("Reshape", "split", "cat,five", "grouped"))
                .addNode(n("Transpose", "swap", "grouped", "swapped", ints("perm", 0, 2, 1, 3, 4)))
                .addNode(n("Reshape", "merge", "swapped,four", "shuffled"))
                .addNode(n("Conv", "c", "shuffled,wc", "co", intAttr("group", 1)))
                .addNode(n("GlobalAveragePool", "gap", "co", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("wa", 4, 3, 1, 1)).addInitializer(random("ba", 4)).addInitializer(random("wb", 4, 3, 1, 1))
                .addInitializer(longs("five", 2, 2, 4, 5, 5)).addInitializer(longs("four", 2, -1, 5, 5))
                .addInitializer(random("wc", 6, 8, 1, 1)).addInitializer(random("wfc", 3, 6))
                .addInput(value("x", 2, 3, 5, 5)).addOutput(value("y", 2, 3)).build();
        Path p = write("shuffle.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("a:4", "c:6"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("wa[0]@0/1:producer_weight", "ba[0]@0/1:producer_bias",
                "wb[0]@0/1:producer_weight", "wc[1]@0/2:consumer_weight")), members(spec, "a"));
        permuteAndCompare(p, 13);

        // the two branches moved independently: another function
        List<Group> apart = List.of(
                new Group("a", 4, List.of(new Member("wa", 0, 0, 1, Role.PRODUCER_WEIGHT),
                        new Member("ba", 0, 0, 1, Role.PRODUCER_BIAS), new Member("wc", 1, 0, 2, Role.CONSUMER_WEIGHT))),
                new Group("b", 4, List.of(new Member("wb", 0, 0, 1, Role.PRODUCER_WEIGHT),
                        new Member("wc", 1, 1, 2, Role.CONSUMER_WEIGHT))));
        PermutationSpec wrong = wrong(spec, apart);
        double worst = outputChange(p, wrong, Map.of("a", Permutation.of(1, 0, 2, 3)));
        assertTrue(worst > 1e-3, "one branch moved without the other changes the outputs: " + worst);
    }

    /**
     * DepthToSpace in both modes and SpaceToDepth: CRD (PyTorch's PixelShuffle) moves its producer's rows in blocks of r^2
     * (one output channel each), DCR ties its r^2 runs (output channel c is row c of every run), and SpaceToDepth gives
     * the consumer r^2 copies of its input's channels.
     */
    @Test
    void depthToSpaceAndSpaceToDepthMoveWholeBlocks() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("pixels")
                .addNode(n("Conv", "a", "x,wa,ba", "ao"))
                .addNode(n("DepthToSpace", "crd", "ao", "p1", intAttr("blocksize", 2), AttributeProto.newBuilder()
                        .setName("mode").setType(AttributeProto.AttributeType.STRING)
                        .setS(com.google.protobuf.ByteString.copyFromUtf8("CRD")).build()))
                .addNode(n("Conv", "e", "x,we", "eo"))
                .addNode(n("DepthToSpace", "dcr", "eo", "p2", intAttr("blocksize", 2)))
                .addNode(n("Concat", "cat", "p1,p2", "cat", intAttr("axis", 1)))
                .addNode(n("Conv", "b", "cat,wb,bb", "bo", ints("pads", 1, 1, 1, 1)))
                .addNode(n("Relu", "relu", "bo", "r"))
                .addNode(n("SpaceToDepth", "s2d", "r", "d", intAttr("blocksize", 2)))
                .addNode(n("Conv", "c", "d,wc", "co"))
                .addNode(n("GlobalAveragePool", "gap", "co", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("wa", 8, 3, 1, 1)).addInitializer(random("ba", 8)).addInitializer(random("we", 8, 3, 1, 1))
                .addInitializer(random("wb", 4, 4, 3, 3)).addInitializer(random("bb", 4))
                .addInitializer(random("wc", 5, 16, 1, 1)).addInitializer(random("wfc", 3, 5))
                .addInput(value("x", BATCH, 3, 4, 4)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("pixels.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        // (e's runs are the pieces of its rows, tied: the group keeps the first piece's name)
        assertEquals(List.of("a:2", "e[0:2]:2", "b:4", "c:5"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("wa[0]@0/4:producer_weight", "ba[0]@0/4:producer_bias",
                "wb[1]@0/1:consumer_weight")), members(spec, "a"));
        assertEquals(new TreeSet<>(List.of("we[0]@0/1:producer_weight", "we[0]@2/1:producer_weight",
                "we[0]@4/1:producer_weight", "we[0]@6/1:producer_weight", "wb[1]@2/1:consumer_weight")), members(spec, "e[0:2]"));
        assertEquals(new TreeSet<>(List.of("wb[0]@0/1:producer_weight", "bb[0]@0/1:producer_bias",
                "wc[1]@0/1:consumer_weight", "wc[1]@4/1:consumer_weight", "wc[1]@8/1:consumer_weight",
                "wc[1]@12/1:consumer_weight")), members(spec, "b"));
        permuteAndCompare(p, 14);
    }

    /**
     * PixelUnshuffle as PyTorch exports it (Reshape to [N, C, H / 2, 2, W / 2, 2], Transpose [0, 1, 3, 5, 2, 4], Reshape
     * to [N, 4 C, H / 2, W / 2]): each channel becomes 4 consecutive consumer columns.
     */
    @Test
    void pixelUnshuffleGivesEachChannelABlockOfColumns() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("unshuffle")
                .addNode(n("Conv", "a", "x,wa,ba", "ao"))
                .addNode(n("Relu", "relu", "ao", "r"))
                .addNode(n("Reshape", "split", "r,six", "blocks"))
                .addNode(n("Transpose", "move", "blocks", "moved", ints("perm", 0, 1, 3, 5, 2, 4)))
                .addNode(n("Reshape", "merge", "moved,four", "d"))
                .addNode(n("Conv", "b", "d,wb", "bo"))
                .addNode(n("GlobalAveragePool", "gap", "bo", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("wa", 3, 2, 1, 1)).addInitializer(random("ba", 3))
                .addInitializer(longs("six", -1, 3, 2, 2, 2, 2)).addInitializer(longs("four", -1, 12, 2, 2))
                .addInitializer(random("wb", 4, 12, 1, 1)).addInitializer(random("wfc", 2, 4))
                .addInput(value("x", 2, 2, 4, 4)).addOutput(value("y", 2, 2)).build();
        Path p = write("unshuffle.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(new TreeSet<>(List.of("wa[0]@0/1:producer_weight", "ba[0]@0/1:producer_bias",
                "wb[1]@0/4:consumer_weight")), members(spec, "a"));
        permuteAndCompare(p, 15);
    }

    /**
     * ONNX LSTM and GRU with stored weights (as a folded PyTorch export writes them): each gate's rows of W and R, both
     * biases, and R's columns (the state fed back) move with the hidden units; the next layer reads them. Leaving R's
     * columns in place changes ONNX Runtime's outputs.
     */
    @Test
    void recurrentLayersMoveTheirHiddenUnitsInEveryGate() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("recurrent")
                .addNode(n("MatMul", "in", "x,w0", "h0"))
                .addNode(n("LSTM", "lstm", "h0,W1,R1,B1", "y1", intAttr("hidden_size", 5)))
                .addNode(n("Squeeze", "sq1", "y1,one", "s1"))
                .addNode(n("GRU", "gru", "s1,W2,R2,B2", "y2", intAttr("hidden_size", 4), intAttr("linear_before_reset", 1)))
                .addNode(n("Squeeze", "sq2", "y2,one", "s2"))
                .addNode(n("MatMul", "out", "s2,w3", "y"))
                .addInitializer(random("w0", 3, 3)).addInitializer(random("W1", 1, 20, 3)).addInitializer(random("R1", 1, 20, 5)).addInitializer(random("B1", 1, 40))
                .addInitializer(random("W2", 1, 12, 5)).addInitializer(random("R2", 1, 12, 4)).addInitializer(random("B2", 1, 24))
                .addInitializer(longs("one", 1)).addInitializer(random("w3", 4, 2))
                .addInput(value("x", 4, 2, 3)).addOutput(value("y", 4, 2, 2)).build();
        Path p = write("recurrent.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("in:3", "lstm:5", "gru:4"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        TreeSet<String> lstm = members(spec, "lstm");
        assertEquals(4 + 4 + 8 + 1 + 1, lstm.size(), lstm.toString());
        assertTrue(lstm.containsAll(List.of("W1[1]@15/1:producer_weight", "R1[1]@10/1:producer_weight",
                "B1[1]@35/1:producer_bias", "R1[2]@0/1:consumer_weight", "W2[2]@0/1:consumer_weight")), lstm.toString());
        permuteAndCompare(p, 16);

        Group gru = Permuter.group(spec, "gru");
        List<Group> groups = List.of(new Group("gru", 4, gru.members().stream()
                .filter(k -> !(k.tensor().equals("R2") && k.axis() == 2)).toList()));
        PermutationSpec wrong = wrong(spec, groups, "R2[2]", "W1", "R1", "B1", "w0", "W1[2]");
        double worst = outputChange(p, wrong, Map.of("gru", Permutation.of(1, 0, 3, 2)));
        assertTrue(worst > 1e-3, "the fed-back state's columns left in place change the outputs: " + worst);

        // an initial state of its own per unit (a Constant that differs from unit to unit) pins the layer; zeros do not
        for (boolean zeros : new boolean[] {true, false}) {
            float[] h0 = new float[2 * 5];
            for (int i = 0; i < h0.length && !zeros; i++) {
                h0[i] = i;
            }
            GraphProto s0 = GraphProto.newBuilder().setName("state")
                    .addNode(node("Constant", "h0", new String[0], new String[] {"h0"}, AttributeProto.newBuilder()
                            .setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(floats("h0", h0, 1, 2, 5))
                            .build()))
                    .addNode(n("MatMul", "in", "x,w0", "h"))
                    .addNode(n("LSTM", "lstm", "h,W1,R1,,,h0", "y1", intAttr("hidden_size", 5)))
                    .addNode(n("Squeeze", "sq1", "y1,one", "s1"))
                    .addNode(n("MatMul", "out", "s1,w3", "y"))
                    .addInitializer(random("w0", 3, 3)).addInitializer(random("W1", 1, 20, 3))
                    .addInitializer(random("R1", 1, 20, 5)).addInitializer(longs("one", 1)).addInitializer(random("w3", 5, 2))
                    .addInput(value("x", 4, 2, 3)).addOutput(value("y", 4, 2, 2)).build();
            Path sp = write("state-" + zeros + ".onnx", s0);
            PermutationSpec st = spec(sp);
            assertEquals(zeros, st.group("lstm").isPresent(), st.notes().toString());
            if (zeros) {
                permuteAndCompare(sp, 17);
            }
        }
    }

    /**
     * A bidirectional LSTM read as PyTorch's folded export reads it (Y's directions transposed next to each other, then
     * merged into 2 H channels by a Reshape), or through its last hidden state as a classifier reads it (h_n[-2] and
     * h_n[-1] concatenated): each direction's hidden units are a group of their own, in its part of the stored W, R and
     * B; the next layer reads the forward units, then the reverse ones. A consumer that reads the reverse half for the
     * forward units changes ONNX Runtime's outputs. A last state that is a graph output keeps the units in place.
     */
    @Test
    void aBidirectionalRecurrentLayerMovesEachDirectionsUnitsOnTheirOwn() throws Exception {
        for (String read : new String[] {"output", "last state", "graph output"}) {
            GraphProto.Builder b = GraphProto.newBuilder().setName("bidirectional")
                    .addNode(n("MatMul", "in", "x,w0", "h0"))
                    .addNode(node("LSTM", "lstm", new String[] {"h0", "W1", "R1", "B1"}, new String[] {"y1", "yh"},
                            intAttr("hidden_size", 5), AttributeProto.newBuilder().setName("direction")
                                    .setType(AttributeProto.AttributeType.STRING)
                                    .setS(com.google.protobuf.ByteString.copyFromUtf8("bidirectional")).build()))
                    .addInitializer(random("w0", 3, 3)).addInitializer(random("W1", 2, 20, 3))
                    .addInitializer(random("R1", 2, 20, 5)).addInitializer(random("B1", 2, 40))
                    .addInitializer(random("w3", 10, 2)).addInput(value("x", 4, 2, 3));
            switch (read) {
                case "output" -> b.addNode(n("Transpose", "tr", "y1", "t1", ints("perm", 0, 2, 1, 3)))
                        .addNode(n("Reshape", "merge", "t1,to", "m1")).addNode(n("Gather", "last", "m1,minus1", "l1"))
                        .addNode(n("MatMul", "out", "l1,w3", "y")).addInitializer(longs("to", 0, 0, -1))
                        .addOutput(value("y", 2, 2));
                case "last state" -> b.addNode(n("Gather", "fwd", "yh,minus2", "hf"))
                        .addNode(n("Gather", "rev", "yh,minus1", "hr"))
                        .addNode(n("Concat", "cat", "hf,hr", "m1", intAttr("axis", 1)))
                        .addNode(n("MatMul", "out", "m1,w3", "y")).addOutput(value("y", 2, 2));
                default -> b.addNode(n("Transpose", "tr", "y1", "t1", ints("perm", 0, 2, 1, 3)))
                        .addNode(n("Reshape", "merge", "t1,to", "m1")).addNode(n("MatMul", "out", "m1,w3", "y"))
                        .addInitializer(longs("to", 0, 0, -1)).addOutput(value("y", 4, 2, 2))
                        .addOutput(value("yh", 2, 2, 5));
            }
            b.addInitializer(scalar("minus1", -1)).addInitializer(scalar("minus2", -2));
            Path p = write("bidirectional-" + read.replace(' ', '-') + ".onnx", b.build());
            PermutationSpec spec = spec(p);
            assertEquals(List.of(), spec.notes(), read);
            if (read.equals("graph output")) {
                assertEquals(List.of("in:3"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
                permuteAndCompare(p, 18);
                continue;
            }
            assertEquals(List.of("in:3", "lstm:5", "lstm.reverse:5"),
                    spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList(), read);
            TreeSet<String> reverse = members(spec, "lstm.reverse");
            assertEquals(4 + 4 + 8 + 1 + 1, reverse.size(), reverse.toString());
            assertTrue(reverse.containsAll(List.of("W1#reverse[0]@15/1:producer_weight", "R1#reverse[0]@10/1:producer_weight",
                    "B1#reverse[0]@35/1:producer_bias", "R1#reverse[1]@0/1:consumer_weight", "w3[0]@5/1:consumer_weight")),
                    reverse.toString());
            assertTrue(members(spec, "in").containsAll(List.of("W1#forward[1]@0/1:consumer_weight",
                    "W1#reverse[1]@0/1:consumer_weight")), members(spec, "in").toString());
            Path permuted = permuteAndCompare(p, 18);
            assertEquals(List.of("w0", "W1", "R1", "B1"), Onnx.read(permuted).proto().getGraph().getInitializerList()
                    .stream().map(TensorProto::getName).toList().subList(0, 4), "stored as they were, one tensor each");

            Group forward = Permuter.group(spec, "lstm");
            List<Group> groups = List.of(new Group("lstm", 5, forward.members().stream().map(k -> k.tensor().equals("w3")
                    ? new Member("w3", 0, 5, 1, k.role()) : k).toList()));
            PermutationSpec wrong = wrong(spec, groups, "w0", "W1#reverse", "R1#reverse", "B1#reverse");
            double worst = outputChange(p, wrong, Map.of("lstm", Permutation.of(1, 0, 3, 4, 2)));
            assertTrue(worst > 1e-3, read + ": the forward units read from the reverse half change the outputs: " + worst);
        }
    }

    /** A scalar INT64 initializer (a Gather's index). */
    private static TensorProto scalar(String name, long v) {
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE).addInt64Data(v).build();
    }

    /**
     * A GRU whose weights PyTorch's kept export computes from the state dict's tensors: each one's gates sliced into
     * ONNX's order (z, r, h from PyTorch's r, z, n) and concatenated, then given a leading axis. The hidden units move in
     * the stored tensors' rows, wherever each gate's slice reads them; the sliced tensors stay one initializer each. A
     * member at the wrong gate's rows changes ONNX Runtime's outputs.
     */
    @Test
    void aRecurrentLayerWhoseGatesAreSlicedFromStoredTensorsMovesTheirRows() throws Exception {
        GraphProto.Builder b = GraphProto.newBuilder().setName("sliced")
                .addNode(n("MatMul", "in", "x,w0", "h0"));
        String[] order = {"1", "0", "2"}; // ONNX's gate g reads PyTorch's gate order[g]
        for (String t : new String[] {"wih", "whh", "bih", "bhh"}) {
            StringBuilder parts = new StringBuilder();
            for (int g = 0; g < 3; g++) {
                b.addNode(n("Slice", t + "_s" + g, t + ",at" + order[g] + ",at" + (Integer.parseInt(order[g]) + 1) + ",axis0",
                        t + "_g" + g));
                parts.append(g == 0 ? "" : ",").append(t + "_g" + g);
            }
            b.addNode(node("Concat", t + "_cat", parts.toString().split(","), new String[] {t + "_c"}, intAttr("axis", 0)));
        }
        b.addNode(n("Concat", "b_cat", "bih_c,bhh_c", "b_c", intAttr("axis", 0)))
                .addNode(n("Unsqueeze", "uw", "wih_c,axis0", "W"))
                .addNode(n("Unsqueeze", "ur", "whh_c,axis0", "R"))
                .addNode(n("Unsqueeze", "ub", "b_c,axis0", "B"))
                .addNode(n("GRU", "gru", "h0,W,R,B", "y1", intAttr("hidden_size", 4), intAttr("linear_before_reset", 1)))
                .addNode(n("Squeeze", "sq", "y1,one", "s1"))
                .addNode(n("MatMul", "out", "s1,w3", "y"))
                .addInitializer(random("w0", 3, 3)).addInitializer(random("wih", 12, 3)).addInitializer(random("whh", 12, 4))
                .addInitializer(random("bih", 12)).addInitializer(random("bhh", 12)).addInitializer(random("w3", 4, 2))
                .addInitializer(longs("one", 1)).addInitializer(longs("axis0", 0));
        for (int k = 0; k <= 3; k++) {
            b.addInitializer(longs("at" + k, 4L * k));
        }
        Path p = write("sliced.onnx", b.addInput(value("x", 4, 2, 3)).addOutput(value("y", 4, 2, 2)).build());
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of("in:3", "gru:4"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        TreeSet<String> gru = members(spec, "gru");
        assertEquals(3 + 3 + 6 + 1 + 1, gru.size(), gru.toString());
        assertTrue(gru.containsAll(List.of("wih[0]@0/1:producer_weight", "wih[0]@4/1:producer_weight",
                "wih[0]@8/1:producer_weight", "bhh[0]@8/1:producer_bias", "whh[1]@0/1:consumer_weight",
                "w3[0]@0/1:consumer_weight")), gru.toString());
        assertTrue(members(spec, "in").contains("wih[1]@0/1:consumer_weight"), members(spec, "in").toString());
        Path permuted = permuteAndCompare(p, 19);
        assertEquals(Onnx.read(p).proto().getGraph().getInitializerCount(),
                Onnx.read(permuted).proto().getGraph().getInitializerCount(), "each sliced tensor stays one initializer");

        Group right = Permuter.group(spec, "gru");
        List<Group> groups = List.of(new Group("gru", 4, right.members().stream().map(k -> k.tensor().equals("whh")
                && k.axis() == 0 && k.offset() == 4 ? new Member("whh", 0, 8, 1, k.role()) : k).distinct().toList()));
        PermutationSpec wrong = wrong(spec, groups, "w0");
        double worst = outputChange(p, wrong, Map.of("gru", Permutation.of(1, 0, 3, 2)));
        assertTrue(worst > 1e-3, "one gate's rows of R left in place change the outputs: " + worst);
    }

    /**
     * A model whose outputs cancel large terms (pairs of nearly equal hidden units read with weights +1e5 and -1e5): any
     * other summation order changes them by more than 1e-4 of their scale. {@code lady permute --verify} then measures
     * the model's own float32 noise (every float32 weight moved by one unit in the last place) and passes within
     * {@link lady.kernels.Tolerances#FLOAT_NOISE_FACTOR} times it, saying so; a wrong move (the second layer's rows left
     * in place) is many times that noise.
     */
    @Test
    void aDifferenceWithinTheModelsOwnFloatNoisePassesAndAWrongMoveDoesNot() throws Exception {
        int hidden = 64;
        float[] w1 = new float[8 * hidden];
        float[] w2 = new float[hidden];
        for (int i = 0; i < 8; i++) {
            for (int k = 0; k < hidden; k += 2) {
                w1[i * hidden + k] = (float) (random.nextDouble() * 2 - 1);
                w1[i * hidden + k + 1] = w1[i * hidden + k] * (float) (1 + 1e-5 * random.nextDouble());
            }
        }
        for (int k = 0; k < hidden; k++) {
            w2[k] = k % 2 == 0 ? 1e5f : -1e5f;
        }
        GraphProto g = GraphProto.newBuilder().setName("cancel")
                .addNode(n("MatMul", "fc1", "x,w1", "h"))
                .addNode(n("Relu", "act", "h", "a"))
                .addNode(n("MatMul", "fc2", "a,w2", "y"))
                .addInitializer(floats("w1", w1, 8, hidden)).addInitializer(floats("w2", w2, hidden, 1))
                .addInput(value("x", 16, 8)).addOutput(value("y", 16, 1)).build();
        Path p = write("cancel.onnx", g);
        double noise = OrtRunner.floatNoise(Onnx.read(p), 3, OrtRunner.Options.DEFAULT);
        assertTrue(noise > lady.kernels.Tolerances.LOGITS_MAX_ABS_DIFF, "the model's float32 noise: " + noise);
        boolean above = false;
        for (long seed = 1; seed <= 4; seed++) {
            CliRun r = CliRun.of("permute", "--model", p.toString(), "--seed", Long.toString(seed), "--out",
                    dir.resolve("cancel-" + seed + ".onnx").toString(), "--secret", dir.resolve("cancel-" + seed + ".json")
                            .toString(), "--verify");
            assertEquals(0, r.code(), r.err());
            above |= r.out().contains("within 4 times the model's own float32 noise");
        }
        assertTrue(above, "some seed's summation order differs by more than 1e-4 of the scale");

        PermutationSpec spec = spec(p);
        Group right = Permuter.group(spec, "fc1");
        List<Group> groups = List.of(new Group("fc1", hidden, right.members().stream().filter(k -> !k.tensor().equals("w2"))
                .toList()));
        PermutationSpec wrong = wrong(spec, groups, "w2");
        long[] swap = new long[hidden];
        for (int k = 0; k < hidden; k++) {
            swap[k] = k ^ 1; // each unit trades places with its near-twin
        }
        double worst = outputChange(p, wrong, Map.of("fc1", Permutation.of(swap)));
        assertTrue(worst > 10 * lady.kernels.Tolerances.FLOAT_NOISE_FACTOR * noise, "a wrong move: " + worst
                + ", the float32 noise: " + noise);
    }

    /**
     * Two group norms of the same 4 groups on a residual stream (opset 18's GroupNormalization, each with a scale and a
     * bias per group): both group the channels at the same bounds, so whole groups trade places in both at once, each
     * norm's per-group values with them. Leaving the second norm's per-group scale in place changes ONNX Runtime's
     * outputs. A norm of 2 groups on the same stream keeps the groups in place, with a note.
     */
    @Test
    void groupNormsOfTheSameGroupsTradeWholeGroupsTogether() throws Exception {
        for (long second : new long[] {4, 2}) {
            GraphProto g = GraphProto.newBuilder().setName("samegroups")
                    .addNode(n("Conv", "c1", "x,w1,b1", "c1o", ints("pads", 1, 1, 1, 1)))
                    .addNode(n("GroupNormalization", "gn1", "c1o,gs1,gb1", "n1", intAttr("num_groups", 4)))
                    .addNode(n("Relu", "r1", "n1", "a1"))
                    .addNode(n("Conv", "c2", "a1,w2", "c2o"))
                    .addNode(n("GroupNormalization", "gn2", "c2o,gs2,gb2", "n2", intAttr("num_groups", second)))
                    .addNode(n("Add", "res", "a1,n2", "s"))
                    .addNode(n("Relu", "r2", "s", "a2"))
                    .addNode(n("Conv", "c3", "a2,w3", "c3o"))
                    .addNode(n("GroupNormalization", "gn3", "c3o,gs3,gb3", "n3", intAttr("num_groups", 4)))
                    .addNode(n("Relu", "r3", "n3", "a3"))
                    .addNode(n("GlobalAveragePool", "gap", "a3", "gap"))
                    .addNode(n("Flatten", "flat", "gap", "fl"))
                    .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                    .addInitializer(random("w1", 8, 3, 3, 3)).addInitializer(random("b1", 8))
                    .addInitializer(random("gs1", 4)).addInitializer(random("gb1", 4))
                    .addInitializer(random("w2", 8, 8, 1, 1)).addInitializer(random("gs2", second))
                    .addInitializer(random("gb2", second)).addInitializer(random("w3", 8, 8, 1, 1))
                    .addInitializer(random("gs3", 4)).addInitializer(random("gb3", 4)).addInitializer(random("wfc", 3, 8))
                    .addInput(value("x", BATCH, 3, 6, 6)).addOutput(value("y", BATCH, 3)).build();
            Path p = write("samegroups-" + second + ".onnx", g, 18);
            PermutationSpec spec = spec(p);
            if (second == 2) {
                assertTrue(spec.notes().stream().anyMatch(x -> x.contains("stay in place")), spec.notes().toString());
                assertTrue(spec.groups().stream().noneMatch(x -> members(spec, x.name()).contains("gs1[0]@0/1:norm_weight")),
                        "the stream's whole groups stay");
                permuteAndCompare(p, 21);
                continue;
            }
            assertEquals(List.of(), spec.notes());
            Group whole = spec.groups().stream().filter(x -> members(spec, x.name()).contains("gs1[0]@0/1:norm_weight"))
                    .findFirst().orElseThrow();
            assertEquals(4, whole.size());
            assertTrue(members(spec, whole.name()).containsAll(List.of("gb1[0]@0/1:norm_bias", "gs2[0]@0/1:norm_weight",
                    "gb2[0]@0/1:norm_bias", "w1[0]@0/2:producer_weight", "w2[0]@0/2:producer_weight")),
                    members(spec, whole.name()).toString());
            permuteAndCompare(p, 21);

            List<Group> groups = List.of(new Group(whole.name(), 4, whole.members().stream()
                    .filter(k -> !k.tensor().equals("gs2")).toList()));
            PermutationSpec wrong = wrong(spec, groups, "gs2");
            double worst = outputChange(p, wrong, Map.of(whole.name(), Permutation.of(1, 0, 3, 2)));
            assertTrue(worst > 1e-3, "the second norm's scales left in place change the outputs: " + worst);
        }
    }

    /**
     * A recurrent layer reading a graph input of features (a time series: channels Lady does not follow): the input's
     * channels stay, with W's columns, and the hidden units still move.
     */
    @Test
    void aRecurrentLayerOnAGraphInputStillMovesItsUnits() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("series")
                .addNode(n("LSTM", "lstm", "x,W1,R1,B1", "y1", intAttr("hidden_size", 5)))
                .addNode(n("Squeeze", "sq1", "y1,one", "s1"))
                .addNode(n("MatMul", "out", "s1,w3", "y"))
                .addInitializer(random("W1", 1, 20, 3)).addInitializer(random("R1", 1, 20, 5)).addInitializer(random("B1", 1, 40))
                .addInitializer(longs("one", 1)).addInitializer(random("w3", 5, 2))
                .addInput(value("x", 4, 2, 3)).addOutput(value("y", 4, 2, 2)).build();
        Path p = write("series.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of("lstm:5"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList(),
                spec.notes().toString());
        assertTrue(members(spec, "lstm").containsAll(List.of("W1[1]@15/1:producer_weight", "w3[0]@0/1:consumer_weight")),
                members(spec, "lstm").toString());
        assertTrue(members(spec, "lstm").stream().noneMatch(m -> m.startsWith("W1[2]")), "the input's channels stay");
        permuteAndCompare(p, 23);
    }

    /** An operator Lady does not know (LRN mixes neighbouring channels) pins its channels, with a note. */
    @Test
    void anUnknownOperatorPinsItsChannelsWithANoteNamingTheNode() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("lrn")
                .addNode(n("Conv", "c1", "x,w1", "c1o"))
                .addNode(n("LRN", "norm", "c1o", "n", intAttr("size", 3)))
                .addNode(n("Conv", "c2", "n,w2", "c2o"))
                .addNode(n("Relu", "r2", "c2o", "r2"))
                .addNode(n("GlobalAveragePool", "gap", "r2", "gap"))
                .addNode(n("Flatten", "flat", "gap", "fl"))
                .addNode(n("Gemm", "fc", "fl,wfc", "y", intAttr("transB", 1)))
                .addInitializer(random("w1", 4, 3, 1, 1)).addInitializer(random("w2", 5, 4, 1, 1))
                .addInitializer(random("wfc", 2, 5))
                .addInput(value("x", BATCH, 3, 4, 4)).addOutput(value("y", BATCH, 2)).build();
        Path p = write("lrn.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of("c2:5"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertTrue(spec.fixed().contains("w1[0]") && spec.fixed().contains("w2[1]"), spec.fixed().toString());
        assertEquals(1, spec.notes().size(), spec.notes().toString());
        assertTrue(spec.notes().get(0).startsWith("node 'norm': operator LRN is not one Lady knows"), spec.notes().get(0));
        CliRun r = CliRun.of("spec", "--model", p.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("note: node 'norm'"), r.out());
        permuteAndCompare(p, 5);
    }

    /**
     * Heads split by a Reshape without an attention Lady can prove ({@link OnnxAttention}: here no q.k product) are not
     * followed: the projections into the heads stay in place (note naming the Reshape), the residual stream and the
     * output projection's rows still move.
     */
    @Test
    void aReshapeIntoHeadsPinsTheProjectionsButNotTheStream() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("heads")
                .addNode(n("MatMul", "embed", "x,w0", "s"))
                .addNode(n("MatMul", "q", "s,wq", "q"))
                .addNode(n("Reshape", "split_heads", "q,heads_shape", "qh"))
                .addNode(n("Transpose", "to_heads", "qh", "qt", ints("perm", 0, 2, 1, 3)))
                .addNode(n("Softmax", "softmax", "qt", "qs", intAttr("axis", -1)))
                .addNode(n("Transpose", "from_heads", "qs", "qb", ints("perm", 0, 2, 1, 3)))
                .addNode(n("Reshape", "merge_heads", "qb,merged_shape", "qm"))
                .addNode(n("MatMul", "o", "qm,wo", "a"))
                .addNode(n("Add", "residual", "s,a", "s2"))
                .addNode(n("MatMul", "head", "s2,wout", "y"))
                .addInitializer(random("w0", 4, 6)).addInitializer(random("wq", 6, 4))
                .addInitializer(longs("heads_shape", 0, 3, 2, 2)).addInitializer(longs("merged_shape", 0, 3, 4))
                .addInitializer(random("wo", 4, 6)).addInitializer(random("wout", 6, 2))
                .addInput(value("x", BATCH, 3, 4)).addOutput(value("y", BATCH, 3, 2)).build();
        Path p = write("heads.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of("stream.embed:6"), spec.groups().stream().map(x -> x.name() + ":" + x.size()).toList());
        assertEquals(new TreeSet<>(List.of("w0[1]@0/1:producer_weight", "wq[0]@0/1:consumer_weight",
                "wo[1]@0/1:producer_weight", "wout[0]@0/1:consumer_weight")), members(spec, "stream.embed"));
        assertTrue(spec.fixed().containsAll(List.of("wq[1]", "wo[0]", "heads_shape", "merged_shape")), spec.fixed().toString());
        assertTrue(spec.notes().stream().anyMatch(s -> s.contains("split_heads") && s.contains("could not prove")),
                spec.notes().toString());
        permuteAndCompare(p, 6);
    }

    /** Nodes whose attributes do not fit their operator are opaque (with a note), never a crash. */
    @Test
    void malformedNodesAreOpaque() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("malformed")
                .addNode(n("Conv", "c1", "x,w1", "c1o"))
                .addNode(n("Transpose", "bad_perm", "c1o", "t", ints("perm", 0, 7, 1, 2)))
                .addNode(n("Transpose", "bad_weight", "w2", "w2t", ints("perm", 5, 0)))
                .addNode(n("Concat", "bad_axis", "t,t", "c", intAttr("axis", 9)))
                .addNode(n("Flatten", "flat", "c", "fl"))
                .addNode(n("Gemm", "fc", "fl,w2t", "y", intAttr("transB", 0)))
                .addInitializer(random("w1", 4, 3, 1, 1)).addInitializer(random("w2", 3, 128))
                .addInput(value("x", BATCH, 3, 4, 4)).addOutput(value("y", BATCH, 3)).build();
        Path p = write("malformed.onnx", g);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.groups(), "everything that touches the malformed nodes stays in place");
        assertTrue(spec.notes().stream().anyMatch(s -> s.startsWith("node 'bad_perm'")), spec.notes().toString());
        CliRun r = CliRun.of("spec", "--model", p.toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void reshapesKeepFlattenOrLoseTheChannelAxis() {
        long[] image = {2, 8, 4, 4};
        assertArrayEquals(new int[] {1, 1}, OnnxShapes.reshapedAxis(image, new long[] {2, 128}, 1), "flatten: blocks");
        assertArrayEquals(new int[] {1, 0}, OnnxShapes.reshapedAxis(image, new long[] {2, 8, 16}, 1), "spatial merged");
        assertArrayEquals(new int[] {1, 0}, OnnxShapes.reshapedAxis(new long[] {2, 8, 1, 1}, new long[] {2, 8}, 1));
        assertArrayEquals(new int[] {2, 0}, OnnxShapes.reshapedAxis(new long[] {2, 8}, new long[] {2, 1, 8}, 1));
        long[] tokens = {2, 3, 6};
        assertArrayEquals(new int[] {1, 0}, OnnxShapes.reshapedAxis(tokens, new long[] {6, 6}, 2), "tokens merged");
        assertNull(OnnxShapes.reshapedAxis(tokens, new long[] {2, 3, 2, 3}, 2), "heads: the channels split");
        assertNull(OnnxShapes.reshapedAxis(tokens, new long[] {2, 18}, 2), "channels inside another axis");
        assertNull(OnnxShapes.reshapedAxis(new long[] {2, 128}, image, 1), "unflatten");
        assertNull(OnnxShapes.reshapedAxis(image, new long[] {2, 2, 4, 4, 4}, 1), "channel groups (a shuffle)");
    }

    // ---- local functions ----

    private static final String FN_DOMAIN = "lady.test";

    private static OperatorSetIdProto opset(String domain, long version) {
        return OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(version).build();
    }

    /**
     * Local function Dense (domain {@link #FN_DOMAIN}): {@code Y = Relu(Gemm(X, W, B))} with Gemm's transB the call's
     * attribute {@code tb} (a reference, ref_attr_name): read as the operator's default (0), W [16, 16] would be taken
     * [in, out] and the spec would move its columns with the units.
     */
    private static FunctionProto dense() {
        return FunctionProto.newBuilder().setName("Dense").setDomain(FN_DOMAIN).addInput("X").addInput("W")
                .addInput("B").addOutput("Y").addAttribute("tb")
                .addNode(node("Gemm", "gemm", new String[] {"X", "W", "B"}, new String[] {"g"}, AttributeProto.newBuilder()
                        .setName("transB").setType(AttributeProto.AttributeType.INT).setRefAttrName("tb").build()))
                .addNode(node("Relu", "relu", new String[] {"g"}, new String[] {"Y"}))
                .addOpsetImport(opset("", 17)).build();
    }

    private static NodeProto call(String name, String in, String w, String b, String out) {
        return node("Dense", name, new String[] {in, w, b}, new String[] {out}, intAttr("tb", 1)).toBuilder()
                .setDomain(FN_DOMAIN).build();
    }

    /** An MLP whose two hidden layers are calls of {@link #dense()}: the second reads {@code w2, b2}, or, shared, w1 and b1. */
    private Path denseCalls(String name, boolean shared) throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder().setName("fn")
                .addNode(n("Gemm", "stem", "x,w0,b0", "h0", intAttr("transB", 1)))
                .addNode(n("Relu", "stem_relu", "h0", "a0"))
                .addNode(call("block1", "a0", "w1", "b1", "y1"))
                .addNode(call("block2", "y1", shared ? "w1" : "w2", shared ? "b1" : "b2", "y2"))
                .addNode(n("Gemm", "head", "y2,w3,b3", "out", intAttr("transB", 1)))
                .addInitializer(random("w0", 16, 8)).addInitializer(random("b0", 16))
                .addInitializer(random("w1", 16, 16)).addInitializer(random("b1", 16))
                .addInitializer(random("w3", 4, 16)).addInitializer(random("b3", 4))
                .addInput(value("x", BATCH, 8)).addOutput(value("out", BATCH, 4));
        if (!shared) {
            g.addInitializer(random("w2", 16, 16)).addInitializer(random("b2", 16));
        }
        ModelProto m = model(g.build()).toBuilder().addOpsetImport(opset(FN_DOMAIN, 1)).addFunctions(dense()).build();
        Path p = dir.resolve(name);
        Files.write(p, m.toByteArray());
        return p;
    }

    /**
     * A model whose layers are calls of a local function (what PyTorch's export_modules_as_functions writes): the calls
     * are expanded, the call's attribute reaches the function's Gemm (transB), and each call's units are a group. The
     * permuted file keeps its calls and its function; ONNX Runtime runs it to the same outputs; a bias left behind
     * changes them; and resync gives the file back byte for byte.
     */
    @Test
    void callsOfLocalFunctionsAreExpanded() throws Exception {
        Path p = denseCalls("fn.onnx", false);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        assertEquals(List.of(16L, 16L, 16L), spec.groups().stream().map(g -> (long) g.size()).toList(),
                spec.groups().toString());
        Group block1 = Permuter.group(spec, "block1/gemm");
        assertEquals(new TreeSet<>(List.of("w1[0]@0/1:producer_weight", "b1[0]@0/1:producer_bias",
                "w2[1]@0/1:consumer_weight")), members(spec, block1.name()));

        Path out = permuteAndCompare(p, 7);
        ModelProto written = ModelProto.parseFrom(Files.readAllBytes(out));
        assertEquals(1, written.getFunctionsCount());
        assertEquals(2, written.getGraph().getNodeList().stream().filter(k -> k.getOpType().equals("Dense")).count(),
                "the calls are kept");

        List<Group> groups = new ArrayList<>();
        for (Group x : spec.groups()) {
            groups.add(new Group(x.name(), x.size(), x.members().stream().filter(k -> !k.tensor().equals("b1")).toList()));
        }
        PermutationSpec wrong = wrong(spec, groups, "b1");
        double worst = outputChange(p, wrong, Permuter.random(wrong, List.of(block1.name()), 6));
        assertTrue(worst > 1e-3, "a bias left behind changes the outputs: " + worst);

        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(resynced(p, out, "restored-fn.onnx")));
    }

    /**
     * A model whose last layer is zeros gives the same outputs for every input: a comparison of it with any copy shows
     * no difference, and says that its outputs do not depend on its inputs (nothing could have been seen); with its last
     * layer, they do.
     */
    @Test
    void aComparisonSaysWhenTheOutputsIgnoreTheInputs() throws Exception {
        Path p = denseCalls("fn-live.onnx", false);
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(p));
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().startsWith("w3") || g.getInitializer(i).getName().startsWith("b3")) {
                TensorProto t = g.getInitializer(i);
                long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
                g.setInitializer(i, floats(t.getName(), new float[t.getRawData().size() / 4], dims));
            }
        }
        Path dead = dir.resolve("fn-dead.onnx");
        Files.write(dead, m.toBuilder().setGraph(g).build().toByteArray());
        for (Path f : new Path[] {p, dead}) {
            OnnxModel x = Onnx.read(f);
            OrtRunner.Comparison c = OrtRunner.comparison(x, x, 3, OrtRunner.Options.DEFAULT);
            assertEquals(0.0, c.differences().get(0).maxAbs(), f.toString());
            assertEquals(f.equals(p), c.inputsMatter(), f.toString());
        }
    }

    /**
     * Two calls of one function on the same weights: each call's use of them is a tensor of its own, in its own group,
     * and a permutation that moves them apart gives the second call initializers of its own, which takes the expanded
     * nodes into the main graph: ONNX Runtime still runs it to the same outputs.
     */
    @Test
    void weightsSharedByTwoCallsAreUnsharedInTheExpandedGraph() throws Exception {
        Path p = denseCalls("fn-shared.onnx", true);
        PermutationSpec spec = spec(p);
        assertEquals(3, spec.groups().size(), spec.groups().toString());
        Path out = permuteAndCompare(p, 8);
        ModelProto written = ModelProto.parseFrom(Files.readAllBytes(out));
        assertTrue(written.getGraph().getNodeList().stream().noneMatch(k -> k.getOpType().equals("Dense")),
                "the calls are expanded");
        assertEquals(6 + 2, written.getGraph().getInitializerCount(), "the second call's w1 and b1 are initializers of their own");
    }

    /**
     * Functions that call themselves, or nest calls that would expand to more than {@link OnnxFunctions#MAX_NODES}
     * nodes (30 levels, each calling the one below twice: 2^30 nodes from a few hundred bytes), are refused at once in
     * one line.
     */
    @Test
    void functionsThatRecurseOrExplodeAreRefused() throws Exception {
        FunctionProto self = FunctionProto.newBuilder().setName("Self").setDomain(FN_DOMAIN).addInput("X").addOutput("Y")
                .addNode(node("Self", "again", new String[] {"X"}, new String[] {"Y"}).toBuilder().setDomain(FN_DOMAIN))
                .addOpsetImport(opset("", 17)).addOpsetImport(opset(FN_DOMAIN, 1)).build();
        ModelProto.Builder m = model(GraphProto.newBuilder().setName("g")
                .addNode(node("Self", "top", new String[] {"x"}, new String[] {"y"}).toBuilder().setDomain(FN_DOMAIN))
                .addInput(value("x", 1, 4)).addOutput(value("y", 1, 4)).build()).toBuilder()
                .addOpsetImport(opset(FN_DOMAIN, 1));
        refusedFunctions(m.clone().addFunctions(self).build(), "calls itself");
        refusedFunctions(m.clone().addFunctions(self).addFunctions(self).build(), "two local functions are named");

        ModelProto.Builder nest = m.clone();
        nest.addFunctions(FunctionProto.newBuilder().setName("F0").setDomain(FN_DOMAIN).addInput("X").addOutput("Y")
                .addNode(node("Relu", "r", new String[] {"X"}, new String[] {"Y"})).addOpsetImport(opset("", 17)));
        for (int k = 1; k <= 30; k++) {
            String below = "F" + (k - 1);
            nest.addFunctions(FunctionProto.newBuilder().setName("F" + k).setDomain(FN_DOMAIN).addInput("X").addOutput("Y")
                    .addNode(node(below, "a", new String[] {"X"}, new String[] {"T"}).toBuilder().setDomain(FN_DOMAIN))
                    .addNode(node(below, "b", new String[] {"T"}, new String[] {"Y"}).toBuilder().setDomain(FN_DOMAIN))
                    .addOpsetImport(opset("", 17)).addOpsetImport(opset(FN_DOMAIN, 1)));
        }
        nest.getGraphBuilder().setNode(0, nest.getGraph().getNode(0).toBuilder().setOpType("F30"));
        refusedFunctions(nest.build(), "expand to more than");
    }

    private void refusedFunctions(ModelProto m, String fragment) throws Exception {
        Path p = dir.resolve("hostile-fn.onnx");
        Files.write(p, m.toByteArray());
        lady.LadyException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(lady.LadyException.class, () -> Onnx.read(p)));
        assertEquals(lady.LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains(fragment) && !e.getMessage().contains("\n"), e.getMessage());
    }
}
