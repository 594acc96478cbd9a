package lady.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.permutation.SpecValidator;

/**
 * A typed description of a network: its layers in execution order, with torchvision module paths.
 * Everything else is derived from it: the libtorch module ({@link Network}), the state-dict names
 * and shapes in PyTorch's order ({@link #tensorShapes()}) and the permutation groups
 * ({@link #permutationSpec()}).
 *
 * @param name          architecture name, e.g. "vgg16_cifar"
 * @param inputChannels channels of the input images
 * @param inputSize     side of the (square) input images the description assumes; it fixes the
 *                      flatten sizes of nets without adaptive pooling (LeNet5, ToyNet, FC) and the
 *                      spatial block of a conv -> flatten -> linear consumer
 * @param layers        the layers, in execution order
 * @param init          how a new model's parameters are drawn
 */
public record Architecture(String name, long inputChannels, int inputSize, List<Layer> layers, Init init) {
    public Architecture {
        layers = List.copyOf(layers);
    }

    /** Initialization of a new model's parameters. */
    public enum Init {
        /** libtorch's (= PyTorch's) default per-layer initialization. */
        PYTORCH_DEFAULT,
        /**
         * torchvision's VGG: conv weights kaiming normal (fan_out, ReLU), conv biases 0, BN 1 / 0,
         * Linear weights normal(0, 0.01), Linear biases 0.
         */
        TORCHVISION_VGG,
        /**
         * The CIFAR head of VGG (512-512-K): conv weights kaiming normal (fan_out, ReLU), conv biases 0,
         * BN 1 / 0, Linear layers as PyTorch's default, as the common CIFAR VGG implementations do.
         * torchvision's normal(0, 0.01) for the Linear layers leaves a narrow head (width 0.25: 128
         * hidden units) with logits of std ~0.002 at start, and SGD at lr 0.01 stays on the 2.30
         * plateau for epochs (measured on the built-in digits, in Lady and in PyTorch alike).
         */
        CIFAR_VGG,
        /**
         * torchvision's ResNet: conv weights kaiming normal (fan_out, ReLU), BN 1 / 0, fc as
         * PyTorch's default.
         */
        TORCHVISION_RESNET
    }

