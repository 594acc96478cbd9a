package lady.experiment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/** {@code lady attack} in-process. */
class AttackCommandTest {
    static StateDict original;

    @BeforeAll
    static void model() {
        Torch.init();
        Trainer.seedLibtorch(3);
        original = Models.create("toynet", ModelOptions.defaults()).stateDict();
    }


    static CliRun lady(String... args) {
        return CliRun.of(args);
    }

    static float[] floats(StateDict s, String name) {
        return s.get(name).readFloats();
    }

    @Test
    void noiseThenPruneOnOneLayerKeepsTheFormatAndIsSeeded(@TempDir Path dir) {
        for (Checkpoints.Format format : Checkpoints.Format.values()) {
            if (!format.standalone()) {
                continue; // an ONNX model is written from its graph (lady.onnx's tests)
            }
            Path in = dir.resolve(format == Checkpoints.Format.SAFETENSORS ? "m.safetensors" : "m.pt");
            Checkpoints.write(in, original, format);
            Path a = dir.resolve("a-" + in.getFileName());
            Path b = dir.resolve("b-" + in.getFileName());
            CliRun o = lady("attack", "--model", in.toString(), "--attack", "noise:7,prune:50", "--layer", "conv2",
                    "--seed", "3", "--out", a.toString(), "--format", "json", "--quiet");
            assertEquals(0, o.code(), o.err());
            assertEquals(format, Checkpoints.formatOf(a));
            @SuppressWarnings("unchecked")
            Map<String, Object> json = (Map<String, Object>) Json.parse(o.out());
            assertEquals("noise:7,prune:50", json.get("attack"));
            assertEquals("conv2.weight", json.get("layer"));
            List<?> results = (List<?>) json.get("results");
            assertEquals(2, results.size());
            assertTrue(((Number) ((Map<?, ?>) results.get(0)).get("sigma")).doubleValue() > 0);
            Map<?, ?> after = (Map<?, ?>) ((List<?>) json.get("weights_after")).get(0);
            assertEquals(16L * 8 * 3 * 3, ((Number) after.get("entries")).longValue());
            assertEquals(576L, ((Number) after.get("zeros")).longValue(), "50 % of 1152 entries pruned");

            StateDict attacked = Checkpoints.read(a);
            assertFalse(java.util.Arrays.equals(floats(original, "conv2.weight"), floats(attacked, "conv2.weight")));
            assertArrayEquals(floats(original, "conv1.weight"), floats(attacked, "conv1.weight"), "other layers untouched");
            assertEquals(0, lady("attack", "--model", in.toString(), "--attack", "noise:7,prune:50", "--layer",
                    "conv2.weight", "--seed", "3", "--out", b.toString(), "--quiet").code());
            assertArrayEquals(floats(attacked, "conv2.weight"), floats(Checkpoints.read(b), "conv2.weight"),
                    "same seed, same bytes");
        }
    }

    /**
     * {@code --layer all} and lists: every weight attacked on its own (noise: Omega times that weight's own spread;
     * prune: T % of its own entries), biases untouched, the same bytes for a layer attacked alone or first of a list.
     */
    @Test
    void noiseAndPruneOnEveryLayerOrAList(@TempDir Path dir) {
        Path in = dir.resolve("m.safetensors");
        Checkpoints.write(in, original, Checkpoints.Format.SAFETENSORS);
        List<String> weights = List.of("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight");
        Path all = dir.resolve("all.safetensors");
        CliRun o = lady("attack", "--model", in.toString(), "--attack", "noise:0.5", "--layer", "all", "--seed", "4",
                "--out", all.toString(), "--format", "json", "--quiet");
        assertEquals(0, o.code(), o.err());
        Map<?, ?> json = (Map<?, ?>) Json.parse(o.out());
        assertEquals(weights, json.get("layer"));
        Map<?, ?> result = (Map<?, ?>) ((List<?>) json.get("results")).get(0);
        assertEquals(4L, ((Number) result.get("layers")).longValue());
        StateDict noisy = Checkpoints.read(all);
        for (String w : weights) {
            float[] a = floats(original, w);
            float[] b = floats(noisy, w);
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                diff += (double) (b[i] - a[i]) * (b[i] - a[i]);
            }
            double ratio = Math.sqrt(diff / a.length) / std(a);
            assertEquals(0.5, ratio, 0.1, w + ": noise of half its own spread");
        }
        assertArrayEquals(floats(original, "conv1.bias"), floats(noisy, "conv1.bias"), "biases untouched");
        Path first = dir.resolve("first.safetensors");
        assertEquals(0, lady("attack", "--model", in.toString(), "--attack", "noise:0.5", "--layer", "conv1", "--seed",
                "4", "--out", first.toString(), "--quiet").code());
        assertArrayEquals(floats(noisy, "conv1.weight"), floats(Checkpoints.read(first), "conv1.weight"),
                "a layer's bytes do not depend on the layers after it");

