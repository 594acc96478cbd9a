package lady.bench;

import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.torch.Torch;

/**
 * Cosine similarity of two n x d float32 matrices (the resync similarity of a layer: n neurons,
 * d weights per neuron), in the same JVM on the same data:
 * <ul>
 * <li>{@code kernelsCpu}: Lady's {@link Kernels#cosineSimilarity} (CPU backend), zero copy on the
 * tensors' memory, normalization included;</li>
 * <li>{@code torchNormalizeMm}: libtorch {@code mm(normalize(a), normalize(b).t())}, what one writes
 * without our kernels;</li>
 * <li>{@code torchMmOnly}: libtorch {@code mm} of rows normalized beforehand: libtorch's matrix
 * product alone, the FLOP/s reference (2 n n d flops per call).</li>
 * </ul>
 * Sizes: {@code n x d}: 512x4608 (VGG16 features.28 / ResNet18 layer4 conv), 4096x4096 (VGG16
 * classifier.3); pass {@code -p size=4096x25088} for classifier.0 (0.84 TFLOP per call).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class SimilarityBench {

    @Param({"512x4608", "4096x4096"})
    public String size;

    long n;
    long d;
    Tensor a;
    Tensor b;
    Tensor ua;
    Tensor ubT;
    Tensor out;

    @Setup(Level.Trial)
    public void setUp() {
        Torch.init();
        Kernels.ensureLoaded();
        String[] parts = size.split("x");
        n = Long.parseLong(parts[0]);
        d = Long.parseLong(parts[1]);
        torch.manual_seed(7);
        a = torch.randn(n, d);
        b = torch.randn(n, d);
        ua = torch.normalize(a);
        ubT = torch.normalize(b).t().contiguous();
        out = torch.empty(n, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {a, b, ua, ubT, out}) {
            t.close();
        }
    }

    @Benchmark
    public void kernelsCpu() {
        Kernels.cosineSimilarity(Backend.CPU, a.data_ptr().address(), b.data_ptr().address(), n, n, d, false,
                out.data_ptr().address());
    }

    @Benchmark
    public void torchNormalizeMm() {
        try (PointerScope scope = new PointerScope()) {
            out.copy_(torch.mm(torch.normalize(a), torch.normalize(b).t()));
        }
    }

    @Benchmark
    public void torchMmOnly() {
        try (PointerScope scope = new PointerScope()) {
            out.copy_(torch.mm(ua, ubT));
        }
    }
}
