package lady.model;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Tolerances;
import lady.tensor.HostTensor;

/**
 * The libtorch check's float-noise fallback (PermutationCheck#floatNoise): a change of rounding size passes on a model
 * that amplifies rounding beyond the fixed 1e-4, and a wrong permutation of the same model still fails.
 *
 * <p>The model is the "fc" net (192 inputs, 512, 256, 5) built so that rounding matters on every CPU: fc1's hidden units
 * 256..511 repeat units 0..255 with activations near 1e3, and fc2 weighs each pair by w and -w (1 + 1e-4), so fc2's
 * outputs are the small difference of large sums: a relative change of 1e-7 in a weight moves them by about 1e-3 of
 * their scale. The "rewritten" copy is every weight moved by one unit in the last place under another coin than the
 * check's: a change of exactly the kind float32 rounding makes, which the check must pass on any CPU, and which
 * exceeds the fixed tolerance on any CPU (measured in the test).
 */
class PermutationCheckNoiseTest {
    private static final int IN = 3 * 8 * 8, HIDDEN = 512, MIDDLE = 256, CLASSES = 5;

    private static StateDict illConditioned() {
        SplittableRandom r = new SplittableRandom(5);
        float[] w1 = new float[HIDDEN * IN];
        for (int j = 0; j < HIDDEN / 2; j++) {
            for (int i = 0; i < IN; i++) {
                float v = (float) (r.nextGaussian() * 100);
                w1[j * IN + i] = v;
                w1[(j + HIDDEN / 2) * IN + i] = v; // the twin unit
            }
        }
        float[] w2 = new float[MIDDLE * HIDDEN];
        for (int k = 0; k < MIDDLE; k++) {
            for (int j = 0; j < HIDDEN / 2; j++) {
                double v = r.nextGaussian();
                w2[k * HIDDEN + j] = (float) v;
                w2[k * HIDDEN + j + HIDDEN / 2] = (float) (-v * (1 + 1e-4));
            }
        }
        float[] w3 = new float[CLASSES * MIDDLE];
        for (int i = 0; i < w3.length; i++) {
            w3[i] = (float) (r.nextGaussian() / 16);
        }
        StateDict s = new StateDict();
        s.put("fc1.weight", HostTensor.ofFloats(w1, HIDDEN, IN));
        s.put("fc1.bias", HostTensor.ofFloats(new float[HIDDEN], HIDDEN));
        s.put("fc2.weight", HostTensor.ofFloats(w2, MIDDLE, HIDDEN));
        s.put("fc2.bias", HostTensor.ofFloats(new float[MIDDLE], MIDDLE));
        s.put("fc3.weight", HostTensor.ofFloats(w3, CLASSES, MIDDLE));
        s.put("fc3.bias", HostTensor.ofFloats(new float[CLASSES], CLASSES));
        return s;
    }

    @Test
    @SuppressWarnings("try")
    void aRoundingSizedChangePassesWithinTheModelsNoiseAndAWrongPermutationFails() {
        StateDict state = illConditioned();
        Model model = Models.fromStateDict(state, "fc");
        Tensor probe = model.probe(4, 3);
        double scale;
        try (NoGradGuard guard = new NoGradGuard()) {
            model.train(false);
            List<Tensor> out = model.outputs(probe);
            scale = out.get(0).abs().max().item_double();
            assertTrue(out.get(0).sub(out.get(0).narrow(0, 0, 1)).abs().max().item_double() > 0.1 * scale,
                    "the outputs depend on the input");
        }

        StateDict rounded = state.copy();
        SplittableRandom coin = new SplittableRandom(17);
        for (var e : rounded) {
            e.getValue().nudge(coin);
        }
        double plain = PermutationCheck.maxLogitDiff(model, rounded, probe);
        double bound = Tolerances.LOGITS_MAX_ABS_DIFF * Math.max(1, scale);
        assertTrue(plain > 3 * bound, "the model amplifies rounding beyond the fixed tolerance: " + plain + " vs " + bound);
        PermutationCheck.Check c = PermutationCheck.verifyChecked(model, rounded, probe, 23);
        assertNotNull(c.floatNoise(), "the fixed tolerance was exceeded, so the noise was measured");
        assertTrue(c.difference() <= Tolerances.FLOAT_NOISE_FACTOR * c.floatNoise(), c.toString());
        assertTrue(c.floatNoise() > bound, "the noise of the same kind is as large: " + c);

        // the model is left as it was: the same check again gives the same numbers
        assertTrue(PermutationCheck.verifyChecked(model, rounded, probe, 23).equals(c));
        // within the fixed tolerance no noise is measured
        assertNull(PermutationCheck.verifyChecked(model, state, probe, 23).floatNoise());

        // fc1's units 0 and 1 swapped, fc2's columns not: the pairs no longer cancel
        StateDict wrong = state.copy();
        wrong.put("fc1.weight", state.get("fc1.weight").selectRows(swap(HIDDEN, 0, 1)));
        LadyException e = assertThrows(LadyException.class, () -> PermutationCheck.verifyChecked(model, wrong, probe, 23));
        assertTrue(e.getMessage().contains("NOT equivalent") && e.getMessage().contains("times the model's own float32 noise"),
                e.getMessage());
        // and the right permutation of the same two units passes
        StateDict right = state.copy();
        right.put("fc1.weight", state.get("fc1.weight").selectRows(swap(HIDDEN, 0, 1)));
        right.put("fc1.bias", state.get("fc1.bias").selectRows(swap(HIDDEN, 0, 1)));
        right.put("fc2.weight", state.get("fc2.weight").gather(1, 1, swap(HIDDEN, 0, 1)));
        PermutationCheck.verifyChecked(model, right, probe, 23);
    }

    /**
     * Outputs that differ between the probe images by no more than the check's own tolerance (a random network whose
     * batch-norm statistics do not match its activations answers every image alike but for rounding) do not count as
     * depending on the inputs; larger differences and NaN do.
     */
    @Test
    void outputsDifferingByRoundingOnlyDoNotDependOnTheInputs() {
        lady.torch.Torch.init();
        Tensor same = Tensor.create(new float[] {3f, -2f, 3f + 1e-6f, -2f}).reshape(2, 2);
        Tensor apart = Tensor.create(new float[] {3f, -2f, 3.01f, -2f}).reshape(2, 2);
        Tensor nan = Tensor.create(new float[] {3f, -2f, Float.NaN, -2f}).reshape(2, 2);
        org.junit.jupiter.api.Assertions.assertFalse(PermutationCheck.inputsMatter(List.of(same), 2));
        assertTrue(PermutationCheck.inputsMatter(List.of(apart), 2));
        assertTrue(PermutationCheck.inputsMatter(List.of(same, nan), 2));
        assertTrue(PermutationCheck.inputsMatter(List.of(same), 1), "one image: nothing to tell from");
    }

    private static long[] swap(int n, int a, int b) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        p[a] = b;
        p[b] = a;
        return p;
    }
}
