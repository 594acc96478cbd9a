package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * timm's Vision Transformer (tests/python/timm_vit.py writes its modules and forward as timm defines them, timm not
 * being installable here): Lady recognizes the state dict by its names ({@code timm_vit_tiny} at width 192; another
 * width as {@code timm_vit_base}, heads of 64), {@code permute --groups all --verify} writes weights that the timm
 * model itself runs with the same outputs (relative 1e-4) with every weight but the head's bias moved, a wrong
 * permutation of two query heads changes them, and {@code resync} gives back every tensor. Before, these checkpoints
 * were not recognized ("cannot recognize the architecture"), and needed an ONNX export.
 */
class TimmVitTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void save() throws Exception {
        Torch.init();
        String err = PythonTorch.run("timm_vit.py", "save", dir.toString(), "2");
        assertNull(err, err);
    }

    @Test
    void permuteKeepsTimmsOutputsAndResyncRestores() throws Exception {
        for (Map.Entry<String, String> m : Map.of("tiny", "timm_vit_tiny: 17 groups", "narrow", "timm_vit_base: 13 groups")
                .entrySet()) {
            String model = dir.resolve(m.getKey() + ".pt").toString();
            CliRun spec = CliRun.of("spec", "--model", model);
            assertEquals(0, spec.code(), spec.err());
            assertTrue(spec.out().startsWith(m.getValue()), spec.out());
            String permuted = dir.resolve(m.getKey() + "-p.pt").toString();
            String secret = dir.resolve(m.getKey() + "-s.json").toString();
            CliRun p = CliRun.of("permute", "--model", model, "--groups", "all", "--seed", "4", "--verify", "--out",
                    permuted, "--secret", secret, "--quiet");
            assertEquals(0, p.code(), p.err());
            String restored = dir.resolve(m.getKey() + "-r.pt").toString();
            CliRun r = CliRun.of("resync", "--reference", model, "--suspect", permuted, "--out", restored, "--secret",
                    secret, "--quiet");
            assertEquals(0, r.code(), r.err());
            String err = PythonTorch.run("timm_vit.py", "check", model, permuted, restored);
            assertNull(err, m.getKey() + ": " + err);
        }
    }
}
