package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.permutation.SpecValidator;
import lady.tensor.HostTensor;
import lady.torch.TorchTensors;

class PermutationSpecTest {

    @BeforeAll
    static void oneThread() {
        ModelTesting.singleThread();
    }

    @AfterAll
    static void threadsBack() {
        ModelTesting.restoreThreads();
    }

    /** The paper's families and the small nets, plus one Bottleneck ResNet (the deeper ones are the same code). */
    static List<String> archs() {
        return ModelTesting.ARCHS;
    }

    @ParameterizedTest
    @MethodSource("archs")
    void specValidatesAgainstTheStateDict(String arch) {
        Model model = Models.create(arch, ModelTesting.small(arch));
        PermutationSpec spec = model.permutationSpec();
        assertEquals(arch, spec.architecture());
        SpecValidator.validate(spec, model.stateDict());
        for (Group g : spec.groups()) {
            assertEquals(Role.PRODUCER_WEIGHT, g.members().get(0).role(), g.name());
            assertTrue(!g.members(Role.CONSUMER_WEIGHT).isEmpty(), g.name() + " has no consumer");
        }
    }

    @Test
    void vggChainGroupsAreNamedAfterProducersWithFlattenBlocks() {
        PermutationSpec tv = Models.describe("vgg16", ModelTesting.small("vgg16")).permutationSpec();
        List<String> names = tv.groups().stream().map(Group::name).toList();
        assertEquals(List.of("features.0", "features.2", "features.5", "features.7", "features.10", "features.12",
                "features.14", "features.17", "features.19", "features.21", "features.24", "features.26", "features.28",
                "classifier.0", "classifier.3"), names);
        Member head = tv.group("features.28").orElseThrow().members(Role.CONSUMER_WEIGHT).get(0);
        assertEquals(new Member("classifier.0.weight", 1, 49, Role.CONSUMER_WEIGHT), head);
        assertEquals(Set.of("features.0.weight[1]", "classifier.6.weight[0]", "classifier.6.bias"), tv.fixed());

        PermutationSpec cifar = Models.describe("vgg16_cifar", ModelTesting.small("vgg16_cifar")).permutationSpec();
        assertEquals(names, cifar.groups().stream().map(Group::name).toList());
        assertEquals(1, cifar.group("features.28").orElseThrow().members(Role.CONSUMER_WEIGHT).get(0).block());

        PermutationSpec bn = Models.describe("vgg16_bn", ModelTesting.small("vgg16_bn")).permutationSpec();
        Group g = bn.group("features.3").orElseThrow();
        assertEquals(List.of("features.3.weight", "features.3.bias", "features.4.weight", "features.4.bias",
                "features.4.running_mean", "features.4.running_var", "features.7.weight"),
                g.members().stream().map(Member::tensor).toList());
        assertTrue(bn.fixed().contains("features.4.num_batches_tracked"));
    }

    @Test
    void resnetStreamsShareOneGroupAndBlockInternalsAreTheirOwn() {
        PermutationSpec spec = Models.describe("resnet18_cifar", ModelTesting.small("resnet18_cifar")).permutationSpec();
        assertEquals(List.of("stream.layer1", "layer1.0.conv1", "layer1.1.conv1", "layer2.0.conv1", "stream.layer2",
                "layer2.1.conv1", "layer3.0.conv1", "stream.layer3", "layer3.1.conv1", "layer4.0.conv1", "stream.layer4",
                "layer4.1.conv1"), spec.groups().stream().map(Group::name).toList());
        Group s1 = spec.group("stream.layer1").orElseThrow();
        assertEquals(List.of("conv1.weight", "layer1.0.conv2.weight", "layer1.1.conv2.weight"),
                tensors(s1, Role.PRODUCER_WEIGHT));
        assertEquals(List.of("layer1.0.conv1.weight", "layer1.1.conv1.weight", "layer2.0.conv1.weight",
                "layer2.0.downsample.0.weight"), tensors(s1, Role.CONSUMER_WEIGHT));
        Group s2 = spec.group("stream.layer2").orElseThrow();
        assertEquals(List.of("layer2.0.downsample.0.weight", "layer2.0.conv2.weight", "layer2.1.conv2.weight"),
                tensors(s2, Role.PRODUCER_WEIGHT));
        assertTrue(tensors(s2, Role.RUNNING_VAR).contains("layer2.0.downsample.1.running_var"));
        Group s4 = spec.group("stream.layer4").orElseThrow();
        assertEquals(List.of("layer4.1.conv1.weight", "fc.weight"), tensors(s4, Role.CONSUMER_WEIGHT));
        Group inner = spec.group("layer3.0.conv1").orElseThrow();
        assertEquals(List.of("layer3.0.conv1.weight"), tensors(inner, Role.PRODUCER_WEIGHT));
        assertEquals(List.of("layer3.0.conv2.weight"), tensors(inner, Role.CONSUMER_WEIGHT));
        assertTrue(spec.fixed().containsAll(Set.of("conv1.weight[1]", "fc.weight[0]", "fc.bias", "bn1.num_batches_tracked")));
    }

    private static List<String> tensors(Group g, Role role) {
        return g.members(role).stream().map(Member::tensor).toList();
    }