    /**
     * Every parameter and buffer with its shape, in the order of PyTorch's {@code state_dict()}
     * (module registration order; per module its parameters, then its buffers).
     */
    public Map<String, long[]> tensorShapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (Layer layer : layers) {
            addShapes(layer, shapes);
        }
        return shapes;
    }

    private static void addShapes(Layer layer, Map<String, long[]> shapes) {
        if (layer instanceof Layer.Conv c) {
            shapes.put(c.name() + ".weight", new long[] {c.out(), c.in(), c.kernel(), c.kernel()});
            if (c.bias()) {
                shapes.put(c.name() + ".bias", new long[] {c.out()});
            }
        } else if (layer instanceof Layer.BatchNorm b) {
            for (String s : List.of(".weight", ".bias", ".running_mean", ".running_var")) {
                shapes.put(b.name() + s, new long[] {b.features()});
            }
            shapes.put(b.name() + ".num_batches_tracked", new long[0]);
        } else if (layer instanceof Layer.Linear l) {
            shapes.put(l.name() + ".weight", new long[] {l.out(), l.in()});
            if (l.bias()) {
                shapes.put(l.name() + ".bias", new long[] {l.out()});
            }
        } else if (layer instanceof Layer.BasicBlock b) {
            addShapes(b.conv1(), shapes);
            addShapes(b.bn1(), shapes);
            addShapes(b.conv2(), shapes);
            addShapes(b.bn2(), shapes);
            if (b.hasDownsample()) {
                addShapes(b.downsampleConv(), shapes);
                addShapes(b.downsampleNorm(), shapes);
            }
        }
    }

    /** Every convolution, in execution order (including those inside residual blocks). */
    public List<Layer.Conv> convolutions() {
        List<Layer.Conv> convs = new ArrayList<>();
        for (Layer layer : layers) {
            if (layer instanceof Layer.Conv c) {
                convs.add(c);
            } else if (layer instanceof Layer.BasicBlock b) {
                convs.add(b.conv1());
                convs.add(b.conv2());
                if (b.hasDownsample()) {
                    convs.add(b.downsampleConv());
                }
            }
        }
        return convs;
    }

    /**
     * A layer whose outputs are neurons (a Conv2d or Linear module, by its module path) and the batch
     * norm that normalizes its outputs, if any (null): the one right after it in a chain, bn1 / bn2 /
     * downsample.1 inside a residual block.
     */
    public record Producer(String name, Layer layer, Layer.BatchNorm norm) {}

    /** Every producer, in execution order (including those inside residual blocks and the classifier). */
    public List<Producer> producers() {
        List<Producer> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            Layer.BatchNorm norm = i + 1 < layers.size() && layers.get(i + 1) instanceof Layer.BatchNorm b ? b : null;
            if (layer instanceof Layer.Conv c) {
                out.add(new Producer(c.name(), c, norm));
            } else if (layer instanceof Layer.Linear l) {
                out.add(new Producer(l.name(), l, norm));
            } else if (layer instanceof Layer.BasicBlock b) {
                out.add(new Producer(b.conv1().name(), b.conv1(), b.bn1()));
                out.add(new Producer(b.conv2().name(), b.conv2(), b.bn2()));
                if (b.hasDownsample()) {
                    out.add(new Producer(b.downsampleConv().name(), b.downsampleConv(), b.downsampleNorm()));
                }
            }
        }
        return out;
    }

    /**
     * The producer named {@code name} exactly (a module path such as "features.28").
     *
     * @throws LadyException USAGE listing the producers of this architecture when there is none
     */
    public Producer producer(String name) {
        List<Producer> all = producers();
        for (Producer p : all) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        throw new LadyException(LadyException.Kind.USAGE, "'" + name + "' is not a Conv2d or Linear layer of "
                + this.name + "; its layers are: " + String.join(", ", all.stream().map(Producer::name).toList()));
    }

    /** Number of output logits (the last producer's outputs). */
    public long numClasses() {
        Layer last = lastProducer();
        return last instanceof Layer.Linear l ? l.out() : ((Layer.Conv) last).out();
    }

    private Layer lastProducer() {
        for (int i = layers.size() - 1; i >= 0; i--) {
            Layer l = layers.get(i);
            if (l instanceof Layer.Linear || l instanceof Layer.Conv) {
                return l;
            }
        }
        throw new LadyException(LadyException.Kind.INTERNAL, name + ": the description has no output layer");
    }

    /**
     * The permutation groups, derived by walking the layers while tracking which group owns the
     * channels of the current activation and its spatial size:
     * <ul>
     *   <li>a Conv / Linear reads the current group (CONSUMER_WEIGHT, axis 1, block = H*W after a
     *       flatten, else 1) and opens a new group named after itself (PRODUCER_WEIGHT, PRODUCER_BIAS);
     *       the last Conv / Linear is the classifier: its outputs are fixed;</li>
     *   <li>a BatchNorm joins the current group (NORM: weight, bias, running_mean, running_var);
     *       num_batches_tracked is always fixed;</li>
     *   <li>a BasicBlock: the group it reads is a residual stream, named {@code "stream." + stage}
     *       of the first block that reads it ({@code "stream.layer1"} is the stem conv1/bn1 output
     *       and every layer1 block's output); conv1 -> bn1 is its own group named
     *       {@code "<block>.conv1"} (e.g. "layer1.0.conv1"), conv2 reads it; conv2/bn2 write
     *       into the stream, or, with a downsample, into a new stream {@code "stream." + stage}
     *       ("stream.layer2") whose producers are the downsample conv (listed first: its input is
     *       the previous stream) and conv2, with both BNs as norms.</li>
     * </ul>
     * Groups come in topological order (creation order): every group's first producer reads only
     * earlier groups or the input. A residual stream is placed at its first producer (the stem conv
     * for "stream.layer1", the downsample conv for a new stage); its other producers (the blocks'
     * conv2) read the block groups that follow it: the residual cycle, which resync resolves in a
     * second pass (method.md section 4). {@code fixed} holds the first layer's
     * input axis, the classifier's output axis and bias, and every num_batches_tracked, in the
     * notation of {@link SpecValidator#fixedAxis(String, int)}. The spec is validated against
     * {@link #tensorShapes()} before it is returned.
     */
    public PermutationSpec permutationSpec() {
        PermutationSpec spec = new SpecWalker().walk();
        try {
            return SpecValidator.validate(spec, tensorShapes());
        } catch (LadyException e) {
            throw new LadyException(LadyException.Kind.INTERNAL, "bug: " + e.getMessage(), e);
        }
    }

    private final class SpecWalker {
        private final List<GroupBuilder> groups = new ArrayList<>();
        private final Set<String> fixed = new LinkedHashSet<>();
        private final Layer output = lastProducer();
        private GroupBuilder current; // null: the input (or the fixed outputs)
        private long spatial = inputSize;
        private long block = 1;

        PermutationSpec walk() {
            for (Layer layer : layers) {
                step(layer);
            }
            List<Group> built = new ArrayList<>();
            for (GroupBuilder g : groups) {
                built.add(new Group(g.name, g.size, g.members));
            }
            return new PermutationSpec(name, built, fixed);
        }

        private void step(Layer layer) {
            if (layer instanceof Layer.Conv c) {
                consume(c.name() + ".weight");
                spatial = (spatial + 2L * c.padding() - c.kernel()) / c.stride() + 1;
                current = produce(c.name(), c.out(), c.bias(), layer == output);
            } else if (layer instanceof Layer.Linear l) {
                consume(l.name() + ".weight");
                current = produce(l.name(), l.out(), l.bias(), layer == output);
            } else if (layer instanceof Layer.BatchNorm b) {
                norm(b, current);
            } else if (layer instanceof Layer.MaxPool p) {
                spatial = (spatial + 2L * p.padding() - p.kernel()) / p.stride() + 1;
            } else if (layer instanceof Layer.AdaptiveAvgPool a) {
                spatial = a.size();
            } else if (layer instanceof Layer.Flatten) {
                block = spatial * spatial;
                spatial = 1;
            } else if (layer instanceof Layer.BasicBlock b) {
                block(b);
            }
        }

        private void block(Layer.BasicBlock b) {
            GroupBuilder stream = current;
            if (stream == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, name + ": a residual block cannot read the input directly");
            }
            if (!stream.stream) {
                stream.stream = true;
                stream.name = "stream." + b.stage();
            }
            consume(b.conv1().name() + ".weight");
            current = produce(b.conv1().name(), b.out(), false, false);
            norm(b.bn1(), current);
            spatial = (spatial + 2 - 3) / b.stride() + 1;
            consume(b.conv2().name() + ".weight");
            GroupBuilder out = stream;
            if (b.hasDownsample()) {
                out = new GroupBuilder("stream." + b.stage(), b.out());
                out.stream = true;
                groups.add(out);
                String ds = b.downsampleConv().name() + ".weight";
                out.members.add(new Member(ds, 0, 1, Role.PRODUCER_WEIGHT));
                stream.members.add(new Member(ds, 1, 1, Role.CONSUMER_WEIGHT));
            }
            out.members.add(new Member(b.conv2().name() + ".weight", 0, 1, Role.PRODUCER_WEIGHT));
            norm(b.bn2(), out);
            if (b.hasDownsample()) {
                norm(b.downsampleNorm(), out);
            }
            current = out;
        }

        private void consume(String weight) {
            if (current == null) {
                fixed.add(SpecValidator.fixedAxis(weight, 1));
            } else {
                current.members.add(new Member(weight, 1, block, Role.CONSUMER_WEIGHT));
            }
            block = 1;
        }

        private GroupBuilder produce(String module, long size, boolean bias, boolean isOutput) {
            if (isOutput) {
                fixed.add(SpecValidator.fixedAxis(module + ".weight", 0));
                if (bias) {
                    fixed.add(module + ".bias");
                }
                return null;
            }
            GroupBuilder g = new GroupBuilder(module, size);
            g.members.add(new Member(module + ".weight", 0, 1, Role.PRODUCER_WEIGHT));
            if (bias) {
                g.members.add(new Member(module + ".bias", 0, 1, Role.PRODUCER_BIAS));
            }
            groups.add(g);
            return g;
        }

        private void norm(Layer.BatchNorm b, GroupBuilder g) {
            for (String s : List.of(".weight", ".bias", ".running_mean", ".running_var")) {
                if (g == null) {
                    fixed.add(b.name() + s);
                } else {
                    g.members.add(new Member(b.name() + s, 0, 1, Role.NORM));
                }
            }
            fixed.add(b.name() + ".num_batches_tracked");
        }
    }

    private static final class GroupBuilder {
        String name;
        final long size;
        final List<Member> members = new ArrayList<>();
        boolean stream;

        GroupBuilder(String name, long size) {
            this.name = name;
            this.size = size;
        }
    }
}
