package lady.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.permutation.PermutationSpec;
import lady.torch.Torch;

/**
 * A {@link Model} built from an {@link Architecture}: one libtorch module tree whose parameter and
 * buffer names are the description's torchvision paths. Containers ("features", "layer1",
 * "layer1.0", "layer1.0.downsample") are plain modules; Conv2d, BatchNorm2d and Linear are
 * libtorch's; stateless layers run functionally in {@link #forward(Tensor)}. Every module is kept
 * strongly referenced here (stack notes, pitfall 2).
 */
final class Network implements Model {
    private final Architecture arch;
    private final Module root;
    private final Map<String, Module> containers = new HashMap<>();
    private final Map<String, Conv2dImpl> convs = new LinkedHashMap<>();
    private final Map<String, BatchNorm2dImpl> norms = new LinkedHashMap<>();
    private final Map<String, LinearImpl> linears = new LinkedHashMap<>();
    private final List<Object> keepAlive = new ArrayList<>();
    private final Map<String, long[]> shapes;
    /** Every Conv2d / Linear with its batch norm, by module path (Architecture#producers). */
    private final Map<String, Architecture.Producer> producers = new LinkedHashMap<>();
    private final boolean fixedInputSize;
    private PermutationSpec spec;

    Network(Architecture arch) {
        Torch.init();
        this.arch = arch;
        this.root = new Module(arch.name());
        this.shapes = arch.tensorShapes();
        boolean adaptive = false;
        for (Layer layer : arch.layers()) {
            build(layer);
            adaptive |= layer instanceof Layer.AdaptiveAvgPool;
        }
        this.fixedInputSize = !adaptive;
        arch.producers().forEach(p -> producers.put(p.name(), p));
        initialize();
    }

    /** Applies the description's initialization (libtorch's defaults are already in place). */
    @SuppressWarnings("try")
    private void initialize() {
        if (arch.init() == Architecture.Init.PYTORCH_DEFAULT) {
            return;
        }
        try (NoGradGuard guard = new NoGradGuard()) {
            for (Conv2dImpl conv : convs.values()) {
                long[] s = conv.weight().sizes().vec().get();
                double fanOut = (double) s[0] * s[2] * s[3];
                conv.weight().normal_().mul_(new Scalar(Math.sqrt(2.0 / fanOut)));
                if (conv.options().bias().get()) {
                    conv.bias().zero_();
                }
            }
            if (arch.init() == Architecture.Init.TORCHVISION_VGG) {
                for (LinearImpl linear : linears.values()) {
                    linear.weight().normal_().mul_(new Scalar(0.01));
                    if (linear.options().bias().get()) {
                        linear.bias().zero_();
                    }
                }
            }
        }
    }

    private void build(Layer layer) {
        if (layer instanceof Layer.Conv c) {
            Conv2dOptions o = new Conv2dOptions(c.in(), c.out(), new LongPointer(c.kernel(), c.kernel()));
            o.stride().put(new long[] {c.stride(), c.stride()});
            o.padding().put(new LongPointer(c.padding(), c.padding()));
            o.bias().put(c.bias());
            Conv2dImpl m = new Conv2dImpl(o);
            keepAlive.add(o);
            convs.put(c.name(), register(c.name(), m));
        } else if (layer instanceof Layer.BatchNorm b) {
            BatchNormOptions o = new BatchNormOptions(b.features());
            keepAlive.add(o);
            norms.put(b.name(), register(b.name(), new BatchNorm2dImpl(o)));
        } else if (layer instanceof Layer.Linear l) {
            LinearOptions o = new LinearOptions(l.in(), l.out());
            o.bias().put(l.bias());
            keepAlive.add(o);
            linears.put(l.name(), register(l.name(), new LinearImpl(o)));
        } else if (layer instanceof Layer.BasicBlock b) {
            build(b.conv1());
            build(b.bn1());
            build(b.conv2());
            build(b.bn2());
            if (b.hasDownsample()) {
                build(b.downsampleConv());
                build(b.downsampleNorm());
            }
        }
    }

