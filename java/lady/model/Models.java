package lady.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.util.Text;

/**
 * Entry point of the model package: the families Lady knows ({@link Family}: VGG, ResNet, the small
 * nets, ...), new models by name ({@link #create(String, ModelOptions)}), their descriptions
 * ({@link #describe(String, ModelOptions)}: the {@link Architecture}, a graph), and the architecture of a
 * checkpoint read off its names and shapes ({@link #infer(StateDict)}), every per-layer width included.
 * Parameter and buffer names are torchvision's. Families and their new-model names:
 * <ul>
 *   <li><b>vgg16</b> / <b>vgg16_bn</b>: torchvision's VGG16 (configuration D) with the ImageNet head (7x7
 *       pool, classifier.0 Linear(C*49, 4096), ReLU, Dropout, classifier.3 Linear(4096, 4096), ReLU,
 *       Dropout, classifier.6 Linear(4096, K)); <b>vgg16_cifar</b> / <b>vgg16_bn_cifar</b>: the same
 *       features with a 1x1 pool and the CIFAR head 512-512-K. Checkpoints of VGG11/13/19 are read too.</li>
 *   <li><b>resnet18/34/50/101/152</b>, <b>wide_resnet50_2/101_2</b>, <b>resnext50_32x4d</b>,
 *       <b>resnext101_32x8d/64x4d</b> (grouped 3x3 convolutions), each also with {@code _cifar} (3x3 stride-1
 *       stem, no max pool).</li>
 *   <li><b>lenet5</b>, <b>toynet</b>, <b>fc</b>: small nets with fixed input sizes.</li>
 *   <li><b>mobilenet_v3_large</b> / <b>mobilenet_v3_small</b> (depthwise convolutions, squeeze-excitation),
 *       <b>vit_b_16</b>, <b>vit_b_32</b>, <b>vit_l_16</b>, <b>vit_l_32</b>, <b>vit_h_14</b> (input size fixed by
 *       the position embedding), <b>deeplabv3_resnet50/101</b>, <b>fcn_resnet50/101</b>,
 *       <b>deeplabv3_mobilenet_v3_large</b>, <b>lraspp_mobilenet_v3_large</b> (outputs "out" and, with the auxiliary head,
 *       "aux"), <b>densenet121/161/169/201</b>: torchvision 0.14's, every width and the classes read off a
 *       checkpoint.</li>
 *   <li><b>convnext_tiny/small/base/large</b>: torchvision's ConvNeXts (LayerNorm2d and Linear layers on the
 *       channels of an image, layer scales); a checkpoint of other sizes is read as <b>convnext</b>.</li>
 *   <li><b>swin_t/s/b</b>, <b>swin_v2_t/s/b</b>: torchvision's Swin Transformers V1 and V2 (shifted-window attention,
 *       patch merging); a checkpoint of other sizes is read as <b>swin</b> / <b>swin_v2</b>.</li>
 *   <li><b>alexnet</b>, <b>squeezenet1_0/1_1</b>, <b>mnasnet0_5/0_75/1_0/1_3</b>, <b>shufflenet_v2_x0_5/x1_0/x1_5/x2_0</b>,
 *       <b>googlenet</b>,
 *       <b>inception_v3</b>: torchvision's (the auxiliary heads' logits are outputs after the main ones).</li>
 *   <li><b>r3d_18</b>, <b>mc3_18</b>, <b>r2plus1d_18</b>: torchvision's video ResNets on clips (3-D convolutions).</li>
 * </ul>
 * Permutation groups come from the graph ({@link lady.graph.ChannelSpaces}): chain groups are named
 * after their producer ("features.17", "classifier.0", "fc1"), residual streams "stream.layer1" ..
 * "stream.layer4", a block's inner groups after their conv ("layer1.0.conv1").
 */
public final class Models {
    private Models() {}

    private static final List<Family> FAMILIES = List.of(new VggFamily(), new ResNetFamily(), new SmallNetFamily(),
            new LlamaFamily(), new GptFamily(), new Dinov2Family(), new EncoderFamily(), new MobileNetV3Family(), new VitFamily(),
            new DeepLabV3Family(), new DenseNetFamily(), new MobileNetV2Family(), new WideResNetFamily(), new HfResNetFamily(), new RegNetFamily(),
            new ConvNeXtFamily(), new SwinFamily(), new ClassicFamily(), new MnasNetFamily(), new InceptionFamily(),
            new ShuffleNetFamily(), new MaxVitFamily(), new DetectionFamily(), new SsdFamily(), new ClipFamily(), new T5Family(),
            new BartFamily(), new VideoResNetFamily());

