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
}
