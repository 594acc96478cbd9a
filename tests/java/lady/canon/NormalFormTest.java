package lady.canon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.checkpoint.StateDict;
import lady.model.Model;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.progress.ProgressListener;
import lady.structure.StructuralTesting;
import lady.torch.Torch;

/** The normal form: the same for a model and its obfuscated copies, the same function, another for another model. */
class NormalFormTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_cifar", "vgg16_bn_cifar", "resnet18_cifar"})
    void obfuscatedCopiesHaveTheOriginalsNormalForm(String arch) {
        Model model = StructuralTesting.model(arch, 0.125, 4);
        StateDict reference = model.stateDict();
        NormalForm.Result owner = NormalForm.of(reference, arch, ProgressListener.NONE);
        PermutationCheck.verify(model, Models.fromStateDict(owner.state(), arch), model.probe(4, 1));
        StateDict suspect = StructuralTesting.attack(reference, arch, "dummy:20,split:20,nso", List.of(), 5).state();
        NormalForm.Result sus = NormalForm.of(suspect, arch, ProgressListener.NONE);
        Map<String, Double> diff = lady.structure.StateDiff.relative(owner.state(), sus.state());
        assertNotNull(diff, "same tensors and shapes");
        double worst = diff.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        assertTrue(worst <= lady.structure.StateDiff.SAME_REL, arch + ": " + worst + " " + diff);
        for (NormalForm.GroupReport g : sus.groups()) {
            assertTrue(g.sizeBefore() > g.size() && g.mergedClusters() > 0 && g.droppedNeurons() > 0, g.toString());
        }
        // another model is another normal form
        StateDict other = StructuralTesting.model(arch, 0.125, 5).stateDict();
        Map<String, Double> far = lady.structure.StateDiff.relative(owner.state(), NormalForm.of(other, arch, ProgressListener.NONE).state());
        assertTrue(far.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow() > 0.1, String.valueOf(far));
        assertEquals(owner.groups().size(), model.permutationSpec().groups().size());
    }

    /**
     * The comparison aligns a normal form whose neurons traded places (what canonical scores within rounding do) before
     * it compares, and says how many moved; another network stays another; a half-precision pair gets its format's
     * limit.
     */
    @Test
    void comparisonAlignsNeuronsThatTradedPlaces() {
        String arch = "vgg16_cifar";
        Model model = StructuralTesting.model(arch, 0.125, 4);
        StateDict owner = NormalForm.of(model.stateDict(), arch, ProgressListener.NONE).state();
        NormalForm.Comparison self = NormalForm.compare(owner, owner.copy(), arch, ProgressListener.NONE);
        assertTrue(self.same() && self.tradedNeurons() == 0 && self.maxRelativeDiff() == 0, self.toString());

        StateDict traded = owner.copy();
        int n = Math.toIntExact(model.permutationSpec().group("features.10").orElseThrow().size());
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        p[0] = 1;
        p[1] = 0;
        p[5] = 7;
        p[7] = 5;
        lady.permutation.Permuter.applyInPlace(traded, model.permutationSpec(),
                Map.of("features.10", lady.permutation.Permutation.of(p)), lady.kernels.Backend.CPU);
        assertTrue(lady.structure.StateDiff.max(owner, traded) > 0.1, "the traded neurons differ as they are");
        NormalForm.Comparison c = NormalForm.compare(owner, traded, arch, ProgressListener.NONE);
        assertTrue(c.same(), c.toString());
        assertEquals(4, c.tradedNeurons(), c.toString());
        assertEquals(1, c.tradedGroups(), c.toString());

        StateDict other = NormalForm.of(StructuralTesting.model(arch, 0.125, 5).stateDict(), arch, ProgressListener.NONE)
                .state();
        NormalForm.Comparison far = NormalForm.compare(owner, other, arch, ProgressListener.NONE);
        assertTrue(far.sameShapes() && !far.same() && far.maxRelativeDiff() > 0.1, far.toString());
        assertEquals(lady.structure.StateDiff.SAME_REL, far.limit());

        StateDict half = new StateDict();
        owner.names().forEach(name -> half.put(name, owner.get(name).dtype().floating()
                ? owner.get(name).converted(lady.tensor.DType.BFLOAT16) : owner.get(name)));
        assertEquals(4 * 0x1p-8, lady.structure.StateDiff.sameRel(half, half));
    }

    /** A model whose normal form would not fit the machine's available memory is refused with the sizes, unread. */
    @Test
    void aModelLargerThanTheAvailableMemoryIsRefusedWithTheSizes() {
        long available = lady.util.Memory.available();
        org.junit.jupiter.api.Assumptions.assumeTrue(available > 0, "no /proc/meminfo here: the check is not made");
        long rows = available / 1024 / 4 + 1; // bfloat16 [rows, 1024]: a copy and float32 edits, 1.5 times what is there
        lady.tensor.HostMemory never = lady.tensor.HostMemory.borrow(0, 2L * rows * 1024, null); // never read
        StateDict huge = new StateDict();
        huge.put("fc.weight", lady.tensor.HostTensor.view(never, 0, lady.tensor.DType.BFLOAT16, rows, 1024));
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> NormalForm.of(huge, null, ProgressListener.NONE));
        assertEquals(lady.LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().startsWith("the normal form copies the model and rewrites its groups in float32: about ")
                && e.getMessage().contains("GB available"), e.getMessage());
    }
}
