package lady.attack;

import static lady.attack.AttackTensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.torch.Torch;

class QuantAttackTest {
    private static final List<String> WEIGHTS = List.of("features.0.weight", "features.3.weight", "classifier.weight");

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static AttackContext context() {
        return AttackContext.of(null, 0).withWeights(WEIGHTS);
    }

    @Test
    void sixteenBitsMoveEachWeightByAtMostHalfAStep() {
        StateDict before = AttackTensors.smallNet(4);
        StateDict s = before.copy();
        AttackResult r = new QuantAttack(16).apply(s, context());
        assertEquals(WEIGHTS, r.tensors());
        for (String name : WEIGHTS) {
            float[] w = values(before.get(name));
            float[] q = values(s.get(name));
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (float v : w) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double bound = ((double) max - min) / (2 * ((1 << 16) - 1));
            double slack = Math.ulp(Math.max(Math.abs(min), Math.abs(max))); // float32 storage
            int moved = 0;
            for (int i = 0; i < w.length; i++) {
                assertTrue(Math.abs((double) q[i] - w[i]) <= bound + slack,
                        name + "[" + i + "] moved by " + Math.abs(q[i] - w[i]) + " > " + bound);
                if (q[i] != w[i]) {
                    moved++;
                }
            }
            assertTrue(moved > w.length / 2, name + ": quantization changed almost nothing");
        }
        // biases and batch-norm tensors untouched
        for (String name : List.of("features.0.bias", "features.1.weight", "features.1.running_var", "classifier.bias")) {
            assertArrayEquals(values(before.get(name)), values(s.get(name)), name);
        }
    }

    @Test
    void twoBitsLeaveAtMostFourValuesIncludingMinAndMax() {
        StateDict before = AttackTensors.smallNet(5);
        StateDict s = before.copy();
        new QuantAttack(2).apply(s, context());
        for (String name : WEIGHTS) {
            Set<Float> distinct = new HashSet<>();
            for (float v : values(s.get(name))) {
                distinct.add(v);
            }
            assertTrue(distinct.size() <= 4, name + " has " + distinct.size() + " values");
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (float v : values(before.get(name))) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            assertTrue(distinct.contains(min) && distinct.contains(max), name + ": min and max are levels");
        }
    }

    @Test
    void constantTensorIsLeftAloneAndBadNamesFail() {
        StateDict s = new StateDict();
        float[] ones = new float[12];
        java.util.Arrays.fill(ones, 0.25f);
        s.put("fc.weight", AttackTensors.tensor(ones, 3, 4));
        s.put("fc.bias", AttackTensors.tensor(new float[3], 3));
        AttackResult r = new QuantAttack(4).apply(s, AttackContext.of(null, 0).withWeights(List.of("fc.weight")));
        assertArrayEquals(ones, values(s.get("fc.weight")));
        assertEquals(1, r.details().get("constant_tensors"));

        LadyException e = assertThrows(LadyException.class,
                () -> new QuantAttack(4).apply(s, AttackContext.of(null, 0).withWeights(List.of("fc.bias"))));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        e = assertThrows(LadyException.class,
                () -> new QuantAttack(4).apply(s, AttackContext.of(null, 0).withWeights(List.of("nope.weight"))));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        e = assertThrows(LadyException.class, () -> new QuantAttack(4).apply(s, AttackContext.of(null, 0)));
        assertEquals(LadyException.Kind.USAGE, e.kind());
    }

