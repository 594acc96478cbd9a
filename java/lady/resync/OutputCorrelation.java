package lady.resync;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.Stage;
import lady.torch.FloatTensors;
import lady.torch.TorchTensors;

/**
 * The proof of concept of paper figure 3 (method.md section 6): neurons that behave alike can have
 * clearly different weights.
 * <ol>
 *   <li>The probe images go through the model (eval mode); each neuron of the layer is the vector of its
 *       pre-activation outputs over every image and position, and the pair of distinct neurons with the
 *       largest Pearson correlation (native centered cosine kernel) is the most output-correlated pair.
 *       Decision: one Pearson over all images and positions (the authors sum a per-image cosine; the last
 *       conv of VGG16 has 2 x 2 maps at 32 x 32, too few values for a per-image correlation).</li>
 *   <li>The pair's weight cosine: their producer rows in the model's own (trained) weights (the authors'
 *       script reads the untrained model's, method.md 10.5).</li>
 *   <li>For each two consecutive images, a straight line in the layer's input space (the previous
 *       layer's output) of {@code steps} points, both ends included; at each point the cosine
 *       similarity (not centered, as the paper) of the two neurons' output maps, without and with the
 *       ReLU. An all-zero output has no direction: its cosine is 0.</li>
 * </ol>
 */
public final class OutputCorrelation {
    private OutputCorrelation() {}

    /** One point of the curve: segment k goes from image k to image k + 1, {@code t} in [0, 1]. */
    public record Point(int segment, int step, double t, double cosinePre, double cosinePost) {
        /** Position on the plot's axis: k + t. */
        public double position() {
            return segment + t;
        }
    }

    /**
     * @param layer        the layer (module path)
     * @param neurons      its number of neurons
     * @param images       probe images
     * @param first        neuron i of the most correlated pair (i < j)
     * @param second       neuron j
     * @param correlation  their Pearson correlation over the probe's outputs (pre-activation)
     * @param weightCosine cosine similarity of their producer rows
     * @param curve        (images - 1) * steps points
     */
    public record Result(String layer, int neurons, int images, int first, int second, double correlation,
            double weightCosine, List<Point> curve) {
        public Result {
            curve = List.copyOf(curve);
        }
    }

    /** The most correlated pair and its curve, {@link lady.paper.Paper#PROOF_STEPS} points per segment. */
    @SuppressWarnings("try")
    public static Result run(Model model, String layer, Tensor images, int steps, Backend backend) {
        int k = Math.toIntExact(images.size(0));
        if (k < 2) {
            throw new LadyException(LadyException.Kind.USAGE, "the curve walks between consecutive images: give at least 2, got " + k);
        }
        if (steps < 2) {
            throw new LadyException(LadyException.Kind.USAGE, "a segment needs at least 2 steps (its two ends), got " + steps);
        }
        boolean wasTraining = model.module().is_training();
        model.train(false);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor input = model.capture(images, List.of(layer), Stage.INPUT).get(layer);
            Tensor out = model.runLayer(layer, input, Stage.PRE_ACTIVATION);
            int n = Math.toIntExact(out.size(1));
            if (n < 2) {
                throw LadyException.invalidInput("layer '" + layer + "' has " + n + " neuron: no pair to correlate");
            }
            float[] r = cosine(backend, rows(out), rows(out), true);
            int bi = -1;
            int bj = -1;
            float best = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    if (r[i * n + j] > best) {
                        best = r[i * n + j];
                        bi = i;
                        bj = j;
                    }
                }
            }
            Tensor w = TorchTensors.get(model.stateDict(), layer + ".weight");
            Tensor wRows = w.reshape(n, -1).to(torch.ScalarType.Float);
            double weightCosine = cosine(backend, wRows.narrow(0, bi, 1).contiguous(), wRows.narrow(0, bj, 1).contiguous(),
                    false)[0];
            return new Result(layer, n, k, bi, bj, best, weightCosine, curve(model, layer, input, bi, bj, steps, backend));
        } finally {
            model.train(wasTraining);
        }
    }

    private static List<Point> curve(Model model, String layer, Tensor input, int i, int j, int steps, Backend backend) {
        int k = Math.toIntExact(input.size(0));
        long[] tShape = new long[(int) input.dim()];
        java.util.Arrays.fill(tShape, 1);
        tShape[0] = steps;
        float[] ts = new float[steps];
        for (int s = 0; s < steps; s++) {
            ts[s] = (float) s / (steps - 1);
        }
        Tensor t = FloatTensors.of(ts, tShape);
        List<Point> points = new ArrayList<>();
        for (int seg = 0; seg + 1 < k; seg++) {
            Tensor a = input.narrow(0, seg, 1);
            Tensor b = input.narrow(0, seg + 1, 1);
            Tensor line = a.add(t.mul(b.sub(a))); // steps x (the layer's input shape)
            Tensor pre = model.runLayer(layer, line, Stage.PRE_ACTIVATION);
            Tensor post = torch.relu(pre);
            float[] cPre = cosine(backend, neuron(pre, i), neuron(pre, j), false);
            float[] cPost = cosine(backend, neuron(post, i), neuron(post, j), false);
            for (int s = 0; s < steps; s++) {
                points.add(new Point(seg, s, ts[s], cPre[s * steps + s], cPost[s * steps + s]));
            }
        }
        return points;
    }

    /** Outputs (images x neurons x ...) as rows: neuron c -> its values over every image and position. */
    private static Tensor rows(Tensor out) {
        return out.transpose(0, 1).reshape(out.size(1), -1).to(torch.ScalarType.Float).contiguous();
    }

    /** Neuron c's output map at each point: points x positions. */
    private static Tensor neuron(Tensor out, int c) {
        return out.narrow(1, c, 1).reshape(out.size(0), -1).to(torch.ScalarType.Float).contiguous();
    }

    /** The square cosine (centered: Pearson) matrix of the rows of a and b (same number of rows). */
    private static float[] cosine(Backend backend, Tensor a, Tensor b, boolean centered) {
        int n = Math.toIntExact(a.size(0));
        float[] s = new float[n * n];
        Similarity.accumulateCosine(backend, TorchTensors.own(a), TorchTensors.own(b), centered, s);
        return s;
    }
}