    /** What a {@code --layer} / {@code --watermark} option accepts besides a layer name: the paper's layer, found by
     * position in any VGG16 variant ({@link #layerFor}). */
    public static final String PAPER_LAYER = "paper";

    /** The architecture names Lady knows, in a stable order. */
    public static final List<String> NAMES = FAMILIES.stream().flatMap(f -> f.names().stream()).toList();

    /**
     * The conv of a VGG16 variant {@code arch} at the position that {@code plainVgg16Layer} has among the
     * convolutions of plain torchvision VGG16: e.g. features.19 (the 9th conv) is features.19 in vgg16 and
     * vgg16_cifar and features.27 in vgg16_bn and vgg16_bn_cifar, whose batch norm layers shift the indices.
     */
    public static String vgg16Position(String plainVgg16Layer, Architecture arch) {
        List<String> plain = describe("vgg16", ModelOptions.defaults()).convolutions();
        List<String> convs = arch.convolutions();
        int position = plain.indexOf(plainVgg16Layer);
        if (position < 0 || convs.size() != plain.size()) {
            throw LadyException.invalidInput(arch.name() + " is not a VGG16 (" + convs.size() + " convolutions, VGG16 has "
                    + plain.size() + "): the paper's " + plainVgg16Layer + " has no counterpart; name a layer instead");
        }
        return convs.get(position);
    }

    /** A layer given on the command line: {@link #PAPER_LAYER} is {@code plainVgg16Layer}'s counterpart in
     * {@code arch} ({@link #vgg16Position}); any other text is a layer name, taken as it is. */
    public static String layerFor(String spec, String plainVgg16Layer, String arch) {
        return PAPER_LAYER.equals(spec) ? vgg16Position(plainVgg16Layer, describe(arch, ModelOptions.defaults())) : spec;
    }

    /** Builds {@code arch} with default options (10 classes, width 1, 3 x 32 x 32 inputs). */
    public static Model create(String arch) {
        return create(arch, ModelOptions.defaults());
    }

    /** Builds a new {@code arch} (one of {@link #NAMES}), randomly initialized as libtorch does. */
    public static Model create(String arch, ModelOptions options) {
        return create(describe(arch, options));
    }

    /** Builds a new model of {@code description}, randomly initialized. */
    public static Model create(Architecture description) {
        return new GraphNetwork(description);
    }

    /** The description of a new {@code arch} with {@code options}. */
    public static Architecture describe(String arch, ModelOptions options) {
        return family(arch).build(arch, Dims.of(options));
    }

    private static Family family(String arch) {
        if (arch == null) {
            throw new LadyException(LadyException.Kind.USAGE, "no architecture given; known: " + String.join(", ", NAMES));
        }
        for (Family f : FAMILIES) {
            if (f.builds(arch)) {
                return f;
            }
        }
        for (Family f : FAMILIES) {
            Map<String, long[]> none = Map.of();
            if (arch.equals(f.recognize(none))) {
                return f;
            }
        }
        List<String> closest = new ArrayList<>(NAMES); // the known names nearest to the one asked for, first
        String probe = arch.length() > KNOWN_PROBE_CHARS ? arch.substring(0, KNOWN_PROBE_CHARS) : arch;
        closest.sort(java.util.Comparator.comparingInt((String n) -> Text.editDistance(n, probe)));
        throw new LadyException(LadyException.Kind.USAGE, "unknown architecture " + Text.quote(arch) + "; the nearest "
                + "known: " + Text.list(closest, KNOWN_SHOWN) + " (the README's families section lists them all)");
    }

    /** Known architecture names an unknown one's error shows, the nearest first. */
    private static final int KNOWN_SHOWN = 6;
    /** Characters of an unknown name compared with the known ones (a name of megabytes costs no more). */
    private static final int KNOWN_PROBE_CHARS = 64;

