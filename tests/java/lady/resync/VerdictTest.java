package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.attack.AttackContext;
import lady.attack.NoiseAttack;
import lady.attack.PruneAttack;
import lady.attack.QuantAttack;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
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
import lady.torch.Torch;
import lady.train.TrainConfig;
import lady.train.Trainer;

/**
 * The verdict of every resync: copies of a trained network (permuted, noisy, quantized, pruned, fine-tuned) are
 * derived, networks of the same architecture trained from other seeds (or freshly initialized) are not, for every
 * method and evidence; and the arithmetic of the p-values. Small networks (toynet) briefly trained on the digits:
 * the many-seed false-positive measurement is {@link VerdictFalsePositiveSlowTest}.
 */
class VerdictTest {
    static final String ARCH = "toynet";
    static final int TRAIN_IMAGES = 600;
    static final List<StateDict> trained = new ArrayList<>();
    static Dataset train;
    static PermutationSpec spec;

    @BeforeAll
    static void train() {
        Torch.init();
        train = Digits.train().limit(TRAIN_IMAGES);
        for (long seed : new long[] {1, 2, 3}) {
            trained.add(trainedModel(ARCH, seed, train, 1));
        }
        spec = Models.create(ARCH, ModelOptions.defaults()).permutationSpec();
    }

    /** A network of {@code arch} initialized and trained (data order) from {@code seed}. */
    static StateDict trainedModel(String arch, long seed, Dataset data, int epochs) {
        Trainer.seedLibtorch(seed);
        Model m = Models.create(arch, ModelOptions.defaults());
        new Trainer(TrainConfig.fineTuning(epochs).withSeed(seed)).deterministic(true).train(m, data);
        return m.stateDict();
    }

