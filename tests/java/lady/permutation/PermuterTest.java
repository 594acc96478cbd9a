package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.model.PermutationCheck;
import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Tolerances;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/**
 * Applying permutations to real architectures (narrow widths, small batches): the logits do not
 * change, inv(p) after p restores every tensor bit for bit, bias and BN running statistics ARE
 * permuted (the authors' bugs 2 and 3), and bad requests fail clearly.
 */
class PermuterTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    static ModelOptions narrow(String arch) {
        ModelOptions o = ModelOptions.defaults();
        if (arch.startsWith("vgg16")) {
            return o.withWidth(1.0 / 16).withHidden(24);
        }
        if (arch.startsWith("resnet18")) {
            return o.withWidth(1.0 / 16);
        }
        return o;
    }

    /**
     * A narrow model with He-scaled weights, random biases (so that logits are O(1) and a wrong permutation is far
     * above the tolerance, not lost in vanishing activations) and random BN parameters and running
     * statistics (not 1/0, which would hide the authors' bugs).
     */
    static Model model(String arch, long seed) {
        return lady.structure.StructuralTesting.model(arch, narrow(arch), seed);
    }

    static Tensor probe(String arch) {
        ModelOptions o = narrow(arch);
        return PermutationCheck.probe(2, o.inputChannels(), o.inputSize(), 42);
    }

    /** The tensor's bytes, for bit-for-bit comparisons of any dtype. */
    static byte[] values(HostTensor t) {
        byte[] out = new byte[(int) t.byteSize()];
        t.bytes(0, out.length).get(out);
        return out;
    }

    static float[] floats(HostTensor t) {
        return t.readFloats();
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_cifar", "vgg16", "vgg16_bn", "vgg16_bn_cifar", "resnet18_cifar", "resnet18", "lenet5",
            "toynet", "fc"})
    void logitsUnchangedAndInverseRestoresEveryBit(String arch) {
        Model model = model(arch, 1);
        PermutationSpec spec = model.permutationSpec();
        StateDict original = model.stateDict();
        Map<String, Permutation> perms = Permuter.random(spec, Permuter.select(spec, "all"), 7);
        StateDict permuted = Permuter.apply(original, spec, perms, Backend.CPU);

        boolean changed = false;
        for (String name : original.names()) {
            changed |= !java.util.Arrays.equals(values(original.get(name)), values(permuted.get(name)));
        }
        assertTrue(changed, arch + ": the permutation changed nothing");
        model.train(false);
        try (var guard = new org.bytedeco.pytorch.NoGradGuard()) {
            Tensor logits = model.forward(probe(arch));
            double spread = logits.get(0).sub(logits.get(1)).abs().max().item_double();
            assertTrue(spread > 10 * Tolerances.LOGITS_MAX_ABS_DIFF, arch + ": logits hardly depend on the input (" + spread
                    + "), the check would prove nothing");
        }
        double diff = PermutationCheck.verify(model, permuted, probe(arch));
        assertTrue(diff < Tolerances.LOGITS_MAX_ABS_DIFF, arch + ": " + diff);
        assertEquals(0.0, PermutationCheck.maxLogitDiff(model, original, probe(arch)), "the model was left as it was");

        Permuter.applyInPlace(permuted, spec, Permuter.inverse(spec, perms), Backend.CPU);
        for (String name : original.names()) {
            assertArrayEquals(values(original.get(name)), values(permuted.get(name)), arch + ": " + name + " not restored");
        }
    }

    @Test
    void torchvisionClassifierColumnsMoveInBlocksOf49() {
        Model model = model("vgg16", 2);
        PermutationSpec spec = model.permutationSpec();
        Group last = spec.group("features.28").orElseThrow();
        Member cls = last.members(Role.CONSUMER_WEIGHT).get(0);
        assertEquals("classifier.0.weight", cls.tensor());
        assertEquals(49, cls.block());
        StateDict s = model.stateDict();
        Permutation p = Permutation.random((int) last.size(), 3);
        StateDict out = Permuter.apply(s, spec, Map.of("features.28", p), Backend.CPU);
        Tensor before = TorchTensors.get(s, "classifier.0.weight"), after = TorchTensors.get(out, "classifier.0.weight");
        for (int j = 0; j < p.size(); j++) {
            for (int k : new int[] {0, 48}) {
                assertEquals(before.get(0).get(p.get(j) * 49L + k).item_float(), after.get(0).get(j * 49L + k).item_float());
            }
        }
    }

    @Test
    void biasAndBatchNormStatisticsArePermuted() {
        // the authors' bug 2 (bias left behind) and bug 3 (running_mean / running_var left behind)
        Model model = model("vgg16_bn", 4);
        PermutationSpec spec = model.permutationSpec();
        StateDict s = model.stateDict();
        Permutation p = Permutation.random((int) spec.group("features.0").orElseThrow().size(), 5);
        StateDict out = Permuter.apply(s, spec, Map.of("features.0", p), Backend.CPU);
        for (String name : List.of("features.0.bias", "features.1.weight", "features.1.bias", "features.1.running_mean",
                "features.1.running_var")) {
            float[] a = floats(s.get(name)), b = floats(out.get(name));
            for (int j = 0; j < a.length; j++) {
                assertEquals(a[p.get(j)], b[j], name + "[" + j + "] must be old [" + p.get(j) + "]");
            }
            assertFalse(java.util.Arrays.equals(a, b), name + " did not move");
        }
        assertArrayEquals(values(s.get("features.1.num_batches_tracked")), values(out.get("features.1.num_batches_tracked")));
        // the check catches either bug: leave one of them behind and the logits change
        Tensor probe = probe("vgg16_bn");
        for (String left : List.of("features.0.bias", "features.1.running_mean", "features.1.running_var")) {
            StateDict buggy = out.copy();
            buggy.get(left).copyFrom(s.get(left));
            assertTrue(PermutationCheck.maxLogitDiff(model, buggy, probe) > Tolerances.LOGITS_MAX_ABS_DIFF,
                    "leaving " + left + " unpermuted must change the logits");
            assertThrows(LadyException.class, () -> PermutationCheck.verify(model, buggy, probe));
        }
    }

    @Test
    void residualStreamIsOneGroup() {
        Model model = model("resnet18_cifar", 6);
        PermutationSpec spec = model.permutationSpec();
        Group stream = spec.groups().stream()
                .filter(g -> g.members().stream().anyMatch(m -> m.tensor().equals("conv1.weight")))
                .findFirst().orElseThrow();
        List<String> tensors = stream.members().stream().map(Member::tensor).toList();
        assertTrue(tensors.contains("layer1.0.conv2.weight") && tensors.contains("layer1.1.conv1.weight"), tensors.toString());
        StateDict out = Permuter.apply(model.stateDict(), spec,
                Map.of(stream.name(), Permutation.random((int) stream.size(), 9)), Backend.CPU);
        PermutationCheck.verify(model, out, probe("resnet18_cifar"));
    }

    @Test
    void unknownGroupAndWrongSizeFailClearly() {
        Model model = model("vgg16_cifar", 8);
        PermutationSpec spec = model.permutationSpec();
        LadyException unknown = assertThrows(LadyException.class, () -> Permuter.select(spec, "features.17,features.99"));
        assertEquals(LadyException.Kind.USAGE, unknown.kind());
        assertTrue(unknown.getMessage().contains("unknown group 'features.99'")
                && unknown.getMessage().contains("features.0, features.2"), unknown.getMessage());
        assertEquals(List.of("features.0", "features.17"), Permuter.select(spec, " features.17 ,features.0"));
        StateDict s = model.stateDict();
        LadyException size = assertThrows(LadyException.class,
                () -> Permuter.apply(s, spec, Map.of("features.17", Permutation.identity(3)), Backend.CPU));
        assertTrue(size.getMessage().contains("group 'features.17' has") && size.getMessage().contains("size 3"),
                size.getMessage());
        assertThrows(LadyException.class, () -> Permuter.apply(s, spec, Map.of("nope", Permutation.identity(3)), Backend.CPU));
    }

    @Test
    void randomPerGroupIsIndependentOfTheSelection() {
        PermutationSpec spec = model("vgg16_cifar", 10).permutationSpec();
        Map<String, Permutation> all = Permuter.random(spec, Permuter.select(spec, "all"), 7);
        Map<String, Permutation> one = Permuter.random(spec, List.of("features.17"), 7);
        assertEquals(all.get("features.17"), one.get("features.17"));
        assertEquals(Permuter.select(spec, "all"), List.copyOf(all.keySet()));
    }
}
