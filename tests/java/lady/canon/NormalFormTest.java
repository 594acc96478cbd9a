package lady.canon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
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
}
