package lady.onnx;

import static lady.onnx.OnnxTestModels.floats;
import static lady.onnx.OnnxTestModels.intAttr;
import static lady.onnx.OnnxTestModels.ints;
import static lady.onnx.OnnxTestModels.longs;
import static lady.onnx.OnnxTestModels.model;
import static lady.onnx.OnnxTestModels.node;
import static lady.onnx.OnnxTestModels.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.model.Models;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.onnx.proto.Onnx.TensorShapeProto;
import lady.onnx.proto.Onnx.TypeProto;
import lady.onnx.proto.Onnx.ValueInfoProto;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;

/**
 * {@link OnnxAttention} on attention graphs written here (no Python): tokens [batch, 4, 6] -> a linear embedding ->
 * multi-head attention with 2 heads of 4 (q, k, v MatMul + Add, Reshape, Transpose, scores scaled by a Mul plus a
 * mask, Softmax, the product with v, Transpose, Reshape, the output projection) -> residual -> mean over the tokens ->
 * classifier. The sequence is as long as a head is wide (4), so that a product that contracts the wrong axes still
 * has the right shapes. The plain graph is a block, and so are the variants that keep what multi-head attention ties
 * (cross-attention, tokens, grouped and multi-query heads, a stored bias per head that moves with them); each other
 * variant breaks one thing multi-head attention needs (or lays its heads out in a way the attention node cannot
 * write) and must leave the heads in place, and every permutation Lady writes must keep the function in ONNX Runtime
 * (with the stored bias per head left in place while the heads move, the check fails).
 */
class OnnxAttentionTest {
    static final int TOKENS = 4;
    static final int FEATURES = 6;
    static final int WIDTH = 8;
    static final int HEADS = 2;
    static final int HEAD_DIM = WIDTH / HEADS;
    static final int CLASSES = 3;
    static final int VOCABULARY = 10;
    static final int GROUPED_HEADS = 4;
    static final int KV_HEADS = 2;

    @TempDir
    Path dir;

    enum Variant {
        /** Multi-head attention as exported. */
        PLAIN,
        /** k and v read another input than q (a second embedding of the tokens): cross-attention, a block too. */
        CROSS,
        /**
         * Token ids looked up in a table and an attention mask given as an input ((1 - mask) * -1e4 on the scores):
         * a block too, the mask being computed from an input whose channels Lady does not follow.
         */
        TOKENS,
        /**
         * Grouped-query: 4 query heads of 2, 2 key and value heads, each repeated for its group with Unsqueeze, Expand
         * and Reshape (transformers' repeat_kv): a block with nested groups.
         */
        GROUPED,
        /** The same with the key and value heads repeated in the other order (tile: query head h reads h mod 2). */
        GROUPED_TILED,
        /**
         * Multi-query: 2 query heads, one key and value head of 4 that the products broadcast to both (no Expand): a
         * block whose query heads and dimensions move, k's dimensions with q's.
         */
        MULTI_QUERY,
        /**
         * A bias per head on the scores, stored ([heads, 1, positions], an initializer read only there; a fixed-length
         * ALiBi folded by the exporter): a block whose bias moves with the heads.
         */
        BIAS_PER_HEAD,
        /** The same bias given as a graph input: known only at run time, it cannot move, so the heads stay. */
        BIAS_PER_HEAD_INPUT,
        /** k not transposed: the scores contract q's dimensions with k's positions. */
        K_NOT_TRANSPOSED,
        /** The attention probabilities are also a graph output: their head order shows. */
        PROBABILITIES_OUT,
        /** q's heads and dimensions split the other way round (Reshape to [.., 4, 2]: dimension-major). */
        DIMENSION_MAJOR
    }

