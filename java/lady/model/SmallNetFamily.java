package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * The small nets of the tests and the toy examples, with fixed widths and a fixed input size (their
 * flatten sizes depend on it):
 * <ul>
 *   <li><b>lenet5</b>: LeNet-5 with batch norm: conv1 5x5 (6) + bn1 + ReLU + max pool 2, conv2 5x5 (16) +
 *       bn2 + ReLU + max pool 2, flatten, fc1 (120), ReLU, fc2 (84), ReLU, fc3 (K). On 32x32 inputs fc1
 *       reads 16 x 5 x 5 = 400 features (blocks of 25 per conv2 channel);</li>
 *   <li><b>toynet</b>: conv1 3x3 pad 1 (8) + ReLU + max pool 2, conv2 3x3 pad 1 (16) + ReLU + max pool 2,
 *       flatten, fc1 (64), ReLU, fc2 (K). On 32x32 inputs fc1 reads 16 x 8 x 8 = 1024 features;</li>
 *   <li><b>fc</b>: flatten, fc1 (512), ReLU, fc2 (256), ReLU, fc3 (K).</li>
 * </ul>
 */
final class SmallNetFamily implements Family {
    @Override
    public List<String> names() {
        return List.of("lenet5", "toynet", "fc");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey("conv1.weight") && s.containsKey("bn1.weight") && s.containsKey("conv2.weight")
                && s.containsKey("fc3.weight")) {
            return "lenet5";
        }
        if (s.containsKey("conv1.weight") && s.containsKey("conv2.weight") && s.containsKey("fc2.weight")
                && !s.containsKey("fc3.weight")) {
            return "toynet";
        }
        if (s.containsKey("fc1.weight") && s.containsKey("fc3.weight") && !s.containsKey("conv1.weight")) {
            return "fc";
        }
        return null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        long in = Family.dim(s, "fc1.weight", 1, 0);
        switch (name) {
            case "lenet5" -> {
                long side = Math.round(Math.sqrt(in / 16.0));
                return new ModelOptions((int) Family.dim(s, "fc3.weight", 0, 10), 1.0, 0,
                        (int) Family.dim(s, "conv1.weight", 1, 3), (int) (4 * side + 12));
            }
            case "toynet" -> {
                long side = Math.round(Math.sqrt(in / 16.0));
                return new ModelOptions((int) Family.dim(s, "fc2.weight", 0, 10), 1.0, 0,
                        (int) Family.dim(s, "conv1.weight", 1, 3), (int) (4 * side));
            }
            default -> {
                long side3 = Math.round(Math.sqrt(in / 3.0));
                long side1 = Math.round(Math.sqrt(in));
                boolean rgb = 3 * side3 * side3 == in;
                return new ModelOptions((int) Family.dim(s, "fc3.weight", 0, 10), 1.0, 0, rgb ? 3 : 1,
                        (int) (rgb ? side3 : side1));
            }
        }
    }

    @Override
    public Architecture build(String name, Dims d) {
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        if (o.width() != 1.0) {
            throw new LadyException(LadyException.Kind.USAGE, name + " has fixed widths; the width multiplier is for VGG and ResNet");
        }
        GraphBuilder b = new GraphBuilder(name);
        long size = o.inputSize();
        String x = b.image("input", o.inputChannels(), size, true);
        switch (name) {
            case "lenet5" -> {
                long s = ((size - 4) / 2 - 4) / 2;
                if (s < 1) {
                    throw new LadyException(LadyException.Kind.USAGE, name + " needs inputs of at least 16 x 16, got " + size);
                }
                x = b.conv("conv1", x, d.out("conv1.weight", 6), 5, 1, 0, true);
                x = b.maxPool("pool1", b.act("relu1", b.batchNorm("bn1", x), Op.Activation.RELU), 2, 2, 0);
                x = b.conv("conv2", x, d.out("conv2.weight", 16), 5, 1, 0, true);
                x = b.maxPool("pool2", b.act("relu2", b.batchNorm("bn2", x), Op.Activation.RELU), 2, 2, 0);
                x = b.flatten("flatten", x, s * s);
                x = b.act("relu3", b.linear("fc1", x, d.out("fc1.weight", 120), true), Op.Activation.RELU);
                x = b.act("relu4", b.linear("fc2", x, d.out("fc2.weight", 84), true), Op.Activation.RELU);
                x = b.linear("fc3", x, d.outExact("fc3.weight", o.numClasses()), true);
            }
            case "toynet" -> {
                long s = size / 4;
                if (s < 1) {
                    throw new LadyException(LadyException.Kind.USAGE, name + " needs inputs of at least 4 x 4, got " + size);
                }
                x = b.conv("conv1", x, d.out("conv1.weight", 8), 3, 1, 1, true);
                x = b.maxPool("pool1", b.act("relu1", x, Op.Activation.RELU), 2, 2, 0);
                x = b.conv("conv2", x, d.out("conv2.weight", 16), 3, 1, 1, true);
                x = b.maxPool("pool2", b.act("relu2", x, Op.Activation.RELU), 2, 2, 0);
                x = b.flatten("flatten", x, s * s);
                x = b.act("relu3", b.linear("fc1", x, d.out("fc1.weight", 64), true), Op.Activation.RELU);
                x = b.linear("fc2", x, d.outExact("fc2.weight", o.numClasses()), true);
            }
            case "fc" -> {
                x = b.flatten("flatten", x, size * size);
                x = b.act("relu1", b.linear("fc1", x, d.out("fc1.weight", 512), true), Op.Activation.RELU);
                x = b.act("relu2", b.linear("fc2", x, d.out("fc2.weight", 256), true), Op.Activation.RELU);
                x = b.linear("fc3", x, d.outExact("fc3.weight", o.numClasses()), true);
            }
            default -> throw new LadyException(LadyException.Kind.USAGE, "unknown small net '" + name + "'");
        }
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }
}