        Path pruned = dir.resolve("p.safetensors");
        CliRun p = lady("attack", "--model", in.toString(), "--attack", "prune:50", "--layer", "fc1, conv2", "--out",
                pruned.toString(), "--quiet");
        assertEquals(0, p.code(), p.err());
        StateDict s = Checkpoints.read(pruned);
        for (String w : weights) {
            long zeros = java.util.Arrays.stream(box(floats(s, w))).filter(v -> v == 0f).count();
            int n = floats(s, w).length;
            if (w.equals("fc1.weight") || w.equals("conv2.weight")) {
                assertEquals(Math.rint(n / 2.0), zeros, 0, w + ": half of its own entries");
            } else {
                assertArrayEquals(floats(original, w), floats(s, w), w + " untouched");
            }
        }
        CliRun bad = lady("attack", "--model", in.toString(), "--attack", "prune:50", "--layer", "fc1,features.17",
                "--out", dir.resolve("x.safetensors").toString(), "--quiet");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("features.17"), bad.err());
    }

    @Test
    void quantTouchesEveryWeightAndErrorsAreClear(@TempDir Path dir) {
        Path in = dir.resolve("m.pt");
        Checkpoints.write(in, original, Checkpoints.Format.TORCH_ZIP);
        Path q = dir.resolve("q.pt");
        CliRun o = lady("attack", "--model", in.toString(), "--attack", "quant:2", "--out", q.toString(), "--quiet");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("quant:2") && o.out().contains("4 distinct values"), o.out());
        StateDict s = Checkpoints.read(q);
        for (String w : List.of("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight")) {
            assertTrue(java.util.Arrays.stream(box(floats(s, w))).distinct().count() <= 4, w);
        }
        assertArrayEquals(floats(original, "conv1.bias"), floats(s, "conv1.bias"), "biases untouched");

        CliRun noData = lady("attack", "--model", in.toString(), "--attack", "finetune:1", "--out",
                dir.resolve("f.pt").toString(), "--quiet");
        assertEquals(2, noData.code());
        assertTrue(noData.err().contains("--data"), noData.err());
        CliRun noLayer = lady("attack", "--model", in.toString(), "--attack", "noise:1", "--out",
                dir.resolve("n.pt").toString(), "--quiet");
        assertEquals(2, noLayer.code());
        assertTrue(noLayer.err().matches("(?s).*such as (conv|fc)\\d\\.weight .*"),
                "names a layer of this model, not of another: " + noLayer.err());
        CliRun badLayer = lady("attack", "--model", in.toString(), "--attack", "prune:90", "--layer", "features.17",
                "--out", dir.resolve("n.pt").toString(), "--quiet");
        assertEquals(2, badLayer.code());
        assertTrue(badLayer.err().contains("conv2"), "lists the valid layers: " + badLayer.err());
    }

    @Test
    void fineTuneWithData(@TempDir Path dir) {
        Path in = dir.resolve("m.pt");
        Checkpoints.write(in, original, Checkpoints.Format.TORCH_ZIP);
        Path f = dir.resolve("f.pt");
        CliRun o = lady("attack", "--model", in.toString(), "--attack", "finetune:1,quant:8", "--data", "digits",
                "--train-limit", "200", "--seed", "1", "--out", f.toString(), "--quiet", "--format", "json");
        assertEquals(0, o.code(), o.err());
        assertFalse(java.util.Arrays.equals(floats(original, "fc2.bias"), floats(Checkpoints.read(f), "fc2.bias")),
                "fine-tuning trained the biases too");
    }

    private static double std(float[] a) {
        double mean = 0;
        for (float v : a) {
            mean += v / (double) a.length;
        }
        double ss = 0;
        for (float v : a) {
            ss += (v - mean) * (v - mean);
        }
        return Math.sqrt(ss / a.length);
    }

    private static Float[] box(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
        return b;
    }
}
