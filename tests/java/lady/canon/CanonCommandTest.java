package lady.canon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.report.Json;
import lady.torch.Torch;
import lady.train.Trainer;

/** {@code lady canon} in-process: rank, save, align a permuted suspect. */
class CanonCommandTest {
    static StateDict original;

    @BeforeAll
    static void model() {
        Torch.init();
        Trainer.seedLibtorch(4);
        original = Models.create("vgg16_bn_cifar", ModelOptions.defaults().withWidth(0.125)).stateDict();
    }

    static void assertSameTensors(StateDict a, StateDict b) {
        assertEquals(a.names(), b.names());
        for (String n : a.names()) {
            assertTrue(a.get(n).sameContent(b.get(n)), "tensor " + n + " differs");
        }
    }

    @Test
    void rankThenAlignAPermutedSuspectGivesTheCanonicalModel(@TempDir Path dir) {
        Path m = dir.resolve("m.pt");
        Checkpoints.write(m, original, Checkpoints.Format.TORCH_ZIP);
        Path canon = dir.resolve("canon.json");
        CliRun r = CliRun.of("canon", "--model", m.toString(), "--layer", "features.17,classifier.0", "--method",
                "basic", "--out", canon.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("features.17"), r.out());

        // the attacker permutes every group
        Path suspect = dir.resolve("suspect.pt");
        Path secret = dir.resolve("secret.json");
        CliRun p = CliRun.of("permute", "--model", m.toString(), "--groups", "features.17,classifier.0", "--seed", "9",
                "--out", suspect.toString(), "--secret", secret.toString());
        assertEquals(0, p.code(), p.err());

        Path aligned = dir.resolve("aligned.pt");
        Path canonModel = dir.resolve("canonical.pt");
        CliRun a = CliRun.of("canon", "--model", suspect.toString(), "--from", canon.toString(), "--out",
                aligned.toString(), "--secret", secret.toString(), "--format", "json", "--quiet");
        assertEquals(0, a.code(), a.err());
        Map<?, ?> json = (Map<?, ?>) Json.parse(a.out());
        assertEquals(100.0, ((Number) json.get("psi")).doubleValue(), a.out());
        CliRun b = CliRun.of("canon", "--model", m.toString(), "--from", canon.toString(), "--out",
                canonModel.toString(), "--quiet");
        assertEquals(0, b.code(), b.err());
        StateDict x = Checkpoints.read(aligned);
        assertSameTensors(Checkpoints.read(canonModel), x);
        assertFalse(original.get("features.17.weight").sameContent(x.get("features.17.weight")),
                "the canonical order is not the original order");
    }

    @Test
    void activeRankingSavesTheInputAndReranksWithIt(@TempDir Path dir) {
        Path m = dir.resolve("m.pt");
        Checkpoints.write(m, original, Checkpoints.Format.TORCH_ZIP);
        Path canon = dir.resolve("canon.json");
        CliRun r = CliRun.of("canon", "--model", m.toString(), "--layer", "features.10", "--method", "active",
                "--steps", "3", "--seed", "5", "--out", canon.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        CanonicalOrder saved = CanonicalOrder.read(canon);
        assertEquals(RankingMethod.ACTIVE, saved.method());
        assertEquals(5L, saved.seed());
        assertEquals(3 * 32 * 32, saved.layer("features.10").active().input().length);

        Path suspect = dir.resolve("suspect.pt");
        Path secret = dir.resolve("secret.json");
        assertEquals(0, CliRun.of("permute", "--model", m.toString(), "--groups", "all", "--seed", "2", "--out",
                suspect.toString(), "--secret", secret.toString()).code());
        Path order = dir.resolve("suspect-canon.json");
        CliRun a = CliRun.of("canon", "--model", suspect.toString(), "--from", canon.toString(), "--out",
                dir.resolve("aligned.pt").toString(), "--order", order.toString(), "--secret", secret.toString(),
                "--quiet");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("Psi_rank over the groups: 100.00 %"), a.out());
        assertTrue(Files.exists(order));
    }

    @Test
    void mistakesAreUsageErrorsWithoutStackTraces(@TempDir Path dir) {
        Path m = dir.resolve("m.pt");
        Checkpoints.write(m, original, Checkpoints.Format.TORCH_ZIP);
        for (List<String> args : List.of(
                List.of("canon", "--model", m.toString(), "--out", dir.resolve("c.json").toString()),
                List.of("canon", "--model", m.toString(), "--layer", "features.99", "--out", dir.resolve("c.json").toString()),
                List.of("canon", "--model", m.toString(), "--layer", "features.17", "--method", "magic", "--out",
                        dir.resolve("c.json").toString()),
                List.of("canon", "--model", m.toString(), "--layer", "features.17", "--steps", "3", "--out",
                        dir.resolve("c.json").toString()))) {
            CliRun r = CliRun.of(args.toArray(String[]::new));
            assertEquals(2, r.code(), args + ": " + r.err());
            assertTrue(r.err().startsWith("lady: error: "), r.err());
            assertFalse(r.err().contains("\tat "), r.err());
        }
        CliRun noLayer = CliRun.of("canon", "--model", m.toString(), "--out", dir.resolve("c.json").toString());
        assertTrue(noLayer.err().matches("(?s).*such as features\\.\\d+ .*"), "names a group of this model: " + noLayer.err());
        CliRun missing = CliRun.of("canon", "--model", m.toString(), "--from", dir.resolve("nope.json").toString(),
                "--out", dir.resolve("a.pt").toString());
        assertEquals(4, missing.code(), missing.err());
        assertFalse(Files.exists(dir.resolve("c.json")));
    }
}
