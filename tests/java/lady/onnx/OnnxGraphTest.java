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
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
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
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.NodeProto;
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

    private static final SplittableRandom RANDOM = new SplittableRandom(5);

    private static TensorProto random(String name, long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (RANDOM.nextDouble() * 2 - 1);
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
        Path restored = dir.resolve("restored.onnx");
        CliRun r = CliRun.of("resync", "--reference", p.toString(), "--suspect", out.toString(), "--out", restored.toString(),
                "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(Onnx.read(restored).stateDict().sameTensors(m.stateDict()));
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
}
