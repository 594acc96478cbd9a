package lady.permutation;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Tolerances;
import lady.model.Model;

/**
 * The equivalence check of method.md 3: a permuted (or scaled) model must compute the same logits
 * as the original, max abs difference below {@link Tolerances#LOGITS_MAX_ABS_DIFF} on a seeded
 * probe batch, in eval mode.
 */
public final class PermutationCheck {
    private PermutationCheck() {}

    /**
     * Max abs difference between the logits of {@code original} and of the same architecture with
     * the weights {@code permuted}, on {@code probe}, in eval mode. The model is used to evaluate
     * both and is left as it was (weights and train/eval mode restored).
     *
     * @throws LadyException INVALID_INPUT when the difference is not below the tolerance (or NaN)
     */
    public static double verify(Model original, StateDict permuted, Tensor probe) {
        double diff = maxLogitDiff(original, permuted, probe);
        if (!(diff < Tolerances.LOGITS_MAX_ABS_DIFF)) {
            throw LadyException.invalidInput(String.format(
                    "the permuted %s model is NOT equivalent to the original: max abs logit difference %.3g >= %.0e",
                    original.architecture(), diff, Tolerances.LOGITS_MAX_ABS_DIFF));
        }
        return diff;
    }

    /** As {@link #verify} but only measures: the max abs logit difference (NaN when either is NaN). */
    public static double maxLogitDiff(Model original, StateDict permuted, Tensor probe) {
        boolean wasTraining = original.module().is_training();
        StateDict saved = original.stateDict();
        try (NoGradGuard guard = new NoGradGuard()) {
            original.train(false);
            Tensor a = original.forward(probe).contiguous();
            original.load(permuted);
            Tensor b = original.forward(probe).contiguous();
            return a.sub(b).abs().max().item_double();
        } finally {
            original.load(saved);
            original.train(wasTraining);
        }
    }

    /**
     * A probe batch of {@code n} images {@code channels x size x size}, a pure function of
     * {@code seed}: per image and channel a brightness in [-1, 1) and a contrast in [0.5, 2), plus
     * uniform pixel noise, so that images differ in more than i.i.d. noise (which pooling averages
     * away) and span about the range of normalized images.
     */
    public static Tensor probe(int n, int channels, int size, long seed) {
        long count = (long) n * channels * size * size;
        float[] v = new float[Math.toIntExact(count)];
        SplittableRandom rng = new SplittableRandom(seed);
        int plane = size * size;
        for (int c = 0; c < n * channels; c++) {
            double brightness = rng.nextDouble() * 2 - 1, contrast = 0.5 + rng.nextDouble() * 1.5;
            for (int i = 0; i < plane; i++) {
                v[c * plane + i] = (float) (brightness + contrast * (rng.nextDouble() * 2 - 1));
            }
        }
        Tensor t = torch.empty(n, channels, size, size);
        t.data_ptr_float().put(v);
        return t;
    }
}
