package lady.attack;

import static lady.attack.AttackTensors.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.torch.Torch;

class NoiseAttackTest {
    private static final String LAYER = "features.3.weight";

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void noiseStdIsOmegaTimesTheWeightStd() {
        for (double omega : new double[] {1, 2, 10}) {
            StateDict s = AttackTensors.smallNet(1);
            float[] before = values(s.get(LAYER));
            double sigma = NoiseAttack.populationStd(before);
            AttackResult r = new NoiseAttack(omega).apply(s, AttackContext.of(LAYER, 5));
            float[] after = values(s.get(LAYER));
            double[] delta = new double[before.length];
            for (int i = 0; i < before.length; i++) {
                delta[i] = after[i] - before[i];
            }
            double mean = Arrays.stream(delta).average().orElseThrow();
            double std = Math.sqrt(Arrays.stream(delta).map(d -> (d - mean) * (d - mean)).sum() / delta.length);
            // 9216 draws: the sample std is within about 1 % (3 standard errors) of the true one
            assertEquals(omega * sigma, std, 0.03 * omega * sigma, "Omega " + omega);
            assertEquals(0, mean, 4 * omega * sigma / Math.sqrt(delta.length), "noise mean, Omega " + omega);
            assertEquals(sigma, (double) r.details().get("sigma"), 1e-12);
            assertEquals(java.util.List.of(LAYER), r.tensors());
            // other tensors untouched
            assertArrayEquals(values(AttackTensors.smallNet(1).get("features.0.weight")), values(s.get("features.0.weight")));
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherNoise() {
        StateDict a = AttackTensors.smallNet(2);
        StateDict b = AttackTensors.smallNet(2);
        StateDict c = AttackTensors.smallNet(2);
        new NoiseAttack(7).apply(a, AttackContext.of(LAYER, 11));
        new NoiseAttack(7).apply(b, AttackContext.of(LAYER, 11));
        new NoiseAttack(7).apply(c, AttackContext.of(LAYER, 12));
        assertArrayEquals(values(a.get(LAYER)), values(b.get(LAYER)));
        assertFalse(Arrays.equals(values(a.get(LAYER)), values(c.get(LAYER))));
    }

    @Test
    void omegaZeroChangesNothingAndErrorsAreClear() {
        StateDict s = AttackTensors.smallNet(3);
        new NoiseAttack(0).apply(s, AttackContext.of(LAYER, 1));
        assertArrayEquals(values(AttackTensors.smallNet(3).get(LAYER)), values(s.get(LAYER)));
        LadyException e = assertThrows(LadyException.class,
                () -> new NoiseAttack(1).apply(s, AttackContext.of("features.9.weight", 1)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        e = assertThrows(LadyException.class, () -> new NoiseAttack(1).apply(s, AttackContext.of(null, 1)));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertThrows(LadyException.class, () -> new NoiseAttack(-1));
    }
}
