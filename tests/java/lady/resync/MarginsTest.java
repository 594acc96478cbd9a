package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;

/**
 * The margins policy: {@link Margins#AUTO} resolved from the resync's dense margin work, and bounds that never
 * change the low-margin count.
 */
class MarginsTest {

    @Test
    void autoIsExactWithinTheBudgetAndBoundsBeyondIt() {
        assertEquals(Margins.AUTO, ResyncOptions.defaults().margins(), "the default");
        assertEquals(Margins.EXACT, Margins.resolve(0));
        assertEquals(Margins.EXACT, Margins.resolve(1.03e12), "torchvision VGG16's whole resync");
        assertEquals(Margins.EXACT, Margins.resolve(Margins.AUTO_EXACT_BUDGET_FLOP), "the budget itself");
        assertEquals(Margins.BOUND, Margins.resolve(Math.nextUp(Margins.AUTO_EXACT_BUDGET_FLOP)));
        assertEquals(Margins.BOUND, Margins.resolve(16 * 2.0 * 8192 * 8192 * 6144), "a Llama-3.2-1B pair's MLPs");
        assertEquals(Margins.BOUND, Margins.AUTO.resolved(1e13));
        assertEquals(Margins.EXACT, Margins.AUTO.resolved(1e9));
        assertEquals(Margins.EXACT, Margins.EXACT.resolved(1e15), "asked for: kept whatever the work");
        assertEquals(Margins.BOUND, Margins.BOUND.resolved(0), "asked for: kept whatever the work");
        assertEquals(Margins.AUTO, Margins.parse(" Auto "));
        LadyException e = assertThrows(LadyException.class, () -> Margins.parse("roughly"));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("auto, exact or bound"), e.getMessage());
    }

    /**
     * The work is 2 n^2 D per group with D the first pass's evidence: a group's producer rows (whose input group
     * is solved before it), its bias, and the consumer columns already comparable (the output layer's at once,
     * a hidden consumer's only in the second pass).
     */
    @Test
    void theDenseWorkCountsTheFirstPassEvidenceFromShapes() {
        int d0 = 30, n1 = 20, n2 = 12, k = 5;
        Group fc1 = new Group("fc1", n1, List.of(new Member("fc1.weight", 0, 1, Role.PRODUCER_WEIGHT),
                new Member("fc1.bias", 0, 1, Role.PRODUCER_BIAS), new Member("fc2.weight", 1, 1, Role.CONSUMER_WEIGHT)));
        Group fc2 = new Group("fc2", n2, List.of(new Member("fc2.weight", 0, 1, Role.PRODUCER_WEIGHT),
                new Member("fc2.bias", 0, 1, Role.PRODUCER_BIAS), new Member("out.weight", 1, 1, Role.CONSUMER_WEIGHT)));
        PermutationSpec spec = new PermutationSpec("mlp", List.of(fc1, fc2), Set.of("out.bias"), List.of());
        StateDict sd = new StateDict();
        Map.of("fc1.weight", new long[] {n1, d0}, "fc1.bias", new long[] {n1}, "fc2.weight", new long[] {n2, n1},
                "fc2.bias", new long[] {n2}, "out.weight", new long[] {k, n2}, "out.bias", new long[] {k})
                .forEach((name, shape) -> sd.put(name, HostTensor.ofFloats(new float[(int) HostTensor.numel(shape)], shape)));
        ResyncOptions o = ResyncOptions.defaults();
        double want = 2.0 * n1 * n1 * (d0 + 1) + 2.0 * n2 * n2 * (n1 + 1 + k);
        assertEquals(want, ReferenceResync.denseMarginFlop(sd, spec, spec.groups(), o.sources(), o), 0.0);
        // fc2 alone: fc1 is outside the resync (taken as it is), so fc2's rows are comparable; fc1 alone: fc2's
        // columns are then comparable at once
        assertEquals(2.0 * n2 * n2 * (n1 + 1 + k), ReferenceResync.denseMarginFlop(sd, spec, List.of(fc2), o.sources(), o),
                0.0);
        assertEquals(2.0 * n1 * n1 * (d0 + 1 + n2), ReferenceResync.denseMarginFlop(sd, spec, List.of(fc1), o.sources(), o),
                0.0);
        ResyncOptions producers = o.withEvidence(EvidenceScope.PRODUCERS);
        assertEquals(2.0 * n1 * n1 * d0 + 2.0 * n2 * n2 * n1,
                ReferenceResync.denseMarginFlop(sd, spec, spec.groups(), producers.sources(), producers), 0.0);
    }

    /**
     * A prefiltered group in BOUND mode whose suspect has near-duplicate neurons (margins about 0.005: genuinely
     * low) and noisy ones (matched similarity about 0.8: true margins about 0.7, but sketch bounds below the
     * threshold): the low-margin count, the minimum and the match are the dense path's; the noisy rows' bounds
     * were replaced by their exact margins (standing in, they would count as low), the clear rows keep bounds.
     */
    @Test
    void boundsLeaveTheLowMarginCountExact() {
        int n = 256;
        int d = 2048;
        SplittableRandom rnd = new SplittableRandom(20);
        float[] ref = new float[n * d];
        for (int t = 0; t < ref.length; t++) {
            ref[t] = (float) rnd.nextGaussian();
        }
        for (int pair = 0; pair < 8; pair++) { // rows 2p + 1 = rows 2p + 0.1 noise: cosine about 0.995
            for (int t = 0; t < d; t++) {
                ref[(2 * pair + 1) * d + t] = ref[2 * pair * d + t] + 0.1f * (float) rnd.nextGaussian();
            }
        }
        long[] p = Permutation.random(n, 9).longIndices(); // suspect row j = reference row p[j]
        float[] sus = new float[n * d];
        for (int j = 0; j < n; j++) {
            int i = (int) p[j];
            double noise = i >= 100 && i < 140 ? 0.75 : 0; // cosine about 0.8 to its reference row
            for (int t = 0; t < d; t++) {
                sus[j * d + t] = ref[i * d + t] + (float) (noise * rnd.nextGaussian());
            }
        }
        Group g = new Group("fc", n, List.of(new Member("fc.weight", 0, 1, Role.PRODUCER_WEIGHT)));
        PermutationSpec spec = new PermutationSpec("one", List.of(g), Set.of(), List.of());
        StateDict reference = new StateDict();
        reference.put("fc.weight", HostTensor.ofFloats(ref, n, d));
        Map<String, long[]> secret = Map.of("fc", p);
        GroupResult dense = resync(reference, sus, spec, ResyncOptions.defaults().withPrefilter(Prefilter.OFF), secret);
        GroupResult exact = resync(reference, sus, spec,
                ResyncOptions.defaults().withPrefilter(Prefilter.ON).withMargins(Margins.EXACT), secret);
        ResyncReport boundReport = ReferenceResync.run(reference, suspect(sus, n, d), spec,
                ResyncOptions.defaults().withPrefilter(Prefilter.ON).withMargins(Margins.BOUND), secret,
                ProgressListener.NONE);
        GroupResult bound = boundReport.groups().get(0);
        assertTrue(bound.prefiltered(), "the case must be answered by the prefilter, not handed back to dense");
        assertEquals(100.0, dense.psi());
        assertArrayEquals(dense.match(), bound.match());
        assertTrue(dense.lowMargin() >= 16, "the near-duplicates are low: " + dense.lowMargin());
        assertTrue(dense.lowMargin() < 40, "the noisy rows are not: " + dense.lowMargin());
        assertEquals(dense.lowMargin(), exact.lowMargin());
        assertEquals(dense.lowMargin(), bound.lowMargin(), "low-margin neurons with bounds");
        assertTrue(bound.marginBounds() > 0 && bound.marginBounds() < n - 40,
                "clear rows keep their bounds, noisy and low ones are exact: " + bound.marginBounds());
        assertTrue(bound.minMarginExact());
        assertEquals(dense.minMargin(), bound.minMargin(), PrefilteredMatchTest.MARGIN_TOLERANCE);
        assertEquals(0, exact.marginBounds());
        assertEquals(dense.medianMargin(), exact.medianMargin(), PrefilteredMatchTest.MARGIN_TOLERANCE);
        assertTrue(bound.medianMargin() <= dense.medianMargin() + PrefilteredMatchTest.MARGIN_TOLERANCE,
                "a median of lower bounds is a lower bound");
        assertEquals("bound", boundReport.margins().mode().word());
        assertEquals(1, boundReport.margins().boundGroups());
        assertTrue(boundReport.margins().label().startsWith("lower bounds on prefiltered groups"),
                boundReport.margins().label());
        assertEquals(Paper.RESYNC_LOW_MARGIN, boundReport.margins().threshold());
        // the case exercises the rule: with every bound standing in (a threshold of 0), more rows would count as low
        PrefilteredMatch.Outcome raw = PrefilteredMatch.solveRows(Backend.CPU,
                List.of(NeuronRows.dense(HostTensor.ofFloats(ref, n, d), n)),
                List.of(NeuronRows.dense(HostTensor.ofFloats(sus, n, d), n)), new double[] {1}, n, Margins.BOUND, 0);
        long rawLow = java.util.Arrays.stream(raw.margins()).filter(m -> m < Paper.RESYNC_LOW_MARGIN).count();
        assertTrue(rawLow > dense.lowMargin(), "bounds alone would count " + rawLow + " low rows");
    }

    private static StateDict suspect(float[] sus, int n, int d) {
        StateDict s = new StateDict();
        s.put("fc.weight", HostTensor.ofFloats(sus, n, d));
        return s;
    }

    private static GroupResult resync(StateDict reference, float[] sus, PermutationSpec spec, ResyncOptions o,
            Map<String, long[]> secret) {
        int n = Math.toIntExact(spec.groups().get(0).size());
        int d = sus.length / n;
        return ReferenceResync.run(reference, suspect(sus, n, d), spec, o, secret, ProgressListener.NONE).groups().get(0);
    }

    @Test
    void theReportSaysWhatWasComputedAndWhy() {
        MarginsChoice auto = new MarginsChoice(Margins.AUTO, Margins.BOUND, 1.4e13, 0.05, 18);
        assertEquals("lower bounds on prefiltered groups (exact: about 14 TFLOP of dense products here, over "
                + "--margins auto's 2 TFLOP budget; --margins exact computes them); rows below 0.05 exact; 18 group(s) "
                + "report lower bounds", auto.label());
        assertEquals("bound", auto.toJson().get("margins_mode"));
        assertEquals(1.4e13, auto.toJson().get("margins_dense_flop"));
        MarginsChoice small = new MarginsChoice(Margins.AUTO, Margins.EXACT, 9.3e11, 0.05, 0);
        assertEquals("exact (about 930 GFLOP of dense products here, within --margins auto's 2 TFLOP budget)",
                small.label());
        assertEquals("exact", small.toJson().get("margins_mode"));
        assertFalse(new MarginsChoice(Margins.BOUND, Margins.BOUND, 3.5e8, 0.05, 0).label().startsWith("lower"),
                "no group reports a bound: every figure is exact");
        assertEquals("350 MFLOP", MarginsChoice.flop(3.5e8));
    }
}
