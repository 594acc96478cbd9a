package lady.canon;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.model.Model;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.torch.FloatTensors;
import lady.torch.Torch;
import lady.util.Seeds;

/**
 * Active ranking (method.md section 5): learn one input x so that the responses of a layer's neurons
 * are far apart, then rank the neurons by response.
 *
 * <ul>
 *   <li>response of neuron n: {@code s_n(x) = sum over the batch, h and w of channel n} of the module's
 *       pre-activation output ({@link Model#forwardTo}: the conv or linear and the batch norm that
 *       follows it, before the activation);</li>
 *   <li>loss, minimized: {@code -sum_{i > j} |s_i - s_j|};</li>
 *   <li>x starts i.i.d. uniform in [{@link Paper#ACTIVE_INPUT_LOW}, {@link Paper#ACTIVE_INPUT_HIGH}) drawn
 *       from {@link ActiveConfig#seed()} (a {@link SplittableRandom}, fully specified: same seed, same
 *       input on every machine);</li>
 *   <li>plain SGD on x, no momentum: {@code x -= lr_t * grad}, {@code lr_t} by StepLR
 *       ({@link ActiveConfig#lrAt}); the network is frozen (eval mode, no parameter gradients).</li>
 * </ul>
 * The optimization runs on one libtorch thread (restored afterwards), as {@code Trainer.deterministic}
 * does: the same seed gives the same bytes whatever {@code --threads} says, and a batch of one image
 * gains nothing from more threads (measured on the busy 2-core machine: 1000 steps at VGG16-BN width 0.5,
 * features.17, took 5.9 s on one thread and 103 s on two).
 */
public final class ActiveRanking {
    private ActiveRanking() {}

    /**
     * The learned input and the responses it gives.
     *
     * @param input     the learned input, row-major
     * @param shape     its shape (batch x channels x H x W)
     * @param scores    responses of the module's neurons to the learned input
     * @param lossFirst loss at the initial input
     * @param lossLast  loss at the learned input
     * @param losses    the loss before each step (its length is the number of steps)
     */
    public record Learned(float[] input, long[] shape, float[] scores, double lossFirst, double lossLast,
            double[] losses) {}

    /** The input's shape for a network reading {@code channels x size x size} images. */
    public static long[] inputShape(long channels, long size) {
        return new long[] {Paper.ACTIVE_INPUT_BATCH, channels, size, size};
    }

    /** The initial input of {@code seed}: uniform in [ACTIVE_INPUT_LOW, ACTIVE_INPUT_HIGH), float32. */
    public static float[] initialInput(long[] shape, long seed) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        float[] x = new float[Math.toIntExact(n)];
        SplittableRandom random = new SplittableRandom(Seeds.derive(seed, "canon.active.input"));
        double width = Paper.ACTIVE_INPUT_HIGH - Paper.ACTIVE_INPUT_LOW;
        for (int i = 0; i < x.length; i++) {
            double u = (random.nextInt() >>> 8) * 0x1.0p-24; // 24 random bits: exactly a float in [0, 1)
            x[i] = (float) (Paper.ACTIVE_INPUT_LOW + width * u);
        }
        return x;
    }

    /**
     * Learns the input for {@code module}'s neurons in {@code model} (left in eval mode; its parameters'
     * requires_grad flags are restored afterwards).
     *
     * @param progress one task of {@code config.steps()} steps, the loss as a metric
     */
    @SuppressWarnings("try")
    public static Learned learn(Model model, String module, long[] shape, ActiveConfig config,
            ProgressListener progress) {
        float[] start = initialInput(shape, config.seed());
        model.train(false);
        List<Boolean> saved = freeze(model);
        double[] losses = new double[config.steps()];
        Tensor x = FloatTensors.of(start, shape);
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try (Torch.ZeroFill fill = Torch.zeroFillWhileTraining()) { // a backward pass through convolutions
            x.set_requires_grad(true);
            progress.start("active ranking " + module, config.steps(), "steps");
            for (int step = 0; step < config.steps(); step++) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor loss = loss(responses(model.forwardTo(x, module)));
                    loss.backward();
                    losses[step] = loss.item_double();
                    if (!Double.isFinite(losses[step])) {
                        throw LadyException.invalidInput("active ranking of " + module + ": the loss is "
                                + losses[step] + " at step " + step + " (the responses overflowed); use fewer steps "
                                + "or a smaller learning rate");
                    }
                    try (NoGradGuard guard = new NoGradGuard()) {
                        Tensor g = x.grad();
                        x.sub_(g.mul(new Scalar(config.lrAt(step))));
                        g.zero_();
                    }
                }
                Map<String, Object> metrics = new LinkedHashMap<>();
                metrics.put("loss", losses[step]);
                progress.advance(1, metrics);
            }
        } finally {
            torch.set_num_threads(threads);
            progress.finish();
            restore(model, saved);
        }
        float[] input = FloatTensors.read(x);
        Tensor s;
        double lossLast;
        try (NoGradGuard guard = new NoGradGuard()) {
            s = responses(model.forwardTo(FloatTensors.of(input, shape), module));
            lossLast = loss(s).item_double();
        }
        double lossFirst = losses.length > 0 ? losses[0] : lossLast;
        return new Learned(input, shape.clone(), FloatTensors.read(s), lossFirst, lossLast, losses);
    }

    /** The responses of {@code module}'s neurons in {@code model} (eval mode) to a given input. */
    @SuppressWarnings("try")
    public static float[] scores(Model model, String module, float[] input, long[] shape) {
        model.train(false);
        try (PointerScope scope = new PointerScope(); NoGradGuard guard = new NoGradGuard()) {
            return FloatTensors.read(responses(model.forwardTo(FloatTensors.of(input, shape), module)));
        }
    }

    /** {@code s_n}: the output summed over every axis but the channel axis (1). */
    static Tensor responses(Tensor out) {
        long dims = out.dim();
        if (dims < 2) {
            throw new LadyException(LadyException.Kind.INTERNAL, "a layer output has " + dims + " dimensions");
        }
        long[] others = new long[(int) dims - 1];
        others[0] = 0;
        for (int d = 2; d < dims; d++) {
            others[d - 1] = d;
        }
        return out.sum(others);
    }

    /** {@code -sum_{i > j} |s_i - s_j|} (method.md 5). */
    static Tensor loss(Tensor s) {
        Tensor diff = s.unsqueeze(0).sub(s.unsqueeze(1)).abs(); // [j][i] = |s_i - s_j|
        return torch.triu(diff, 1).sum().neg();
    }

    private static List<Boolean> freeze(Model model) {
        List<Boolean> saved = new ArrayList<>();
        TensorVector params = model.module().parameters(true);
        for (long i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            saved.add(p.requires_grad());
            p.requires_grad_(false);
        }
        return saved;
    }

    private static void restore(Model model, List<Boolean> saved) {
        TensorVector params = model.module().parameters(true);
        for (long i = 0; i < params.size() && i < saved.size(); i++) {
            params.get(i).requires_grad_(saved.get((int) i));
        }
    }
}
