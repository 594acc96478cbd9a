package lady.attack;

import static lady.attack.AttackTensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.paper.Paper;
import lady.torch.Torch;

class PruneAttackTest {
    private static final String LAYER = "features.3.weight"; // 64 x 16 x 3 x 3 = 9216 entries

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void zeroesExactlyTheSmallestMagnitudes() {
        for (double t : Paper.PRUNE_PERCENTS) {
            StateDict before = AttackTensors.smallNet(6);
            StateDict s = before.copy();
            AttackResult r = new PruneAttack(t).apply(s, AttackContext.of(LAYER, 0));
            float[] w = values(before.get(LAYER));
            float[] p = values(s.get(LAYER));
            int expected = (int) Math.rint(t / 100 * w.length);
            int zeros = 0;
            float maxPruned = 0;
            float minKept = Float.MAX_VALUE;
            for (int i = 0; i < w.length; i++) {
                if (p[i] == 0) {
                    zeros++;
                    maxPruned = Math.max(maxPruned, Math.abs(w[i]));
                } else {
                    assertEquals(w[i], p[i], "kept entries are unchanged");
                    minKept = Math.min(minKept, Math.abs(w[i]));
                }
            }
            assertEquals(expected, zeros, "T = " + t);
            assertEquals((long) expected, r.details().get("zeroed"));
            assertTrue(maxPruned <= minKept, "pruned magnitudes are the smallest, T = " + t);
            assertArrayEquals(values(before.get("classifier.weight")), values(s.get("classifier.weight")));
        }
    }

    @Test
    void tiesAreBrokenByIndexAndZeroRowsReported() {
        // row 0 all magnitude 1 (ties), row 1 magnitude 2, row 2 magnitude 3
        float[] w = {1, -1, 1, -1, 2, -2, 2, 2, 3, 3, -3, 3};
        StateDict s = new StateDict();
        s.put("fc.weight", AttackTensors.tensor(w, 3, 4));
        AttackResult r = new PruneAttack(50).apply(s, AttackContext.of("fc.weight", 0));
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0, 2, 2, 3, 3, -3, 3}, values(s.get("fc.weight")));
        assertEquals(1L, r.details().get("zero_rows"));
        assertEquals(3L, r.details().get("rows"));
    }
}
