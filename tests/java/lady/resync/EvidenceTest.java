package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.attack.AttackContext;
import lady.attack.NoiseAttack;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
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
import lady.tensor.IndexedTensor;
import lady.torch.Torch;

/**
 * The evidence of the resync: per-neuron slices of every kind of member, the combination and its weights, the
 * certificate of a later pass, and the consumers' columns rescuing a first layer under noise on every layer.
 */
class EvidenceTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static HostTensor counting(long... shape) {
        float[] v = new float[(int) HostTensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return HostTensor.ofFloats(v, shape);
    }

    private static HostTensor gaussian(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) HostTensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return HostTensor.ofFloats(v, shape);
    }

    private static RowPair pair(HostTensor t, Member m, long n) {
        return RowPair.of(IndexedTensor.of(t), IndexedTensor.of(t), m, n);
    }

    @Test
    void rowsOfEveryKindOfMember() {
        // a producer's rows: the flattened filter, a view of the tensor itself
        HostTensor conv = counting(4, 3, 2, 2);
        RowPair rows = pair(conv, new Member("c", 0, 1, Role.PRODUCER_WEIGHT), 4);
        assertEquals(12, rows.dimension());
        assertArrayEquals(conv.readFloats(), rows.reference().readFloats());
        assertTrue(rows.reference().memory() == conv.memory(), "a producer's rows are read in place");
        // a conv consumer's column: W[:, j, :, :], output neuron by output neuron
        HostTensor next = counting(5, 4, 3, 3);
        float[] cols = pair(next, new Member("n", 1, 1, Role.CONSUMER_WEIGHT), 4).reference().readFloats();
        assertEquals(4 * 45, cols.length);
        for (int j = 0; j < 4; j++) {
            for (int o = 0; o < 5; o++) {
                for (int k = 0; k < 9; k++) {
                    assertEquals(o * 36 + j * 9 + k, cols[j * 45 + o * 9 + k], "neuron " + j + " out " + o + " tap " + k);
                }
            }
        }
        // a Linear fed by conv -> flatten: blocks of 3 columns per channel (MemberSlices' order: block, then rows)
        HostTensor linear = counting(6, 12);
        Member blocks = new Member("l", 1, 3, Role.CONSUMER_WEIGHT);
        RowPair b = pair(linear, blocks, 4);
        assertEquals(18, b.dimension());
        float[] bf = b.reference().readFloats();
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 3; k++) {
                for (int o = 0; o < 6; o++) {
                    assertEquals(o * 12 + j * 3 + k, bf[j * 18 + k * 6 + o]);
                }
            }
        }
        // the second branch of a concatenation: 2 neurons from column 8 on, blocks of 2
        Member branch = new Member("l", 1, 8, 2, Role.CONSUMER_WEIGHT);
        RowPair c = pair(linear, branch, 2);
        assertEquals(12, c.dimension());
        float[] cf = c.reference().readFloats();
        for (int j = 0; j < 2; j++) {
            for (int k = 0; k < 2; k++) {
                for (int o = 0; o < 6; o++) {
                    assertEquals(o * 12 + 8 + j * 2 + k, cf[j * 12 + k * 6 + o]);
                }
            }
        }
        // the v segment of packed attention heads: rows from offset 2E, blocks of head_dim
        HostTensor inProj = counting(12, 5);
        float[] v = pair(inProj, new Member("in_proj_weight", 0, 8, 2, Role.PRODUCER_WEIGHT), 2).reference().readFloats();
        assertArrayEquals(java.util.Arrays.copyOfRange(inProj.readFloats(), 40, 60), v);
        // a subset of neurons, in the order asked
        HostTensor[] sub = b.subset(new long[] {2, 0}, new long[] {3});
        assertArrayEquals(java.util.Arrays.copyOfRange(bf, 36, 54), java.util.Arrays.copyOfRange(sub[0].readFloats(), 0, 18));
        assertArrayEquals(java.util.Arrays.copyOfRange(bf, 0, 18), java.util.Arrays.copyOfRange(sub[0].readFloats(), 18, 36));
        assertArrayEquals(java.util.Arrays.copyOfRange(bf, 54, 72), sub[1].readFloats());
        // a vector: one value per neuron
        assertArrayEquals(new float[] {0, 1, 2, 3}, pair(counting(4), new Member("bias", 0, 1, Role.PRODUCER_BIAS), 4)
                .reference().readFloats());
        LadyException e = assertThrows(LadyException.class, () -> pair(linear, branch, 3));
        assertTrue(e.getMessage().contains("'l'") && e.getMessage().contains("[8, 14)"), e.getMessage());
    }

    @Test
    void matchedPairsAreReadWithoutGatheringTheColumns() {
        HostTensor a = gaussian(3, 7, 9, 3, 3);
        HostTensor noise = gaussian(4, 7, 9, 3, 3);
        float[] bv = a.readFloats();
        float[] nv = noise.readFloats();
        for (int i = 0; i < bv.length; i++) {
            bv[i] += 0.5f * nv[i];
        }
        HostTensor b = HostTensor.ofFloats(bv, 7, 9, 3, 3);
        // consumer columns in blocks of 2 from input channel 3 on (a concatenation's second branch)
        for (Member m : List.of(new Member("w", 1, 1, Role.CONSUMER_WEIGHT), new Member("w", 1, 3, 2, Role.CONSUMER_WEIGHT))) {
            int n = m.block() == 1 ? 9 : 3;
            RowPair p = RowPair.of(IndexedTensor.of(a), IndexedTensor.of(b), m, n);
            double[] direct = p.diagonalCosine(); // from the tensors' own layout
            int d = Math.toIntExact(p.dimension());
            float[] full = lady.kernels.Kernels.cosineSimilarity(Backend.CPU, p.reference().readFloats(),
                    p.suspect().readFloats(), n, n, d, false);
            double[] gathered = p.diagonalCosine(); // from the gathered rows
            for (int i = 0; i < n; i++) {
                assertEquals(full[i * n + i], direct[i], 1e-5, m + " neuron " + i);
                assertEquals(direct[i], gathered[i], 1e-9, m + " neuron " + i);
            }
        }
    }

    /**
     * Which groups order a member's slices: the producer's input groups, the consumer's output groups, a
     * tensor that reads its own group, groups nested inside the member's range; not the other segments of the
     * same group nor a concatenation's other branch.
     */
    @Test
    void slicesAreComparableOnceTheGroupsOrderingThemAreAligned() {
        Group a = new Group("a", 4, List.of(new Member("conv1.weight", 0, 1, Role.PRODUCER_WEIGHT),
                new Member("conv1.bias", 0, 1, Role.PRODUCER_BIAS), new Member("cat.weight", 1, 0, 1, Role.CONSUMER_WEIGHT)));
        Group b = new Group("b", 2, List.of(new Member("conv2.weight", 0, 1, Role.PRODUCER_WEIGHT),
                new Member("cat.weight", 1, 4, 1, Role.CONSUMER_WEIGHT)));
        Group c = new Group("c", 3, List.of(new Member("cat.weight", 0, 1, Role.PRODUCER_WEIGHT),
                new Member("proj.weight", 0, 1, Role.PRODUCER_WEIGHT), new Member("proj.weight", 1, 1, Role.CONSUMER_WEIGHT)));
        Map<String, long[]> shapes = Map.of("conv1.weight", new long[] {4, 3}, "conv1.bias", new long[] {4},
                "conv2.weight", new long[] {2, 3}, "cat.weight", new long[] {3, 6}, "proj.weight", new long[] {3, 3});
        PermutationSpec spec = new PermutationSpec("toy", List.of(a, b, c), Set.of(), List.of());
        StateDict sd = new StateDict();
        shapes.forEach((name, shape) -> sd.put(name, gaussian(name.hashCode(), shape)));
        EvidenceContext context = new EvidenceContext(sd, sd.copy(), spec, spec.groups(), Backend.CPU);
        Member catA = a.members(Role.CONSUMER_WEIGHT).get(0);
        assertEquals(List.of(c), context.orderedBy(a, catA), "a's columns: ordered by c's rows, not by b's columns");
        assertEquals(List.of(), context.orderedBy(a, a.members(Role.PRODUCER_BIAS).get(0)));
        assertEquals(List.of(a, b), context.orderedBy(c, c.members(Role.PRODUCER_WEIGHT).get(0)));
        Member projRows = c.members(Role.PRODUCER_WEIGHT).get(1);
        assertEquals(List.of(c), context.orderedBy(c, projRows), "a projection reading its own group");
        assertTrue(!context.aligned(c, projRows), "unaligned until c is solved");
        assertTrue(!context.aligned(a, catA), "a's columns wait for c");
        context.solved("c", true);
        assertTrue(context.aligned(c, projRows));
        assertTrue(context.aligned(a, catA));
        assertEquals(List.of("c"), context.dependencies(a, catA));
        // a group left out of the resync is taken as it is: nothing to wait for
        EvidenceContext onlyA = new EvidenceContext(sd, sd.copy(), spec, List.of(a), Backend.CPU);
        assertTrue(onlyA.aligned(a, catA));
        assertEquals(List.of(), onlyA.dependencies(a, catA));
        // a group nested inside another's blocks (query heads inside a KV head) is ordered by it, and back
        Group kv = new Group("kv", 2, List.of(new Member("q.weight", 0, 4, Role.PRODUCER_WEIGHT)));
        Group q0 = new Group("q0", 2, List.of(new Member("q.weight", 0, 0, 2, Role.PRODUCER_WEIGHT)));
        Group q1 = new Group("q1", 2, List.of(new Member("q.weight", 0, 4, 2, Role.PRODUCER_WEIGHT)));
        PermutationSpec gqa = new PermutationSpec("gqa", List.of(kv, q0, q1), Set.of(), List.of());
        StateDict g = new StateDict();
        g.put("q.weight", gaussian(5, 8, 3));
        EvidenceContext nested = new EvidenceContext(g, g.copy(), gqa, gqa.groups(), Backend.CPU);
        assertEquals(List.of(kv), nested.orderedBy(q1, q1.members().get(0)));
        assertEquals(List.of(q0, q1), nested.orderedBy(kv, kv.members().get(0)));
    }

    @Test
    void contributionsAreWeighedBySqrtOfTheirDimension() {
        Contribution rows27 = Contribution.rows("producer_rows", "a", gaussian(1, 4, 27), gaussian(2, 4, 27));
        Contribution cols576 = Contribution.rows("consumer_columns", "b", gaussian(3, 4, 576), gaussian(4, 4, 576));
        double[] w = Combination.weights(List.of(rows27, cols576), EvidenceWeighting.SQRT_DIMENSION);
        assertEquals(Math.sqrt(27) / (Math.sqrt(27) + Math.sqrt(576)), w[0], 1e-12);
        assertEquals(1, w[0] + w[1], 1e-12);
        double[] equal = Combination.weights(List.of(rows27, cols576), EvidenceWeighting.EQUAL);
        assertEquals(0.5, equal[0], 1e-12);
        assertEquals(576.0 / 603, Combination.weights(List.of(rows27, cols576), EvidenceWeighting.DIMENSION)[1], 1e-12);
        // one contribution is used as it is: the paper's cosine, bit for bit
        ResyncOptions o = ResyncOptions.defaults();
        float[] alone = Combination.similarity(List.of(rows27), new double[] {1}, o, 4);
        float[] kernel = new float[16];
        Similarity.accumulateCosine(Backend.CPU, rows27.rows().reference(), rows27.rows().suspect(), kernel);
        assertArrayEquals(kernel, alone);
    }

    @Test
    void theCertificateKeepsAnOrderOnlyWhenTheNewEvidenceCannotChangeIt() {
        float[] eye = new float[4 * 4];
        for (int i = 0; i < 4; i++) {
            eye[i * 4 + i] = 1;
        }
        HostTensor id = HostTensor.ofFloats(eye, 4, 4);
        Contribution old = Contribution.rows("producer_rows", "old", id, id); // margins 1 on the diagonal
        double[] margins = {1, 1, 1, 1};
        ResyncOptions o = ResyncOptions.defaults();
        // a new contribution that agrees with the diagonal: kept, margins stay positive
        Combination.Solved kept = Combination.keep(List.of(old, Contribution.rows("consumer_columns", "agrees", id, id)),
                Set.of(old.key()), margins, 4, o);
        assertNotNull(kept);
        assertTrue(kept.kept());
        assertArrayEquals(new long[] {0, 1, 2, 3}, kept.match());
        // a heavy new contribution that pairs every neuron with another: no certificate, solve again
        float[] shifted = new float[4 * 16];
        for (int i = 0; i < 4; i++) {
            shifted[i * 16 + i] = 1;
        }
        float[] other = new float[4 * 16];
        for (int i = 0; i < 4; i++) {
            other[i * 16 + (i + 1) % 4] = 1;
        }
        Contribution heavy = Contribution.rows("consumer_columns", "disagrees", HostTensor.ofFloats(shifted, 4, 16),
                HostTensor.ofFloats(other, 4, 16));
        assertNull(Combination.keep(List.of(old, heavy), Set.of(old.key()), margins, 4, o));
    }

    /** Omega 2 on every weight of a VGG16 (no batch norm, width 1/4): the first conv's 27-value rows lose neurons. */
    @Test
    void consumersColumnsRescueTheFirstLayerUnderNoiseOnEveryLayer() {
        torch.manual_seed(6);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.25));
        StateDict original = model.stateDict();
        PermutationSpec spec = model.permutationSpec();
        StateDict noisy = original.copy();
        List<String> weights = VerdictTest.weights(spec);
        for (int k = 0; k < weights.size(); k++) {
            new NoiseAttack(2).apply(noisy, AttackContext.of(weights.get(k), 40 + k));
        }
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 9);
        StateDict suspect = Permuter.apply(noisy, spec, perms, Backend.CPU);
        Map<String, long[]> secret = ReferenceResyncTest.secret(perms);
        ResyncReport producers = ReferenceResync.run(original, suspect.copy(), spec,
                ResyncOptions.defaults().withEvidence(EvidenceScope.PRODUCERS), secret, ProgressListener.NONE);
        ResyncReport all = ReferenceResync.run(original, suspect.copy(), spec, ResyncOptions.defaults(), secret,
                ProgressListener.NONE);
        assertTrue(producers.psi() < 99.9, "the producers' rows alone must lose neurons here: Psi " + producers.psi());
        assertEquals(100.0, all.psi(), "all the evidence: " + all.groups().stream().map(g -> g.name() + " " + g.psi())
                .toList());
        GroupResult first = all.groups().get(0);
        assertEquals(2, first.passes(), "the first group is solved again once its consumer is aligned");
        // the biases are all 0 at initialization: constant over the neurons, they tell nothing and are left out
        assertEquals(List.of(ProducerRows.NAME, ConsumerColumns.NAME),
                first.evidence().stream().map(EvidenceUse::source).toList());
        assertTrue(first.evidence().get(1).weight() > first.evidence().get(0).weight(),
                "576-value columns outweigh 27-value rows: " + first.evidence());
    }

    /** Permutation alone: every later pass is certified (no second dense solve), the model comes back bit for bit. */
    @Test
    void secondPassIsCertifiedForAnExactCopy() {
        torch.manual_seed(6);
        Model model = Models.create("vgg16_bn_cifar", ModelOptions.defaults().withWidth(0.125));
        StateDict original = model.stateDict();
        PermutationSpec spec = model.permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 4);
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
        ResyncReport r = ReferenceResync.run(original, suspect, spec, ResyncOptions.defaults(),
                ReferenceResyncTest.secret(perms), ProgressListener.NONE);
        assertEquals(100.0, r.psi());
        ReferenceResyncTest.assertRestored(original, suspect);
        for (GroupResult g : r.groups()) {
            assertTrue(g.passes() <= 2, g.name() + " passes " + g.passes());
            assertTrue(g.minMargin() > 0, g.name());
        }
        // the last hidden group reads the fixed output layer's columns from the first pass
        GroupResult last = r.groups().get(r.groups().size() - 1);
        assertEquals(1, last.passes());
        assertTrue(last.evidence().stream().anyMatch(e -> e.source().equals(ConsumerColumns.NAME)), last.evidence().toString());
    }

    /**
     * Nested groups (one grouped-query attention layer: KV heads, the query heads and value dimensions inside
     * each): before the inner groups are solved, the KV heads' q and v rows are scrambled inside by them, so
     * only the k rows are aligned evidence; the inner groups' rows read the KV order, so they wait for it.
     */
    @Test
    void nestedGroupsWaitForEachOther() {
        PermutationSpec spec = lady.permutation.NestingTest.spec();
        StateDict state = new StateDict();
        lady.permutation.NestingTest.shapes().forEach((name, shape) -> state.put(name, HostTensor.allocate(
                lady.tensor.DType.FLOAT32, shape)));
        EvidenceContext context = new EvidenceContext(state, state.copy(), spec, spec.groups(), Backend.CPU);
        Group kv = spec.groups().get(0);
        Group q0 = spec.group("q0").orElseThrow();
        List<String> aligned = kv.members(Role.PRODUCER_WEIGHT).stream().filter(m -> context.aligned(kv, m))
                .map(Member::tensor).toList();
        assertEquals(List.of("k"), aligned, "the KV heads are first matched on their k rows");
        assertTrue(q0.members(Role.PRODUCER_WEIGHT).stream().noneMatch(m -> context.aligned(q0, m)));
        context.solved("kv", true);
        assertTrue(q0.members(Role.PRODUCER_WEIGHT).stream().allMatch(m -> context.aligned(q0, m)),
                "once the KV heads are solved, the query heads inside them are comparable");
    }
}
