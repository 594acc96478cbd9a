package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.torch.Torch;

/** {@code lady resync --margins}: the report and the printed summary name what the margins are, and why. */
class ResyncMarginsCliTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** A toynet m.pt in {@code dir}, its permuted copy p.pt and the secret s.json, by the command line: the three paths. */
    static Path[] permutedToynet(Path dir) {
        Path model = dir.resolve("m.pt");
        Checkpoints.write(model, Models.create("toynet", ModelOptions.defaults()).stateDict(), Checkpoints.Format.TORCH_ZIP);
        Path permuted = dir.resolve("p.pt");
        Path secret = dir.resolve("s.json");
        assertEquals(0, CliRun.of("permute", "--model", model.toString(), "--seed", "4", "--out", permuted.toString(),
                "--secret", secret.toString()).code());
        return new Path[] {model, permuted, secret};
    }

    @Test
    void theReportNamesTheMarginsModeAndTheSummaryMarksBounds(@TempDir Path dir) throws IOException {
        Path[] pair = permutedToynet(dir);
        Path model = pair[0];
        Path permuted = pair[1];
        Path secret = pair[2];

        Path auto = dir.resolve("auto.json");
        CliRun a = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(), "--secret",
                secret.toString(), "--report", auto.toString(), "--no-structural", "--quiet");
        assertEquals(0, a.code(), a.err());
        String json = Files.readString(auto);
        assertTrue(json.contains("\"margins_mode\":\"exact\""), json);
        assertTrue(json.contains("\"margins_requested\":\"auto\""), json);
        assertTrue(json.contains("\"margins\":\"exact (about "), json);
        assertTrue(json.contains("within --margins auto's 2 TFLOP budget"), json);
        assertTrue(json.contains("\"margins_dense_flop\""), json);

        Path bound = dir.resolve("bound.json");
        CliRun b = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(), "--secret",
                secret.toString(), "--report", bound.toString(), "--prefilter", "on", "--margins", "bound",
                "--no-structural", "--quiet");
        assertEquals(0, b.code(), b.err());
        String boundJson = Files.readString(bound);
        assertTrue(boundJson.contains("\"margins_mode\":\"bound\""), boundJson);
        assertTrue(boundJson.contains("\"margins\":\"lower bounds on prefiltered groups"), boundJson);
        assertTrue(boundJson.contains("rows below 0.05 exact"), boundJson);
        assertTrue(boundJson.matches("(?s).*\"margin_bounds\":[1-9].*"), "some group reports bounds: " + boundJson);
        assertTrue(b.out().lines().anyMatch(l -> l.startsWith("margins: lower bounds on prefiltered groups")), b.out());
        assertTrue(b.out().contains(">="), "bounds are marked in the table: " + b.out());
        assertTrue(b.out().contains("Psi (neuron-weighted) 100.00 %"), b.out());

        CliRun bad = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(),
                "--margins", "roughly");
        assertEquals(2, bad.code(), bad.out() + bad.err());
        assertTrue(bad.err().contains("auto, exact or bound"), bad.err());
    }
}
