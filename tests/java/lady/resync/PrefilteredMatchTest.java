package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** The random-projection prefilter gives the dense method's match, and hands ambiguous groups back to dense. */
class PrefilteredMatchTest {
    /** Prefiltered and dense margins differ by float rounding only (the dense kernel sums in float). */
    static final double MARGIN_TOLERANCE = 1e-5;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static ResyncReport resync(StateDict reference, StateDict suspect, PermutationSpec spec, Prefilter mode,
            Map<String, Permutation> perms) {
        StateDict s = suspect.copy();
        return ReferenceResync.run(reference, s, spec, ResyncOptions.defaults().withPrefilter(mode),
                ReferenceResyncTest.secret(perms), ProgressListener.NONE);
    }

    private static void assertSameMatches(ResyncReport dense, ResyncReport prefiltered) {
        for (int g = 0; g < dense.groups().size(); g++) {
            GroupResult d = dense.groups().get(g);
            GroupResult p = prefiltered.groups().get(g);
            assertFalse(d.prefiltered(), d.name() + ": the dense run used the prefilter");
            assertArrayEquals(d.match(), p.match(), d.name() + ": prefiltered match differs from dense");
            // issue 20, item 2: the confidence users read is the dense one, not a bound
            assertEquals(d.minMargin(), p.minMargin(), MARGIN_TOLERANCE, d.name() + ": min margin");
            assertEquals(d.medianMargin(), p.medianMargin(), MARGIN_TOLERANCE, d.name() + ": median margin");
            assertEquals(d.lowMargin(), p.lowMargin(), d.name() + ": low-margin neurons");
        }
    }

    private static long rowLength(StateDict state, Group g) {
        long d = 0;
        for (Member m : g.members(Role.PRODUCER_WEIGHT)) {
            d += state.get(m.tensor()).numel() / g.size();
        }
        return d;
    }

