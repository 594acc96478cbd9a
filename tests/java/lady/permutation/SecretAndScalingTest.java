package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.model.PermutationCheck;
import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.Model;
import lady.structure.NetworkView;
import lady.structure.NeuronScaling;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** The secret file (round trip, clear errors) and the function-preserving scaling attack. */
class SecretAndScalingTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void secretRoundTrip(@TempDir Path dir) throws Exception {
        Map<String, Permutation> perms = new java.util.LinkedHashMap<>();
        perms.put("features.0", Permutation.random(8, 1));
        perms.put("features.2", Permutation.random(5, 2));
        Secret s = new Secret("0.1.0", "vgg16_cifar", 7L, perms, Map.of("features.0", new double[] {1, 2, 0.5, 1, 1, 1, 1, 1.25}));
        Path f = dir.resolve("secret.json");
        s.write(f);
        Secret r = Secret.read(f);
        assertEquals("vgg16_cifar", r.architecture());
        assertEquals(7L, r.seed());
        assertEquals(perms, r.permutations());
        assertEquals(java.util.List.copyOf(perms.keySet()), java.util.List.copyOf(r.permutations().keySet()));
        assertArrayEquals(s.scales().get("features.0"), r.scales().get("features.0"));
        assertEquals(perms.get("features.2").inverse(), r.inverses(new PermutationSpec("vgg16_cifar", java.util.List.of(), java.util.Set.of())).get("features.2"));
        String text = Files.readString(f);
        assertTrue(text.contains("\"format_version\":1") && text.contains("\"tool_version\":\"0.1.0\""), text);

        Files.writeString(f, "{\"format\":\"lady-secret\",\"format_version\":1,\"permutations\":{\"g\":[0,0]}}");
        LadyException bad = assertThrows(LadyException.class, () -> Secret.read(f));
        assertTrue(bad.getMessage().contains("group 'g'") && bad.getMessage().contains("appears twice"), bad.getMessage());
        Files.writeString(f, "{\"weights\": []}");
        assertThrows(LadyException.class, () -> Secret.read(f));
        LadyException missing = assertThrows(LadyException.class, () -> Secret.read(dir.resolve("none.json")));
        assertEquals(LadyException.Kind.IO, missing.kind());
    }

    @Test
    void structuralSecretRoundTrip(@TempDir Path dir) throws Exception {
        Lineage l = Lineage.identity(4).appended(new int[] {-1, -1}, Lineage.Kind.DUMMY)
                .appended(new int[] {2}, Lineage.Kind.SPLIT).scaled(new double[] {2, 1, 0.5, 1, 1, 1, 3})
                .permuted(Permutation.of(6, 5, 4, 3, 2, 1, 0));
        assertEquals(7, l.size());
        assertArrayEquals(new int[] {2, -1, -1, 3, 2, 1, 0}, l.origin());
        assertEquals(3, l.factor()[0], 1e-15, "the split copy (of neuron 2, factor 1 then) scaled by 3");
        assertEquals(0.5, l.factor()[4], 1e-15, "neuron 2 itself scaled by 0.5");
        assertEquals(Lineage.Kind.SPLIT, l.kind()[0]);
        Secret s = new Secret("0.1.0", "vgg16_cifar", 3L, Map.of(), Map.of(), Map.of("features.0", l));
        Path f = dir.resolve("s.json");
        s.write(f);
        Secret r = Secret.read(f);
        assertEquals(l, r.structure().get("features.0"));
        assertTrue(r.permutations().isEmpty());
        Files.writeString(f, Files.readString(f).replace("\"dummy\"", "\"ghost\""));
        LadyException e = assertThrows(LadyException.class, () -> Secret.read(f));
        assertTrue(e.getMessage().contains("original, split or dummy"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_cifar", "vgg16", "vgg16_bn_cifar", "resnet18_cifar", "lenet5", "fc"})
    void scalingThenPermutingKeepsTheFunctionAndScalesTheRows(String arch) {
        Model model = PermuterTest.model(arch, 11);
        PermutationSpec spec = model.permutationSpec();
        StateDict original = model.stateDict();
        var groups = Permuter.select(spec, "all");
        Map<String, double[]> scales = NeuronScaling.random(spec, groups, 0.5, 2.0, 3);
        StateDict attacked = original.copy();
        NeuronScaling.apply(attacked, NetworkView.of(original, arch), scales);
        // the producer row of neuron i of the first group (whose inputs are not scaled) is a_i times the original row
        Group g = spec.groups().get(0);
        String w = g.members(Role.PRODUCER_WEIGHT).get(0).tensor();
        double a0 = scales.get(g.name())[0];
        Tensor row0 = TorchTensors.get(original, w).get(0), row1 = TorchTensors.get(attacked, w).get(0);
        assertEquals(a0, row1.norm().item_double() / row0.norm().item_double(), 1e-5, arch + " " + w);
        PermutationCheck.verify(model, attacked, PermuterTest.probe(arch));
        Permuter.applyInPlace(attacked, spec, Permuter.random(spec, groups, 3), Backend.CPU);
        PermutationCheck.verify(model, attacked, PermuterTest.probe(arch));
    }

    @Test
    void batchNormVarianceThatWouldTurnNegativeIsRefusedAndNothingChanges() {
        Model model = PermuterTest.model("vgg16_bn_cifar", 12);
        PermutationSpec spec = model.permutationSpec();
        StateDict s = model.stateDict();
        TorchTensors.view(s.get("features.1.running_var")).fill_(new org.bytedeco.pytorch.Scalar(1e-7)); // a dead channel
        StateDict before = s.copy();
        double[] a = new double[(int) spec.group("features.0").orElseThrow().size()];
        java.util.Arrays.fill(a, 0.5);
        LadyException e = assertThrows(LadyException.class,
                () -> NeuronScaling.apply(s, NetworkView.of(s, "vgg16_bn_cifar"), Map.of("features.0", a)));
        assertTrue(e.getMessage().contains("features.1.running_var") && e.getMessage().contains("negative"), e.getMessage());
        for (String name : s.names()) {
            assertTrue(s.get(name).sameContent(before.get(name)), name + " changed by a refused scaling");
        }
        assertThrows(LadyException.class, () -> NeuronScaling.random(spec, java.util.List.of("features.0"), 0, 2, 1));
    }
}
