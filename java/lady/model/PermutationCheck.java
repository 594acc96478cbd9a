package lady.model;

import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Tolerances;

/**
 * The equivalence check of method.md 3: a permuted (or scaled) model must compute the same outputs as
 * the original on a seeded probe batch, in eval mode: max abs difference of every output below
 * {@link Tolerances#LOGITS_MAX_ABS_DIFF} times max(1, the largest output magnitude) (logits of a deep
 * network can be large; the test is relative to their scale then).
 */
public final class PermutationCheck {
    private PermutationCheck() {}

    /**
     * Max abs difference between the outputs of {@code original} and of the same architecture with the
     * weights {@code permuted}, on {@code probe}, in eval mode. The model is used to evaluate both and is
     * left as it was (weights and train/eval mode restored).
     *
     * @throws LadyException INVALID_INPUT when the difference is not below the tolerance (or NaN)
     */
    public static double verify(Model original, StateDict permuted, Tensor probe) {
        return verifyChecked(original, permuted, probe).difference();
    }

    /**
     * A check's outcome: the largest output difference, and whether the original's outputs depend on its inputs at all
     * (false when every output is the same for every probe image, as a network whose head is initialized to zeros
     * gives: the difference then cannot tell a wrong permutation from a right one).
     */
    public record Check(double difference, boolean inputsMatter) {}

    /** What a check's report adds when the original's outputs do not depend on its inputs ({@link Check}). */
    public static final String INPUTS_IGNORED = "; but the outputs are the same for every input, so this check cannot "
            + "tell a wrong permutation (a head initialized to zeros?)";

    /** As {@link #verify(Model, StateDict, Tensor)}, and whether the check could see anything ({@link Check}). */
    public static Check verifyChecked(Model original, StateDict permuted, Tensor probe) {
        double[] d = difference(original, permuted, probe);
        return new Check(check(original.architecture(), "permuted", d), d[2] != 0);
    }

    /**
     * Float32 copies of the parameters a check holds at its peak (the original model, the changed weights loaded
     * beside it, libtorch's working copy): measured 17.7 GB of resident memory for `lady permute --verify` of a
     * 1.5-billion-parameter bfloat16 Llama (2 layers of Llama-3-8B width), 11.8 bytes per parameter.
     */
    static final int FLOAT32_COPIES = 3;

    /**
     * Refuses a check ({@code option}, e.g. --verify) of a model of {@code parameters} values that would need more
     * memory than the machine has available ({@link #FLOAT32_COPIES} float32 copies): the process would be killed by
     * the system instead of answering.
     */
    public static void requireMemoryFor(long parameters, String option) {
        lady.util.Memory.require(FLOAT32_COPIES * 4.0 * parameters, parameters, option + " runs the model in float32 in "
                + "libtorch", "drop " + option + " (a permutation of a network Lady recognizes keeps its function by "
                + "construction) or check a smaller configuration of it");
    }

    /**
     * As {@link #verify(Model, StateDict, Tensor)} between two models of the same architecture whose layer widths
     * may differ (a structurally attacked copy: dummy neurons, splits); both are evaluated in eval mode and left as
     * they were.
     */
    public static double verify(Model original, Model changed, Tensor probe) {
        return verifyChecked(original, changed, probe).difference();
    }

    /** As {@link #verify(Model, Model, Tensor)}, and whether the check could see anything ({@link Check}). */
    public static Check verifyChecked(Model original, Model changed, Tensor probe) {
        double[] d = difference(original, changed, probe);
        return new Check(check(original.architecture(), "changed", d), d[2] != 0);
    }

    /** As {@link #verify(Model, Model, Tensor)} but only measures: the max abs output difference. */
    public static double maxOutputDiff(Model original, Model changed, Tensor probe) {
        return difference(original, changed, probe)[0];
    }

