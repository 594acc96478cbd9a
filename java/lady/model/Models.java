package lady.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.util.Text;

/**
 * Entry point of the model package: builds the paper's architectures by name
 * ({@link #create(String, ModelOptions)}), describes them ({@link #describe(String, ModelOptions)}:
 * the typed {@link Architecture} from which modules, state-dict names and permutation specs are
 * derived) and recovers an architecture from a checkpoint's names and shapes
 * ({@link #infer(StateDict)}, {@link #fromStateDict(StateDict)}). Parameter and buffer names are
 * torchvision's. The architectures (widths before the {@link ModelOptions#width()} multiplier;
 * permutation groups: {@link Architecture#permutationSpec()}):
 *
 * <ul>
 *   <li><b>vgg16</b> / <b>vgg16_bn</b>: torchvision's VGG16 (configuration D) with the ImageNet head:
 *       features (conv 3x3 pad 1 [+ BN] + ReLU, max pool 2x2), adaptive average pool to 7x7,
 *       classifier.0 Linear(C*49, 4096), ReLU, Dropout(0.5), classifier.3 Linear(4096, 4096), ReLU,
 *       Dropout(0.5), classifier.6 Linear(4096, K).</li>
 *   <li><b>vgg16_cifar</b> / <b>vgg16_bn_cifar</b>: the same features, adaptive average pool to 1x1
 *       and the common CIFAR head 512-512-K with the same names classifier.0/3/6.</li>
 *   <li><b>resnet18</b>: torchvision's ResNet18 (conv1 7x7/2, bn1, ReLU, max pool 3x3/2, four stages
 *       of two BasicBlocks, adaptive average pool 1x1, fc); <b>resnet18_cifar</b>: conv1 3x3 stride 1
 *       and no max pool, same names.</li>
 *   <li><b>lenet5</b>: LeNet-5 with batch norm: conv1 5x5 (6) + bn1 + ReLU + max pool 2, conv2 5x5 (16)
 *       + bn2 + ReLU + max pool 2, flatten, fc1 (120), ReLU, fc2 (84), ReLU, fc3 (K). On 32x32 inputs
 *       fc1 reads 16 x 5 x 5 = 400 features (blocks of 25 per conv2 channel).</li>
 *   <li><b>toynet</b>: a toy conv net: conv1 3x3 pad 1 (8) + ReLU + max pool 2, conv2 3x3 pad 1 (16)
 *       + ReLU + max pool 2, flatten, fc1 (64), ReLU, fc2 (K). On 32x32 inputs fc1 reads
 *       16 x 8 x 8 = 1024 features (blocks of 64).</li>
 *   <li><b>fc</b>: a fully connected net: flatten, fc1 (512), ReLU, fc2 (256), ReLU, fc3 (K).</li>
 * </ul>
 * VGG and ResNet are initialized as torchvision does ({@link Architecture.Init}); the small nets
 * with PyTorch's defaults. ResNet18's residual streams are the permutation groups
 * "stream.layer1" .. "stream.layer4"; block-internal groups are named after the block's conv1
 * ("layer1.0.conv1"); chain groups after their producer ("features.17", "classifier.0", "fc1").
 */
public final class Models {
    private Models() {}

    /** What a {@code --layer} / {@code --watermark} option accepts besides a layer name: the paper's layer, found by
     * position in any VGG16 variant ({@link #layerFor}). */
    public static final String PAPER_LAYER = "paper";

