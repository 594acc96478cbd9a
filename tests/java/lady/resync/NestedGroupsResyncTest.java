package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.attack.AttackContext;
import lady.attack.Attacks;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.LlamaShapes;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Nesting;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;

/**
 * Nested groups (the query heads and value dimensions inside each KV head) keep their frame through the structural
 * undo's return to the suspect's order, which moves whole KV heads: it put each KV head's query-head order on its
 * sibling (a valid symmetry, so the checkpoint came out right, but the suspect was no longer in its own order and the
 * report's matches and Psi of the nested groups were its sibling's: 25 % instead of 100 % on a noisy copy).
 */
class NestedGroupsResyncTest {
    private static final String ARCH = "llama";

    /** A tiny Llama (2 layers, GQA 4/2) with Gaussian weights and norms near 1. */
    private static StateDict llama(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        StateDict s = new StateDict();
        LlamaShapes.shapes().forEach((name, shape) -> {
            float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
            boolean norm = shape.length == 1;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (norm ? 1 + 0.2 * r.nextGaussian() : 0.1 * r.nextGaussian());
            }
            s.put(name, HostTensor.ofFloats(v, shape));
        });
        s.setConfig(LlamaShapes.CONFIG);
        return s;
    }

    private static Map<String, long[]> indices(Map<String, Permutation> perms) {
        Map<String, long[]> out = new LinkedHashMap<>();
        perms.forEach((g, p) -> out.put(g, p.longIndices()));
        return out;
    }

    private static void everyPsiIs100(ResyncReport r) {
        for (GroupResult g : r.groups()) {
            assertEquals(100.0, g.psi(), 1e-9, g.name() + ": match " + java.util.Arrays.toString(g.match()));
        }
    }

    @Test
    void theStructuralUndoOfANoisyCopyLeavesEveryQueryHeadWhereTheSuspectHadIt() {
        StateDict reference = llama(1);
        PermutationSpec spec = Models.spec(reference, ARCH, null);
        Nesting nesting = Nesting.of(spec);
        List<String> all = spec.groups().stream().map(Group::name).toList();
        Map<String, Permutation> perms = Permuter.random(spec, all, 3);
        // the case that failed: a KV head moved, and its query heads permuted differently from its sibling's
        String kv = "model.layers.0.self_attn.kv_heads";
        perms.put(kv, Permutation.of(new int[] {1, 0}));
        perms.put("model.layers.0.self_attn.q_heads.0", Permutation.of(new int[] {1, 0}));
        perms.put("model.layers.0.self_attn.q_heads.1", Permutation.of(new int[] {0, 1}));
        assertEquals(kv, nesting.outer("model.layers.0.self_attn.q_heads.1"));
        StateDict noisy = Permuter.apply(reference, spec, perms, Backend.CPU);
        // noise changes the norms: the undo runs its full path, and must change nothing
        Attacks.apply(Attacks.parse("noise:1"), noisy, AttackContext.of("model.layers.0.mlp.up_proj.weight", 4));
        StateDict suspect = noisy.copy();
        StructuralUndo.Result undo = StructuralUndo.run(reference, suspect, ARCH, ResyncOptions.defaults(),
                ProgressListener.NONE);
        assertFalse(undo.groups().isEmpty(), "the undo's full path ran");
        assertFalse(undo.changed(), String.valueOf(undo.toJson()));
        assertTrue(suspect.sameTensors(noisy), "nothing moves: every query head and value dimension where it was");
        ResyncReport r = ReferenceResync.run(reference, suspect, spec, ResyncOptions.defaults(), indices(perms),
                ProgressListener.NONE);
        everyPsiIs100(r);
    }

    /**
     * An nso'd Llama (dummy and split MLP units and stream channels, rescaled, every group permuted, nested ones
     * included) undone and resynced: Psi against the attack's lineages is 100 in every group. The lineage of a
     * query-head group is recorded where the attacker's KV-head permutation put it, as a secret is; it was read at
     * the wrong position (0 % on the query heads, the checkpoint restored).
     */
    @Test
    void psiAgainstAStructuralSecretReadsEachQueryHeadsLineageWhereTheResyncPutsIt() {
        StateDict reference = llama(3);
        boolean moved = false;
        for (long seed = 1; seed < 20 && !moved; seed++) {
            lady.structure.StructuralTesting.Attacked a = lady.structure.StructuralTesting.attack(reference, ARCH, "nso",
                    List.of(), seed);
            moved = a.lineages().entrySet().stream().anyMatch(e -> e.getKey().endsWith("kv_heads")
                    && e.getValue().origin()[0] != 0);
            if (!moved) {
                continue;
            }
            StateDict suspect = a.state().copy();
            StructuralUndo.Outcome o = StructuralUndo.resync(reference, suspect, ARCH, ResyncOptions.defaults(),
                    a.lineages(), ProgressListener.NONE);
            assertTrue(o.undo().changed(), "the dummy and split units were merged");
            String what = " (seed " + seed + ")";
            o.psi().forEach((g, psi) -> assertEquals(100.0, psi, 1e-9, g + what));
            assertEquals(100.0, o.psiOverall(), 1e-9);
        }
        assertTrue(moved, "some seed moved a KV head");
    }
}
