package lady.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.model.Model;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.permutation.Lineage;
import lady.structure.StructuralTesting;
import lady.torch.Torch;

/** The structural attacks: syntax, function kept, widths, lineage, determinism. */
class StructuralAttacksTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void parsesAndRoundTrips() {
        assertEquals(List.of(new StructuralAttack("scale", 4), new StructuralAttack("dummy", 5), new StructuralAttack("split", 5),
                new NsoAttack()),
                Attacks.parse("scale:4,dummy:5,split:5,nso"));
        assertEquals("finetune:1,nso", Attacks.spec(Attacks.parse("finetune:1, NSO")));
        for (String s : List.of("scale:2.5", "dummy:5", "split:10", "nso")) {
            assertEquals(s, Attacks.parseOne(s).spec());
            assertTrue(Attacks.parseOne(s).preservesFunction(), s);
        }
        assertFalse(Attacks.parseOne("noise:1").preservesFunction());
        for (String[] bad : new String[][] {{"scale:0.5", "R must be a finite number >= 1"}, {"dummy:101", "[0, 100]"},
                {"split:-1", "split percent P must be in [0, 100]"}, {"nso:3", "takes no level"}, {"scale", "needs a level: scale:R"}}) {
            LadyException e = assertThrows(LadyException.class, () -> Attacks.parse(bad[0]));
            assertEquals(LadyException.Kind.USAGE, e.kind());
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
        }
    }

    @Test
    void nsoKeepsTheFunctionWidensEveryGroupAndRecordsWhereEachNeuronComesFrom() {
        String arch = "vgg16_cifar";
        Model model = StructuralTesting.model(arch, 0.25, 1);
        StateDict reference = model.stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, "nso", List.of(), 9);
        Tensor probe = model.probe(4, 2);
        PermutationCheck.verify(model, Models.fromStateDict(a.state(), arch), probe);
        // 5 % of 128: 6 dummy pairs and 6 splits (the issue's 512 -> 590 at full width)
        assertEquals(128 + 12 + 6, a.state().shape("features.17.weight")[0]);
        assertEquals(128 + 12 + 6, a.state().shape("features.19.weight")[1], "the consumer follows");
        assertEquals(15, a.lineages().size());
        Lineage l = a.lineages().get("features.0");
        assertEquals(16, l.originalSize());
        long dummies = java.util.Arrays.stream(l.kind()).filter(k -> k == Lineage.Kind.DUMMY).count();
        long splits = java.util.Arrays.stream(l.kind()).filter(k -> k == Lineage.Kind.SPLIT).count();
        assertEquals(2, dummies, "round(0.8) = 1 pair");
        assertEquals(1, splits);
        // the first group reads the image: each of its non-dummy rows is factor times the original's row
        float[] w0 = reference.get("features.0.weight").readFloats();
        float[] w1 = a.state().get("features.0.weight").readFloats();
        int k = 27;
        for (int j = 0; j < l.size(); j++) {
            if (l.origin()[j] < 0) {
                continue;
            }
            for (int i = 0; i < k; i++) {
                assertEquals(l.factor()[j] * w0[l.origin()[j] * k + i], w1[j * k + i], 1e-5 * Math.abs(w1[j * k + i]) + 1e-7,
                        "neuron " + j);
            }
        }
        // every original neuron is there, in [1/4, 4]
        for (int j = 0; j < l.size(); j++) {
            if (l.kind()[j] != Lineage.Kind.DUMMY) {
                assertTrue(l.factor()[j] >= 0.25 && l.factor()[j] <= 4, "factor " + l.factor()[j]);
            }
        }
        // same seed, same bytes; another seed, another model
        StructuralTesting.Attacked again = StructuralTesting.attack(reference, arch, "nso", List.of(), 9);
        assertTrue(a.state().sameTensors(again.state()));
        assertEquals(a.lineages().keySet(), again.lineages().keySet());
        StructuralTesting.Attacked other = StructuralTesting.attack(reference, arch, "nso", List.of(), 10);
        assertFalse(a.state().sameTensors(other.state()));
    }

    @Test
    void groupsSelectWhatIsAttacked() {
        String arch = "vgg16_bn_cifar";
        Model model = StructuralTesting.model(arch, 0.125, 2);
        StateDict reference = model.stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, "dummy:25,split:25", List.of("features.24"), 3);
        assertEquals(java.util.Set.of("features.24"), a.lineages().keySet());
        assertEquals(64 + 2 * 16 + 16, a.state().shape("features.24.weight")[0]);
        assertEquals(64 + 2 * 16 + 16, a.state().shape("features.25.running_var")[0], "its batch norm follows");
        assertArrayEquals(reference.shape("features.0.weight"), a.state().shape("features.0.weight"));
        PermutationCheck.verify(model, Models.fromStateDict(a.state(), arch), model.probe(4, 2));
    }

    /**
     * Every group selected (the default): groups whose graph refuses a step (MobileNetV3's depthwise convolutions
     * take no extra neurons nor a rescaling) are skipped and counted, the others attacked; a refused group named
     * with --groups is a clear error.
     */
    @Test
    void everyGroupSkipsWhatTheGraphRefusesANamedGroupIsRefused() {
        String arch = "mobilenet_v3_small";
        Model model = StructuralTesting.model(arch, 1.0, 4);
        StateDict state = model.stateDict();
        AttackContext ctx = new AttackContext(null, List.of(), 5, null, lady.progress.ProgressListener.NONE)
                .withStructure(arch, List.of());
        List<AttackResult> rs = Attacks.apply(Attacks.parse("nso"), state, ctx);
        var d = rs.get(0).details();
        assertEquals(11, d.get("dummy_skipped_groups"), String.valueOf(d));
        assertEquals(12, d.get("scale_skipped_groups"), String.valueOf(d));
        assertTrue(String.valueOf(d.get("dummy_skipped_because")).contains("depthwise"), String.valueOf(d));
        assertEquals(27, ctx.lineages().all().size(), "every group is permuted");
        PermutationCheck.verify(model, Models.fromStateDict(state, arch), model.probe(2, 3));

        AttackContext named = new AttackContext(null, List.of(), 5, null, lady.progress.ProgressListener.NONE)
                .withStructure(arch, List.of("features.0.0"));
        LadyException e = assertThrows(LadyException.class,
                () -> Attacks.apply(Attacks.parse("dummy:10"), model.stateDict(), named));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("depthwise"), e.getMessage());
    }

    /**
     * A structural attack on a model whose float32 edits would not fit the machine's available memory is refused at
     * once, with the sizes (the system would otherwise kill the process without a word); a small one is not.
     */
    @Test
    void aModelLargerThanTheAvailableMemoryIsRefusedWithTheSizes() {
        long available = lady.util.Memory.available();
        org.junit.jupiter.api.Assumptions.assumeTrue(available > 0, "no /proc/meminfo here: the check is not made");
        long rows = available / 1024 / 2 + 1; // bfloat16 [rows, 1024]: its float32 copy twice what is available
        // a tensor over memory that is never read: only its shape counts (nothing is allocated)
        lady.tensor.HostMemory never = lady.tensor.HostMemory.borrow(0, 2L * rows * 1024, null);
        StateDict huge = new StateDict();
        huge.put("fc.weight", lady.tensor.HostTensor.view(never, 0, lady.tensor.DType.BFLOAT16, rows, 1024));
        for (Attack a : Attacks.parse("nso,scale:2")) {
            LadyException e = assertThrows(LadyException.class, () -> a.apply(huge, AttackContext.of(null, 1)));
            assertEquals(LadyException.Kind.USAGE, e.kind());
            assertTrue(e.getMessage().startsWith("the structural attacks rewrite the model's groups in float32: about ")
                    && e.getMessage().contains("GB available; attack a smaller model"), e.getMessage());
        }
        assertThrows(LadyException.class, () -> lady.util.Memory.require(2.0 * available, 1, "x", "y"));
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> lady.util.Memory.require(available / 2.0, 1, "x", "y"));
    }
}
