package lady.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.cli.CliRun;
import lady.report.Json;

/** {@code lady train} and {@code lady eval}, in-process. */
class TrainCommandTest {


    static CliRun lady(String... args) {
        return CliRun.of(args);
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainWritesACheckpointThatEvalReads(@TempDir Path dir) {
        Path model = dir.resolve("toy.pt");
        CliRun t = lady("train", "--arch", "toynet", "--data", "digits", "--epochs", "1", "--limit", "512",
                "--batch-size", "32", "--lr", "0.02", "--seed", "1", "--threads", "2", "--quiet", "--out", model.toString(),
                "--format", "json");
        assertEquals(0, t.code(), t.err());
        Map<String, Object> tr = (Map<String, Object>) Json.parse(t.out().trim());
        assertEquals("toynet", tr.get("architecture"));
        assertEquals(512, ((Number) tr.get("train_images")).intValue());
        assertEquals(1, ((List<?>) tr.get("epochs")).size());
        assertEquals(1505, ((Number) tr.get("images")).intValue());
        assertTrue(Files.isRegularFile(model));

        CliRun e = lady("eval", "--model", model.toString(), "--data", "digits", "--format", "json", "--quiet");
        assertEquals(0, e.code(), e.err());
        Map<String, Object> ev = (Map<String, Object>) Json.parse(e.out().trim());
        assertEquals(1505, ((Number) ev.get("images")).intValue());
        assertEquals("toynet", ev.get("architecture"));
        assertEquals(((Number) tr.get("error_pct")).doubleValue(), ((Number) ev.get("error_pct")).doubleValue(), 1e-9,
                "eval of the checkpoint gives the error train reported");
        assertTrue(((Number) ev.get("error_pct")).doubleValue() < 90);

        CliRun text = lady("eval", "--model", model.toString(), "--limit", "100", "--quiet");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("100 images, error"), text.out());
    }

    @Test
    void wrongInputsGiveOneLineErrorsAndNonZeroExits(@TempDir Path dir) throws Exception {
        CliRun noFile = lady("eval", "--model", dir.resolve("missing.pt").toString(), "--quiet");
        assertTrue(noFile.code() != 0);
        assertTrue(noFile.err().startsWith("lady: error: "), noFile.err());
        assertEquals(1, noFile.err().trim().lines().count(), noFile.err());

        Path junk = dir.resolve("junk.pt");
        Files.writeString(junk, "not a checkpoint");
        CliRun bad = lady("eval", "--model", junk.toString(), "--quiet");
        assertEquals(3, bad.code(), bad.err());
        assertFalse(bad.err().contains("Exception"), bad.err());

        CliRun arch = lady("train", "--arch", "vgg17", "--epochs", "1", "--quiet");
        assertEquals(2, arch.code(), arch.err());
        assertTrue(arch.err().contains("unknown architecture") && arch.err().contains("nearest known: vgg16,"), arch.err());
        assertTrue(arch.err().strip().length() < 300, "a few names, not all of them: " + arch.err());

        CliRun data = lady("train", "--data", "imagenet", "--epochs", "1", "--quiet");
        assertEquals(2, data.code(), data.err());

        CliRun lr = lady("train", "--arch", "toynet", "--epochs", "1", "--lr", "-1", "--quiet");
        assertEquals(2, lr.code(), lr.err());

        CliRun missing = lady("train", "--arch", "toynet");
        assertTrue(missing.code() != 0);
        assertTrue(missing.err().contains("--epochs"), missing.err());
    }
}