    /** Every group permuted by a random permutation drawn from {@code seed}. */
    static StateDict permuted(StateDict state, PermutationSpec spec, long seed) {
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), seed);
        return Permuter.apply(state, spec, perms, Backend.CPU);
    }

    static Verdict verdict(StateDict reference, StateDict suspect, PermutationSpec spec, ResyncOptions options) {
        return ReferenceResync.run(reference, suspect.copy(), spec, options, null, ProgressListener.NONE).verdict();
    }

    /** The Conv2d and Linear weights (the producers' weights of every group, and the output layer's). */
    static List<String> weights(PermutationSpec spec) {
        List<String> out = new ArrayList<>();
        for (Group g : spec.groups()) {
            for (Member m : g.members()) {
                if ((m.role() == Role.PRODUCER_WEIGHT || m.role() == Role.CONSUMER_WEIGHT) && !out.contains(m.tensor())) {
                    out.add(m.tensor()); // a tensor produces one group and consumes another: once
                }
            }
        }
        return out;
    }

    static List<ResyncOptions> everyMethod() {
        ResyncOptions d = ResyncOptions.defaults();
        return List.of(d, d.withEvidence(EvidenceScope.PRODUCERS), d.withMethod(Method.ARGMAX));
    }

    @Test
    void copiesAreDerived() {
        StateDict reference = trained.get(0);
        List<String> weights = weights(spec);
        StateDict noisy = reference.copy();
        StateDict heavy = reference.copy();
        StateDict pruned = reference.copy();
        for (int k = 0; k < weights.size(); k++) {
            new NoiseAttack(1).apply(noisy, AttackContext.of(weights.get(k), 100 + k));
            new NoiseAttack(2).apply(heavy, AttackContext.of(weights.get(k), 300 + k));
            new PruneAttack(90).apply(pruned, AttackContext.of(weights.get(k), 200 + k));
        }
        StateDict quant = reference.copy();
        new QuantAttack(4).apply(quant, AttackContext.of(null, 0).withWeights(weights));
        Model ft = Models.fromStateDict(reference, ARCH);
        new Trainer(TrainConfig.fineTuning(1).withSeed(99)).deterministic(true).train(ft, Digits.train().limit(
                2 * TRAIN_IMAGES));
        // Omega 2 on every weight defeats the producers' rows alone (the first layers' matches cascade): all evidence
        Verdict v2 = verdict(reference, permuted(heavy, spec, 5), spec, ResyncOptions.defaults());
        assertTrue(v2.derived() && v2.log10P() < -6, "noise:2 on every weight: " + v2);
        Map<String, StateDict> copies = Map.of("permuted", reference, "noise:1 on every weight", noisy,
                "prune:90 on every weight", pruned, "quant:4", quant, "fine-tuned", ft.stateDict());
        copies.forEach((name, copy) -> {
            for (ResyncOptions o : everyMethod()) {
                Verdict v = verdict(reference, permuted(copy, spec, 7), spec, o);
                assertTrue(v.derived(), name + " " + o.method() + "/" + o.effectiveEvidence() + ": " + v);
                assertTrue(v.log10P() < -6, name + ": p = 10^" + v.log10P());
                assertEquals(spec.groups().size(), v.groups().size());
            }
        });
    }

    @Test
    void independentlyTrainedAndFreshModelsAreNotDerived() {
        List<StateDict> others = new ArrayList<>(trained.subList(1, trained.size()));
        Trainer.seedLibtorch(42);
        others.add(Models.create(ARCH, ModelOptions.defaults()).stateDict()); // freshly initialized
        for (StateDict other : others) {
            for (ResyncOptions o : everyMethod()) {
                Verdict v = verdict(trained.get(0), other, spec, o);
                assertFalse(v.derived(), o.method() + "/" + o.effectiveEvidence() + ": " + v);
                assertTrue(v.pValue() >= 0.01, "p " + v.pValue() + " " + v);
            }
        }
    }

    @Test
    void theVerdictIsInTheReportJsonAndSummary() {
        ResyncReport r = ReferenceResync.run(trained.get(0), permuted(trained.get(0), spec, 3), spec,
                ResyncOptions.defaults(), null, ProgressListener.NONE);
        Map<String, Object> json = r.toJson();
        Map<?, ?> v = (Map<?, ?>) json.get("verdict");
        assertEquals(Boolean.TRUE, v.get("derived"));
        assertEquals(Verdict.LEVEL, v.get("level"));
        assertTrue(((String) v.get("method")).contains("Holm-Bonferroni"));
        List<?> groups = (List<?>) v.get("groups");
        assertEquals(spec.groups().size(), groups.size());
        Map<?, ?> g = (Map<?, ?>) groups.get(0);
        for (String key : List.of("group", "source", "sources", "neurons", "rows", "z_median", "p_value", "holm_p_value")) {
            assertTrue(g.containsKey(key), key + " in " + g);
        }
        assertTrue(r.verdict().summary().startsWith("verdict: DERIVED"), r.verdict().summary());
    }

    @Test
    void maxOfNormalsTail() {
        // 1 - Phi(3) = 0.0013498980316301; the best of 1 is the variable itself
        assertEquals(Math.log10(0.0013498980316301), Verdict.log10MaxTail(3, 1), 1e-6);
        // best of 100 at t = 2: 1 - Phi(2)^100 with 1 - Phi(2) = 0.0227501319481792
        assertEquals(Math.log10(1 - Math.pow(1 - 0.0227501319481792, 100)), Verdict.log10MaxTail(2, 100), 1e-6);
        // far tail (Mills ratio): 1 - Phi(10) = 7.619853024160527e-24, times n
        assertEquals(Math.log10(512 * 7.619853024160527e-24), Verdict.log10MaxTail(10, 512), 1e-3);
        assertEquals(0, Verdict.log10MaxTail(-5, 64), 1e-12, "below the mean: p = 1");
        assertTrue(Verdict.log10MaxTail(40, 4096) < -300, "no underflow to -infinity or NaN");
        assertTrue(Double.isFinite(Verdict.log10MaxTail(40, 4096)));
    }

    @Test
    void holmBonferroniOverGroups() {
        List<Verdict.GroupTest> tests = List.of(test("a", -5), test("b", -1), test("c", 0));
        Verdict v = Verdict.of(tests);
        // sorted: a (1e-5 x 3), b (1e-1 x 2, at least the previous), c (1 x 1)
        assertEquals(3e-5, v.groups().get(0).holmPValue(), 1e-12);
        assertEquals(0.2, v.groups().get(1).holmPValue(), 1e-12);
        assertEquals(1, v.groups().get(2).holmPValue(), 1e-12);
        assertEquals(3e-5, v.pValue(), 1e-12);
        assertTrue(v.derived());
        assertFalse(Verdict.of(List.of(test("a", -2.9), test("b", -1))).derived(), "2 x 10^-2.9 > 1e-3");
    }

    private static Verdict.GroupTest test(String name, double log10) {
        return new Verdict.GroupTest(name, "producer_rows:x", 1, 64, 64, 5, Math.pow(10, log10), log10, 1);
    }

    @Test
    void smallGroupsAreNotTested() {
        float[] s = new float[4 * 4];
        for (int i = 0; i < 4; i++) {
            s[i * 4 + i] = 1;
        }
        Verdict.GroupTest t = Verdict.test("tiny", "producer_rows:x", 4, s, 4, 4, new long[] {0, 1, 2, 3});
        assertEquals(1, t.pValue());
        assertTrue(Double.isNaN(t.zMedian()));
    }
}
