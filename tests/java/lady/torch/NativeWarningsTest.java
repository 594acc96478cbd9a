package lady.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.model.ModelOptions;
import lady.model.Models;

/**
 * libtorch writes its warnings straight to the process's stderr, where a Java test cannot see them:
 * this runs {@code lady canon --method active} (single-thread, batch-1 convolutions, the case that sent
 * libtorch to NNPACK and printed "Could not initialize NNPACK! Reason: Unsupported hardware" about 16
 * times per step) in a child JVM and reads everything it printed.
 */
class NativeWarningsTest {

    @Test
    void activeRankingPrintsNoNativeWarnings(@TempDir Path dir) throws IOException, InterruptedException {
        Path model = dir.resolve("m.pt");
        Checkpoints.write(model, Models.create("vgg16_bn_cifar", ModelOptions.defaults().withWidth(0.25)).stateDict(),
                Checkpoints.Format.TORCH_ZIP);
        ChildJvm run = ChildJvm.lady(List.of(), "canon", "--model", model.toString(), "--layer", "features.24",
                "--method", "active", "--steps", "20", "--out", dir.resolve("canon.json").toString(), "--quiet");
        String output = run.output();
        assertEquals(0, run.code(), output);
        assertTrue(Files.exists(dir.resolve("canon.json")), output);
        assertFalse(output.contains("NNPACK"), output.lines().limit(5).toList().toString());
        assertFalse(output.matches("(?s).*\\[W\\d{4} .*"), "a libtorch warning: " + output.lines().limit(5).toList());
    }
}
