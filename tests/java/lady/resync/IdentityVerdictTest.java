package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.kernels.Backend;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.tensor.HostTensor;

/**
 * A suspect that equals the reference bit for bit once resynced is derived whatever the similarity test says: an MLP of
 * 8-unit layers reading 12 inputs, permuted exactly, is too small for the test alone (its matched cosines cannot stand
 * far out from 7 unmatched ones); one value one unit in the last place away, or weights without distinct values, are
 * not an identity; an independent network of the same shapes is not derived.
 */
class IdentityVerdictTest {
    private static final long[][] SHAPES = {{8, 12}, {8}, {8, 8}, {8}, {3, 8}, {3}};
    private static final String[] NAMES = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"};

    /** The "fc" network with 8-unit layers on 12 inputs, its values drawn from {@code seed}. */
    private static StateDict small(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        StateDict s = new StateDict();
        for (int i = 0; i < NAMES.length; i++) {
            float[] v = new float[(int) HostTensor.numel(SHAPES[i])];
            for (int k = 0; k < v.length; k++) {
                v[k] = (float) (rng.nextDouble() * 2 - 1);
            }
            s.put(NAMES[i], HostTensor.ofFloats(v, SHAPES[i]));
        }
        return s;
    }

    private static StateDict permuted(StateDict s, PermutationSpec spec, long seed) {
        return Permuter.apply(s, spec, Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), seed),
                Backend.CPU);
    }

    @Test
    void anExactCopyIsIdenticalOnceResyncedAndANudgedOneIsNot() {
        StateDict ref = small(1);
        PermutationSpec spec = Models.infer(ref).description().permutationSpec();
        StateDict restored = permuted(ref, spec, 5);
        ResyncReport r = ReferenceResync.run(ref, restored, spec, ResyncOptions.defaults(), null, ProgressListener.NONE);
        assertFalse(r.verdict().derived(), "the test alone, on 8-unit groups: " + r.verdict().summary());
        Verdict.Identity id = Verdict.identity(ref, restored);
        assertNotNull(id, "resynced in place, the copy is the reference bit for bit");
        assertEquals(NAMES.length, id.tensors());
        assertEquals(Verdict.MIN_IDENTICAL_VALUES, id.distinct());
        Verdict v = r.verdict().withIdentity(id);
        assertTrue(v.derived());
        assertEquals(r.verdict().pValue(), v.pValue(), 0.0, "the test's p-value is kept, and the basis said");
        assertEquals("identical after resync", v.toJson().get("basis"));
        assertTrue(v.summary().startsWith("verdict: DERIVED from the reference: once resynced, the suspect equals it bit "
                + "for bit in every one of its 6 tensors"), v.summary());

        StateDict nudged = restored.copy();
        float[] w = nudged.get("fc2.weight").readFloats();
        w[17] = Math.nextUp(w[17]);
        nudged.put("fc2.weight", HostTensor.ofFloats(w, 8, 8));
        assertNull(Verdict.identity(ref, nudged), "one unit in the last place is not an identity");

        StateDict zeros = new StateDict();
        for (int i = 0; i < NAMES.length; i++) {
            zeros.put(NAMES[i], HostTensor.ofFloats(new float[(int) HostTensor.numel(SHAPES[i])], SHAPES[i]));
        }
        assertNull(Verdict.identity(zeros, zeros.copy()), "equal zeros are what independent training could also give");
    }

    @Test
    void theResyncCommandCallsAnExactCopyDerivedAndAnIndependentNetworkNot(@TempDir Path dir) throws Exception {
        StateDict ref = small(1);
        PermutationSpec spec = Models.infer(ref).description().permutationSpec();
        Path refFile = dir.resolve("ref.pt");
        Checkpoints.write(refFile, ref, Checkpoints.Format.TORCH_ZIP);
        Path copy = dir.resolve("copy.pt");
        Checkpoints.write(copy, permuted(ref, spec, 5), Checkpoints.Format.TORCH_ZIP);
        Path other = dir.resolve("other.pt");
        Checkpoints.write(other, small(2), Checkpoints.Format.TORCH_ZIP);

        Map<?, ?> derived = verdict(dir, refFile, copy);
        assertEquals(Boolean.TRUE, derived.get("derived"), String.valueOf(derived));
        assertEquals("identical after resync", derived.get("basis"));
        Map<?, ?> independent = verdict(dir, refFile, other);
        assertEquals(Boolean.FALSE, independent.get("derived"), String.valueOf(independent));
        assertFalse(independent.containsKey("identical"));
    }

    private static Map<?, ?> verdict(Path dir, Path ref, Path suspect) throws Exception {
        Path report = dir.resolve("report.json");
        CliRun run = CliRun.of("resync", "--reference", ref.toString(), "--suspect", suspect.toString(), "--report",
                report.toString(), "--quiet");
        assertEquals(0, run.code(), run.err());
        return (Map<?, ?>) ((Map<?, ?>) Json.parse(Files.readString(report))).get("verdict");
    }

    /** A network with no group that can move gives no evidence, and its summary says so. */
    @Test
    void noGroupsMeansNoEvidence() {
        Verdict none = Verdict.of(List.of());
        assertFalse(none.derived());
        assertTrue(none.summary().contains("no group of neurons was compared"), none.summary());
    }
}