    @Test
    void validatorReportsEveryProblem() {
        Model model = Models.create("toynet");
        StateDict state = model.stateDict();
        PermutationSpec good = model.permutationSpec();
        List<Group> groups = new ArrayList<>(good.groups());
        Group conv1 = groups.get(0);
        List<Member> members = new ArrayList<>(conv1.members());
        members.add(new Member("conv9.weight", 0, 1, Role.PRODUCER_WEIGHT));
        groups.set(0, new Group(conv1.name(), conv1.size() + 1, members));
        groups.remove(1); // conv2: its tensors are now uncovered
        Set<String> fixed = Stream.concat(good.fixed().stream(), Stream.of("nothing.bias")).collect(Collectors.toSet());
        LadyException e = assertThrows(LadyException.class,
                () -> SpecValidator.validate(new PermutationSpec("toynet", groups, fixed), state));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        String m = e.getMessage();
        assertTrue(m.contains("no tensor named 'conv9.weight'"), m);
        assertTrue(m.contains("'conv1.weight' axis 0 has 8 entries, expected N * block = 9 * 1"), m);
        assertTrue(m.contains("conv2.weight[0] is neither in a group nor fixed"), m);
        assertTrue(m.contains("fc1.weight[1] is neither in a group nor fixed"), m);
        assertTrue(m.contains("fixed entry 'nothing.bias'"), m);
    }

    /**
     * Permutes every group with a random permutation (plain index_select: producer rows, norms,
     * consumer columns, blocks of H*W columns after a flatten) and checks the logits do not move.
     */
    @ParameterizedTest
    @MethodSource("archs")
    void permutingEveryGroupKeepsTheLogits(String arch) {
        Model model = Models.create(arch, ModelTesting.small(arch));
        StateDict state = randomized(model);
        model.load(state);
        model.train(false);
        Tensor x = ModelTesting.batch(2, 11);
        Tensor before = model.forward(x);

        Random random = new Random(42);
        PermutationSpec spec = model.permutationSpec();
        StateDict permuted = state.copy();
        for (Group g : spec.groups()) {
            long[] p = ModelTesting.permutation(g.size(), random);
            for (Member m : g.members()) {
                Tensor index = ModelTesting.longs(expand(p, m.block()));
                TorchTensors.put(permuted, m.tensor(), torch.index_select(TorchTensors.get(permuted, m.tensor()), m.axis(), index).contiguous());
            }
        }
        model.load(permuted);
        Tensor after = model.forward(x);
        double diff = ModelTesting.maxAbsDiff(before, after);
        double scale = before.abs().max().item_float();
        assertTrue(scale > 0.1, arch + ": logits too small for a meaningful check: " + scale);
        assertTrue(diff < 1e-4 * Math.max(1, scale), arch + ": permuted logits differ by " + diff + " (logits up to " + scale + ")");

        // the test has teeth: moving only one producer's rows changes the function
        Group first = spec.groups().get(0);
        StateDict half = state.copy();
        String producer = first.members(Role.PRODUCER_WEIGHT).get(0).tensor();
        long[] p = ModelTesting.permutation(first.size(), new Random(7));
        TorchTensors.put(half, producer, torch.index_select(TorchTensors.get(half, producer), 0, ModelTesting.longs(p)).contiguous());
        model.load(half);
        assertTrue(ModelTesting.maxAbsDiff(before, model.forward(x)) > 1e-2, arch + ": a partial permutation went unnoticed");
    }

    /** Neuron j of a block-b member owns indices j*b .. j*b + b - 1. */
    private static long[] expand(long[] p, long block) {
        long[] index = new long[(int) (p.length * block)];
        for (int j = 0; j < p.length; j++) {
            for (int k = 0; k < block; k++) {
                index[(int) (j * block + k)] = p[j] * block + k;
            }
        }
        return index;
    }

    /**
     * The model's state with every tensor redrawn so that each neuron is distinct and the logits
     * are of order 1: weights normal with std sqrt(2 / fan_in) (He), biases normal(0, 0.1), BN
     * vectors uniform in [0.75, 1.25) (positive, so also valid running variances).
     */
    private static StateDict randomized(Model model) {
        StateDict state = model.stateDict();
        Set<String> norms = model.permutationSpec().groups().stream()
                .flatMap(g -> g.members(Role.NORM_WEIGHT, Role.NORM_BIAS, Role.RUNNING_MEAN, Role.RUNNING_VAR).stream()).map(Member::tensor).collect(Collectors.toSet());
        torch.manual_seed(5);
        for (String name : state.names()) {
            HostTensor t = state.get(name);
            long[] shape = t.shape();
            if (norms.contains(name)) {
                TorchTensors.put(state, name, torch.rand(shape).mul(new Scalar(0.5)).add(new Scalar(0.75)));
            } else if (shape.length >= 2) {
                long fanIn = t.numel() / shape[0];
                TorchTensors.put(state, name, torch.randn(shape).mul(new Scalar(Math.sqrt(2.0 / fanIn))));
            } else if (shape.length == 1) {
                TorchTensors.put(state, name, torch.randn(shape).mul(new Scalar(0.1)));
            }
        }
        return state;
    }
}