    private Path write(Variant variant) throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        boolean dimMajor = variant == Variant.DIMENSION_MAJOR;
        boolean grouped = variant == Variant.GROUPED || variant == Variant.GROUPED_TILED;
        int heads = grouped ? GROUPED_HEADS : HEADS;
        int headDim = WIDTH / heads;
        boolean multiQuery = variant == Variant.MULTI_QUERY;
        int kvWidth = grouped ? KV_HEADS * headDim : multiQuery ? headDim : WIDTH;
        long[] split = dimMajor ? new long[] {0, TOKENS, HEAD_DIM, HEADS} : new long[] {0, TOKENS, heads, headDim};
        // dimension-major: [b, t, d, h] -> [b, h, t, d] is perm (0, 3, 1, 2); k's [b, h, d, t] is (0, 3, 2, 1)
        long[] headsFirst = dimMajor ? new long[] {0, 3, 1, 2} : new long[] {0, 2, 1, 3};
        long[] kPerm = variant == Variant.K_NOT_TRANSPOSED ? headsFirst
                : dimMajor ? new long[] {0, 3, 2, 1} : new long[] {0, 2, 3, 1};
        boolean perHead = variant == Variant.BIAS_PER_HEAD || variant == Variant.BIAS_PER_HEAD_INPUT;
        float[] mask = perHead ? new float[] {0, -1, -2, -3, 0, -2, -4, -6} : new float[] {0, 0, 0, -3};
        long[] maskDims = perHead ? new long[] {HEADS, 1, TOKENS} : new long[] {TOKENS};
        boolean tokens = variant == Variant.TOKENS;
        GraphProto.Builder g = GraphProto.newBuilder().setName("attention")
                .addOutput(value("logits", 0, CLASSES))
                .addInitializer(floats("embed.weight", random(r, FEATURES * WIDTH), FEATURES, WIDTH))
                .addInitializer(floats("embed.bias", random(r, WIDTH), WIDTH))
                .addInitializer(longs("split", split))
                .addInitializer(longs("merge", 0, TOKENS, WIDTH))
                .addInitializer(floats("scale", new float[] {0.5f}))
                .addInitializer(floats(variant == Variant.BIAS_PER_HEAD_INPUT ? "unused" : "mask", mask, maskDims))
                .addInitializer(floats("head.weight", random(r, CLASSES * WIDTH), CLASSES, WIDTH))
                .addInitializer(floats("head.bias", random(r, CLASSES), CLASSES))
                .addNode(node("MatMul", "embed", new String[] {"x", "embed.weight"}, new String[] {"e0"}))
                .addNode(node("Add", "embed_bias", new String[] {"e0", "embed.bias"}, new String[] {"h"}));
        for (String p : List.of("q", "k", "v", "o")) {
            int out = p.equals("k") || p.equals("v") ? kvWidth : WIDTH;
            g.addInitializer(floats(p + ".weight", random(r, WIDTH * out), WIDTH, out))
                    .addInitializer(floats(p + ".bias", random(r, out), out));
        }
        if (grouped || multiQuery) {
            g.addInitializer(longs("kv_split", 0, TOKENS, multiQuery ? 1 : KV_HEADS, headDim));
        }
        if (tokens) { // x = table[ids]; the mask from its input
            g.addInput(integers("ids")).addInput(integers("attention_mask"))
                    .addInitializer(floats("table", random(r, VOCABULARY * FEATURES), VOCABULARY, FEATURES))
                    .addInitializer(longs("mask_axes", 1, 2))
                    .addInitializer(floats("one", new float[] {1}))
                    .addInitializer(floats("hidden", new float[] {-1e4f}))
                    .addNode(node("Gather", "lookup", new String[] {"table", "ids"}, new String[] {"x"}))
                    .addNode(node("Unsqueeze", "mask_4d", new String[] {"attention_mask", "mask_axes"}, new String[] {"m4"}))
                    .addNode(node("Cast", "mask_float", new String[] {"m4"}, new String[] {"mf"}, intAttr("to", 1)))
                    .addNode(node("Sub", "mask_not", new String[] {"one", "mf"}, new String[] {"mn"}))
                    .addNode(node("Mul", "mask_value", new String[] {"mn", "hidden"}, new String[] {"mask_in"}));
        } else {
            g.addInput(value("x", 0, TOKENS, FEATURES));
        }
        if (variant == Variant.BIAS_PER_HEAD_INPUT) { // the bias given at run time: [HEADS, 1, TOKENS]
            TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
            for (long d : maskDims) {
                shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
            }
            g.addInput(ValueInfoProto.newBuilder().setName("mask").setType(TypeProto.newBuilder().setTensorType(
                    TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape))));
        }
        if (variant == Variant.CROSS) {
            g.addInitializer(floats("memory.weight", random(r, FEATURES * WIDTH), FEATURES, WIDTH))
                    .addInitializer(floats("memory.bias", random(r, WIDTH), WIDTH))
                    .addNode(node("MatMul", "memory", new String[] {"x", "memory.weight"}, new String[] {"m0"}))
                    .addNode(node("Add", "memory_bias", new String[] {"m0", "memory.bias"}, new String[] {"m"}));
        }
        for (String p : List.of("q", "k", "v")) {
            String in = variant == Variant.CROSS && !p.equals("q") ? "m" : "h";
            g.addNode(node("MatMul", p, new String[] {in, p + ".weight"}, new String[] {p + "0"}))
                    .addNode(node("Add", p + "_bias", new String[] {p + "0", p + ".bias"}, new String[] {p + "1"}))
                    .addNode(node("Reshape", p + "_split", new String[] {p + "1", (grouped || multiQuery)
                            && !p.equals("q") ? "kv_split" : "split"}, new String[] {p + "2"}))
                    .addNode(node("Transpose", p + "_heads", new String[] {p + "2"}, new String[] {p + "3"},
                            ints("perm", p.equals("k") ? kPerm : headsFirst)));
        }
        String k = "k3";
        String v = "v3";
        if (grouped) { // [b, kv, x, y] -> [b, kv, 1, x, y] -> [b, kv, rep, x, y] -> [b, heads, x, y] (tiled: rep first)
            boolean tiled = variant == Variant.GROUPED_TILED;
            int rep = GROUPED_HEADS / KV_HEADS;
            g.addInitializer(longs("repeat_axis", tiled ? 1 : 2))
                    .addInitializer(longs("k_repeat", tiled ? new long[] {1, rep, KV_HEADS, headDim, TOKENS}
                            : new long[] {1, KV_HEADS, rep, headDim, TOKENS}))
                    .addInitializer(longs("v_repeat", tiled ? new long[] {1, rep, KV_HEADS, TOKENS, headDim}
                            : new long[] {1, KV_HEADS, rep, TOKENS, headDim}))
                    .addInitializer(longs("k_heads", 0, GROUPED_HEADS, headDim, TOKENS))
                    .addInitializer(longs("v_heads", 0, GROUPED_HEADS, TOKENS, headDim));
            for (String p : List.of("k", "v")) {
                g.addNode(node("Unsqueeze", p + "_one", new String[] {p + "3", "repeat_axis"}, new String[] {p + "4"}))
                        .addNode(node("Expand", p + "_copies", new String[] {p + "4", p + "_repeat"}, new String[] {p + "5"}))
                        .addNode(node("Reshape", p + "_merged", new String[] {p + "5", p + "_heads"}, new String[] {p + "6"}));
            }
            k = "k6";
            v = "v6";
        }
        g.addNode(node("MatMul", "scores", new String[] {"q3", k}, new String[] {"s0"}))
                .addNode(node("Mul", "scaled", new String[] {"s0", "scale"}, new String[] {"s1"}))
                .addNode(node("Add", "masked", new String[] {"s1", tokens ? "mask_in" : "mask"}, new String[] {"s2"}))
                .addNode(node("Softmax", "softmax", new String[] {"s2"}, new String[] {"p"}, intAttr("axis", -1)))
                .addNode(node("MatMul", "mix", new String[] {"p", v}, new String[] {"c0"}))
                .addNode(node("Transpose", "tokens_first", new String[] {"c0"}, new String[] {"c1"},
                        ints("perm", dimMajor ? new long[] {0, 2, 3, 1} : new long[] {0, 2, 1, 3})))
                .addNode(node("Reshape", "merge_heads", new String[] {"c1", "merge"}, new String[] {"c2"}))
                .addNode(node("MatMul", "o", new String[] {"c2", "o.weight"}, new String[] {"o0"}))
                .addNode(node("Add", "o_bias", new String[] {"o0", "o.bias"}, new String[] {"o1"}))
                .addNode(node("Add", "residual", new String[] {"h", "o1"}, new String[] {"y"}))
                .addNode(node("ReduceMean", "pool", new String[] {"y"}, new String[] {"pooled"}, ints("axes", 1),
                        intAttr("keepdims", 0)))
                .addNode(node("Gemm", "head", new String[] {"pooled", "head.weight", "head.bias"}, new String[] {"logits"},
                        intAttr("transB", 1)));
        if (variant == Variant.PROBABILITIES_OUT) {
            g.addOutput(value("p", 0, HEADS, TOKENS, TOKENS));
        }
        Path p = dir.resolve(variant.name().toLowerCase() + ".onnx");
        Files.write(p, model(g.build()).toByteArray());
        return p;
    }

    /** An INT64 input [batch, TOKENS]. */
    private static ValueInfoProto integers(String name) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(TOKENS));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.INT64_VALUE).setShape(s))).build();
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    private PermutationSpec spec(Path p) {
        return Models.spec(Onnx.read(p).stateDict(), null, null, p);
    }

    /** {@code lady permute --verify} of every group: ONNX Runtime's outputs unchanged, and what moved. */
    private StateDict permuteAndVerify(Path p) {
        Path out = dir.resolve("p-" + p.getFileName());
        CliRun run = CliRun.of("permute", "--model", p.toString(), "--seed", "5", "--out", out.toString(), "--secret",
                dir.resolve("p-" + p.getFileName() + ".json").toString(), "--verify", "--quiet");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("(ONNX Runtime)"), run.out());
        return Onnx.read(out).stateDict();
    }

    @Test
    void plainMultiHeadAttentionIsOneBlockWithItsHeadsAndTheirDimensions() throws Exception {
        PermutationSpec spec = block(Variant.PLAIN);
        // the stream: the embedding's columns, q, k, v's rows ([in, out]), o's columns, the head's
        assertEquals(List.of("embed.weight", "embed.bias", "q.weight", "k.weight", "v.weight", "o.weight", "o.bias",
                "head.weight"), spec.groups().get(0).members().stream().map(m -> m.tensor()).toList());
    }

    @Test
    void crossAttentionIsABlockWhoseKeysAndValuesReadTheOtherInput() throws Exception {
        PermutationSpec spec = block(Variant.CROSS);
        assertEquals(List.of("embed.weight", "embed.bias", "q.weight", "o.weight", "o.bias", "head.weight"),
                spec.groups().stream().filter(g -> g.name().equals("stream.embed")).findFirst().orElseThrow().members()
                        .stream().map(m -> m.tensor()).toList());
        assertEquals(List.of("memory.weight", "memory.bias", "k.weight", "v.weight"), spec.groups().stream()
                .filter(g -> g.name().equals("memory")).findFirst().orElseThrow().members().stream().map(m -> m.tensor())
                .toList());
    }

    @Test
    void attentionOnTokensWithAnAttentionMaskInputIsABlockAndVerifies() throws Exception {
        PermutationSpec spec = block(Variant.TOKENS);
        // the table's rows are token ids: its columns open the stream
        assertTrue(spec.groups().get(0).members().stream().anyMatch(m -> m.tensor().equals("table") && m.axis() == 1),
                spec.groups().get(0).toString());
    }

    @Test
    void groupedQueryAttentionRepeatedAsTransformersDoesIsABlockWithNestedGroups() throws Exception {
        PermutationSpec spec = block(Variant.GROUPED);
        Group heads = spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).findFirst().orElseThrow();
        assertEquals(KV_HEADS, heads.size());
        assertEquals(List.of((long) (GROUPED_HEADS / KV_HEADS), (long) (GROUPED_HEADS / KV_HEADS)), spec.groups().stream()
                .filter(g -> g.name().contains(".q_heads.")).map(Group::size).toList());
        assertEquals(KV_HEADS, spec.groups().stream().filter(g -> g.name().contains(".v_dims.")).count());
    }

    @Test
    void multiQueryAttentionIsABlockWhoseQueryHeadsShareTheKeyAndValue() throws Exception {
        Path p = write(Variant.MULTI_QUERY);
        PermutationSpec spec = spec(p);
        assertEquals(List.of(), spec.notes());
        // no group of one key and value head; the query heads (q's columns, o's rows by head), q's and k's dimensions
        // together (every query head's with k's), v's dimensions (o's rows in every query head)
        assertTrue(spec.groups().stream().noneMatch(g -> g.name().endsWith(".kv_heads")), spec.groups().toString());
        Group queries = spec.groups().stream().filter(g -> g.name().contains(".q_heads.")).findFirst()
                .orElseThrow(() -> new AssertionError(spec.groups().toString()));
        assertEquals(HEADS, queries.size());
        assertEquals(List.of("o.weight", "q.bias", "q.weight"), queries.members().stream().map(m -> m.tensor())
                .distinct().sorted().toList());
        for (String inside : List.of(".qk_pass.0", ".v_dims.0")) {
            Group d = spec.groups().stream().filter(g -> g.name().endsWith(inside)).findFirst()
                    .orElseThrow(() -> new AssertionError(inside + " in " + spec.groups()));
            assertEquals(HEAD_DIM, d.size());
            assertTrue(d.members().stream().anyMatch(m -> m.tensor().equals(inside.contains("qk") ? "k.weight"
                    : "v.weight")), d.toString());
        }
        StateDict before = Onnx.read(p).stateDict();
        StateDict after = permuteAndVerify(p);
        for (String t : List.of("q.weight", "k.weight", "v.weight", "o.weight")) {
            assertTrue(!before.get(t).sameContent(after.get(t)), t + " moved");
        }
        // q's dimensions moved without k's (the shared key's dimensions left in place): ONNX Runtime's check fails
        List<Group> wrong = spec.groups().stream().map(g -> !g.name().endsWith(".qk_pass.0") ? g : new Group(g.name(),
                g.size(), g.members().stream().filter(m -> !m.tensor().startsWith("k.")).toList())).toList();
        Path wrongSpec = dir.resolve("wrong.json");
        java.util.Set<String> fixed = new java.util.HashSet<>(spec.fixed());
        fixed.addAll(List.of("k.weight[1]", "k.bias"));
        lady.permutation.SpecFile.write(wrongSpec, new PermutationSpec(spec.architecture(), wrong, fixed));
        CliRun run = CliRun.of("permute", "--model", p.toString(), "--spec", wrongSpec.toString(), "--seed", "5",
                "--out", dir.resolve("wrong.onnx").toString(), "--secret", dir.resolve("wrong.secret.json").toString(),
                "--verify", "--quiet");
        assertTrue(run.code() != 0 && run.err().contains("NOT equivalent"), run.code() + ": " + run.err());
    }

    @Test
    void aStoredBiasPerHeadMovesWithTheHeads() throws Exception {
        PermutationSpec spec = block(Variant.BIAS_PER_HEAD);
        Group heads = spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).findFirst().orElseThrow();
        assertTrue(heads.members().stream().anyMatch(m -> m.tensor().equals("mask") && m.axis() == 0), heads.toString());
        // the heads moved without their bias: ONNX Runtime's check fails
        Path p = dir.resolve("bias_per_head.onnx");
        List<Group> wrong = spec.groups().stream().map(g -> new Group(g.name(), g.size(), g.members().stream()
                .filter(m -> !m.tensor().equals("mask")).toList())).toList();
        java.util.Set<String> fixed = new java.util.HashSet<>(spec.fixed());
        fixed.addAll(List.of("mask[0]", "mask[1]", "mask[2]"));
        Path wrongSpec = dir.resolve("bias-wrong.json");
        lady.permutation.SpecFile.write(wrongSpec, new PermutationSpec(spec.architecture(), wrong, fixed));
        CliRun run = CliRun.of("permute", "--model", p.toString(), "--spec", wrongSpec.toString(), "--seed", "5",
                "--out", dir.resolve("bias-wrong.onnx").toString(), "--secret", dir.resolve("bias-wrong.secret.json")
                        .toString(), "--verify", "--quiet");
        assertTrue(run.code() != 0 && run.err().contains("NOT equivalent"), run.code() + ": " + run.err());
    }

    /** Checks the attention block of {@code variant}'s graph, permutes it with --verify; its spec. */
    private PermutationSpec block(Variant variant) throws Exception {
        Path p = write(variant);
        PermutationSpec spec = spec(p);
        boolean grouped = variant == Variant.GROUPED;
        int kv = grouped ? KV_HEADS : HEADS; // key and value heads
        int headDim = WIDTH / (grouped ? GROUPED_HEADS : HEADS);
        Group heads = spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).findFirst()
                .orElseThrow(() -> new AssertionError(spec.groups().toString()));
        assertEquals(kv, heads.size());
        // q, k, v columns of head h (of group h: its query heads' in q) of their [in, out] weights (axis 1), biases;
        // o's rows
        assertEquals(List.of("q.weight", "k.weight", "v.weight", "q.bias", "k.bias", "v.bias", "o.weight"),
                heads.members().stream().map(m -> m.tensor()).filter(t -> !t.equals("mask"))
                        .sorted((a, b) -> order(a) - order(b)).toList());
        for (int h = 0; h < kv; h++) {
            for (String inside : List.of(".qk_pass." + h, ".v_dims." + h)) {
                assertTrue(spec.groups().stream().anyMatch(g -> g.name().endsWith(inside) && g.size() == headDim),
                        inside + " in " + spec.groups());
            }
        }
        assertEquals(List.of(), spec.notes());
        StateDict before = Onnx.read(p).stateDict();
        StateDict after = permuteAndVerify(p);
        for (String t : List.of("q.weight", "k.weight", "v.weight", "o.weight")) {
            assertTrue(!before.get(t).sameContent(after.get(t)), t + " moved");
        }
        return spec;
    }

    private static int order(String t) {
        return List.of("q.weight", "k.weight", "v.weight", "q.bias", "k.bias", "v.bias", "o.weight").indexOf(t);
    }

    @Test
    void whatMultiHeadAttentionDoesNotTieIsNotABlockAndStaysInPlace() throws Exception {
        for (Variant v : List.of(Variant.BIAS_PER_HEAD_INPUT, Variant.K_NOT_TRANSPOSED, Variant.PROBABILITIES_OUT,
                Variant.DIMENSION_MAJOR, Variant.GROUPED_TILED)) {
            Path p = write(v);
            // the stream still moves (q, k, v's rows, o's columns), and ONNX Runtime's outputs do not change
            StateDict before = Onnx.read(p).stateDict();
            StateDict after = permuteAndVerify(p);
            assertTrue(!before.get("embed.weight").sameContent(after.get("embed.weight")), v + ": the stream moved");
            PermutationSpec spec = spec(p);
            assertTrue(spec.groups().stream().noneMatch(g -> g.name().contains("heads") || g.name().contains("qk_pass")
                    || g.name().contains("v_dims")), v + ": " + spec.groups());
            assertTrue(spec.notes().stream().anyMatch(n -> n.contains("could not prove") || n.contains("two activations")),
                    v + ": " + spec.notes());
        }
    }
}
