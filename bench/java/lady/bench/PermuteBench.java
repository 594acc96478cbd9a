package lady.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
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

import lady.permutation.Permutation;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.kernels.PermuteTarget;
import lady.kernels.TensorPermutation;
import lady.torch.Torch;
import lady.torch.TorchTargets;

/**
 * Permuting every hidden neuron of torchvision VGG16 (138 M parameters, 553 MB of float32; 15
 * groups: 13 conv layers, classifier.0 whose columns move in blocks of 49, classifier.3), in the
 * same JVM, with the same random permutations:
 * <ul>
 * <li>{@code kernelsPerGroup}: Lady's batched kernel ({@link Kernels#permute}, CPU backend), one
 * call per group (producer rows, bias, consumer columns): each weight is moved twice, once per
 * permuted axis, like the index_select version;</li>
 * <li>{@code kernelsWholeNetwork}: Lady's whole-network kernel ({@link Kernels#permuteTensors}, CPU
 * backend), one call, both axes of a weight in one pass;</li>
 * <li>{@code torchIndexSelect}: libtorch {@code index_select} along the permuted axis plus
 * {@code copy_} back into the tensor, per (tensor, axis), what one writes without our kernels;</li>
 * <li>{@code torchClone}: a plain libtorch {@code clone()} of every tensor once: the memory-copy
 * baseline (reads and writes every byte once, the least any permutation can do, plus allocation);</li>
 * <li>{@code torchCopyInto}: {@code copy_} of every tensor into a preallocated one: memcpy without
 * allocation.</li>
 * </ul>
 * Threads: libtorch and the kernels both use all cores ({@link Torch#threads()}).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class PermuteBench {

    /** Which network: torchvision VGG16 (ImageNet head, 4096 x 25088 classifier.0). */
    @Param({"vgg16"})
    public String network;

    /** One member of a permutation group: a tensor and the axis along which it moves. */
    record Member(String tensor, int axis, long block) {}

    /** A permutation group: n neurons and every (tensor, axis) that moves with them. */
    record Group(String name, int n, List<Member> members) {}

    final List<String> names = new ArrayList<>();
    final List<Tensor> tensors = new ArrayList<>();
    final List<Tensor> copies = new ArrayList<>();
    final List<Group> groups = new ArrayList<>();
    final List<long[]> perms = new ArrayList<>();
    final List<Tensor> indexTensors = new ArrayList<>();
    final List<List<PermuteTarget>> groupTargets = new ArrayList<>();
    List<TensorPermutation> wholeNetwork;

    Tensor tensor(String name) {
        return tensors.get(names.indexOf(name));
    }

    void add(String name, long... shape) {
        names.add(name);
        tensors.add(torch.randn(shape));
    }

    @Setup(Level.Trial)
    public void setUp() {
        Torch.init();
        Kernels.ensureLoaded();
        if (!network.equals("vgg16")) {
            throw new IllegalArgumentException("unknown network " + network);
        }
        int[] widths = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
        int[] index = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
        long in = 3;
        for (int i = 0; i < widths.length; i++) {
            add("features." + index[i] + ".weight", widths[i], in, 3, 3);
            add("features." + index[i] + ".bias", widths[i]);
            in = widths[i];
        }
        add("classifier.0.weight", 4096, 25088);
        add("classifier.0.bias", 4096);
        add("classifier.3.weight", 4096, 4096);
        add("classifier.3.bias", 4096);
        add("classifier.6.weight", 1000, 4096);
        add("classifier.6.bias", 1000);
        for (int i = 0; i < widths.length; i++) {
            String p = "features." + index[i];
            String next = i + 1 < widths.length ? "features." + index[i + 1] + ".weight" : "classifier.0.weight";
            groups.add(new Group(p, widths[i], List.of(new Member(p + ".weight", 0, 1), new Member(p + ".bias", 0, 1),
                    new Member(next, 1, i + 1 < widths.length ? 1 : 49))));
        }
        groups.add(new Group("classifier.0", 4096, List.of(new Member("classifier.0.weight", 0, 1),
                new Member("classifier.0.bias", 0, 1), new Member("classifier.3.weight", 1, 1))));
        groups.add(new Group("classifier.3", 4096, List.of(new Member("classifier.3.weight", 0, 1),
                new Member("classifier.3.bias", 0, 1), new Member("classifier.6.weight", 1, 1))));

        SplittableRandom rnd = new SplittableRandom(42);
        long[][] p0 = new long[tensors.size()][];
        long[][] p1 = new long[tensors.size()][];
        long[] block1 = new long[tensors.size()];
        java.util.Arrays.fill(block1, 1);
        for (Group g : groups) {
            long[] p = Permutation.random(g.n(), rnd.nextLong()).longIndices();
            perms.add(p);
            indexTensors.add(torch.from_blob(new LongPointer(p), new long[] {p.length},
                    new TensorOptions(torch.ScalarType.Long)).clone());
            List<PermuteTarget> targets = new ArrayList<>();
            for (Member m : g.members()) {
                targets.add(TorchTargets.permuteTarget(m.tensor(), tensor(m.tensor()), m.axis(), m.block(), g.n()));
                int t = names.indexOf(m.tensor());
                if (m.axis() == 0) {
                    p0[t] = p;
                } else {
                    p1[t] = p;
                    block1[t] = m.block();
                }
            }
            groupTargets.add(targets);
        }
        wholeNetwork = new ArrayList<>();
        for (int t = 0; t < tensors.size(); t++) {
            wholeNetwork.add(TorchTargets.tensorPermutation(names.get(t), tensors.get(t), p0[t], p1[t], block1[t]));
            copies.add(torch.empty_like(tensors.get(t)));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : tensors) {
            t.close();
        }
        for (Tensor t : copies) {
            t.close();
        }
        for (Tensor t : indexTensors) {
            t.close();
        }
    }

    @Benchmark
    public void kernelsPerGroup() {
        for (int g = 0; g < groups.size(); g++) {
            Kernels.permute(Backend.CPU, perms.get(g), groupTargets.get(g));
        }
    }

    @Benchmark
    public void kernelsWholeNetwork() {
        Kernels.permuteTensors(Backend.CPU, wholeNetwork);
    }

    @Benchmark
    public void torchIndexSelect() {
        for (int g = 0; g < groups.size(); g++) {
            Group group = groups.get(g);
            Tensor index = indexTensors.get(g);
            for (Member m : group.members()) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor t = tensor(m.tensor());
                    // blocks: view [rows, n, block] so that one index moves a neuron's whole block
                    Tensor v = m.block() > 1 ? t.view(t.size(0), group.n(), m.block()) : t;
                    Tensor moved = v.index_select(m.axis(), index);
                    v.copy_(moved);
                }
            }
        }
    }

    @Benchmark
    public void torchClone() {
        for (Tensor t : tensors) {
            try (PointerScope scope = new PointerScope()) {
                t.clone();
            }
        }
    }

    @Benchmark
    public void torchCopyInto() {
        for (int t = 0; t < tensors.size(); t++) {
            copies.get(t).copy_(tensors.get(t));
        }
    }
}
