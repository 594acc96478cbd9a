package lady.watermark;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.model.Model;
import lady.progress.ProgressListener;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.train.EpochStats;
import lady.train.LossTerm;
import lady.train.TrainConfig;
import lady.train.Trainer;

/**
 * Uchida et al. (2017) white-box watermark as the paper's authors parameterize it (method.md 8):
 * {@code w_bar} = mean of the watermarked weight W (O x C x k x k) over its output filters (axis 0),
 * flattened to length L = C*k*k; extraction {@code bits = round(sigmoid(X w_bar))}, i.e.
 * {@code X w_bar > 0}; BER = Hamming distance / T in %; embedding through {@link #loss(WatermarkKey)}.
 *
 * <p>Why permutation attacks work: w_bar is a mean over filters, so permuting W's own output
 * neurons leaves it unchanged, but permuting the previous group permutes W's input channels
 * (axis 1), which reorders w_bar and scrambles {@code X w_bar}.
 */
public final class Uchida {
    private Uchida() {}

    /** The name of the weight tensor for a layer given as a group / module ("features.19") or a tensor name. */
    public static String weightName(StateDict state, String layer) {
        if (layer == null || layer.isBlank()) {
            throw new LadyException(LadyException.Kind.USAGE, "no watermark layer given (e.g. features.19)");
        }
        String name = layer.trim();
        if (!name.endsWith(".weight") && state.contains(name + ".weight")) {
            name = name + ".weight";
        }
        if (!state.contains(name)) {
            throw LadyException.invalidInput("the model has no layer '" + layer + "' (no tensor '" + name
                    + "' nor '" + layer + ".weight')");
        }
        WatermarkKey.wBarLength(state, name); // checks it has filters
        return name;
    }

    /**
     * The conv of a VGG16 variant {@code arch} that holds the paper's watermark: the one at the position of
     * {@link lady.paper.Paper#UCHIDA_LAYER_VGG16} (named in plain torchvision VGG16) among the convolutions, e.g.
     * features.19 in vgg16 and vgg16_cifar, features.27 in vgg16_bn and vgg16_bn_cifar (batch norm layers shift
     * the indices).
     */
    public static String vgg16Layer(lady.model.Architecture arch) {
        return lady.model.Models.vgg16Position(lady.paper.Paper.UCHIDA_LAYER_VGG16, arch);
    }

    /** What {@code --watermark} / {@code --layer} accept besides a layer name: the paper's layer of a VGG16 variant. */
    public static final String PAPER_LAYER = lady.model.Models.PAPER_LAYER;

    /**
     * A watermark layer given on the command line: {@link #PAPER_LAYER} names the conv at the paper's position
     * in architecture {@code arch} ({@link #vgg16Layer}: features.19, or features.27 with batch norm); any other
     * text is a layer or weight name, taken as it is.
     */
    public static String layerFor(String spec, String arch) {
        return lady.model.Models.layerFor(spec, lady.paper.Paper.UCHIDA_LAYER_VGG16, arch);
    }

    /**
     * The permutation group whose neurons feed {@code weight} (its input channels): permuting it reorders
     * w_bar, which is the attack of method.md 8 (features.17 for VGG16's features.19).
     */
    public static String producerGroup(lady.permutation.PermutationSpec spec, String weight) {
        for (lady.permutation.Group g : spec.groups()) {
            for (lady.permutation.Member m : g.members(lady.permutation.Role.CONSUMER_WEIGHT)) {
                if (m.tensor().equals(weight)) {
                    return g.name();
                }
            }
        }
        throw LadyException.invalidInput("no permutation group of " + spec.architecture() + " feeds '" + weight
                + "' (its input channels are fixed)");
    }

    /** w_bar of {@code layer} in {@code state}: mean over axis 0, flattened, accumulated in double. */
    public static double[] wBar(StateDict state, String layer) {
        HostTensor w = state.get(layer);
        if (w.dtype() != DType.FLOAT32) {
            throw LadyException.invalidInput("tensor '" + layer + "' is " + w.dtype().name().toLowerCase(java.util.Locale.ROOT)
                    + "; the watermark reads float32 weights");
        }
        int length = WatermarkKey.wBarLength(state, layer);
        int filters = Math.toIntExact(state.shape(layer)[0]);
        float[] data = new float[Math.multiplyExact(filters, length)];
        w.floats().get(data, 0, data.length);
        double[] bar = new double[length];
        for (int o = 0; o < filters; o++) {
            int base = o * length;
            for (int i = 0; i < length; i++) {
                bar[i] += data[base + i];
            }
        }
        for (int i = 0; i < length; i++) {
            bar[i] /= filters;
        }
        return bar;
    }

