package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
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
    static final double RESTORED_REL = lady.structure.StateDiff.SAME_REL;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @ParameterizedTest
    @CsvSource({"vgg16_cifar, 0.125, 'dummy:20,split:20,scale:4'", "vgg16_bn_cifar, 0.125, 'dummy:20,split:20,scale:4'",
            "resnet18_cifar, 0.125, 'dummy:20,split:20,scale:4'", "mobilenet_v3_small, 1.0, 'dummy:20,split:20,scale:4'"})
    void obfuscatedModelIsRestored(String arch, double width, String chain) {
        restored(arch, width, chain);
    }

    /** The levels at full width: 5 % dummy pairs and 5 % splits (512 -> 590), factors in [1/4, 4], permuted. */
    @org.junit.jupiter.api.Tag("slow")
    @ParameterizedTest
    @CsvSource({"vgg16_bn_cifar, 1.0, 'none'"})
    void fullWidthNsoIsRestored(String arch, double width, String chain) {
        restored(arch, width, chain);
    }

    /**
     * With the prefilter on every group (the path of an LLM's large groups), the undo's matches of the groups whose
     * widths agree after the merging (all of them after nso) come from the prefiltered solve: the same restoration.
     */
    @Test
    void prefilteredMatchesRestoreTheSame() {
        restored("vgg16_cifar", 0.125, "dummy:20,split:20,scale:4", ResyncOptions.defaults().withPrefilter(Prefilter.ON));
    }

    private static void restored(String arch, double width, String chain) {
        restored(arch, width, chain, ResyncOptions.defaults());
    }

    private static void restored(String arch, double width, String chain, ResyncOptions options) {
        Model model = StructuralTesting.model(arch, width, 3);
        StateDict reference = model.stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, chain.equals("none") ? "nso" : chain + ",nso",
                List.of(), 7);
        Tensor probe = model.probe(4, 5);
        Model attacked = Models.fromStateDict(a.state(), arch);
        PermutationCheck.verify(model, attacked, probe);
        StateDict suspect = a.state().copy();
        StructuralUndo.Result undo = StructuralUndo.run(reference, suspect, arch, options, ProgressListener.NONE);
        assertTrue(undo.changed());
        ResyncReport r = ReferenceResync.run(reference, suspect, Models.spec(reference, arch, null), ResyncOptions.defaults(),
                null, ProgressListener.NONE);
        assertTrue(r.verdict().derived(), r.verdict().summary());
        Map<String, Double> psi = StructuralUndo.psi(undo, r, a.lineages(), Models.spec(reference, arch, null));
        assertEquals(100.0, StructuralUndo.psiOverall(psi, r), String.valueOf(psi));
        double diff = StructuralTesting.maxRelativeDiff(reference, suspect);
        assertTrue(diff <= RESTORED_REL, "worst restored tensor: " + StructuralTesting.worst(reference, suspect));
        PermutationCheck.verify(model, suspect, probe);
        assertFalse(undo.groups().isEmpty());
    }

    @Test
    void aPlainOrNoisyPermutationIsLeftAsItIs() {
        String arch = "vgg16_bn_cifar";
        Model model = StructuralTesting.model(arch, 0.125, 8);
        StateDict reference = model.stateDict();
        var spec = model.permutationSpec();
        var all = spec.groups().stream().map(lady.permutation.Group::name).toList();
        StateDict permuted = lady.permutation.Permuter.apply(reference, spec, lady.permutation.Permuter.random(spec, all, 3),
                lady.kernels.Backend.CPU);
        StateDict suspect = permuted.copy();
        StructuralUndo.Result r = StructuralUndo.run(reference, suspect, arch, ResyncOptions.defaults(), ProgressListener.NONE);
        assertFalse(r.changed());
        assertTrue(suspect.sameTensors(permuted), "nothing to undo: not a bit changed");
        // noise on one layer changes norms, not structure: the full undo runs and still changes nothing
        StateDict noisy = permuted.copy();
        lady.attack.Attacks.apply(lady.attack.Attacks.parse("noise:1"), noisy, lady.attack.AttackContext.of("features.7.weight", 4));
        StateDict noisySuspect = noisy.copy();
        StructuralUndo.Result n = StructuralUndo.run(reference, noisySuspect, arch, ResyncOptions.defaults(), ProgressListener.NONE);
        assertFalse(n.changed(), String.valueOf(n.toJson()));
        assertTrue(noisySuspect.sameTensors(noisy), "noise is not undone (and nothing else moves)");
        // that full undo ran within the same-size budget; over it (an LLM's groups) it is skipped with the reason
        assertEquals(null, n.skipped());
        double work = StructuralUndo.sameSizeWork(reference, lady.structure.NetworkView.of(noisy, arch), spec.groups());
        assertTrue(work > 0 && work < StructuralUndo.SAME_SIZE_BUDGET, String.valueOf(work));
        StateDict over = noisy.copy();
        StructuralUndo.Result skipped = StructuralUndo.run(reference, over, arch, ResyncOptions.defaults(),
                ProgressListener.NONE, work / 2);
        assertTrue(skipped.skipped() != null && skipped.skipped().contains("no group changed size"), skipped.skipped());
        assertEquals(skipped.skipped(), skipped.toJson().get("skipped"));
        assertFalse(skipped.changed());
        assertTrue(over.sameTensors(noisy), "skipped: nothing moves");
        // a structural attack (sizes changed) runs whatever the budget
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, "dummy:20", List.of(), 3);
        StructuralUndo.Result widened = StructuralUndo.run(reference, a.state().copy(), arch, ResyncOptions.defaults(),
                ProgressListener.NONE, 0);
        assertEquals(null, widened.skipped());
        assertTrue(widened.changed());
    }

    @Test
    void scalingOnlyIsUndoneExactlyAndAMissingNeuronIsReported() {
        String arch = "vgg16_cifar";
        Model model = StructuralTesting.model(arch, 0.125, 9);
        StateDict reference = model.stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, "scale:4", List.of(), 2);
        StateDict suspect = a.state().copy();
        StructuralUndo.Result r = StructuralUndo.run(reference, suspect, arch, ResyncOptions.defaults(), ProgressListener.NONE);
        assertTrue(r.changed());
        for (StructuralUndo.GroupReport g : r.groups()) {
            assertEquals(g.referenceSize(), g.rescaled() + 0, g.group() + ": every neuron rescaled");
            assertTrue(g.scaleMin() >= 0.25 - 1e-6 && g.scaleMax() <= 4 + 1e-6, g.toJson().toString());
        }
        assertTrue(StructuralTesting.maxRelativeDiff(reference, suspect) <= RESTORED_REL,
                StructuralTesting.worst(reference, suspect));

        // the attacker removed a neuron of features.10 (and its columns): one reference neuron has no match
        StateDict pruned = reference.copy();
        lady.structure.NetworkView view = lady.structure.NetworkView.of(pruned, arch);
        var g = view.group("features.10");
        List<lady.structure.GroupEdit.Neuron> keep = new java.util.ArrayList<>();
        for (int j = 1; j < g.size(); j++) {
            keep.add(lady.structure.GroupEdit.Neuron.copy(j));
        }
        lady.structure.GroupEdit.apply(pruned, g, view.rule("features.10"), keep);
        StructuralUndo.Result p = StructuralUndo.run(reference, pruned, arch, ResyncOptions.defaults(), ProgressListener.NONE);
        StructuralUndo.GroupReport f10 = p.group("features.10");
        assertEquals(1, f10.unmatchedReference(), f10.toJson().toString());
        assertEquals(0, f10.unmatchedSuspect());
        assertEquals(0, f10.sources()[f10.sources().length - 1].length, "the neuron from nothing comes last");
        assertEquals(reference.shape("features.10.weight")[0], pruned.shape("features.10.weight")[0]);
    }

    /** An undo whose float32 edits would not fit the machine's available memory is refused with the sizes and the way out. */
    @Test
    void anUndoLargerThanTheAvailableMemoryIsRefusedWithTheWayOut() {
        long available = lady.util.Memory.available();
        org.junit.jupiter.api.Assumptions.assumeTrue(available > 0, "no /proc/meminfo here: the check is not made");
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> StructuralUndo.requireMemory(available / 2)); // float32: twice what is available
        assertEquals(lady.LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().startsWith("the structural undo rewrites the suspect's groups in float32: about ")
                && e.getMessage().contains("--no-structural"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> StructuralUndo.requireMemory(available / 8));
    }
}