    /**
     * Recovers the architecture of a checkpoint from its names and shapes: the family that recognizes it,
     * built with every size the checkpoint has, then checked tensor by tensor against the checkpoint.
     *
     * @throws LadyException INVALID_INPUT when no family fits (naming the nearest and the --spec option)
     */
    public static ModelConfig infer(StateDict state) {
        return infer(state, null);
    }

    /**
     * As {@link #infer(StateDict)}, but with the architecture given ({@code arch} non-null overrides the
     * name-based recognition; sizes are still read from the shapes). The checkpoint's configuration
     * ({@link StateDict#config()}: a Hugging Face folder's config.json) is read too: heads, KV heads,
     * head_dim, eps, rope_theta, tie_word_embeddings, model_type.
     */
    public static ModelConfig infer(StateDict state, String arch) {
        return infer(shapes(state), arch, state.config());
    }

    /**
     * Sets {@code state}'s configuration to its widths after an edit changed them (a structural attack or undo on a
     * Hugging Face folder: config.json's intermediate_size follows the MLP's new width), so that the folder written
     * from it describes its weights.
     */
    public static void syncConfig(StateDict state, String arch) {
        if (!state.config().isEmpty()) {
            state.setConfig(family(arch).configFor(arch, shapes(state), state.config()));
        }
    }

    /**
     * Gives {@code state}, a checkpoint read without a configuration (a weights file on its own, such as a suspect's
     * {@code model.safetensors} found without its folder), the configuration of {@code from}, a checkpoint of the same
     * architecture {@code arch}: what no shape tells (heads, KV heads, head_dim, RoPE) is then {@code from}'s, every
     * width {@code state}'s own ({@link Family#configFor}).
     *
     * @return whether {@code state} took it (false when it has its own or {@code from} has none)
     */
    public static boolean borrowConfig(StateDict state, StateDict from, String arch) {
        return borrowConfig(state, from.config(), arch);
    }

    /** As {@link #borrowConfig(StateDict, StateDict, String)} from a saved configuration (a canonical order's). */
    public static boolean borrowConfig(StateDict state, Map<String, Object> config, String arch) {
        if (!state.config().isEmpty() || config == null || config.isEmpty()) {
            return false;
        }
        state.setConfig(family(arch).configFor(arch, shapes(state), config));
        return true;
    }

    /** As {@link #infer(StateDict, String)} from tensor shapes alone. */
    public static ModelConfig infer(Map<String, long[]> shapes, String arch) {
        return infer(shapes, arch, null);
    }

    /**
     * As {@link #infer(Map, String)} with the checkpoint's configuration (a Hugging Face folder's
     * config.json, or null): what the shapes do not tell (attention heads, RoPE base).
     */
    public static ModelConfig infer(Map<String, long[]> shapes, String arch, Map<String, ?> config) {
        config = textConfig(config);
        String name = arch;
        Family family = null;
        if (name == null) {
            for (Family f : FAMILIES) {
                String n = f.recognize(shapes, config == null ? Map.of() : config);
                if (n != null) {
                    name = n;
                    family = f;
                    break;
                }
            }
            if (name == null) {
                throw unrecognized(shapes, config);
            }
        } else {
            family = familyOf(name, shapes);
        }
        ModelOptions options = family.options(name, shapes);
        Architecture description = family.build(name, Dims.of(shapes, options, config));
        checkCompatible(description, shapes);
        options = options.withWidth(width(family, name, shapes));
        return new ModelConfig(name, options, description);
    }

