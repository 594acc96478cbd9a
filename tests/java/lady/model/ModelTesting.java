package lady.model;

import java.util.Random;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import lady.torch.Torch;

/** Small helpers shared by the model tests (plain libtorch, seeded). */
final class ModelTesting {
    private ModelTesting() {}

    /** Width multiplier of the tests for VGG and ResNet (8, 16, 32, 64 channels): keeps them fast. */
    static final double WIDTH = 0.125;

    /** Narrow options so that every test stays fast: {@link #WIDTH} for VGG and ResNet. */
    /** The architectures the model tests run on: the paper's VGG16 and ResNet18 variants, one Bottleneck ResNet, the small nets. */
    static final java.util.List<String> ARCHS = java.util.List.of("vgg16", "vgg16_bn", "vgg16_cifar", "vgg16_bn_cifar",
            "resnet18", "resnet18_cifar", "resnet50_cifar", "lenet5", "toynet", "fc");

    static ModelOptions small(String arch) {
        ModelOptions o = ModelOptions.defaults();
        return arch.startsWith("vgg") || arch.startsWith("resnet") ? o.withWidth(WIDTH) : o;
    }

    private static int savedThreads;

    /**
     * One libtorch thread while the model tests run (restored by {@link #restoreThreads()}): on a
     * busy 2-core machine libtorch's spinning worker threads made these small forwards 10-20x slower.
     */
    static void singleThread() {
        Torch.init();
        savedThreads = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    static void restoreThreads() {
        torch.set_num_threads(savedThreads);
    }

    /** A seeded N x 3 x 32 x 32 normal batch. */
    static Tensor batch(int n, long seed) {
        Torch.init();
        torch.manual_seed(seed);
        return torch.randn(n, 3, 32, 32);
    }

    /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
    static long[] permutation(long n, Random random) {
        long[] p = new long[(int) n];
        for (int i = 0; i < p.length; i++) {
            p[i] = i;
        }
        for (int i = p.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** An int64 tensor holding {@code values}. */
    static Tensor longs(long[] values) {
        return torch.from_blob(new LongPointer(values), new long[] {values.length}, new TensorOptions(torch.ScalarType.Long)).clone();
    }

    /** Largest absolute difference of two tensors. */
    static double maxAbsDiff(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_float();
    }

    /** A model with random weights, its weights and a probe batch ({@link #everyGroupPermuted}). */
    record Probed(Model model, lady.checkpoint.StateDict state, Tensor ids) {}

    /**
     * A model of {@code mc} with random weights (normal, std 0.5, seed 3): permuting every group of its spec at random
     * (seed 5) keeps its outputs on a probe batch (within 1e-4) and moves at least 95 % of its tensors. Returns the
     * model, its weights and the batch, for a test's teeth (a wrong permutation must change the outputs).
     */
    static Probed everyGroupPermuted(ModelConfig mc) {
        Torch.init();
        Model model = mc.create();
        lady.checkpoint.StateDict state = model.stateDict();
        torch.manual_seed(3);
        for (String name : state.names()) {
            Tensor t = lady.torch.TorchTensors.view(state.get(name)); // written in place
            t.copy_(torch.randn(t.sizes().vec().get()).mul_(new org.bytedeco.pytorch.Scalar(0.5)));
        }
        model.load(state);
        Tensor ids = model.probe(2, 11);
        lady.permutation.PermutationSpec spec = mc.description().permutationSpec();
        java.util.Map<String, lady.permutation.Permutation> perms = lady.permutation.Permuter.random(spec,
                spec.groups().stream().map(lady.permutation.Group::name).toList(), 5);
        lady.checkpoint.StateDict permuted = lady.permutation.Permuter.apply(state, spec, perms, lady.kernels.Backend.CPU);
        double diff = PermutationCheck.verify(model, permuted, ids);
        org.junit.jupiter.api.Assertions.assertTrue(diff < 1e-4, "diff " + diff);
        long moved = state.names().stream().filter(n -> !state.get(n).sameContent(permuted.get(n))).count();
        org.junit.jupiter.api.Assertions.assertTrue(moved >= 0.95 * state.size(), moved + " of " + state.size()
                + " tensors moved");
        return new Probed(model, state, ids);
    }
}
