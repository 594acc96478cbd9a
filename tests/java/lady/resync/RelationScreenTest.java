package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.LlamaShapes;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;

/**
 * The relation screen ({@link RelationScreen}) on a Llama-family model wide enough for its statistics: an unrelated
 * suspect's large groups are called unrelated (not matched, kept in the suspect's order) and the verdict says not
 * derived; a derived suspect, permuted or noisy, is never screened out and resyncs as without the screen.
 */
class RelationScreenTest {
    static final long VOCAB = 2048, HIDDEN = 256, HEADS = 8, KV = 2, HEAD_DIM = 32, INTER = 512;

    static StateDict random(Map<String, long[]> shapes, long seed, Map<String, Object> config) {
        SplittableRandom rnd = new SplittableRandom(seed);
        StateDict s = new StateDict();
        shapes.forEach((name, shape) -> {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextGaussian() * 0.02);
            }
            s.put(name, HostTensor.ofFloats(v, shape));
        });
        s.setConfig(config);
        return s;
    }

    /** A copy of {@code s} with Gaussian noise of {@code omega} times 0.02 added to every value. */
    static StateDict noisy(StateDict s, double omega, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        StateDict out = new StateDict();
        for (String name : s.names()) {
            float[] v = s.get(name).readFloats();
            for (int i = 0; i < v.length; i++) {
                v[i] += (float) (rnd.nextGaussian() * 0.02 * omega);
            }
            out.put(name, HostTensor.ofFloats(v, s.shape(name)));
        }
        out.setConfig(s.config());
        return out;
    }

    @Test
    void anUnrelatedSuspectIsScreenedOutAndADerivedOneNever() {
        Map<String, long[]> shapes = LlamaShapes.shapes(VOCAB, HIDDEN, HEADS, KV, HEAD_DIM, INTER, 2, false, false, false);
        Map<String, Object> config = LlamaShapes.config(HEADS, KV);
        StateDict reference = random(shapes, 1, config);
        PermutationSpec spec = Models.infer(reference, null).description().permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 3);
        ResyncOptions screened = ResyncOptions.defaults().withPrefilter(Prefilter.ON).withScreenMinFlop(0);

        // unrelated: another model of the same configuration
        StateDict other = random(shapes, 2, config);
        ResyncReport r = ReferenceResync.run(reference, other.copy(), spec, screened, null, ProgressListener.NONE);
        assertFalse(r.verdict().derived());
        GroupResult stream = r.groups().get(0);
        assertTrue(stream.name().startsWith("stream.") && stream.unrelated(), stream.name() + " not screened out");
        for (GroupResult g : r.groups()) {
            if (g.unrelated()) {
                assertTrue(Double.isNaN(g.minMargin()) && g.integrityFlags().isEmpty(), g.name());
                for (int i = 0; i < g.match().length; i++) {
                    assertEquals(i, g.match()[i], g.name() + ": an unrelated group keeps the suspect's order");
                }
            }
        }
        assertTrue(r.groups().stream().filter(GroupResult::unrelated).count() >= 3,
                "the stream and both MLP groups are screened out");
        // what users read: no margin for a group never matched, and why
        assertEquals(lady.app.ResyncReportFile.UNRELATED_CELL, lady.app.ResyncReportFile.cells(stream).get(4));
        for (String none : List.of("min_margin", "median_margin", "low_margin", "integrity_flags")) {
            assertTrue(stream.toJson().containsKey(none) && stream.toJson().get(none) == null, none);
        }
        assertEquals("-", lady.app.ResyncReportFile.cells(stream).get(6), "no low-margin count without margins");
        assertEquals(Boolean.TRUE, stream.toJson().get("unrelated"));
        assertTrue(lady.app.ResyncReportFile.summary(r).stream().anyMatch(l -> l.contains("showed no relation")));
        // without the screen the same pair takes the dense path in every group, and is not derived either
        ResyncReport dense = ReferenceResync.run(reference, other.copy(), spec,
                ResyncOptions.defaults().withPrefilter(Prefilter.ON).withScreenMinFlop(Double.POSITIVE_INFINITY), null,
                ProgressListener.NONE);
        assertFalse(dense.verdict().derived());
        assertTrue(dense.groups().stream().noneMatch(GroupResult::unrelated));

        // derived: a permuted copy, exact, and noisy enough (3 and 6 times the weights' spread: cosines about 0.3 and
        // 0.16) that the prefilter gives up on the stream and the MLP groups: the screen sends them to the dense path
        StateDict permuted = Permuter.apply(reference, spec, perms, Backend.CPU);
        for (double omega : new double[] {0, 3, 6}) {
            StateDict suspect = omega == 0 ? permuted : noisy(permuted, omega, 5);
            StateDict a = suspect.copy();
            StateDict b = suspect.copy();
            ResyncReport with = ReferenceResync.run(reference, a, spec, screened, ReferenceResyncTest.secret(perms),
                    ProgressListener.NONE);
            ResyncReport without = ReferenceResync.run(reference, b, spec, ResyncOptions.defaults()
                    .withPrefilter(Prefilter.ON).withScreenMinFlop(Double.POSITIVE_INFINITY),
                    ReferenceResyncTest.secret(perms), ProgressListener.NONE);
            assertTrue(with.verdict().derived(), "omega " + omega);
            assertEquals(without.psi(), with.psi(), 0.0, "omega " + omega);
            assertTrue(with.psi() > 99, "omega " + omega + ": Psi " + with.psi());
            assertEquals(omega == 0, with.groups().get(0).prefiltered(), "omega " + omega + ": the stream's path");
            assertEquals(without.verdict().log10P(), with.verdict().log10P(), 0.0, "omega " + omega);
            for (int g = 0; g < with.groups().size(); g++) {
                assertFalse(with.groups().get(g).unrelated(), "omega " + omega + ": " + with.groups().get(g).name());
                assertEquals(without.groups().get(g).minMargin(), with.groups().get(g).minMargin(), 0.0);
            }
            if (omega == 0) {
                ReferenceResyncTest.assertRestored(reference, a);
            }
        }
    }
}
