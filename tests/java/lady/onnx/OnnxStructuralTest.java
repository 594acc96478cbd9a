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

    /**
     * One bias shared by two layers through an Identity alias, as torch.onnx shares equal folded biases (a fresh
     * ResNet's): widening the layers gives each its own bias of its new width, and the undo gives both back.
     */
    @Test
    void aSharedInitializerWidenedGetsOneOfItsOwnPerUse() throws Exception {
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        java.util.function.IntFunction<float[]> draw = n -> {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (r.nextDouble() * 2 - 1);
            }
            return v;
        };
        int in = 6;
        int hidden = 8;
        int out = 3;
        lady.onnx.proto.Onnx.GraphProto g = lady.onnx.proto.Onnx.GraphProto.newBuilder().setName("branches")
                .addNode(OnnxTestModels.node("Identity", "share", new String[] {"b"}, new String[] {"b_alias"}))
                .addNode(gemm("fa", "x", "wa", "b", "ha"))
                .addNode(OnnxTestModels.node("Relu", "ra", new String[] {"ha"}, new String[] {"ya"}))
                .addNode(gemm("fb", "x", "wb", "b_alias", "hb"))
                .addNode(OnnxTestModels.node("Relu", "rb", new String[] {"hb"}, new String[] {"yb"}))
                .addNode(gemm("oa", "ya", "va", "c", "za"))
                .addNode(gemm("ob", "yb", "vb", "c", "zb"))
                .addNode(OnnxTestModels.node("Add", "sum", new String[] {"za", "zb"}, new String[] {"logits"}))
                .addInitializer(OnnxTestModels.floats("wa", draw.apply(hidden * in), hidden, in))
                .addInitializer(OnnxTestModels.floats("wb", draw.apply(hidden * in), hidden, in))
                .addInitializer(OnnxTestModels.floats("b", draw.apply(hidden), hidden))
                .addInitializer(OnnxTestModels.floats("va", draw.apply(out * hidden), out, hidden))
                .addInitializer(OnnxTestModels.floats("vb", draw.apply(out * hidden), out, hidden))
                .addInitializer(OnnxTestModels.floats("c", new float[out], out))
                .addInput(OnnxTestModels.value("x", 0, in))
                .addOutput(OnnxTestModels.value("logits", 0, out))
                .build();
        Path original = dir.resolve("branches.onnx");
        Files.write(original, OnnxTestModels.model(g).toByteArray());
        Path attacked = dir.resolve("widened.onnx");
        CliRun run = CliRun.of("attack", "--model", original.toString(), "--attack", "dummy:25,split:25", "--seed", "2",
                "--out", attacked.toString(), "--quiet");
        assertEquals(0, run.code(), run.err());
        StateDict widened = Checkpoints.read(attacked);
        assertTrue(widened.shape("wa")[0] > hidden && widened.shape("b")[0] == widened.shape("wa")[0], "wa and its bias");
        Path fixed = dir.resolve("fixed.onnx");
        run = CliRun.of("resync", "--reference", original.toString(), "--suspect", attacked.toString(), "--out",
                fixed.toString(), "--quiet");
        assertEquals(0, run.code(), run.err());
        StateDict before = Checkpoints.read(original);
        StateDict restored = Checkpoints.read(fixed);
        for (String name : before.names()) {
            assertArrayEquals(before.shape(name), restored.shape(name), name);
        }
        assertTrue(OrtRunner.comparison(Onnx.read(original), Onnx.read(fixed), 1, OrtRunner.Options.DEFAULT).differences()
                .stream().allMatch(d -> d.maxRel() < 1e-5));
    }

    private static lady.onnx.proto.Onnx.NodeProto gemm(String name, String x, String w, String b, String y) {
        return OnnxTestModels.node("Gemm", name, new String[] {x, w, b}, new String[] {y},
                OnnxTestModels.intAttr("transB", 1));
    }
}
