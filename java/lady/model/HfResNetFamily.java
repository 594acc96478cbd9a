package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;


/**
 * Hugging Face's ResNet ({@code ResNetForImageClassification}, model type {@code resnet}: microsoft/resnet-18 .. -152)
 * as torchvision's ResNet under other module paths: {@code resnet.embedder.embedder.convolution / normalization} for
 * conv1 / bn1, {@code resnet.encoder.stages.S.layers.I.layer.J.convolution / normalization} for layerS+1.I.convJ+1 /
 * bnJ+1, {@code ...shortcut.convolution / normalization} for downsample.0 / .1, {@code classifier.1} for fc; the same
 * network (ResNet v1.5: the stride on the 3x3 conv, ReLU). The graph is {@link ResNetFamily}'s with its tensors renamed
 * ({@link lady.graph.Graph#withTensorNames}). Configurations that change the network (config.json's
 * {@code downsample_in_bottleneck} or {@code downsample_in_first_stage} true, an activation other than ReLU) are not
 * recognized.
 */
final class HfResNetFamily implements Family {
    static final String SUFFIX = "_hf";
    private static final String STEM = "resnet.embedder.embedder.";
    private static final String STAGES = "resnet.encoder.stages.";
    private static final ResNetFamily RESNET = new ResNetFamily();

    private static final Pattern TV_STEM = Pattern.compile("(conv1|bn1)\\.(.+)");
    private static final Pattern TV_INNER = Pattern.compile("layer(\\d+)\\.(\\d+)\\.(conv|bn)(\\d+)\\.(.+)");
    private static final Pattern TV_SHORTCUT = Pattern.compile("layer(\\d+)\\.(\\d+)\\.downsample\\.([01])\\.(.+)");
    private static final Pattern HF_STEM = Pattern.compile(Pattern.quote(STEM) + "(convolution|normalization)\\.(.+)");
    private static final Pattern HF_INNER = Pattern.compile(Pattern.quote(STAGES)
            + "(\\d+)\\.layers\\.(\\d+)\\.layer\\.(\\d+)\\.(convolution|normalization)\\.(.+)");
    private static final Pattern HF_SHORTCUT = Pattern.compile(Pattern.quote(STAGES)
            + "(\\d+)\\.layers\\.(\\d+)\\.shortcut\\.(convolution|normalization)\\.(.+)");

    @Override
    public List<String> names() {
        return List.of("resnet18" + SUFFIX, "resnet34" + SUFFIX, "resnet50" + SUFFIX, "resnet101" + SUFFIX,
                "resnet152" + SUFFIX);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("resnet");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        return recognize(s, Map.of());
    }

    @Override
    public String recognize(Map<String, long[]> s, Map<String, ?> configOrNull) {
        Map<String, ?> config = configOrNull == null ? Map.of() : configOrNull;
        if (!s.containsKey(STEM + "convolution.weight") || !s.containsKey("classifier.1.weight")
                || Boolean.TRUE.equals(config.get("downsample_in_bottleneck"))
                || Boolean.TRUE.equals(config.get("downsample_in_first_stage"))
                || config.get("hidden_act") instanceof String act && !act.equals("relu")) {
            return null;
        }
        String tv = RESNET.recognize(torchvisionShapes(s));
        return tv == null || tv.endsWith("_cifar") || tv.contains("_custom") ? null : tv + SUFFIX;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return RESNET.options(torchvision(name), torchvisionShapes(s));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        Dims tv = d;
        if (d.fromCheckpoint()) {
            tv = Dims.of(torchvisionShapes(d.shapes()), d.options());
        }
        Architecture a = RESNET.build(torchvision(name), tv);
        lady.graph.Graph g = a.graph().withTensorNames(HfResNetFamily::hfName);
        return new Architecture(name, new lady.graph.Graph(name, g.inputs(), g.nodes(), g.outputs(), g.tensors()),
                a.init());
    }

    private static String torchvision(String name) {
        return name.substring(0, name.length() - SUFFIX.length());
    }

    /** The checkpoint's shapes under torchvision's names (names of neither layout kept as they are). */
    private static Map<String, long[]> torchvisionShapes(Map<String, long[]> s) {
        Map<String, long[]> out = new LinkedHashMap<>();
        s.forEach((n, shape) -> out.put(torchvisionName(n), shape));
        return out;
    }

    /** Hugging Face's name of a torchvision ResNet tensor. */
    static String hfName(String tv) {
        Matcher m = TV_STEM.matcher(tv);
        if (m.matches()) {
            return STEM + (m.group(1).equals("conv1") ? "convolution." : "normalization.") + m.group(2);
        }
        m = TV_INNER.matcher(tv);
        if (m.matches()) {
            return STAGES + (Integer.parseInt(m.group(1)) - 1) + ".layers." + m.group(2) + ".layer."
                    + (Integer.parseInt(m.group(4)) - 1) + (m.group(3).equals("conv") ? ".convolution." : ".normalization.")
                    + m.group(5);
        }
        m = TV_SHORTCUT.matcher(tv);
        if (m.matches()) {
            return STAGES + (Integer.parseInt(m.group(1)) - 1) + ".layers." + m.group(2) + ".shortcut."
                    + (m.group(3).equals("0") ? "convolution." : "normalization.") + m.group(4);
        }
        return tv.startsWith("fc.") ? "classifier.1." + tv.substring("fc.".length()) : tv;
    }

    /** torchvision's name of a Hugging Face ResNet tensor. */
    static String torchvisionName(String hf) {
        Matcher m = HF_STEM.matcher(hf);
        if (m.matches()) {
            return (m.group(1).equals("convolution") ? "conv1." : "bn1.") + m.group(2);
        }
        m = HF_INNER.matcher(hf);
        if (m.matches() && m.group(1).length() < 4 && m.group(3).length() < 4) {
            return "layer" + (Integer.parseInt(m.group(1)) + 1) + "." + m.group(2) + "."
                    + (m.group(4).equals("convolution") ? "conv" : "bn") + (Integer.parseInt(m.group(3)) + 1) + "."
                    + m.group(5);
        }
        m = HF_SHORTCUT.matcher(hf);
        if (m.matches() && m.group(1).length() < 4) {
            return "layer" + (Integer.parseInt(m.group(1)) + 1) + "." + m.group(2) + ".downsample."
                    + (m.group(3).equals("convolution") ? "0." : "1.") + m.group(4);
        }
        return hf.startsWith("classifier.1.") ? "fc." + hf.substring("classifier.1.".length()) : hf;
    }
}
