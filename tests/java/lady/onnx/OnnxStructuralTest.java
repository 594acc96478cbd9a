package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.report.Json;

/**
 * The structural attacks and their undo on an ONNX model, without Python: {@link OnnxTestModels#classifier} (its hidden
 * layer's weights stored as float_data, w2 read through two Identity aliases, b2 in an external file, a value_info of
 * the hidden width) widened by {@code lady attack dummy:50,split:50,scale:2}, checked in ONNX Runtime, and given its
 * original widths back by {@code lady resync} against the original file.
 */
class OnnxStructuralTest {
    @TempDir
    Path dir;

    @Test
    void widenedInOnnxRuntimeAndUndoneFromTheFilesAlone() throws Exception {
        Path original = OnnxTestModels.writeClassifier(dir, "mlp.onnx", OnnxTestModels.Weights.draw(9), 0);
        Path attacked = dir.resolve("widened.onnx");
        Path secret = dir.resolve("secret.json");
        CliRun r = CliRun.of("attack", "--model", original.toString(), "--attack", "dummy:50,split:50,scale:2", "--seed",
                "5", "--out", attacked.toString(), "--secret", secret.toString(), "--format", "json");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> out = (Map<?, ?>) Json.parse(r.out());
        double diff = ((Number) ((java.util.List<?>) out.get("verified_max_output_diff")).get(0)).doubleValue();
        assertTrue(diff < 1e-5, "ONNX Runtime's outputs moved by " + diff);
        StateDict before = Checkpoints.read(original);
        StateDict widened = Checkpoints.read(attacked);
        long hidden = before.shape("w1")[0];
        assertTrue(widened.shape("w1")[0] > hidden && widened.shape("w2")[1] == widened.shape("w1")[0],
                "w1 " + java.util.Arrays.toString(widened.shape("w1")) + ", w2 " + java.util.Arrays.toString(widened.shape("w2")));

        Path fixed = dir.resolve("fixed.onnx");
        Path report = dir.resolve("report.json");
        r = CliRun.of("resync", "--reference", original.toString(), "--suspect", attacked.toString(), "--out",
                fixed.toString(), "--secret", secret.toString(), "--report", report.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        StateDict restored = Checkpoints.read(fixed);
        for (String name : before.names()) {
            assertArrayEquals(before.shape(name), restored.shape(name), name);
            float[] a = before.get(name).readFloats();
            float[] b = restored.get(name).readFloats();
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-5 * Math.max(1, Math.abs(a[i])), name + "[" + i + "]");
            }
        }
        Map<?, ?> rep = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals(100.0, ((Number) rep.get("structural_psi_overall")).doubleValue(), String.valueOf(rep.get("structural_psi")));
        // the restored file runs in ONNX Runtime as the original does
        assertTrue(OrtRunner.comparison(Onnx.read(original), Onnx.read(fixed), 1, OrtRunner.Options.DEFAULT).differences()
                .stream().allMatch(d -> d.maxRel() < 1e-5));
    }
}