    /** Registers {@code m} under its dotted path, creating the container modules on the way. */
    private <M extends Module> M register(String path, M m) {
        int dot = path.lastIndexOf('.');
        Module parent = dot < 0 ? root : container(path.substring(0, dot));
        parent.register_module(path.substring(dot + 1), m);
        keepAlive.add(m);
        return m;
    }

    private Module container(String path) {
        Module c = containers.get(path);
        if (c == null) {
            c = register(path, new Module());
            containers.put(path, c);
        }
        return c;
    }

    @Override
    public String architecture() {
        return arch.name();
    }

    /** The typed description this model was built from. */
    Architecture description() {
        return arch;
    }

    @Override
    public Module module() {
        return root;
    }

    @Override
    public Tensor forward(Tensor input) {
        checkInput(input);
        return run(input, null);
    }

    @Override
    public Tensor forwardTo(Tensor input, String module) {
        return capture(input, List.of(module), Stage.PRE_ACTIVATION).get(module);
    }

    @Override
    public Map<String, Tensor> capture(Tensor input, List<String> layers, Stage stage) {
        for (String name : layers) {
            arch.producer(name); // refuses an unknown name, listing the known ones
        }
        checkInput(input);
        Tap tap = new Tap(layers, stage);
        run(input, tap);
        Map<String, Tensor> out = new LinkedHashMap<>();
        layers.forEach(name -> out.put(name, tap.found.get(name)));
        return out;
    }

    @Override
    public Tensor runLayer(String layer, Tensor layerInput, Stage stage) {
        if (stage == Stage.INPUT) {
            throw new LadyException(LadyException.Kind.USAGE, "runLayer computes a layer's output: ask for "
                    + Stage.PRE_ACTIVATION + " or " + Stage.POST_ACTIVATION + ", not " + stage);
        }
        Tensor pre = produce(producers.get(arch.producer(layer).name()), layerInput, null);
        return stage == Stage.POST_ACTIVATION ? torch.relu(pre) : pre;
    }

    /** The producers to capture, at which stage, and what was captured. */
    private static final class Tap {
        final Set<String> wanted;
        final Stage stage;
        final Map<String, Tensor> found = new HashMap<>();

        Tap(List<String> layers, Stage stage) {
            this.wanted = Set.copyOf(layers);
            this.stage = stage;
        }

        void record(String layer, Tensor input, Tensor pre) {
            if (wanted.contains(layer)) {
                found.put(layer, switch (stage) {
                    case INPUT -> input;
                    case PRE_ACTIVATION -> pre;
                    case POST_ACTIVATION -> torch.relu(pre);
                });
            }
        }

        boolean done() {
            return found.size() == wanted.size();
        }
    }

    /** The layers on {@code input}, in order; with a tap, stops as soon as every wanted layer was seen. */
    private Tensor run(Tensor input, Tap tap) {
        Tensor x = input;
        List<Layer> layers = arch.layers();
        for (int i = 0; i < layers.size() && (tap == null || !tap.done()); i++) {
            Layer layer = layers.get(i);
            Architecture.Producer p = layer instanceof Layer.Conv c ? producers.get(c.name())
                    : layer instanceof Layer.Linear l ? producers.get(l.name()) : null;
            if (p != null) {
                x = produce(p, x, tap);
                if (p.norm() != null) {
                    i++; // the norm is the next layer: produce() ran it
                }
            } else if (layer instanceof Layer.BasicBlock b) {
                x = block(b, x, tap);
            } else {
                x = apply(layer, x);
            }
        }
        return x;
    }

    /** A producer and its norm on {@code x}; the tap (if any) sees the input and the pre-activation output. */
    private Tensor produce(Architecture.Producer p, Tensor x, Tap tap) {
        Tensor y = apply(p.layer(), x);
        if (p.norm() != null) {
            y = apply(p.norm(), y);
        }
        if (tap != null) {
            tap.record(p.name(), x, y);
        }
        return y;
    }