    /**
     * The configuration a family reads: a multimodal model's config.json nests its language model's under {@code
     * text_config} (Gemma 3, LLaVA): those keys, over the top level's; any other configuration as it is.
     */
    static Map<String, ?> textConfig(Map<String, ?> config) {
        if (config == null || !(config.get(TEXT_CONFIG) instanceof Map<?, ?> text)) {
            return config;
        }
        Map<String, Object> out = new java.util.LinkedHashMap<>(config);
        out.remove(TEXT_CONFIG);
        text.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    /** The key of a multimodal configuration's language model ({@link #textConfig}). */
    static final String TEXT_CONFIG = "text_config";

    /** The family that builds {@code name} (also names only a checkpoint can have, such as vgg19). */
    private static Family familyOf(String name, Map<String, long[]> shapes) {
        for (Family f : FAMILIES) {
            if (f.builds(name) || name.equals(f.recognize(shapes))) {
                return f;
            }
        }
        return family(name); // the "unknown architecture" error
    }

    /** Builds the model a checkpoint describes ({@link #infer(StateDict)}) and loads it. */
    public static Model fromStateDict(StateDict state) {
        return fromStateDict(state, null);
    }

    /** As {@link #fromStateDict(StateDict)} with an explicit architecture ({@code null}: infer). */
    public static Model fromStateDict(StateDict state, String arch) {
        Model model = infer(state, arch).create();
        model.load(state);
        return model;
    }

    /**
     * The permutation spec of a checkpoint: read from {@code specFile} when given (a user's network) and
     * validated against the checkpoint, else derived from the graph of the family that recognizes it
     * ({@code arch} non-null names the family). Needs no libtorch model.
     */
    public static lady.permutation.PermutationSpec spec(StateDict state, String arch, java.nio.file.Path specFile) {
        if (specFile != null) {
            if (arch != null) {
                throw new LadyException(LadyException.Kind.USAGE, "--spec gives the groups itself: drop --arch");
            }
            return lady.permutation.SpecValidator.validate(lady.permutation.SpecFile.read(specFile), shapes(state));
        }
        return infer(state, arch).description().permutationSpec();
    }

    /**
     * As {@link #spec(StateDict, String, java.nio.file.Path)}, or, with {@code graph} non-null, derived from the
     * graph of that ONNX model (lady.onnx.OnnxGraph: the same channel-space analysis as the families), whose
     * tensor names the checkpoint's must match ({@link #graphOf} picks it).
     */
    public static lady.permutation.PermutationSpec spec(StateDict state, String arch, java.nio.file.Path specFile,
            java.nio.file.Path graph) {
        if (graph == null) {
            return spec(state, arch, specFile);
        }
        if (arch != null || specFile != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--graph describes the network itself: drop --arch and --spec");
        }
        return lady.onnx.OnnxGraph.spec(graph, shapes(state));
    }

    /**
     * The ONNX model whose graph describes checkpoint {@code file}: {@code graph} (the --graph option) when
     * given; else {@code file} itself when it is an ONNX model and neither --arch nor --spec names the network
     * otherwise; else null (the checkpoint's family).
     */
    public static java.nio.file.Path graphOf(java.nio.file.Path file, java.nio.file.Path graph, String arch,
            java.nio.file.Path specFile) {
        if (graph != null) {
            return graph;
        }
        boolean onnx = lady.checkpoint.Checkpoints.formatOf(file) == lady.checkpoint.Checkpoints.Format.ONNX;
        return onnx && arch == null && specFile == null ? file : null;
    }

    /** Name -> shape of every tensor of {@code state}, in its order. */
    public static Map<String, long[]> shapes(StateDict state) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String name : state.names()) {
            shapes.put(name, state.shape(name));
        }
        return shapes;
    }

    /**
     * The width multiplier that reproduces every conv's channel count of a new model of {@code name}:
     * {@code round(base * w) == c} holds for w in [(c - 0.5) / base, (c + 0.5) / base), so w is taken in
     * the intersection of those intervals (the first conv's c / base when it is inside, else the middle).
     * 1 for the families without a width multiplier.
     */
    private static double width(Family family, String name, Map<String, long[]> shapes) {
        if (!family.names().contains(name) || !(family instanceof VggFamily || family instanceof ResNetFamily)) {
            return 1.0;
        }
        Architecture base = family.build(name, Dims.of(ModelOptions.defaults()));
        double lo = 0;
        double hi = Double.MAX_VALUE;
        double simple = Double.NaN;
        for (String conv : base.graph().nodes(lady.graph.Op.CONV).stream().map(n -> n.param("weight")).toList()) {
            long[] s = shapes.get(conv);
            if (s == null || s.length == 0) {
                continue;
            }
            long b = base.graph().shape(conv)[0];
            long c = s[0];
            lo = Math.max(lo, c == 1 ? 0 : (c - 0.5) / b);
            hi = Math.min(hi, (c + 0.5) / b);
            if (Double.isNaN(simple)) {
                simple = (double) c / b;
            }
        }
        if (Double.isNaN(simple)) {
            return 1.0;
        }
        return !(lo < hi) || (simple >= lo && simple < hi) ? simple : (lo + hi) / 2;
    }


    /**
     * The way out for a network no family describes (ResNeXt, EfficientNet, RegNet, ConvNeXt: their ONNX exports run
     * through Lady as they are, grouped and depthwise convolutions included).
     */
    static final String ANOTHER_NETWORK = "for another network pass an ONNX export of it with --graph, or its groups "
            + "with --spec spec.json (see 'lady spec --help')";

    /** No family recognized the checkpoint: what it has, the nearest family and why not, the way out. */
    private static LadyException unrecognized(Map<String, long[]> shapes, Map<String, ?> config) {
        List<String> names = new ArrayList<>(shapes.keySet());
        Nearest near = nearest(shapes.keySet());
        String prefix = commonPrefix(names);
        String hint = "";
        if (!prefix.isEmpty()) { // a wrapper's prefix on every name (DataParallel's 'module.'): say so when it is that
            java.util.Set<String> stripped = new java.util.LinkedHashSet<>();
            names.forEach(n -> stripped.add(n.substring(prefix.length())));
            Nearest without = nearest(stripped);
            if (without.common() > near.common()) {
                hint = "every tensor name starts with " + Text.quote(prefix) + (prefix.equals("module.") ? " (saved from "
                        + "DataParallel or DistributedDataParallel: save model.module.state_dict())"
                        : prefix.equals("_orig_mod.") ? " (saved from a torch.compile'd model: save "
                        + "model._orig_mod.state_dict())" : "") + "; without it "
                        + without.common() + " of " + without.family() + "'s tensors are here: strip it, {k[" + prefix.length()
                        + ":]: v for k, v in sd.items()}";
            }
        }
        String expert = names.stream().filter(n -> n.contains(".experts.")).findFirst().orElse(null);
        if (expert != null) { // a mixture of experts in another layout
            hint = "a mixture of experts (" + Text.quote(expert) + ") in a layout Lady does not read: it reads Mixtral's "
                    + "(block_sparse_moe.gate, experts.N.w1/w2/w3), Qwen2-MoE's and Qwen3-MoE's (mlp.gate, "
                    + "experts.N.gate_proj/up_proj/down_proj), and the same fused in 3-D tensors (mlp.gate, "
                    + "mlp.experts.gate_up_proj [E, 2I, D], mlp.experts.down_proj [E, D, I])";
        }
        if (names.contains("block1.layer.0.conv1.weight") && names.stream().anyMatch(n -> n.startsWith("sub_block1."))) {
            hint = "a Wide ResNet with RobustBench's sub_block1 (built with sub_block1=True; its forward never runs it), "
                    + "which Lady does not read: drop its tensors, {k: v for k, v in sd.items() if not "
                    + "k.startswith('sub_block1.')}, which keeps the function";
        }
        if (hint.isEmpty() && names.stream().anyMatch(n -> n.startsWith("backbone.body."))
                && names.stream().anyMatch(n -> n.startsWith("backbone.fpn."))) {
            hint = "a torchvision detector (backbone.body, backbone.fpn and its heads) of a kind Lady does not read as a "
                    + "state dict (it reads Faster, Mask and Keypoint R-CNN, RetinaNet and FCOS on a ResNet's feature pyramid); "
                    + "an ONNX export of it gives its backbone's groups ('lady spec --model model.onnx')";
        }
        String volume = names.stream().filter(n -> shapes.get(n).length == 5 && n.endsWith("weight")).findFirst().orElse(null);
        if (hint.isEmpty() && volume != null) {
            hint = Text.quote(volume) + " is a 3-D convolution's weight (a video network?): of those Lady reads torchvision's "
                    + "video ResNets (r3d_18, mc3_18, r2plus1d_18) as state dicts, any other from an ONNX export of the "
                    + "network ('lady spec --model model.onnx')";
        }
        if (hint.isEmpty() && config != null && config.get("model_type") instanceof String type) { // a Hugging Face folder
            List<String> types = FAMILIES.stream().flatMap(f -> f.modelTypes().stream()).toList();
            hint = types.contains(type) ? "config.json names " + Text.quote(type) + ", a model type Lady reads, but these "
                    + "weights are not laid out as its are (a shard missing from the folder, or tensors renamed?)"
                    : "config.json's model_type " + Text.quote(type) + " is not one Lady reads; the Hugging Face model "
                    + "types it reads: " + String.join(", ", types);
        }
        return LadyException.invalidInput("cannot recognize the architecture of a checkpoint with " + shapes.size()
                + " tensors (e.g. " + Text.list(names.subList(0, Math.min(Text.NAMES_SHOWN, names.size())), Text.NAMES_SHOWN) + ")\n"
                + (!hint.isEmpty() ? hint : near.common() == 0 ? "no network Lady knows has any of these tensor names"
                        : "nearest family: " + near.family() + " (" + near.common() + " of its tensors are "
                        + "here; missing e.g. " + Text.list(near.missing(), Text.NAMES_SHOWN) + ")") + "\n"
                + ANOTHER_NETWORK);
    }

    /** The family whose default tensors a checkpoint's {@code names} share most, how many, and some it lacks. */
    private record Nearest(String family, int common, List<String> missing) {}

    private static Nearest nearest(java.util.Set<String> names) {
        Nearest best = new Nearest(null, -1, List.of());
        for (String candidate : NAMES) {
            Map<String, long[]> expected;
            try {
                expected = describe(candidate, ModelOptions.defaults()).tensorShapes();
            } catch (LadyException e) {
                continue; // a family read only from checkpoints (Hugging Face folders)
            }
            int common = 0;
            List<String> miss = new ArrayList<>();
            for (String n : expected.keySet()) {
                if (names.contains(n)) {
                    common++;
                } else {
                    miss.add(n);
                }
            }
            if (common > best.common()) {
                best = new Nearest(candidate, common, miss);
            }
        }
        return best;
    }

    /** The longest prefix ending with '.' that every name has and none is (empty when there is none). */
    private static String commonPrefix(List<String> names) {
        if (names.isEmpty()) {
            return "";
        }
        String p = names.get(0);
        for (String n : names) {
            int k = 0;
            while (k < p.length() && k < n.length() && p.charAt(k) == n.charAt(k)) {
                k++;
            }
            p = p.substring(0, k);
        }
        int dot = p.lastIndexOf('.');
        p = dot < 0 ? "" : p.substring(0, dot + 1);
        for (String n : names) {
            if (n.length() == p.length()) {
                return "";
            }
        }
        return p;
    }

    /**
     * Checks that {@code state} has exactly the tensors of {@code arch} with the right shapes.
     *
     * @throws LadyException INVALID_INPUT with the counts of missing, unexpected and mis-shaped entries and a
     *                       few of each, in at most three short lines
     */
    static void checkCompatible(Architecture arch, StateDict state) {
        checkCompatible(arch, shapes(state));
    }

    static void checkCompatible(Architecture arch, Map<String, long[]> shapes) {
        Map<String, long[]> expected = arch.tensorShapes();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        String firstMisshaped = null;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            long[] actual = shapes.get(e.getKey());
            if (actual == null) {
                missing.add(e.getKey());
            } else if (!Arrays.equals(actual, e.getValue())) {
                misshaped.add(e.getKey());
                if (firstMisshaped == null) {
                    firstMisshaped = Text.cut(e.getKey()) + " " + Text.shape(actual) + " (expected " + Text.shape(e.getValue()) + ")";
                }
            }
        }
        for (String name : shapes.keySet()) {
            if (!expected.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misshaped.isEmpty()) {
            List<String> parts = new ArrayList<>();
            if (!missing.isEmpty()) {
                parts.add("missing " + missing.size() + ": " + Text.list(missing, Text.NAMES_SHOWN));
            }
            if (!unexpected.isEmpty()) {
                parts.add("unexpected " + unexpected.size() + ": " + Text.list(unexpected, Text.NAMES_SHOWN));
            }
            if (!misshaped.isEmpty()) {
                // the first with its shapes (a shape from a file can be long), the count of the others
                parts.add("mis-shaped " + misshaped.size() + ": " + firstMisshaped
                        + (misshaped.size() > 1 ? ", ... (" + misshaped.size() + " in all)" : ""));
            }
            throw LadyException.invalidInput("the checkpoint does not match " + arch.name() + ": " + String.join("; ", parts)
                    + "\nname the architecture with --arch; " + ANOTHER_NETWORK);
        }
    }
}