    /** {@code X w_bar}: one projection per bit. */
    public static double[] project(WatermarkKey key, double[] wBar) {
        if (wBar.length != key.length()) {
            throw LadyException.invalidInput("w_bar has length " + wBar.length + " but the key expects " + key.length());
        }
        float[] x = key.matrix();
        double[] y = new double[key.size()];
        for (int t = 0; t < y.length; t++) {
            double s = 0;
            int base = t * wBar.length;
            for (int i = 0; i < wBar.length; i++) {
                s += x[base + i] * wBar[i];
            }
            y[t] = s;
        }
        return y;
    }

    /** Reads the watermark of {@code state} with {@code key} (the key must fit: {@link WatermarkKey#checkFits}). */
    public static Detection detect(StateDict state, WatermarkKey key) {
        key.checkFits(state);
        return detection(key, project(key, wBar(state, key.layer())));
    }

    /**
     * Reads the watermark as an owner without Lady would from a model whose watermarked layer has another input width
     * than the key's (a structurally obfuscated copy: dummy neurons and splits in the group that feeds it): the first
     * L entries of its w_bar, the positions the key knows (zeros where w_bar is shorter). Equal to {@link #detect}
     * when the widths agree.
     */
    public static Detection detectAsIs(StateDict state, WatermarkKey key) {
        double[] bar = wBar(state, key.layer());
        return detection(key, project(key, java.util.Arrays.copyOf(bar, key.length())));
    }

    private static Detection detection(WatermarkKey key, double[] y) {
        int[] expected = key.bits();
        int[] got = new int[y.length];
        double margin = Double.POSITIVE_INFINITY;
        for (int t = 0; t < y.length; t++) {
            got[t] = y[t] > 0 ? 1 : 0;
            if (got[t] == expected[t]) {
                margin = Math.min(margin, Math.abs(y[t]));
            }
        }
        int errors = hamming(got, expected);
        return new Detection(key.layer(), got, expected, errors, berPct(got, expected),
                Double.isInfinite(margin) ? 0 : margin);
    }

