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

import org.bytedeco.pytorch.Tensor;
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
import lady.torch.FloatTensors;
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

    private static Tensor counting(long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return FloatTensors.of(v, shape);
    }

    @Test
    void sliceOfEveryKindOfMember() {
        // a producer's rows: the flattened filter
        Tensor conv = counting(4, 3, 2, 2);
        float[] rows = FloatTensors.read(NeuronSlices.rows(conv, new Member("c", 0, 1, Role.PRODUCER_WEIGHT), 4));
        assertArrayEquals(FloatTensors.read(conv), rows);
        // a conv consumer's column: W[:, j, :, :], output neuron by output neuron
        Tensor next = counting(5, 4, 3, 3);
        float[] cols = FloatTensors.read(NeuronSlices.rows(next, new Member("n", 1, 1, Role.CONSUMER_WEIGHT), 4));
        assertEquals(4 * 45, cols.length);
        for (int j = 0; j < 4; j++) {
            for (int o = 0; o < 5; o++) {
                for (int k = 0; k < 9; k++) {
                    assertEquals(o * 36 + j * 9 + k, cols[j * 45 + o * 9 + k], "neuron " + j + " out " + o + " tap " + k);
                }
            }
        }
        // a Linear fed by conv -> flatten: blocks of 3 columns per channel
        Tensor linear = counting(6, 12);
        Member blocks = new Member("l", 1, 3, Role.CONSUMER_WEIGHT);
        float[] b = FloatTensors.read(NeuronSlices.rows(linear, blocks, 4));
        for (int j = 0; j < 4; j++) {
            for (int o = 0; o < 6; o++) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(o * 12 + j * 3 + k, b[j * 18 + o * 3 + k]);
                }
            }
        }
        // a subset of neurons, in the order asked
        float[] sub = FloatTensors.read(NeuronSlices.rows(linear, blocks, 4, new long[] {2, 0}));
        assertArrayEquals(java.util.Arrays.copyOfRange(b, 36, 54), java.util.Arrays.copyOfRange(sub, 0, 18));
        assertArrayEquals(java.util.Arrays.copyOfRange(b, 0, 18), java.util.Arrays.copyOfRange(sub, 18, 36));
        // a vector: one value per neuron
        assertArrayEquals(new float[] {0, 1, 2, 3}, FloatTensors.read(NeuronSlices.rows(counting(4),
                new Member("bias", 0, 1, Role.PRODUCER_BIAS), 4)));
        LadyException e = assertThrows(LadyException.class, () -> NeuronSlices.rows(linear, blocks, 5));
        assertTrue(e.getMessage().contains("'l'") && e.getMessage().contains("needs 15"), e.getMessage());
    }

    @Test
    void matchedPairsAreReadWithoutGatheringTheColumns() {
        torch.manual_seed(3);
        Tensor a = torch.randn(7, 5, 3, 3);
        Tensor b = a.add(torch.randn(7, 5, 3, 3).mul(new org.bytedeco.pytorch.Scalar(0.5)));
        Member consumer = new Member("w", 1, 1, Role.CONSUMER_WEIGHT);
        double[] direct = NeuronSlices.diagonalCosine(a, b, consumer, 5);
        float[] full = lady.kernels.Kernels.cosineSimilarity(Backend.CPU, FloatTensors.read(NeuronSlices.rows(a,
                consumer, 5)), FloatTensors.read(NeuronSlices.rows(b, consumer, 5)), 5, 5, 63, false);
        for (int i = 0; i < 5; i++) {
            assertEquals(full[i * 5 + i], direct[i], 1e-5, "neuron " + i);
        }
    }

    @Test
    void contributionsAreWeighedBySqrtOfTheirDimension() {
        Contribution rows27 = Contribution.rows("producer_rows", "a", torch.randn(4, 27), torch.randn(4, 27));
        Contribution cols576 = Contribution.rows("consumer_columns", "b", torch.randn(4, 576), torch.randn(4, 576));
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
        Tensor id = FloatTensors.of(eye, 4, 4);
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
        Contribution heavy = Contribution.rows("consumer_columns", "disagrees", FloatTensors.of(shifted, 4, 16),
                FloatTensors.of(other, 4, 16));
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
}
