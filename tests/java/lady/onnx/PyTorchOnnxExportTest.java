package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.data.Digits;
import lady.paper.Paper;
import lady.report.Json;

/**
 * {@link PyTorchExportChecks} on a small network no library ships (residual add, concatenation of two
 * branches one of which has a depthwise conv, squeeze-excitation, pool -> flatten -> linear; trained for a
 * few steps on the built-in digits) and torchvision's MobileNetV3-Small (64 x 64 inputs), plus
 * {@code lady eval} on the small network's exports against PyTorch's error on the same test digits. Its
 * folded export has a fixed batch of 2, so the evaluation also runs through padded chunks. About 20 s;
 * skipped without python3-torch, -torchvision and -onnx.
 */
class PyTorchOnnxExportTest extends PyTorchExportChecks {
    private static final int EVAL_IMAGES = 500;
    /** ONNX Runtime and PyTorch may disagree on an arg-max near a tie: at most one image of 500. */
    private static final int MAX_FLIPS = 1;

    @Override
    Map<String, Integer> models() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("lady_net", 32);
        m.put("mobilenet_v3_small", 64);
        return m;
    }

    @Override
    void moreParams(Map<String, Object> p) {
        p.put("static_batch", List.of("lady_net-folded"));
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("train", PythonTorch.root().resolve("resources" + Digits.TRAIN_RESOURCE).toString());
        d.put("test", PythonTorch.root().resolve("resources" + Digits.TEST_RESOURCE).toString());
        d.put("mean", floats(Paper.CIFAR_MEAN));
        d.put("std", floats(Paper.CIFAR_STD));
        d.put("train_images", 2048);
        d.put("steps", 80);
        d.put("batch_size", 32);
        d.put("lr", Paper.DIGITS_RECIPE_LR);
        d.put("momentum", Paper.TRAIN_MOMENTUM);
        d.put("eval_images", EVAL_IMAGES);
        p.put("digits", d);
    }

    private static List<Double> floats(float[] v) {
        List<Double> l = new java.util.ArrayList<>();
        for (float f : v) {
            l.add((double) f);
        }
        return l;
    }

    @Test
    @SuppressWarnings("unchecked")
    void ladyEvalOnTheExportsGivesPyTorchsError() {
        Map<String, Object> py = (Map<String, Object>) manifest.get("eval");
        int pyErrors = ((Number) py.get("errors")).intValue();
        assertEquals(EVAL_IMAGES, ((Number) py.get("images")).intValue());
        assertTrue(pyErrors < EVAL_IMAGES * 0.5, "the network learned nothing (" + pyErrors + " errors): a weak comparison");
        for (String mode : MODES) {
            CliRun r = CliRun.of("eval", "--model", file("lady_net", mode).toString(), "--data", "digits", "--limit",
                    Integer.toString(EVAL_IMAGES), "--format", "json");
            assertEquals(0, r.code(), r.err());
            Map<String, Object> lady = (Map<String, Object>) Json.parse(r.out().trim());
            assertEquals("onnx", lady.get("architecture"));
            assertEquals(EVAL_IMAGES, ((Number) lady.get("images")).intValue());
            int errors = ((Number) lady.get("errors")).intValue();
            System.err.printf("lady_net %s: lady eval %d errors, PyTorch %d, of %d test digits%n", mode, errors, pyErrors,
                    EVAL_IMAGES);
            assertTrue(Math.abs(errors - pyErrors) <= MAX_FLIPS, mode + ": lady eval " + errors + ", PyTorch " + pyErrors);
        }
    }
}