    /**
     * A checkpoint read from a file (its tensors over the mapped file) is quantized without a copy: the weights stay
     * over the file, their change kept lazily, applied where they are written or read; a lazily permuted weight is
     * quantized as the same permutation of the quantized weight. What is written, and the streamed summary, equal
     * the eager computation on Java arrays (QuantAttack's formula, stored in the dtype).
     */
    @Test
    void mappedWeightsAreQuantizedLazilyAndWrittenAsTheEagerFormulaGives(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        for (lady.tensor.DType dtype : List.of(lady.tensor.DType.BFLOAT16, lady.tensor.DType.FLOAT32)) {
            StateDict made = new StateDict();
            made.put("a.weight", AttackTensors.tensor(AttackTensors.uniform(3, 96 * 50, -0.7, 0.4), 96, 50).converted(dtype));
            // b: more values than one chunk of the value change (65536), so that the threads share it out
            made.put("b.weight", AttackTensors.tensor(AttackTensors.uniform(4, 400 * 330, -0.2, 0.9), 400, 330).converted(dtype));
            made.put("a.bias", AttackTensors.tensor(AttackTensors.uniform(5, 96, -1, 1), 96).converted(dtype));
            java.nio.file.Path in = dir.resolve("in-" + dtype + ".safetensors");
            lady.checkpoint.Checkpoints.write(in, made, lady.checkpoint.Checkpoints.Format.SAFETENSORS);
            StateDict s = lady.checkpoint.Checkpoints.read(in);
            long[] p = new long[400];
            for (int i = 0; i < p.length; i++) {
                p[i] = (i * 7L) % 400;
            }
            s.permuteLazily("b.weight", 0, p);
            long allocated = lady.tensor.HostMemory.liveAllocatedBytes();
            AttackResult r = new QuantAttack(3).apply(s, AttackContext.of(null, 0).withWeights(List.of("a.weight", "b.weight")));
            assertEquals(List.of("a.weight", "b.weight"), r.tensors());
            assertTrue(s.isLazy("a.weight") && s.isLazy("b.weight") && s.streamed("a.weight").base().mapped(),
                    "the weights stay over the file");
            long grown = lady.tensor.HostMemory.liveAllocatedBytes() - allocated;
            assertTrue(grown < 4096, "no copy of the weights: " + grown + " bytes allocated");

            double maxChange = 0;
            StateDict expected = new StateDict();
            for (String name : List.of("a.weight", "b.weight")) {
                lady.tensor.HostTensor t = made.get(name);
                if (name.equals("b.weight")) {
                    t = t.gather(0, 1, p);
                }
                float[] w = values(t);
                float[] q = eager(w, 3, dtype);
                for (int i = 0; i < w.length; i++) {
                    maxChange = Math.max(maxChange, Math.abs((double) q[i] - w[i]));
                }
                expected.put(name, AttackTensors.tensor(q, t.shape()).converted(dtype));
                assertEquals(WeightSummary.of(name, expected.get(name)), WeightSummary.of(name, s.streamed(name)),
                        dtype + " " + name + ": the streamed summary");
            }
            assertEquals(maxChange, (double) r.details().get("max_abs_change"), 0.0);
            java.nio.file.Path out = dir.resolve("out-" + dtype + ".safetensors");
            lady.checkpoint.Checkpoints.write(out, s, lady.checkpoint.Checkpoints.Format.SAFETENSORS);
            StateDict back = lady.checkpoint.Checkpoints.read(out);
            for (String name : List.of("a.weight", "b.weight")) {
                assertTrue(expected.get(name).sameContent(back.get(name)), dtype + " " + name + " as written");
                assertTrue(expected.get(name).sameContent(s.get(name)), dtype + " " + name + " as read");
            }
            assertTrue(made.get("a.bias").sameContent(back.get("a.bias")), "the bias is untouched");
            // a lazily quantized tensor read through its base is gathered first, so that no reader misses the change
            new QuantAttack(3).apply(s, AttackContext.of(null, 0).withWeights(List.of("a.weight")));
            lady.tensor.IndexedTensor read = s.indexed("a.weight");
            assertTrue(read.identity() && !read.base().mapped(), "indexed() gathers a value change");
        }
    }

    /** QuantAttack's formula on a Java array, stored in {@code dtype}. */
    private static float[] eager(float[] w, int bits, lady.tensor.DType dtype) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (float v : w) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        double levels = Math.pow(2, bits) - 1;
        double scale = levels / ((double) max - min);
        float[] q = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            double x = (w[i] - (double) min) * scale;
            q[i] = FloatData.storable(dtype, (float) (Math.rint(Math.min(Math.max(x, 0), levels)) / scale + min));
        }
        return q;
    }
}
