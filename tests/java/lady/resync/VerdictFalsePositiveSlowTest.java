package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.attack.AttackContext;
import lady.attack.NoiseAttack;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.PermutationSpec;
import lady.torch.Torch;

/**
 * The verdict's false-positive rate, measured: for each small architecture, {@link #SEEDS} networks trained on the
 * digits from different seeds (initialization and data order), every pair compared with every method and evidence
 * (null hypothesis true: none may be called derived), and each network against a noisy permuted copy of itself
 * (Omega 2 on every weight: all must be). Prints one line per architecture (bench/RESULTS.md, verdict section).
 * About 10 minutes on 2 cores.
 */
@Tag("slow")
class VerdictFalsePositiveSlowTest {
    static final List<String> ARCHS = List.of("toynet", "lenet5", "fc");
    static final int SEEDS = 6;
    static final int EPOCHS = 2;
    static Dataset train;

    @BeforeAll
    static void init() {
        Torch.init();
        train = Digits.train();
    }

    @Test
    void independentlyTrainedNetworksAreNotCalledDerived() {
        int falsePositives = 0;
        int tests = 0;
        int missed = 0;
        for (String arch : ARCHS) {
            PermutationSpec spec = Models.create(arch, ModelOptions.defaults()).permutationSpec();
            List<StateDict> models = new ArrayList<>();
            for (int s = 0; s < SEEDS; s++) {
                models.add(VerdictTest.trainedModel(arch, 1000 + s, train, EPOCHS));
            }
            double smallest = 1;
            double largestDerived = Double.NEGATIVE_INFINITY;
            int archFalse = 0;
            int archTests = 0;
            for (int a = 0; a < SEEDS; a++) {
                for (int b = a + 1; b < SEEDS; b++) {
                    for (ResyncOptions o : VerdictTest.everyMethod()) {
                        Verdict v = VerdictTest.verdict(models.get(a), models.get(b), spec, o);
                        archTests++;
                        archFalse += v.derived() ? 1 : 0;
                        smallest = Math.min(smallest, v.pValue());
                    }
                }
                StateDict noisy = models.get(a).copy();
                List<String> weights = VerdictTest.weights(spec);
                for (int k = 0; k < weights.size(); k++) {
                    new NoiseAttack(2).apply(noisy, AttackContext.of(weights.get(k), 10 * a + k));
                }
                Verdict v = VerdictTest.verdict(models.get(a), VerdictTest.permuted(noisy, spec, a), spec,
                        ResyncOptions.defaults());
                missed += v.derived() ? 0 : 1;
                largestDerived = Math.max(largestDerived, v.log10P());
            }
            System.err.printf(Locale.ROOT, "verdict %s: %d independent pairs x %d methods = %d tests, %d called derived "
                    + "(smallest p %.3g); %d noisy copies (Omega 2 on every weight), largest p 10^%.1f%n", arch,
                    SEEDS * (SEEDS - 1) / 2, VerdictTest.everyMethod().size(), archTests, archFalse, smallest, SEEDS,
                    largestDerived);
            falsePositives += archFalse;
            tests += archTests;
        }
        assertEquals(0, falsePositives, "independent networks called derived, of " + tests);
        assertEquals(0, missed, "noisy copies not called derived");
        assertTrue(tests > 0);
    }
}
