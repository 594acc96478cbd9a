package lady.watermark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.cli.CliRun;
import lady.report.Json;

/**
 * {@code lady train --watermark}, {@code lady watermark detect} and {@code embed}, in-process, on a tiny run.
 */
class WatermarkCommandTest {


    static CliRun lady(String... args) {
        return CliRun.of(args);
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainWithWatermarkThenDetectThenEmbed(@TempDir Path dir) {
        Path model = dir.resolve("m.pt");
        CliRun t = lady("train", "--arch", "vgg16_cifar", "--width", "0.125", "--epochs", "1", "--limit", "64",
                "--batch-size", "32", "--quiet", "--out", model.toString(), "--watermark", "paper",
                "--watermark-bits", "32", "--format", "json");
        assertEquals(0, t.code(), t.err());
        Path key = dir.resolve("m.key.json");
        assertTrue(Files.exists(key), "key next to the model");
        assertEquals("features.19.weight", WatermarkKey.read(key).layer(), "'paper': the conv at the paper's position");
        Map<String, Object> tr = (Map<String, Object>) Json.parse(t.out().trim());
        Map<String, Object> wm = (Map<String, Object>) tr.get("watermark");
        assertEquals(32L, wm.get("T"));

        CliRun d = lady("watermark", "detect", "--model", model.toString(), "--key", key.toString(), "--format", "json");
        assertEquals(0, d.code(), d.err());
        Map<String, Object> dj = (Map<String, Object>) Json.parse(d.out().trim());
        assertEquals(wm.get("ber_pct"), dj.get("ber_pct"));
        assertEquals(wm.get("extracted"), dj.get("extracted"));
        assertEquals(32, ((String) dj.get("extracted")).length());

        CliRun text = lady("watermark", "detect", "--model", model.toString(), "--key", key.toString());
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("BER") && text.out().contains("extracted"), text.out());

        // embed: the same model gets a second watermark from a key that does not exist yet (one test, so that the
        // model is trained and evaluated once: evaluation of the 1,505 test images dominates the time)
        embedCreatesAMissingKeyAndWritesTheWatermarkedModel(dir, model);
    }

    @SuppressWarnings("unchecked")
    private static void embedCreatesAMissingKeyAndWritesTheWatermarkedModel(Path dir, Path model) {
        Path key = dir.resolve("key.json");
        Path out = dir.resolve("wm.pt");
        // a few small steps: the test is about the plumbing (the story shows the embedding itself); the
        // model above had one training step only, and a larger lr makes its cross-entropy diverge
        CliRun e = lady("watermark", "embed", "--model", model.toString(), "--key", key.toString(), "--epochs", "1",
                "--limit", "200", "--lr", "1e-4", "--seed", "5", "--data", "digits", "--out", out.toString(), "--quiet",
                "--format", "json");
        assertEquals(0, e.code(), e.err());
        assertTrue(Files.exists(key) && Files.exists(out));
        Map<String, Object> j = (Map<String, Object>) Json.parse(e.out().trim());
        assertEquals(true, j.get("key_created"));
        WatermarkKey k = WatermarkKey.read(key);
        assertEquals(5L, k.seed());
        assertEquals("features.19.weight", k.layer(), "embed's default layer is the paper's");
        double after = Uchida.detect(Checkpoints.read(out), k).berPct();
        assertEquals(((Number) ((Map<String, Object>) j.get("watermark")).get("ber_pct")).doubleValue(), after);
        assertTrue(j.get("ber_before_pct") instanceof Number && j.get("error_pct") instanceof Number);

        // a key that does not fit: exit code of INVALID_INPUT and a message naming both sizes
        WatermarkKey.generate("features.19.weight", 1152, 64, 2.0 / 3, 1, 0.1).write(dir.resolve("wide.json"), false);
        CliRun bad = lady("watermark", "detect", "--model", out.toString(), "--key", dir.resolve("wide.json").toString());
        assertEquals(3, bad.code());
        assertTrue(bad.err().contains("1152") && bad.err().contains("576"), bad.err());
    }
}
