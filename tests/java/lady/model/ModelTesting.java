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
}