    /** Hamming distance of two bit strings of the same length. */
    public static int hamming(int[] a, int[] b) {
        if (a.length != b.length) {
            throw LadyException.invalidInput("bit strings of different lengths: " + a.length + " and " + b.length);
        }
        int d = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                d++;
            }
        }
        return d;
    }

    /** Bit error rate in %: {@code 100 * hamming(a, b) / T}. */
    public static double berPct(int[] a, int[] b) {
        if (a.length == 0) {
            throw LadyException.invalidInput("empty bit strings");
        }
        return 100.0 * hamming(a, b) / a.length;
    }

    /**
     * The embedding regularizer as a {@link LossTerm} named "wm": {@code lambda * L_wm} with
     * {@code L_wm} = mean binary cross-entropy, in bits (log base 2, as the authors), of
     * {@code sigmoid(X w_bar)} against the key's bits, built with libtorch autograd ops on the
     * model's live parameter (computed stably from the logits: {@code BCE_with_logits / ln 2}).
     * Build it outside any {@link org.bytedeco.javacpp.PointerScope}: it owns two tensors (X, bits).
     */
    public static LossTerm loss(WatermarkKey key) {
        return new UchidaLoss(key);
    }

    /**
     * Fine-tunes (or trains) {@code model} in place on {@code data} with the watermark loss added
     * to the cross-entropy; the key must fit the model.
     */
    public static List<EpochStats> embed(Model model, Dataset data, WatermarkKey key, TrainConfig config,
            ProgressListener progress) {
        return train(model, data, key, new Trainer(config).progress(progress), 0).history();
    }

    /**
     * What {@link #train} gave.
     *
     * @param history  one record per epoch
     * @param trained  the watermark read after training
     * @param embedded the watermark read after the embedding-only steps ({@code trained} when there were none)
     */
    public record Training(List<EpochStats> history, Detection trained, Detection embedded) {}

    /**
     * Training with an embedded watermark, the one sequence that {@code lady train --watermark}, the demo and
     * the watermark story share: {@code trainer} (configured by the caller: progress, checkpoints,
     * reproducibility) trains {@code model} on {@code data} with the watermark loss added, then
     * {@link #embedOnly} runs {@code embedSteps} steps at the trainer's learning rate and momentum.
     */
    public static Training train(Model model, Dataset data, WatermarkKey key, Trainer trainer, int embedSteps) {
        key.checkFits(model.stateDict());
        List<EpochStats> history = trainer.lossTerm(loss(key)).train(model, data);
        Detection trained = detect(model.stateDict(), key);
        Detection embedded = embedSteps == 0 ? trained
                : embedOnly(model, key, embedSteps, trainer.config().lr(), trainer.config().momentum());
        return new Training(history, trained, embedded);
    }

    /**
     * The embedding-only fine-tune: {@code steps} SGD steps (learning rate {@code lr}, momentum
     * {@code momentum}, no weight decay) on {@code lambda * L_wm} alone, updating only the
     * watermarked weight, no data. Each step costs one T x L matrix-vector product, so it is how a
     * short training run gets its watermark to BER 0 (Uchida's regularizer needs hundreds of steps
     * at lambda = 0.1). It changes w_bar (the mean over filters) only slightly, so the task error
     * barely moves: callers evaluate it again.
     *
     * @return the watermark read after the last step
     */
    @SuppressWarnings("try")
    public static Detection embedOnly(Model model, WatermarkKey key, int steps, double lr, double momentum) {
        if (steps < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "embedding steps must be >= 0, got " + steps);
        }
        key.checkFits(model.stateDict());
        LossTerm term = loss(key);
        Tensor w = lady.torch.Torch.namedParameters(model.module()).get(key.layer());
        if (w == null) {
            throw LadyException.invalidInput("the watermark key is for parameter '" + key.layer()
                    + "', which the model does not have");
        }
        org.bytedeco.pytorch.SGDOptions options = new org.bytedeco.pytorch.SGDOptions(lr);
        options.momentum().put(momentum);
        org.bytedeco.pytorch.SGD sgd = new org.bytedeco.pytorch.SGD(new org.bytedeco.pytorch.TensorVector(w), options);
        try (lady.torch.Torch.ZeroFill fill = lady.torch.Torch.zeroFillWhileTraining()) {
            for (int i = 0; i < steps; i++) {
                try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
                    sgd.zero_grad(true);
                    org.bytedeco.pytorch.Tensor value = term.compute(model);
                    value.backward();
                    sgd.step();
                }
            }
        } finally {
            sgd.close();
            options.close();
        }
        return detect(model.stateDict(), key);
    }

    /**
     * Where a key goes by default: next to the model file, {@code m.pt -> m.key.json}.
     */
    public static Path defaultKeyPath(Path model) {
        String name = model.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return model.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".key.json");
    }

    /**
     * Creates the key of a watermark to embed while training: layer {@code layer} of {@code state}
     * (a group name such as "features.19" or a tensor name), T = {@code bits}, P(1) and lambda from
     * {@link lady.paper.Paper}, generated from {@code seed}; written to {@code path} atomically before
     * any training, so it exists as soon as the first checkpoint does.
     */
    public static WatermarkKey createKey(StateDict state, String layer, int bits, long seed, Path path) {
        String name = weightName(state, layer);
        WatermarkKey key = WatermarkKey.generate(name, WatermarkKey.wBarLength(state, name), bits,
                lady.paper.Paper.UCHIDA_P_ONE, seed, lady.paper.Paper.UCHIDA_LAMBDA);
        key.write(path, false);
        return key;
    }

    /**
     * The key file of a training run: {@code key} when given, otherwise next to the model file
     * {@code out} ({@link #defaultKeyPath}); a USAGE error when there is neither.
     */
    public static Path keyPath(Path key, Path out) {
        if (key != null) {
            return key;
        }
        if (out == null) {
            throw new LadyException(LadyException.Kind.USAGE,
                    "a watermark needs a key file: give --key, or --out (the key then goes next to the model)");
        }
        return defaultKeyPath(out);
    }

    /** X as a T x L float tensor (owned memory). */
    static Tensor matrixTensor(WatermarkKey key) {
        return tensor(key.matrix(), new long[] {key.size(), key.length()});
    }

    /** The bits as a float tensor of length T. */
    static Tensor bitsTensor(WatermarkKey key) {
        int[] b = key.bits();
        float[] f = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            f[i] = b[i];
        }
        return tensor(f, new long[] {f.length});
    }

    private static Tensor tensor(float[] data, long[] shape) {
        // an owned, contiguous float tensor, filled by one bulk copy (no from_blob: nothing borrowed)
        Tensor t = torch.zeros(shape);
        t.data_ptr_float().put(data, 0, data.length);
        return t;
    }

    static String describe(long[] shape) {
        return Arrays.toString(shape);
    }
}