    @Test
    void fullyPermutedModelsGiveTheDenseMatchThroughThePrefilter() {
        for (String arch : List.of("vgg16_cifar", "resnet18_cifar")) {
            torch.manual_seed(21);
            Model model = Models.create(arch, ModelOptions.defaults().withWidth(0.5));
            StateDict original = model.stateDict();
            PermutationSpec spec = model.permutationSpec();
            Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 5);
            StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
            ResyncReport dense = resync(original, suspect, spec, Prefilter.OFF, perms);
            ResyncReport pre = resync(original, suspect, spec, Prefilter.ON, perms);
            assertEquals(100.0, pre.psi(), arch);
            assertSameMatches(dense, pre);
            for (GroupResult r : pre.groups()) {
                Group g = spec.group(r.name()).orElseThrow();
                if (rowLength(original, g) >= PrefilteredMatch.AUTO_MIN_DIM_RATIO * PrefilteredMatch.SKETCH_DIMS) {
                    assertTrue(r.prefiltered(), arch + " " + r.name() + ": clear exact copy, yet not prefiltered");
                }
            }
            StateDict restored = suspect.copy();
            ReferenceResync.run(original, restored, spec, ResyncOptions.defaults().withPrefilter(Prefilter.ON), null,
                    ProgressListener.NONE);
            ReferenceResyncTest.assertRestored(original, restored);
        }
    }

    @Test
    void noisySuspectsGiveTheDenseMatchAndHeavyNoiseFallsBackToDense() {
        torch.manual_seed(8);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.5));
        StateDict original = model.stateDict();
        PermutationSpec spec = model.permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 9);
        // omega: noise std in units of each weight's std (method.md 7); 0.3 keeps matches clear, 10 does not
        for (double omega : new double[] {0.3, 10}) {
            StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
            for (String name : suspect.names()) {
                Tensor t = TorchTensors.view(suspect.get(name)); // noise added in place
                if (name.endsWith("weight") && t.dim() > 1) {
                    t.add_(torch.randn_like(t).mul(torch.std(t)).mul(new org.bytedeco.pytorch.Scalar(omega)));
                }
            }
            ResyncReport dense = resync(original, suspect, spec, Prefilter.OFF, perms);
            ResyncReport pre = resync(original, suspect, spec, Prefilter.ON, perms);
            assertSameMatches(dense, pre);
            assertEquals(dense.psi(), pre.psi(), 0.0, "omega " + omega);
            long prefiltered = pre.groups().stream().filter(GroupResult::prefiltered).count();
            if (omega < 1) {
                assertTrue(prefiltered > 0, "omega " + omega + ": no group was prefiltered");
            } else {
                assertTrue(prefiltered < pre.groups().size(), "omega " + omega + ": no group fell back to dense");
            }
        }
    }

    @Test
    void collidingBestColumnsAreResolvedByTheCertifiedAssignment() {
        int n = 64;
        int d = 2048;
        SplittableRandom rnd = new SplittableRandom(4);
        float[] ref = new float[n * d];
        for (int t = 0; t < ref.length; t++) {
            ref[t] = (float) rnd.nextGaussian();
        }
        // reference rows 0 and 1 are close (u and u + 0.2 v); the suspect holds a row between them (a) and a
        // noisier copy of row 1 (b): both reference rows have their best at a, the assignment gives 1 -> b
        float[] u = java.util.Arrays.copyOfRange(ref, 0, d);
        float[] v = gaussian(rnd, d);
        float[] w = gaussian(rnd, d);
        float[] r1 = combine(u, v, 0.2, w, 0);
        System.arraycopy(r1, 0, ref, d, d);
        long[] p = Permutation.random(n, 17).longIndices(); // suspect row j = reference row p[j]
        float[] sus = new float[n * d];
        for (int j = 0; j < n; j++) {
            int i = (int) p[j];
            float[] row = i == 0 ? combine(u, v, 0.1, w, 0) : i == 1 ? combine(u, v, 0.2, w, 0.15)
                    : java.util.Arrays.copyOfRange(ref, i * d, (i + 1) * d);
            System.arraycopy(row, 0, sus, j * d, d);
        }
        float[] s = Kernels.cosineSimilarity(Backend.CPU, ref, sus, n, n, d, false);
        int[] dense = Kernels.assign(Backend.CPU, s, n);
        long[] best = Similarity.rowArgmax(s, n);
        assertEquals(best[0], best[1], "the test case must make rows 0 and 1 collide");
        HostTensor ta = HostTensor.ofFloats(ref, n, d);
        HostTensor tb = HostTensor.ofFloats(sus, n, d);
        PrefilteredMatch.Outcome o = PrefilteredMatch.solve(Backend.CPU, List.of(ta), List.of(tb), new double[] {1}, n);
        assertNotNull(o, "a clear collision must be certified, not handed back");
        long[] match = new long[n];
        for (int i = 0; i < n; i++) {
            assertEquals(dense[i], o.match()[i], "row " + i);
            match[i] = dense[i];
        }
        double[] denseMargins = new double[n];
        for (int i = 0; i < n; i++) {
            float other = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                if (j != dense[i]) {
                    other = Math.max(other, s[i * n + j]);
                }
            }
            denseMargins[i] = s[i * n + dense[i]] - other;
            assertEquals(denseMargins[i], o.margins()[i], MARGIN_TOLERANCE, "margin of row " + i);
        }
        // the full-row computation on scattered rows (gathered) and on a run of consecutive ones (in place)
        int[] rows = {0, 1, 5, 6, 7, 40, 63};
        double[] margins = new double[n];
        PrefilteredMatch.exactMargins(Backend.CPU, List.of(ta), List.of(tb), new double[] {1}, n, match, rows, margins);
        for (int i : rows) {
            assertEquals(denseMargins[i], margins[i], MARGIN_TOLERANCE, "full-row margin of row " + i);
        }
    }

    private static float[] gaussian(SplittableRandom rnd, int d) {
        float[] x = new float[d];
        for (int t = 0; t < d; t++) {
            x[t] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static float[] combine(float[] u, float[] v, double bv, float[] w, double bw) {
        float[] x = new float[u.length];
        for (int t = 0; t < u.length; t++) {
            x[t] = (float) (u[t] + bv * v[t] + bw * w[t]);
        }
        return x;
    }

    @Test
    void autoRuleTakesOnlyLargeGroups() {
        assertTrue(PrefilteredMatch.worthIt(4096, 25088), "classifier.0 of torchvision VGG16");
        assertTrue(PrefilteredMatch.worthIt(4096, 4096), "classifier.3");
        assertFalse(PrefilteredMatch.worthIt(64, 27), "features.0: rows shorter than the sketch");
        assertFalse(PrefilteredMatch.worthIt(16, 4608), "a tiny group");
        assertFalse(PrefilteredMatch.wanted(Prefilter.OFF, 4096, 25088));
        assertEquals(Prefilter.AUTO, ResyncOptions.defaults().prefilter());
        assertEquals(Prefilter.OFF, Prefilter.parse(" Off "));
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> Prefilter.parse("sometimes"));
        assertEquals(lady.LadyException.Kind.USAGE, e.kind());
    }
}
