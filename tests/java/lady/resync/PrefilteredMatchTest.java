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
        long[] best = Similarity.rowArgmax(Backend.CPU, s, n);
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
        PrefilteredMatch.exactMargins(Backend.CPU, List.of(NeuronRows.dense(ta, n)), List.of(NeuronRows.dense(tb, n)),
                new double[] {1}, n, match, rows, margins);
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

    /** The sparse assignment equals the dense exact assignment on complete and on sparse candidate graphs. */
    @Test
    void sparseAssignmentIsTheExactAssignmentOfItsEdges() {
        for (int seed = 1; seed <= 40; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(40);
            boolean complete = seed % 2 == 0;
            float[] dense = new float[n * n];
            int[][] cols = new int[n][];
            double[][] vals = new double[n][];
            long[] hidden = Permutation.random(n, seed).longIndices(); // keeps a perfect matching among the edges
            for (int i = 0; i < n; i++) {
                java.util.List<Integer> c = new java.util.ArrayList<>();
                for (int j = 0; j < n; j++) {
                    if (complete || j == hidden[i] || rnd.nextDouble() < 0.2) {
                        c.add(j);
                    }
                }
                cols[i] = c.stream().mapToInt(Integer::intValue).toArray();
                vals[i] = new double[cols[i].length];
                java.util.Arrays.fill(dense, i * n, (i + 1) * n, -1000f); // a missing edge: never worth taking
                for (int k = 0; k < cols[i].length; k++) {
                    vals[i][k] = (float) rnd.nextGaussian(); // float values: the dense solver sees the same numbers
                    dense[i * n + cols[i][k]] = (float) vals[i][k];
                }
            }
            int[] sparse = SparseAssignment.solve(n, cols, vals);
            int[] exact = Kernels.assign(Backend.CPU, dense, n);
            double a = 0;
            double b = 0;
            for (int i = 0; i < n; i++) {
                a += dense[i * n + sparse[i]];
                b += dense[i * n + exact[i]];
            }
            assertEquals(b, a, 1e-6, "seed " + seed + ": the sparse optimum's value");
            assertEquals(n, java.util.Arrays.stream(sparse).distinct().count(), "a permutation");
        }
        // no perfect matching among the edges: null
        assertEquals(null, SparseAssignment.solve(2, new int[][] {{0}, {0}}, new double[][] {{1}, {2}}));
    }

    /**
     * Rows read where they lie (bfloat16 and float32, lazy index maps on both axes, members on axis 0 and 1 with
     * offsets and blocks) are MemberSlices' float32 rows of the gathered tensor, value for value.
     */
    @Test
    void neuronRowsReadLazilyPermutedTensorsAsTheirGatheredRows() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (lady.tensor.DType dt : List.of(lady.tensor.DType.BFLOAT16, lady.tensor.DType.FLOAT32, lady.tensor.DType.FLOAT16)) {
            HostTensor t = HostTensor.allocate(dt, 12, 10, 3);
            java.nio.ByteBuffer b = t.bytes(0, (int) t.byteSize());
            for (int i = 0; i < t.numel(); i++) {
                float v = (float) rnd.nextGaussian();
                if (dt == lady.tensor.DType.FLOAT32) {
                    b.putFloat(4 * i, v);
                } else if (dt == lady.tensor.DType.BFLOAT16) {
                    b.putShort(2 * i, (short) (Float.floatToIntBits(v) >>> 16));
                } else {
                    b.putShort(2 * i, (short) ((rnd.nextInt(2) << 15) | ((1 + rnd.nextInt(29)) << 10) | rnd.nextInt(1024))); // finite halves
                }
            }
            StateDict sd = new StateDict();
            sd.put("w", t);
            sd.permuteLazily("w", 0, Permutation.random(12, 1).longIndices());
            sd.permuteLazily("w", 1, Permutation.random(10, 2).longIndices());
            for (Member m : List.of(new Member("w", 0, 2, 2, Role.PRODUCER_WEIGHT), new Member("w", 1, 3, 1, Role.CONSUMER_WEIGHT),
                    new Member("w", 1, 0, 2, Role.CONSUMER_WEIGHT))) {
                int n = m.axis() == 0 ? 5 : m.block() == 2 ? 5 : 7;
                NeuronRows rows = NeuronRows.of(sd.indexed("w"), m, n);
                float[] want = m.axis() == 0 ? lady.permutation.MemberSlices.rows(sd.indexed("w"), m, n).readFloats()
                        : byColumns(sd.indexed("w").materialize().readFloats(), m, n);
                NeuronRows.Reader r = rows.reader();
                for (int j = 0; j < n; j++) {
                    float[] got = new float[rows.d];
                    if (rows.byRows) {
                        r.neuron(j, got);
                    } else {
                        for (long o = 0; o < rows.outer(); o++) {
                            System.arraycopy(r.outerRow(o), rows.segmentStart(j), got, (int) (o * rows.segment()), rows.segment());
                        }
                    }
                    assertArrayEquals(java.util.Arrays.copyOfRange(want, j * rows.d, (j + 1) * rows.d), got, dt + " " + m + " neuron " + j);
                }
            }
        }
    }

    /** Neuron j's vector of an axis-1 member of a [12, 10, 3] tensor: for each row o, its block of columns. */
    private static float[] byColumns(float[] t, Member m, int n) {
        int rows = 12;
        int cols = 10;
        int inner = 3;
        int seg = (int) m.block() * inner;
        float[] out = new float[n * rows * seg];
        for (int j = 0; j < n; j++) {
            for (int o = 0; o < rows; o++) {
                for (int b = 0; b < m.block(); b++) {
                    for (int i = 0; i < inner; i++) {
                        int col = (int) (m.offset() + j * m.block() + b);
                        out[(j * rows + o) * seg + b * inner + i] = t[(o * cols + col) * inner + i];
                    }
                }
            }
        }
        return out;
    }

    /**
     * A group of 5000 neurons (beyond {@link PrefilteredMatch#AUTO_MIN_LARGE_GROUP}, short rows) with two
     * producers, one read by columns through a lazy index map: the prefilter answers without an N x N
     * matrix, with the inverse permutation and positive margin bounds.
     */
    @Test
    void largeGroupsAreMatchedWithoutTheDenseMatrix() {
        int n = 5000;
        int d = 48;
        SplittableRandom rnd = new SplittableRandom(12);
        float[] a = gaussian(rnd, n * d);
        float[] c = gaussian(rnd, 30 * n); // a consumer-like [30, n] tensor: neuron j is column j
        long[] p = Permutation.random(n, 5).longIndices();
        StateDict ref = new StateDict();
        ref.put("a", HostTensor.ofFloats(a, n, d));
        ref.put("c", HostTensor.ofFloats(c, 30, n));
        StateDict sus = new StateDict();
        sus.put("a", HostTensor.ofFloats(a, n, d));
        sus.put("c", HostTensor.ofFloats(c, 30, n));
        sus.permuteLazily("a", 0, p);
        sus.permuteLazily("c", 1, p);
        Member ma = new Member("a", 0, 1, Role.PRODUCER_WEIGHT);
        Member mc = new Member("c", 1, 1, Role.PRODUCER_WEIGHT);
        assertTrue(PrefilteredMatch.worthIt(n, d + 30));
        PrefilteredMatch.Outcome o = PrefilteredMatch.solveRows(Backend.CPU,
                List.of(NeuronRows.of(ref.indexed("a"), ma, n), NeuronRows.of(ref.indexed("c"), mc, n)),
                List.of(NeuronRows.of(sus.indexed("a"), ma, n), NeuronRows.of(sus.indexed("c"), mc, n)),
                new double[] {0.5, 0.5}, n, Margins.BOUND, 0);
        assertNotNull(o);
        long[] inv = Permutation.of(p).inverse().longIndices();
        assertArrayEquals(inv, o.match());
        for (double m : o.margins()) {
            assertTrue(m > 0, "a clear match has a positive margin bound");
        }
    }

    @Test
    void autoRuleTakesOnlyLargeGroups() {
        assertTrue(PrefilteredMatch.worthIt(14336, 100), "a Llama-3-8B MLP: its dense matrix alone is 822 MB");
        assertEquals(256, PrefilteredMatch.sketchDims(1));
        assertEquals(128, PrefilteredMatch.sketchDims(2));
        assertEquals(16, PrefilteredMatch.sketchDims(65), "a 7B stream of 65 producers");
        assertTrue(PrefilteredMatch.worthIt(4096, 25088), "classifier.0 of torchvision VGG16");
        assertTrue(PrefilteredMatch.worthIt(4096, 4096), "classifier.3");
        assertFalse(PrefilteredMatch.worthIt(64, 27), "features.0: rows shorter than the sketch");
        assertFalse(PrefilteredMatch.worthIt(16, 4608), "a tiny group");
        assertFalse(PrefilteredMatch.wanted(Prefilter.OFF, 4096, 25088, Margins.BOUND));
        // exact margins cost a dense product per row the sketch leaves open (every row on real groups): below
        // the large-group size the prefilter would only add to the dense path's work
        assertFalse(PrefilteredMatch.wanted(Prefilter.AUTO, 3072, 1537, Margins.EXACT), "a ViT-B/16 MLP");
        assertTrue(PrefilteredMatch.wanted(Prefilter.AUTO, 3072, 1537, Margins.BOUND), "a ViT-B/16 MLP, bounds");
        assertTrue(PrefilteredMatch.wanted(Prefilter.AUTO, 4096, 25088, Margins.EXACT), "classifier.0 of VGG16");
        assertTrue(PrefilteredMatch.wanted(Prefilter.ON, 512, 4608, Margins.EXACT));
        assertEquals(Prefilter.AUTO, ResyncOptions.defaults().prefilter());
        assertEquals(Prefilter.OFF, Prefilter.parse(" Off "));
        lady.LadyException e = org.junit.jupiter.api.Assertions.assertThrows(lady.LadyException.class,
                () -> Prefilter.parse("sometimes"));
        assertEquals(lady.LadyException.Kind.USAGE, e.kind());
    }

    /**
     * A noisy group with six producers (cosines about 0.37 between matched rows): the first sketch and the fixed retry
     * leave every row with hundreds of columns within reach, so before the wider attempts the prefilter gave it back to
     * the dense path. The attempt sized by the rows' reach answers: the planted permutation, with the margins a plain
     * dense computation gives. An unrelated group's reach (its best similarities are noise) asks for no wider attempt.
     */
    @Test
    void aNoisyGroupIsAnsweredByAWiderSketchAndAnUnrelatedOneIsNotRetried() {
        int n = 256;
        int producers = 6;
        int d = 2048;
        SplittableRandom rnd = new SplittableRandom(31);
        long[] p = Permutation.random(n, 7).longIndices();
        List<HostTensor> refs = new java.util.ArrayList<>();
        List<HostTensor> suss = new java.util.ArrayList<>();
        for (int q = 0; q < producers; q++) {
            float[] a = gaussian(rnd, n * d);
            float[] b = new float[n * d];
            for (int j = 0; j < n; j++) { // suspect row j plays reference row p[j], with noise 2.5 times its spread
                for (int t = 0; t < d; t++) {
                    b[j * d + t] = (float) (a[(int) p[j] * d + t] + 2.5 * rnd.nextGaussian());
                }
            }
            refs.add(HostTensor.ofFloats(a, n, d));
            suss.add(HostTensor.ofFloats(b, n, d));
        }
        double[] w = new double[producers];
        java.util.Arrays.fill(w, 1.0 / producers);
        List<NeuronRows> ra = refs.stream().map(t -> NeuronRows.dense(t, n)).toList();
        // the fixed retry's width alone does not answer: without a wider attempt the group went dense
        int retry = PrefilteredMatch.sketchDims(producers, PrefilteredMatch.RETRY_TOTAL_DIMS);
        assertTrue(PrefilteredMatch.widerSketch(ra, n, (long) producers * d, retry, retry, 1.0) > retry);
        PrefilteredMatch.Outcome o = PrefilteredMatch.solve(Backend.CPU, refs, suss, w, n);
        assertNotNull(o, "the wider sketch answers");
        assertArrayEquals(Permutation.of(p).inverse().longIndices(), o.match());
        // the margins, against a plain dense computation (double sums)
        double[][] s = new double[n][n];
        for (int q = 0; q < producers; q++) {
            float[] a = refs.get(q).readFloats();
            float[] b = suss.get(q).readFloats();
            double[] na = new double[n];
            double[] nb = new double[n];
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < d; t++) {
                    na[i] += (double) a[i * d + t] * a[i * d + t];
                    nb[i] += (double) b[i * d + t] * b[i * d + t];
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int t = 0; t < d; t++) {
                        dot += (double) a[i * d + t] * b[j * d + t];
                    }
                    s[i][j] += w[q] * dot / Math.sqrt(na[i] * nb[j]);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            int m = (int) o.match()[i];
            double other = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                if (j != m) {
                    other = Math.max(other, s[i][j]);
                }
            }
            assertEquals(s[i][m] - other, o.margins()[i], MARGIN_TOLERANCE, "row " + i);
            assertTrue(s[i][m] < 0.45, "a noisy match: " + s[i][m]);
        }
        // unrelated: the median row's reach is many times its best similarity; no width within the caps would do
        assertEquals(retry, PrefilteredMatch.widerSketch(ra, n, (long) producers * d, retry, retry, 30));
        assertEquals(retry, PrefilteredMatch.widerSketch(ra, n, (long) producers * d, 32, retry, 30),
                "the fixed retry stands");
    }

    /**
     * The exact margins of a few rows whose evidence includes a member on axis 1 (an embedding's columns, read
     * through a lazy permutation) are computed from the stored rows read once, in float32 and in bfloat16, and agree
     * with a plain double-precision computation of every similarity.
     */
    @Test
    void fewRowsMarginsFromAColumnMemberAreThePlainOnes() {
        int n = 300;
        int d = 48;
        int outer = 700;
        SplittableRandom rnd = new SplittableRandom(21);
        for (lady.tensor.DType dtype : new lady.tensor.DType[] {lady.tensor.DType.FLOAT32, lady.tensor.DType.BFLOAT16}) {
            float[] a = gaussian(rnd, n * d);
            float[] c = gaussian(rnd, outer * n);
            float[] cs = c.clone();
            for (int i = 0; i < cs.length; i++) {
                cs[i] += (float) (0.8 * rnd.nextGaussian()); // a noisy copy
            }
            long[] p = Permutation.random(n, 5).longIndices();
            StateDict ref = new StateDict();
            ref.put("a", HostTensor.ofFloats(a, n, d).converted(dtype));
            ref.put("c", HostTensor.ofFloats(c, outer, n).converted(dtype));
            StateDict sus = new StateDict();
            sus.put("a", HostTensor.ofFloats(a, n, d).converted(dtype));
            sus.put("c", HostTensor.ofFloats(cs, outer, n).converted(dtype));
            sus.permuteLazily("a", 0, p);
            sus.permuteLazily("c", 1, p);
            Member ma = new Member("a", 0, 1, Role.PRODUCER_WEIGHT);
            Member mc = new Member("c", 1, 1, Role.PRODUCER_WEIGHT);
            List<NeuronRows> refs = List.of(NeuronRows.of(ref.indexed("a"), ma, n), NeuronRows.of(ref.indexed("c"), mc, n));
            List<NeuronRows> suss = List.of(NeuronRows.of(sus.indexed("a"), ma, n), NeuronRows.of(sus.indexed("c"), mc, n));
            double[] w = {0.4, 0.6};
            long[] match = Permutation.of(p).inverse().longIndices();
            int[] rows = {3, 17, 250};
            double[] margins = new double[n];
            PrefilteredMatch.exactMargins(Backend.CPU, refs, suss, w, n, match, rows, margins);
            float[][] ra = {ref.get("a").readFloats(), ref.get("c").readFloats()};
            float[][] sa = {sus.get("a").readFloats(), sus.get("c").readFloats()};
            for (int i : rows) {
                double best = Double.NaN;
                double other = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    double sim = 0;
                    for (int q = 0; q < 2; q++) {
                        int len = q == 0 ? d : outer;
                        double dot = 0;
                        double nx = 0;
                        double ny = 0;
                        for (int t = 0; t < len; t++) {
                            double x = q == 0 ? ra[0][i * d + t] : ra[1][t * n + i];
                            double y = q == 0 ? sa[0][j * d + t] : sa[1][t * n + j];
                            dot += x * y;
                            nx += x * x;
                            ny += y * y;
                        }
                        sim += w[q] * dot / Math.sqrt(nx * ny);
                    }
                    if (j == match[i]) {
                        best = sim;
                    } else {
                        other = Math.max(other, sim);
                    }
                }
                assertEquals(best - other, margins[i], MARGIN_TOLERANCE, dtype + " row " + i);
            }
        }
    }

    /**
     * The candidate scan from each row's kept largest float estimates gives, whenever it answers, exactly the full
     * scan's candidates, bound (bit for bit) and ambiguity; planted matches, rows of noise, thresholds from tight to
     * everything-reaches, a last block shorter than the others. Both ways are taken: rows it decides and rows it
     * hands back to the full scan.
     */
    @Test
    void keptEstimatesGiveTheFullScansCandidatesAndBound() {
        int n = 2000;
        int dk = 64;
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[n * dk];
        float[] y = new float[n * dk];
        for (int t = 0; t < y.length; t++) {
            y[t] = (float) r.nextGaussian();
        }
        for (int i = 0; i < n; i++) { // half the rows: a noisy copy of a suspect row; the rest: noise
            int j = (i * 7919) % n;
            for (int t = 0; t < dk; t++) {
                x[i * dk + t] = i % 2 == 0 ? y[j * dk + t] + 0.5f * (float) r.nextGaussian() : (float) r.nextGaussian();
            }
        }
        double[] xn = new double[n];
        float[] ynf = new float[n];
        for (int i = 0; i < n; i++) {
            xn[i] = Math.sqrt(dotOf(x, i, x, i, dk));
            ynf[i] = (float) Math.sqrt(dotOf(y, i, y, i, dk));
        }
        int blocks = (n + PrefilteredMatch.SCAN_BLOCK - 1) / PrefilteredMatch.SCAN_BLOCK;
        int keep = PrefilteredMatch.KEPT_ESTIMATES;
        PrefilteredMatch.Scan scan = new PrefilteredMatch.Scan(n, n, ynf);
        float[] blockMax = scan.blockMax;
        float[] keptValue = scan.keptValue;
        int[] keptColumn = scan.keptColumn;
        int[] best = scan.best;
        float[] cos = new float[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                cos[j] = (float) (dotOf(x, i, y, j, dk) / (xn[i] * Math.sqrt(dotOf(y, j, y, j, dk))));
            }
            scan.contiguous(i, cos, 0, 0, n);
        }
        int decided = 0;
        int handedBack = 0;
        int ambiguous = 0;
        int withCandidates = 0;
        int[] columns = new int[keep];
        for (double reach : new double[] {0.02, 0.2, 0.5, 2, 100}) {
            for (int i = 0; i < n; i++) {
                double threshold = dotOf(x, i, y, best[i], dk) - reach * xn[i];
                float scaled = (float) (threshold / xn[i]) - (float) PrefilteredMatch.ESTIMATE_ROUNDING;
                int[] fullFound = new int[PrefilteredMatch.MAX_EXTRA_CANDIDATES + 1];
                boolean[] fullAmbiguous = new boolean[1];
                double full = PrefilteredMatch.scanRow(i, n, blocks, blockMax, best[i], x, y, dk, xn[i], threshold, scaled,
                        fullFound, fullAmbiguous);
                int[] found = new int[PrefilteredMatch.MAX_EXTRA_CANDIDATES + 1];
                boolean[] amb = new boolean[1];
                double kept = PrefilteredMatch.scanKept(i, n, blocks, blockMax, keep, keptValue, keptColumn, columns,
                        best[i], x, y, dk, xn[i], threshold, scaled, found, amb);
                if (amb[0]) {
                    assertTrue(fullAmbiguous[0], "row " + i + ": ambiguous from the kept estimates only");
                    continue;
                }
                if (Double.isNaN(kept)) {
                    handedBack++;
                    ambiguous += fullAmbiguous[0] ? 1 : 0;
                    continue;
                }
                decided++;
                assertFalse(fullAmbiguous[0], "row " + i + ", reach " + reach + ": the full scan is ambiguous");
                assertEquals(Double.doubleToLongBits(full), Double.doubleToLongBits(kept), "row " + i + ", reach " + reach
                        + ": bound");
                int count = fullFound[PrefilteredMatch.MAX_EXTRA_CANDIDATES];
                assertEquals(count, found[PrefilteredMatch.MAX_EXTRA_CANDIDATES], "row " + i + ": candidates");
                assertArrayEquals(java.util.Arrays.copyOf(fullFound, count), java.util.Arrays.copyOf(found, count),
                        "row " + i + ", reach " + reach + ": candidates");
                withCandidates += count > 0 ? 1 : 0;
            }
        }
        assertTrue(decided > 3 * n, "the kept estimates decided " + decided + " of " + 5 * n + " rows");
        assertTrue(handedBack > 0 && ambiguous > 0 && withCandidates > 0, "handed back " + handedBack + " (ambiguous "
                + ambiguous + "), decided with candidates " + withCandidates);
    }

    /**
     * Columns whose estimates tie within the float rounding allowed for (60 near copies of the reference row below
     * three clear candidates, their float estimates off by up to 0.9 of {@link PrefilteredMatch#ESTIMATE_ROUNDING}
     * at random, the largest copy's pushed lowest, as the block scan's rounding may be): the kept estimates are then
     * not the largest exact ones, and
     * the kept scan must hand the row back rather than give a bound that misses a column left out.
     */
    @Test
    void keptEstimatesHandBackRowsWhoseRoundingCouldHideAColumn() {
        int n = 256;
        int dk = 16;
        SplittableRandom r = new SplittableRandom(11);
        float[] x = new float[dk];
        for (int t = 0; t < dk; t++) {
            x[t] = (float) r.nextGaussian();
        }
        float[] y = new float[n * dk];
        for (int j = 0; j < n; j++) {
            boolean clear = j == 0 || j == 1 || j == 32; // a candidate in each of the two first blocks
            for (int t = 0; t < dk; t++) {
                y[j * dk + t] = clear ? x[t] * 1.01f : j < 64 ? x[t] * (1 + 1e-7f * j) : (float) r.nextGaussian();
            }
        }
        double xn = Math.sqrt(dotOf(x, 0, x, 0, dk));
        float[] ynf = new float[n];
        double[] e = new double[n];
        float[] cos = new float[n];
        double rounding = PrefilteredMatch.ESTIMATE_ROUNDING;
        for (int j = 0; j < n; j++) {
            ynf[j] = (float) Math.sqrt(dotOf(y, j, y, j, dk));
            e[j] = dotOf(x, 0, y, j, dk);
            double off = j == 63 ? -0.9 : 0.9 * (2 * r.nextDouble() - 1); // the largest copy's estimate lowest
            float f = (float) (e[j] / xn + off * rounding); // within the allowed rounding
            cos[j] = f / ynf[j];
        }
        int blocks = n / PrefilteredMatch.SCAN_BLOCK;
        int keep = PrefilteredMatch.KEPT_ESTIMATES;
        PrefilteredMatch.Scan scan = new PrefilteredMatch.Scan(1, n, ynf);
        scan.contiguous(0, cos, 0, 0, n);
        float[] blockMax = scan.blockMax;
        float[] keptValue = scan.keptValue;
        int[] keptColumn = scan.keptColumn;
        int best = scan.best[0];
        double copies = Double.NEGATIVE_INFINITY;
        for (int j = 2; j < 64; j++) {
            copies = j == 32 ? copies : Math.max(copies, e[j]);
        }
        double threshold = copies + 2.5 * rounding * xn; // above every copy and its kept estimate's bound
        float scaled = (float) (threshold / xn) - (float) rounding;
        int[] fullFound = new int[PrefilteredMatch.MAX_EXTRA_CANDIDATES + 1];
        double full = PrefilteredMatch.scanRow(0, n, blocks, blockMax, best, x, y, dk, xn, threshold, scaled, fullFound,
                new boolean[1]);
        assertEquals(Double.doubleToLongBits(copies), Double.doubleToLongBits(full), "the full scan's bound");
        double kept = PrefilteredMatch.scanKept(0, n, blocks, blockMax, keep, keptValue, keptColumn, new int[keep], best,
                x, y, dk, xn, threshold, scaled, new int[PrefilteredMatch.MAX_EXTRA_CANDIDATES + 1], new boolean[1]);
        assertTrue(Double.isNaN(kept) || Double.doubleToLongBits(kept) == Double.doubleToLongBits(full),
                "kept scan's bound " + kept + " but the full scan's is " + full);
    }

    private static double dotOf(float[] a, int i, float[] b, int j, int d) {
        double s = 0;
        for (int t = 0; t < d; t++) {
            s += (double) a[i * d + t] * b[j * d + t];
        }
        return s;
    }
}