    /**
     * The conv of a VGG16 variant {@code arch} at the position that {@code plainVgg16Layer} has among the
     * convolutions of plain torchvision VGG16: e.g. features.19 (the 9th conv) is features.19 in vgg16 and
     * vgg16_cifar and features.27 in vgg16_bn and vgg16_bn_cifar, whose batch norm layers shift the indices.
     */
    public static String vgg16Position(String plainVgg16Layer, Architecture arch) {
        List<String> plain = convNames(describe("vgg16", ModelOptions.defaults()));
        List<String> convs = convNames(arch);
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

    private static List<String> convNames(Architecture arch) {
        return arch.layers().stream().filter(l -> l instanceof Layer.Conv).map(l -> ((Layer.Conv) l).name()).toList();
    }

    /** The known architecture names, in a stable order. */
    public static final List<String> NAMES = List.of(
            "vgg16", "vgg16_bn", "vgg16_cifar", "vgg16_bn_cifar", "resnet18", "resnet18_cifar", "lenet5", "toynet", "fc");

    /** Builds {@code arch} with default options (10 classes, width 1, 3 x 32 x 32 inputs). */
    public static Model create(String arch) {
        return create(arch, ModelOptions.defaults());
    }

    /** Builds {@code arch} (one of {@link #NAMES}), randomly initialized as libtorch does. */
    public static Model create(String arch, ModelOptions options) {
        return new Network(describe(arch, options));
    }

    /** The typed description of {@code arch} with {@code options}. */
    public static Architecture describe(String arch, ModelOptions options) {
        if (arch == null) {
            throw new LadyException(LadyException.Kind.USAGE, "no architecture given; known: " + String.join(", ", NAMES));
        }
        switch (arch) {
            case "vgg16": return Architectures.vgg16(arch, false, false, options);
            case "vgg16_bn": return Architectures.vgg16(arch, true, false, options);
            case "vgg16_cifar": return Architectures.vgg16(arch, false, true, options);
            case "vgg16_bn_cifar": return Architectures.vgg16(arch, true, true, options);
            case "resnet18": return Architectures.resnet18(arch, false, options);
            case "resnet18_cifar": return Architectures.resnet18(arch, true, options);
            case "lenet5": return Architectures.lenet5(arch, options);
            case "toynet": return Architectures.toynet(arch, options);
            case "fc": return Architectures.fc(arch, options);
            default:
                throw new LadyException(LadyException.Kind.USAGE,
                        "unknown architecture " + Text.quote(arch) + "; known: " + String.join(", ", NAMES));
        }
    }

    /**
     * Recovers architecture and options from a checkpoint's names and shapes: VGG16 (BN or not,
     * torchvision 7x7 head or CIFAR 1x1 head, width = features.0 channels / 64, classifier hidden
     * width, classes), ResNet18 (stem 7x7 or 3x3, width = conv1 channels / 64, classes), LeNet5,
     * ToyNet, FC (input size from the first Linear's inputs). The result is checked: every name and
     * shape of the checkpoint must match the inferred description exactly.
     *
     * @throws LadyException INVALID_INPUT when no known architecture fits, listing missing,
     *                       unexpected and mis-shaped entries against the closest candidate
     */
    public static ModelConfig infer(StateDict state) {
        return infer(state, null);
    }

    /**
     * As {@link #infer(StateDict)}, but with the architecture given ({@code arch} non-null
     * overrides the name-based detection; options are still read from the shapes).
     */
    public static ModelConfig infer(StateDict state, String arch) {
        String name = arch != null ? arch : detect(state);
        if (!NAMES.contains(name)) {
            describe(name, ModelOptions.defaults()); // throws the "unknown architecture" error
        }
        ModelConfig config = new ModelConfig(name, options(name, state));
        checkCompatible(describe(config.architecture(), config.options()), state);
        return config;
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

    private static String detect(StateDict s) {
        if (s.contains("features.0.weight") && s.contains("classifier.6.weight")) {
            boolean bn = s.contains("features.1.running_mean");
            long last = lastConvChannels(s);
            long[] head = s.shape("classifier.0.weight");
            boolean cifar = head.length != 2 || head[1] != last * 49;
            return "vgg16" + (bn ? "_bn" : "") + (cifar ? "_cifar" : "");
        }
        if (s.contains("conv1.weight") && s.contains("layer1.0.conv1.weight") && s.contains("fc.weight")) {
            return s.shape("conv1.weight")[2] == 7 ? "resnet18" : "resnet18_cifar";
        }
        if (s.contains("conv1.weight") && s.contains("bn1.weight") && s.contains("conv2.weight") && s.contains("fc3.weight")) {
            return "lenet5";
        }
        if (s.contains("conv1.weight") && s.contains("conv2.weight") && s.contains("fc2.weight") && !s.contains("fc3.weight")) {
            return "toynet";
        }
        if (s.contains("fc1.weight") && s.contains("fc3.weight") && !s.contains("conv1.weight")) {
            return "fc";
        }
        throw LadyException.invalidInput("cannot recognize the architecture of a checkpoint with " + s.size()
                + " tensors (" + Text.sample(s.names()) + "); known: " + String.join(", ", NAMES)
                + "; name one explicitly with --arch");
    }

    /** Output channels of the last VGG16 conv (features.28 without BN, features.40 with). */
    private static long lastConvChannels(StateDict s) {
        String last = s.contains("features.1.running_mean") ? "features.40.weight" : "features.28.weight";
        if (!s.contains(last)) {
            throw LadyException.invalidInput("a VGG16 checkpoint needs '" + last + "' (13 conv layers)");
        }
        return s.shape(last)[0];
    }

    private static ModelOptions options(String arch, StateDict s) {
        ModelOptions o = ModelOptions.defaults();
        try {
            switch (arch) {
                case "vgg16", "vgg16_bn", "vgg16_cifar", "vgg16_bn_cifar" -> {
                    long[] first = shape(s, "features.0.weight");
                    long[] head = shape(s, "classifier.0.weight");
                    long classes = shape(s, "classifier.6.weight")[0];
                    return new ModelOptions((int) classes, width(arch, s), (int) head[0], (int) first[1], 32);
                }
                case "resnet18", "resnet18_cifar" -> {
                    long[] first = shape(s, "conv1.weight");
                    long classes = shape(s, "fc.weight")[0];
                    return new ModelOptions((int) classes, width(arch, s), 0, (int) first[1], 32);
                }
                case "lenet5" -> {
                    long[] first = shape(s, "conv1.weight");
                    long in = shape(s, "fc1.weight")[1];
                    long side = Math.round(Math.sqrt(in / 16.0));
                    return new ModelOptions((int) shape(s, "fc3.weight")[0], 1.0, 0, (int) first[1], (int) (4 * side + 12));
                }
                case "toynet" -> {
                    long[] first = shape(s, "conv1.weight");
                    long in = shape(s, "fc1.weight")[1];
                    long side = Math.round(Math.sqrt(in / 16.0));
                    return new ModelOptions((int) shape(s, "fc2.weight")[0], 1.0, 0, (int) first[1], (int) (4 * side));
                }
                case "fc" -> {
                    long in = shape(s, "fc1.weight")[1];
                    long side3 = Math.round(Math.sqrt(in / 3.0));
                    long side1 = Math.round(Math.sqrt(in));
                    boolean rgb = 3 * side3 * side3 == in;
                    return new ModelOptions((int) shape(s, "fc3.weight")[0], 1.0, 0, rgb ? 3 : 1, (int) (rgb ? side3 : side1));
                }
                default -> {
                    return o;
                }
            }
        } catch (LadyException e) {
            // the shapes do not give options: compare with the defaults, which lists every difference
            checkCompatible(describe(arch, ModelOptions.defaults()), s);
            throw LadyException.invalidInput("the checkpoint does not fit " + arch + ": " + e.getMessage());
        }
    }

    /**
     * The width multiplier that reproduces every conv's channel count: {@code round(base * w) == c}
     * holds for w in [(c - 0.5) / base, (c + 0.5) / base), so w is taken in the intersection of those
     * intervals (the first conv's c / base when it is inside, else the middle). Missing convs are
     * skipped: {@link #checkCompatible} reports them.
     */
    private static double width(String arch, StateDict s) {
        double lo = 0;
        double hi = Double.MAX_VALUE;
        double simple = Double.NaN;
        for (Layer.Conv conv : describe(arch, ModelOptions.defaults()).convolutions()) {
            String name = conv.name() + ".weight";
            if (!s.contains(name) || s.shape(name).length == 0) {
                continue; // reported by the compatibility check
            }
            long base = conv.out();
            long c = s.shape(name)[0];
            lo = Math.max(lo, c == 1 ? 0 : (c - 0.5) / base);
            hi = Math.min(hi, (c + 0.5) / base);
            if (Double.isNaN(simple)) {
                simple = (double) c / base;
            }
        }
        if (Double.isNaN(simple)) {
            return 1.0;
        }
        // no single multiplier fits: keep the first conv's, the compatibility check lists the rest
        return !(lo < hi) || (simple >= lo && simple < hi) ? simple : (lo + hi) / 2;
    }

    private static long[] shape(StateDict s, String name) {
        if (!s.contains(name)) {
            throw LadyException.invalidInput("missing '" + name + "'");
        }
        return s.shape(name);
    }

    /**
     * Checks that {@code state} has exactly the tensors of {@code arch} with the right shapes.
     *
     * @throws LadyException INVALID_INPUT listing missing, unexpected and mis-shaped entries
     */
    static void checkCompatible(Architecture arch, StateDict state) {
        Map<String, long[]> expected = arch.tensorShapes();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        String firstMisshaped = null;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            if (!state.contains(e.getKey())) {
                missing.add(e.getKey());
            } else {
                long[] actual = state.shape(e.getKey());
                if (!Arrays.equals(actual, e.getValue())) {
                    misshaped.add(e.getKey());
                    if (firstMisshaped == null) {
                        firstMisshaped = Text.sample(List.of(e.getKey())) + " is " + Text.shape(actual) + ", expected "
                                + Text.shape(e.getValue());
                    }
                }
            }
        }
        for (String name : state.names()) {
            if (!expected.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misshaped.isEmpty()) {
            // at most three short lines whatever the checkpoint holds: counts and a few names (Text.sample)
            List<String> lines = new ArrayList<>();
            if (!missing.isEmpty()) {
                lines.add(missing.size() + " missing: " + Text.sample(missing));
            }
            if (!unexpected.isEmpty()) {
                lines.add(unexpected.size() + " unexpected: " + Text.sample(unexpected));
            }
            if (!misshaped.isEmpty()) {
                lines.add(misshaped.size() + " mis-shaped: " + firstMisshaped
                        + (misshaped.size() > 1 ? " and " + (misshaped.size() - 1) + " more" : ""));
            }
            throw LadyException.invalidInput("the checkpoint does not match " + arch.name() + ": "
                    + String.join("\n  ", lines));
        }
    }
}
