package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.torch.Torch;

/** Whole-network resync with the reference: Psi = 100 and bit-for-bit restoration without attack. */
class ReferenceResyncTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    static Map<String, long[]> secret(Map<String, Permutation> perms) {
        Map<String, long[]> s = new HashMap<>();
        perms.forEach((k, v) -> s.put(k, v.longIndices()));
        return s;
    }

    static void assertRestored(StateDict original, StateDict resynced) {
        for (String name : original.names()) {
            assertTrue(original.get(name).sameContent(resynced.get(name)), "tensor " + name + " not restored");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_cifar", "vgg16_bn", "resnet18_cifar", "lenet5", "toynet", "fc"})
    void fullyPermutedModelIsRestoredExactly(String arch) {
        torch.manual_seed(3);
        ModelOptions options = arch.startsWith("vgg") || arch.startsWith("resnet")
                ? ModelOptions.defaults().withWidth(0.125) : ModelOptions.defaults();
        Model model = Models.create(arch, options);
        StateDict original = model.stateDict();
        var spec = model.permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 11);
        for (Method method : Method.values()) {
            StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
            ResyncReport report = ReferenceResync.run(original, suspect, spec,
                    ResyncOptions.defaults().withMethod(method), secret(perms), ProgressListener.NONE);
            assertEquals(100.0, report.psi(), arch + " " + method + ": Psi");
            for (GroupResult g : report.groups()) {
                assertEquals(100.0, g.psi(), arch + " " + method + " group " + g.name());
                assertEquals(0, g.duplicates());
                assertEquals(0, g.zeroRows());
                assertTrue(g.integrityFlags().isEmpty(), g.name() + " flagged " + g.integrityFlags());
            }
            assertRestored(original, suspect);
        }
    }

    @Test
    void unattackedModelGivesIdentityMatch() {
        torch.manual_seed(5);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.125));
        StateDict original = model.stateDict();
        StateDict suspect = original.copy();
        ResyncReport report = ReferenceResync.run(original, suspect, model.permutationSpec(), ResyncOptions.defaults(),
                null, ProgressListener.NONE);
        for (GroupResult g : report.groups()) {
            for (int i = 0; i < g.match().length; i++) {
                assertEquals(i, g.match()[i], g.name());
            }
            assertTrue(g.minMargin() > 0, g.name() + " margin " + g.minMargin());
        }
        assertEquals(null, report.psi());
    }

    @Test
    void argmaxCanDuplicateWhereAssignmentCannot() {
        // two reference neurons whose closest suspect neuron is the same one
        float[] s = {
            0.9f, 0.8f, 0.0f,
            0.95f, 0.7f, 0.1f,
            0.0f, 0.1f, 0.9f};
        long[] argmax = Similarity.rowArgmax(s, 3);
        assertEquals(0, argmax[0]);
        assertEquals(0, argmax[1]);
        long[] assign = Similarity.assign(Backend.CPU, s, 3);
        assertEquals(3, java.util.Arrays.stream(assign).distinct().count(), "assignment must be a permutation");
        // optimum: 0->1 (0.8) + 1->0 (0.95) + 2->2 (0.9) = 2.65 > 0.9 + 0.7 + 0.9
        assertEquals(List.of(1L, 0L, 2L), java.util.Arrays.stream(assign).boxed().toList());
    }

    @Test
    void integrityCheckFlagsARescaledNeuron() {
        long[] match = {0, 1, 2, 3};
        double[] ref = {1, 1, 1, 1};
        double[] sus = {1, 1, 9, 1.1}; // neuron 2 scaled by 3 (norm^2 by 9)
        ReferenceResync.Integrity check = ReferenceResync.integrity(match, ref, sus, 1.5);
        assertEquals(List.of(2), check.flags());
        // median ratio = (1 + sqrt(1.1)) / 2; neuron 2's ratio 3 over it is the worst deviation
        assertEquals(3 / ((1 + Math.sqrt(1.1)) / 2), check.maxRatio(), 1e-12);
        assertTrue(Double.isNaN(ReferenceResync.integrity(match, new double[4], sus, 1.5).maxRatio()),
                "no comparable row: no ratio");
    }

    @Test
    void unknownGroupIsAClearError() {
        Model model = Models.create("lenet5", ModelOptions.defaults());
        StateDict sd = model.stateDict();
        var e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> ReferenceResync.run(sd, sd.copy(), model.permutationSpec(),
                        ResyncOptions.defaults().withGroups(Set.of("features.99")), null, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("features.99"), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}