    private static double check(String arch, String what, double[] d) {
        if (!(d[0] <= Tolerances.LOGITS_MAX_ABS_DIFF * Math.max(1.0, d[1]))) {
            throw LadyException.invalidInput(String.format(
                    "the %s %s model is NOT equivalent to the original: max abs output difference %.3g "
                            + "(largest output %.3g; tolerance %.0e relative)",
                    what, arch, d[0], d[1], Tolerances.LOGITS_MAX_ABS_DIFF));
        }
        return d[0];
    }

    /** As {@link #verify} but only measures: the max abs output difference (NaN when either is NaN). */
    public static double maxLogitDiff(Model original, StateDict permuted, Tensor probe) {
        return difference(original, permuted, probe)[0];
    }

    /** {max abs difference over every output, largest abs output of the original}. */
    @SuppressWarnings("try")
    private static double[] difference(Model original, StateDict permuted, Tensor probe) {
        boolean wasTraining = original.module().is_training();
        StateDict saved = original.stateDict();
        try (NoGradGuard guard = new NoGradGuard()) {
            original.train(false);
            List<Tensor> a = original.outputs(probe);
            original.load(permuted);
            return compare(a, original.outputs(probe), original.freeChannelOutputs(), probe.size(0));
        } finally {
            original.load(saved);
            original.train(wasTraining);
        }
    }

    @SuppressWarnings("try")
    private static double[] difference(Model original, Model changed, Tensor probe) {
        boolean wasTraining = original.module().is_training();
        boolean changedTraining = changed.module().is_training();
        try (NoGradGuard guard = new NoGradGuard()) {
            original.train(false);
            changed.train(false);
            return compare(original.outputs(probe), changed.outputs(probe), original.freeChannelOutputs(), probe.size(0));
        } finally {
            original.train(wasTraining);
            changed.train(changedTraining);
        }
    }

    /**
     * Whether any output differs between the {@code n} probe images (rows along axis 0); true when no output has such
     * rows (nothing to tell from).
     */
    static boolean inputsMatter(List<Tensor> outputs, long n) {
        boolean rows = false;
        for (Tensor x : outputs) {
            if (n < 2 || x.dim() < 1 || x.size(0) != n) {
                continue;
            }
            rows = true;
            if (!(x.sub(x.narrow(0, 0, 1)).abs().max().item_double() == 0)) { // NaN counts as a difference
                return true;
            }
        }
        return !rows;
    }

    /**
     * {max abs difference, largest abs value of {@code a}, 1 when {@code a}'s outputs differ between its {@code n}
     * probe images else 0 ({@link #inputsMatter})} over the outputs; an output whose channel order is free
     * ({@code free[i]}) is compared by the inner products of its vectors (the Gram matrix over its last axis), which
     * no permutation of its channels changes.
     */
    private static double[] compare(List<Tensor> a, List<Tensor> b, boolean[] free, long n) {
        double matter = inputsMatter(a, n) ? 1 : 0;
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.size(); i++) {
            Tensor x = a.get(i);
            Tensor y = b.get(i);
            if (i < free.length && free[i]) {
                long d = x.size(-1);
                x = x.reshape(-1, d).to(torch.ScalarType.Double);
                y = y.reshape(-1, d).to(torch.ScalarType.Double);
                x = x.matmul(x.t());
                y = y.matmul(y.t());
            }
            double di = x.sub(y).abs().max().item_double();
            diff = Double.isNaN(di) || Double.isNaN(diff) ? Double.NaN : Math.max(diff, di);
            scale = Math.max(scale, x.abs().max().item_double());
        }
        return new double[] {diff, scale, matter};
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

    /** Token ids uniform over {@code vocab}, {@code n} sequences of {@code length}, a pure function of {@code seed}. */
    public static Tensor tokens(int n, int length, long vocab, long seed) {
        long[] ids = new long[Math.multiplyExact(n, length)];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextLong(vocab);
        }
        Tensor t = torch.empty(new long[] {n, length}, new org.bytedeco.pytorch.TensorOptions().dtype(
                new org.bytedeco.pytorch.ScalarTypeOptional(torch.ScalarType.Long)), new org.bytedeco.pytorch.MemoryFormatOptional());
        t.data_ptr_long().put(ids);
        return t;
    }
}
