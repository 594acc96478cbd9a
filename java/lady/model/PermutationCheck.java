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
 * network can be large; the test is relative to their scale then). A larger difference still passes when it is
 * within {@link Tolerances#FLOAT_NOISE_FACTOR} times the model's own float32 noise ({@link #floatNoise}), as the ONNX
 * check does: a deep network summing in another order on another CPU (AVX2 against AVX-512) can exceed the fixed bound
 * by rounding alone; a wrong permutation changes the outputs by far more than either.
 */
public final class PermutationCheck {
    private PermutationCheck() {}

    /** The coin of {@link #floatNoise} in the checks that take no seed. */
    static final long DEFAULT_NOISE_SEED = 0;

    /**
     * Max abs difference between the outputs of {@code original} and of the same architecture with the
     * weights {@code permuted}, on {@code probe}, in eval mode. The model is used to evaluate both and is
     * left as it was (weights and train/eval mode restored).
     *
     * @throws LadyException INVALID_INPUT when the difference is not below the tolerance nor within the model's float
     *                       noise (or is NaN)
     */
    public static double verify(Model original, StateDict permuted, Tensor probe) {
        return verifyChecked(original, permuted, probe, DEFAULT_NOISE_SEED).difference();
    }

    /**
     * A check's outcome: the largest output difference; whether the original's outputs depend on its inputs at all
     * (false when every output is the same for every probe image, as a network whose head is initialized to zeros
     * gives: the difference then cannot tell a wrong permutation from a right one); and the model's own float32 noise
     * ({@link #floatNoise}) when the difference exceeded the fixed tolerance and passed within it, else null.
     */
    public record Check(double difference, boolean inputsMatter, Double floatNoise) {}

    /** What a check's report adds when the original's outputs do not depend on its inputs ({@link Check}). */
    public static final String INPUTS_IGNORED = "; but the outputs are the same for every input, so this check cannot "
            + "tell a wrong permutation (a head initialized to zeros, or batch-norm statistics that do not match the "
            + "activations?)";

    /**
     * As {@link #verify(Model, StateDict, Tensor)}, and whether the check could see anything ({@link Check});
     * {@code noiseSeed} is the coin of {@link #floatNoise} when the difference needs it.
     */
    public static Check verifyChecked(Model original, StateDict permuted, Tensor probe, long noiseSeed) {
        return check(original.architecture(), "permuted", measure(original, permuted, probe, noiseSeed));
    }

    /**
     * As {@link #verify(Model, StateDict, Tensor)} between two models of the same architecture whose layer widths
     * may differ (a structurally attacked copy: dummy neurons, splits); both are evaluated in eval mode and left as
     * they were.
     */
    public static double verify(Model original, Model changed, Tensor probe) {
        return verifyChecked(original, changed, probe, DEFAULT_NOISE_SEED).difference();
    }

    /** As {@link #verify(Model, Model, Tensor)}, and whether the check could see anything ({@link Check}). */
    public static Check verifyChecked(Model original, Model changed, Tensor probe, long noiseSeed) {
        return check(original.architecture(), "changed", measure(original, changed, probe, noiseSeed));
    }

    /** As {@link #verify(Model, Model, Tensor)} but only measures: the max abs output difference. */
    public static double maxOutputDiff(Model original, Model changed, Tensor probe) {
        return measure(original, changed, probe, null)[0];
    }

    /** Whether {@code d} ({@link #compare}) is within {@link Tolerances#LOGITS_MAX_ABS_DIFF} of its scale (false on NaN). */
    private static boolean withinTolerance(double[] d) {
        return d[0] <= Tolerances.LOGITS_MAX_ABS_DIFF * Math.max(1.0, d[1]);
    }

    /**
     * The model's own float32 noise: the largest abs output difference on {@code probe} between {@code model} with the
     * weights {@code weights} (whose outputs are {@code reference}) and the same weights each moved by one unit in the
     * last place, up or down as a seeded coin says ({@link lady.tensor.HostTensor#nudge}). Float32 rounding makes
     * changes of that size anyway, and so does any rewriting that sums in another order (a permutation). The model is
     * left holding the moved weights. Takes one more copy of the weights while it runs (only when a check needs it).
     */
    private static double floatNoise(Model model, StateDict weights, List<Tensor> reference, Tensor probe, long seed) {
        StateDict moved = weights.copy();
        java.util.SplittableRandom coin = new java.util.SplittableRandom(seed);
        for (var e : moved) {
            e.getValue().nudge(coin);
        }
        model.load(moved);
        return compare(reference, model.outputs(probe), model.freeChannelOutputs(), probe.size(0))[0];
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

    /** The check of {@code d} ({@link #measure}): a {@link Check}, or the failure. */
    private static Check check(String arch, String what, double[] d) {
        Double noise = Double.isNaN(d[3]) ? null : d[3];
        if (!withinTolerance(d) && !(noise != null && d[0] <= Tolerances.FLOAT_NOISE_FACTOR * noise)) {
            throw LadyException.invalidInput(String.format(java.util.Locale.ROOT,
                    "the %s %s model is NOT equivalent to the original: max abs output difference %.3g "
                            + "(largest output %.3g; tolerance %.0e relative%s)", what, arch, d[0], d[1],
                    Tolerances.LOGITS_MAX_ABS_DIFF, noise == null ? "" : String.format(java.util.Locale.ROOT,
                            ", or %.0f times the model's own float32 noise, %.3g", Tolerances.FLOAT_NOISE_FACTOR, noise)));
        }
        return new Check(d[0], d[2] != 0, noise);
    }

    /** As {@link #verify} but only measures: the max abs output difference (NaN when either is NaN). */
    public static double maxLogitDiff(Model original, StateDict permuted, Tensor probe) {
        return measure(original, permuted, probe, null)[0];
    }

    /**
     * {max abs difference over every output, largest abs output of the original, 1 when its outputs depend on the probe
     * images else 0, the model's own float32 noise ({@link #floatNoise}) or NaN}; the noise is measured only with a
     * {@code noiseSeed} and when the difference is finite and above the fixed tolerance. The model is left as it was.
     */
    @SuppressWarnings("try")
    private static double[] measure(Model original, StateDict permuted, Tensor probe, Long noiseSeed) {
        boolean wasTraining = original.module().is_training();
        StateDict saved = original.stateDict();
        try (NoGradGuard guard = new NoGradGuard()) {
            original.train(false);
            List<Tensor> a = original.outputs(probe);
            original.load(permuted);
            double[] d = compare(a, original.outputs(probe), original.freeChannelOutputs(), probe.size(0));
            if (noiseSeed != null && needsNoise(d)) {
                d[3] = floatNoise(original, saved, a, probe, noiseSeed);
            }
            return d;
        } finally {
            original.load(saved);
            original.train(wasTraining);
        }
    }

    /** As {@link #measure(Model, StateDict, Tensor, Long)} between two models; both are left as they were. */
    @SuppressWarnings("try")
    private static double[] measure(Model original, Model changed, Tensor probe, Long noiseSeed) {
        boolean wasTraining = original.module().is_training();
        boolean changedTraining = changed.module().is_training();
        try (NoGradGuard guard = new NoGradGuard()) {
            original.train(false);
            changed.train(false);
            List<Tensor> a = original.outputs(probe);
            double[] d = compare(a, changed.outputs(probe), original.freeChannelOutputs(), probe.size(0));
            if (noiseSeed != null && needsNoise(d)) {
                StateDict saved = original.stateDict();
                try {
                    d[3] = floatNoise(original, saved, a, probe, noiseSeed);
                } finally {
                    original.load(saved);
                }
            }
            return d;
        } finally {
            original.train(wasTraining);
            changed.train(changedTraining);
        }
    }

    /** Whether {@code d} is finite and above the fixed tolerance: only the model's float noise can pass it then. */
    private static boolean needsNoise(double[] d) {
        return Double.isFinite(d[0]) && !withinTolerance(d);
    }

    /**
     * Whether any output differs between the {@code n} probe images (rows along axis 0) by more than the check's own
     * tolerance ({@link Tolerances#LOGITS_MAX_ABS_DIFF} of max(1, its largest value)): a difference the check cannot
     * see does not let it tell a wrong permutation either (a random network whose batch-norm statistics do not match
     * its activations answers every image alike but for rounding); true when no output has such rows (nothing to tell
     * from).
     */
    static boolean inputsMatter(List<Tensor> outputs, long n) {
        boolean rows = false;
        for (Tensor x : outputs) {
            if (n < 2 || x.dim() < 1 || x.size(0) != n) {
                continue;
            }
            rows = true;
            double bound = Tolerances.LOGITS_MAX_ABS_DIFF * Math.max(1.0, x.abs().max().item_double());
            if (!(x.sub(x.narrow(0, 0, 1)).abs().max().item_double() <= bound)) { // NaN counts as a difference
                return true;
            }
        }
        return !rows;
    }

    /**
     * {max abs difference, largest abs value of {@code a}, 1 when {@code a}'s outputs differ between its {@code n}
     * probe images else 0 ({@link #inputsMatter}), NaN (no float noise measured)} over the outputs; an output whose channel order is free
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
        return new double[] {diff, scale, matter, Double.NaN};
    }

    /**
     * A probe batch of {@code n} images {@code channels x size x size}, a pure function of
     * {@code seed}: per image and channel a brightness in [-1, 1) and a contrast in [0.5, 2), plus
     * uniform pixel noise, so that images differ in more than i.i.d. noise (which pooling averages
     * away) and span about the range of normalized images.
     */
    public static Tensor probe(int n, int channels, int size, long seed) {
        Tensor t = torch.empty(n, channels, size, size);
        t.data_ptr_float().put(planes(n * channels, size * size, seed));
        return t;
    }

    /**
     * A probe batch of {@code n} sequences {@code channels x length} (audio features), drawn as {@link #probe}'s
     * images are, each channel a plane of {@code length} values.
     */
    public static Tensor sequence(int n, int channels, int length, long seed) {
        Tensor t = torch.empty(n, channels, length);
        t.data_ptr_float().put(planes(n * channels, length, seed));
        return t;
    }

    /** Frames of {@link #video}'s clips: 8, so that a video network's three temporal halvings leave one. */
    public static final int VIDEO_FRAMES = 8;

    /**
     * A probe batch of {@code n} clips {@code channels x} {@link #VIDEO_FRAMES} {@code x size x size}, drawn as
     * {@link #probe}'s images are, each channel of each frame a plane of its own brightness and contrast.
     */
    public static Tensor video(int n, int channels, int size, long seed) {
        Tensor t = torch.empty(n, channels, VIDEO_FRAMES, size, size);
        t.data_ptr_float().put(planes(n * channels * VIDEO_FRAMES, size * size, seed));
        return t;
    }

    /** {@code count} planes of {@code plane} values, each a brightness plus contrast times uniform noise. */
    private static float[] planes(int count, int plane, long seed) {
        float[] v = new float[Math.toIntExact((long) count * plane)];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int c = 0; c < count; c++) {
            double brightness = rng.nextDouble() * 2 - 1, contrast = 0.5 + rng.nextDouble() * 1.5;
            for (int i = 0; i < plane; i++) {
                v[c * plane + i] = (float) (brightness + contrast * (rng.nextDouble() * 2 - 1));
            }
        }
        return v;
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
