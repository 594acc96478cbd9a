package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import lady.checkpoint.StateDict;
import lady.model.Model;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.progress.ProgressListener;
import lady.structure.StructuralTesting;
import lady.torch.Torch;

/** Structural obfuscation undone against the reference: shapes, tensors and logits back. */
class StructuralUndoTest {

    /** The bound on every restored tensor, relative to the tensor's largest magnitude. */
    static final double RESTORED_REL = 1e-4;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @ParameterizedTest
    @CsvSource({"vgg16_cifar, 0.25, 'dummy:10,split:10,scale:4'", "vgg16_bn_cifar, 0.25, 'dummy:10,split:10,scale:4'",
            "resnet18_cifar, 0.25, 'dummy:10,split:10,scale:4'"})
    void obfuscatedModelIsRestored(String arch, double width, String chain) {
        Model model = StructuralTesting.model(arch, width, 3);
        StateDict reference = model.stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, chain + ",nso", List.of(), 7);
        Tensor probe = model.probe(4, 5);
        Model attacked = Models.fromStateDict(a.state(), arch);
        PermutationCheck.verify(model, attacked, probe);
        StateDict suspect = a.state().copy();
        StructuralUndo.Result undo = StructuralUndo.run(reference, suspect, arch, ResyncOptions.defaults(), ProgressListener.NONE);
        assertTrue(undo.changed());
        ResyncReport r = ReferenceResync.run(reference, suspect, Models.spec(reference, arch, null), ResyncOptions.defaults(),
                null, ProgressListener.NONE);
        Map<String, Double> psi = StructuralUndo.psi(undo, r, a.lineages());
        assertEquals(100.0, StructuralUndo.psiOverall(psi, r), String.valueOf(psi));
        double diff = StructuralTesting.maxRelativeDiff(reference, suspect);
        assertTrue(diff <= RESTORED_REL, "worst restored tensor: " + StructuralTesting.worst(reference, suspect));
        PermutationCheck.verify(model, suspect, probe);
        assertFalse(undo.groups().isEmpty());
    }
}
