package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's ConvNeXts (convnext_tiny, _small, _base, _large) with their module paths: the stem {@code features.0}
 * (4x4 stride-4 conv with bias, LayerNorm2d), four stages {@code features.1, 3, 5, 7} of blocks, a downsampling
 * {@code features.2, 4, 6} between them (LayerNorm2d, 2x2 stride-2 conv with bias), adaptive average pooling and the
 * head {@code classifier} (LayerNorm2d, flatten, Linear). A block {@code features.S.I}: {@code block.0} 7x7 depthwise
 * conv with bias, then on each pixel's channels {@code block.2} LayerNorm, {@code block.3} Linear to 4 C, GELU,
 * {@code block.5} Linear back to C, times {@code layer_scale} [C, 1, 1], plus the block's input (stochastic depth is
 * the identity in eval mode). LayerNorm2d and the Linear layers work on the channels of the image
 * ({@link Op#CHANNELS_FIRST}), as torchvision's permutes to channels last do; the layer scale is a
 * {@link Op#CHANNELWISE} product. Every norm's eps is 1e-6.
 *
 * <p>Hugging Face's ConvNeXt ({@code ConvNextForImageClassification} under {@code convnext.}, or {@code ConvNextModel}'s
 * names without it; model type {@code convnext}: facebook/convnext-tiny-224 ..) is the same network under other names,
 * read as {@code <size>_hf}: {@code embeddings.patch_embeddings} and {@code embeddings.layernorm} for the stem,
 * {@code encoder.stages.S.downsampling_layer.0 / .1} for a downsampling, {@code encoder.stages.S.layers.I} for a block
 * ({@code dwconv}, {@code layernorm}, {@code pwconv1}, the activation, {@code pwconv2}, {@code layer_scale_parameter} of
 * shape [C], absent when config.json's layer_scale_init_value is 0); the head: the average over the pixels, the final
 * {@code layernorm} (eps config.json's layer_norm_eps, 1e-12 when absent), {@code classifier}. Without a classifier
 * (ConvNextModel) the pooled features are the output, their channel order free ({@link Op#FREE_CHANNELS}). The
 * activation is config.json's hidden_act (gelu).
 *
 * <p>What moves: each stage's channels are one space through its blocks (the residual sum ties them), from the conv that
 * opens the stage (the stem's, a downsampling's) to the norm and conv that close it; inside each block its 4 C hidden
 * units. A checkpoint of other widths or depths is read as {@code convnext} ({@code convnext_hf}), its sizes off its
 * tensors.
 */
final class ConvNeXtFamily implements Family {
    private static final double EPS = 1e-6;
    /** torchvision's initial layer scale (Hugging Face's layer_scale_init_value's default). */
    private static final double LAYER_SCALE = 1e-6;
    /** Hugging Face's final LayerNorm eps when config.json gives none (ConvNextConfig's layer_norm_eps). */
    private static final double HF_FINAL_EPS = 1e-12;
    private static final int STAGES = 4;
    private static final long EXPANSION = 4;
    /** The widths of the four stages and their depths, per named size (torchvision's table). */
    private static final Map<String, long[][]> SIZES = Map.of(
            "convnext_tiny", new long[][] {{96, 192, 384, 768}, {3, 3, 9, 3}},
            "convnext_small", new long[][] {{96, 192, 384, 768}, {3, 3, 27, 3}},
            "convnext_base", new long[][] {{128, 256, 512, 1024}, {3, 3, 27, 3}},
            "convnext_large", new long[][] {{192, 384, 768, 1536}, {3, 3, 27, 3}});
    /** A checkpoint whose sizes are none of the table's. */
    private static final String ANY = "convnext";
    /** The suffix of Hugging Face's layout. */
    static final String HF = "_hf";
    /** Hugging Face's ConvNextForImageClassification holds ConvNextModel under this. */
    private static final String HF_PREFIX = "convnext.";

    /**
     * Where a layout keeps each tensor: torchvision's ({@code prefix} null) or Hugging Face's under {@code prefix}
     * ("convnext." or "").
     */
    private record Names(String prefix) {
        boolean hf() {
            return prefix != null;
        }

        String stemConv() {
            return hf() ? prefix + "embeddings.patch_embeddings" : "features.0.0";
        }

        String stemNorm() {
            return hf() ? prefix + "embeddings.layernorm" : "features.0.1";
        }

        /** The downsampling before stage {@code s} (from 1): its norm (part 0) and conv (part 1). */
        String down(int s, int part) {
            return hf() ? prefix + "encoder.stages." + s + ".downsampling_layer." + part : "features." + 2 * s + "." + part;
        }

        String block(int s, int i) {
            return hf() ? prefix + "encoder.stages." + s + ".layers." + i : "features." + (2 * s + 1) + "." + i;
        }

        String dw(String b) {
            return b + (hf() ? ".dwconv" : ".block.0");
        }

        String norm(String b) {
            return b + (hf() ? ".layernorm" : ".block.2");
        }

        String fc1(String b) {
            return b + (hf() ? ".pwconv1" : ".block.3");
        }

        String act(String b) {
            return b + (hf() ? ".act" : ".block.4");
        }

        String fc2(String b) {
            return b + (hf() ? ".pwconv2" : ".block.5");
        }

        String scale(String b) {
            return b + (hf() ? ".layer_scale_parameter" : ".layer_scale");
        }

        String head() {
            return hf() ? "classifier" : "classifier.2";
        }
    }

    private static final Names TORCHVISION = new Names(null);

    /** The sizes' names, then {@link #ANY}. */
    private static final List<String> BASES = List.of("convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
            ANY);

    @Override
    public List<String> names() {
        return java.util.stream.Stream.concat(BASES.stream(), BASES.stream().map(b -> b + HF)).toList();
    }

    @Override
    public List<String> modelTypes() {
        return List.of("convnext");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        Names n = layout(s);
        if (n == null) {
            return null;
        }
        for (Map.Entry<String, long[][]> e : SIZES.entrySet()) {
            if (matches(s, n, e.getValue())) {
                return e.getKey() + (n.hf() ? HF : "");
            }
        }
        return ANY + (n.hf() ? HF : "");
    }

    /** The checkpoint's layout, or null when it is not a ConvNeXt. */
    private static Names layout(Map<String, long[]> s) {
        if (s.containsKey("features.0.0.weight") && s.containsKey("features.1.0.layer_scale")
                && s.containsKey("features.1.0.block.3.weight") && s.containsKey("classifier.2.weight")) {
            return TORCHVISION;
        }
        for (String prefix : List.of(HF_PREFIX, "")) {
            Names n = new Names(prefix);
            if (s.containsKey(n.stemConv() + ".weight") && s.containsKey(n.fc1(n.block(0, 0)) + ".weight")
                    && s.containsKey(prefix + "layernorm.weight")) {
                return n;
            }
        }
        return null;
    }

    /** Whether the checkpoint has exactly these stage widths and depths. */
    private static boolean matches(Map<String, long[]> s, Names n, long[][] size) {
        for (int stage = 0; stage < STAGES; stage++) {
            long[] w = s.get(n.dw(n.block(stage, 0)) + ".weight");
            if (w == null || w[0] != size[0][stage] || !s.containsKey(n.dw(n.block(stage, (int) size[1][stage] - 1)) + ".weight")
                    || s.containsKey(n.dw(n.block(stage, (int) size[1][stage])) + ".weight")) {
                return false;
            }
        }
        return !s.containsKey(n.dw(n.block(STAGES, 0)) + ".weight");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        Names n = layout(s);
        if (n == null) {
            n = name.endsWith(HF) ? new Names(HF_PREFIX) : TORCHVISION;
        }
        return Family.options(s, n.head() + ".weight", n.stemConv() + ".weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        boolean hf = name.endsWith(HF);
        String base = hf ? name.substring(0, name.length() - HF.length()) : name;
        if (base.equals(ANY) && !d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " names a checkpoint's own sizes: pass the "
                    + "checkpoint, or build one of " + SIZES.keySet().stream().sorted().toList());
        }
        Names n = !hf ? TORCHVISION : d.fromCheckpoint() && !d.has(HF_PREFIX + "layernorm.weight", true) ? new Names("")
                : new Names(HF_PREFIX);
        long[][] size = SIZES.get(base); // null for a checkpoint's own sizes
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        Op.Activation act = hf ? hfActivation(d) : Op.Activation.GELU;
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = b.conv(n.stemConv(), x, d.out(n.stemConv() + ".weight", size == null ? 0 : size[0][0]), 4, 4, 0, true);
        x = b.layerNormOnChannels(n.stemNorm(), x, EPS);
        for (int stage = 0; d.fromCheckpoint() ? d.has(n.dw(n.block(stage, 0)) + ".weight", false) : stage < STAGES;
                stage++) {
            if (stage > 0 && d.has(n.down(stage, 1) + ".weight", true)) {
                x = b.layerNormOnChannels(n.down(stage, 0), x, EPS);
                x = b.conv(n.down(stage, 1), x, d.out(n.down(stage, 1) + ".weight", size == null ? 0 : size[0][stage]), 2, 2,
                        0, true);
            }
            long depth = size == null ? 0 : size[1][stage];
            for (int i = 0; d.fromCheckpoint() ? d.has(n.dw(n.block(stage, i)) + ".weight", false) : i < depth; i++) {
                x = block(b, n, n.block(stage, i), x, d, act);
            }
        }
        x = b.adaptiveAvgPool("avgpool", x, 1);
        if (hf) { // the mean over the pixels, the final LayerNorm, the classifier (if any)
            x = b.flatten("flatten", x, 1);
            boolean head = !d.fromCheckpoint() || d.has(n.head() + ".weight", false);
            x = b.layerNorm(n.prefix() + "layernorm", x, d.configDouble("layer_norm_eps", HF_FINAL_EPS), !head);
            if (head) {
                x = b.linear(n.head(), x, d.outExact(n.head() + ".weight", o.numClasses()), true);
            }
        } else {
            x = b.layerNormOnChannels("classifier.0", x, EPS);
            x = b.flatten("classifier.1", x, 1);
            x = b.linear(n.head(), x, d.outExact(n.head() + ".weight", o.numClasses()), true);
        }
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** config.json's hidden_act: gelu (exact) unless it names another activation Lady runs. */
    private static Op.Activation hfActivation(Dims d) {
        Object a = d.config("hidden_act");
        if (a == null || "gelu".equals(a)) {
            return Op.Activation.GELU;
        }
        return switch (String.valueOf(a)) {
            case "gelu_new", "gelu_pytorch_tanh" -> Op.Activation.GELU_TANH;
            case "relu" -> Op.Activation.RELU;
            case "silu", "swish" -> Op.Activation.SILU;
            default -> throw LadyException.invalidInput("config.json's hidden_act " + lady.util.Text.quote(String.valueOf(a))
                    + " is not an activation Lady runs (gelu, gelu_new, relu, silu)");
        };
    }

    /** One block ({@code p}: "features.3.1", or Hugging Face's "convnext.encoder.stages.1.layers.1"). */
    private static String block(GraphBuilder b, Names n, String p, String x, Dims d, Op.Activation act) {
        long c = b.width(x);
        boolean scaled = d.has(n.scale(p), true);
        if (scaled) {
            b.tensor(n.scale(p), n.hf() ? new long[] {c} : new long[] {c, 1, 1}); // the block's own parameter comes first
        }
        String y = b.conv(n.dw(p), x, c, new long[] {7, 7}, 1, 3, 1, c, true);
        y = b.layerNormOnChannels(n.norm(p), y, EPS);
        y = b.linearOnChannels(n.fc1(p), y, d.outExact(n.fc1(p) + ".weight", EXPANSION * c), true);
        y = b.act(n.act(p), y, act);
        y = b.linearOnChannels(n.fc2(p), y, c, true);
        if (scaled) {
            y = b.scaleChannels(n.scale(p), y, n.scale(p), n.hf() ? 0 : 2, LAYER_SCALE);
        }
        return b.add(p + ".add", y, x);
    }
}