    /** A BasicBlock: relu(bn1(conv1 x)) -> bn2(conv2 .), plus the identity or the downsample branch, ReLU. */
    private Tensor block(Layer.BasicBlock b, Tensor x, Tap tap) {
        Tensor out = torch.relu(produce(producers.get(b.conv1().name()), x, tap));
        out = produce(producers.get(b.conv2().name()), out, tap);
        Tensor identity = b.hasDownsample() ? produce(producers.get(b.downsampleConv().name()), x, tap) : x;
        return torch.relu(out.add(identity));
    }

    private void checkInput(Tensor input) {
        long[] s = input.sizes().vec().get();
        if (s.length != 4 || s[1] != arch.inputChannels()
                || (fixedInputSize && (s[2] != arch.inputSize() || s[3] != arch.inputSize()))) {
            String expected = "N x " + arch.inputChannels() + " x "
                    + (fixedInputSize ? arch.inputSize() + " x " + arch.inputSize() : "H x W");
            throw LadyException.invalidInput(arch.name() + " expects input of shape " + expected
                    + ", got " + java.util.Arrays.toString(s));
        }
    }

    private Tensor apply(Layer layer, Tensor x) {
        if (layer instanceof Layer.Conv c) {
            return convs.get(c.name()).forward(x);
        } else if (layer instanceof Layer.BatchNorm b) {
            return norms.get(b.name()).forward(x);
        } else if (layer instanceof Layer.Linear l) {
            return linears.get(l.name()).forward(x);
        } else if (layer instanceof Layer.Relu) {
            return torch.relu(x);
        } else if (layer instanceof Layer.MaxPool p) {
            return torch.max_pool2d(x, new long[] {p.kernel(), p.kernel()}, new long[] {p.stride(), p.stride()},
                    new long[] {p.padding(), p.padding()}, new long[] {1, 1}, false);
        } else if (layer instanceof Layer.AdaptiveAvgPool a) {
            return torch.adaptive_avg_pool2d(x, a.size(), a.size());
        } else if (layer instanceof Layer.Flatten) {
            return torch.flatten(x, 1, -1);
        } else if (layer instanceof Layer.Dropout d) {
            return torch.dropout(x, d.p(), root.is_training());
        } else if (layer instanceof Layer.BasicBlock b) {
            return block(b, x, null);
        }
        throw new LadyException(LadyException.Kind.INTERNAL, "unknown layer " + layer);
    }

    @Override
    public void train(boolean on) {
        root.train(on);
    }

    /** The live parameters and buffers by name (no copies). */
    private Map<String, Tensor> live() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        StringTensorDict params = root.named_parameters(true);
        StringTensorDict buffers = root.named_buffers(true);
        for (String name : shapes.keySet()) {
            // get() returns a reference INTO the dictionary: copy the handle (shares the storage,
            // owns its own refcount) so it stays valid after the dictionaries are freed by the GC
            Tensor t = params.contains(name) ? new Tensor(params.get(name))
                    : buffers.contains(name) ? new Tensor(buffers.get(name)) : null;
            if (t == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, arch.name() + ": module has no tensor '" + name + "'");
            }
            all.put(name, t);
        }
        java.lang.ref.Reference.reachabilityFence(params);
        java.lang.ref.Reference.reachabilityFence(buffers);
        return all;
    }

    @Override
    @SuppressWarnings("try")
    public StateDict stateDict() {
        StateDict state = new StateDict();
        try (NoGradGuard guard = new NoGradGuard()) {
            live().forEach((name, t) -> state.put(name, t.detach().clone().contiguous()));
        }
        return state;
    }

    @Override
    @SuppressWarnings("try")
    public void load(StateDict state) {
        Models.checkCompatible(arch, state);
        Map<String, Tensor> live = live();
        try (NoGradGuard guard = new NoGradGuard()) {
            live.forEach((name, t) -> t.copy_(state.get(name)));
        }
    }

    @Override
    public PermutationSpec permutationSpec() {
        if (spec == null) {
            spec = arch.permutationSpec();
        }
        return spec;
    }

    @Override
    public String toString() {
        return arch.name() + " (" + shapes.size() + " tensors)";
    }
}
