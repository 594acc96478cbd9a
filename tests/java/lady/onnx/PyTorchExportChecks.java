package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.PythonTorch;
import lady.checkpoint.StateDict;
import lady.report.Json;
import lady.tensor.HostTensor;
import lady.torch.FloatTensors;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/**
 * Checks of ONNX files exported by PyTorch 1.13 (tests/python/onnx_export.py, run once per test class into a
 * temporary folder), each model in both export modes: batch norm kept with state-dict names, and folded
 * (deployment export, initializers renamed). ONNX Runtime must compute PyTorch's outputs on the seeded input
 * (relative 1e-4); writing a model back unchanged gives the same bytes and the same outputs; a changed
 * initializer is written, read back, and changes the outputs; the kept export's initializers are the
 * state dict's tensors, its Identity aliases stand for equal tensors. Subclasses name the models.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PyTorchExportChecks {
    /** ONNX Runtime against PyTorch: float32 kernels that differ in summation order. */
    static final double MAX_REL = 1e-4;
    static final long SEED = 7;
    static final int BATCH = 2;
    static final int CLASSES = 10;
    static final int OPSET = 17;
    static final String[] MODES = {"kept", "folded"};

    /** The export folder (one per test class). */
    Path dir;

    Map<String, Object> manifest;

    /** The models of this class and their input sides. */
    abstract Map<String, Integer> models();

    /** Whether the models have batch norms (the folded export then has fewer initializers and groups' members). */
    boolean batchNorm() {
        return true;
    }

    /** Extra entries of the export script's parameters. */
    void moreParams(Map<String, Object> params) {}

    @BeforeAll
    @SuppressWarnings("unchecked")
    void export(@TempDir Path folder) throws Exception {
        dir = folder;
        Torch.init();
        PythonTorch.assumeInstalled();
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("models", List.copyOf(models().keySet()));
        p.put("sides", models());
        p.put("batch", BATCH);
        p.put("classes", CLASSES);
        p.put("opset", OPSET);
        p.put("seed", SEED);
        p.put("threads", 1);
        p.put("calibration", Map.of("batches", 4, "batch", 8));
        moreParams(p);
        Path params = dir.resolve("params.json");
        Files.writeString(params, Json.write(p));
        assertNull(PythonTorch.run("onnx_export.py", params.toString(), dir.toString()), "the export failed");
        manifest = (Map<String, Object>) Json.parse(Files.readString(dir.resolve("manifest.json")));
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> entry(String model) {
        return (Map<String, Object>) manifest.get(model);
    }

    Path file(String model, String key) {
        return dir.resolve((String) entry(model).get(key));
    }

    Tensor floats(String model, String key, String shapeKey) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file(model, key))).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        b.asFloatBuffer().get(v);
        @SuppressWarnings("unchecked")
        List<Number> shape = (List<Number>) entry(model).get(shapeKey);
        return FloatTensors.of(v, shape.stream().mapToLong(Number::longValue).toArray());
    }

    Tensor runOnInput(OnnxModel m, String model) throws Exception {
        try (OrtRunner ort = OrtRunner.open(m)) {
            String input = (String) entry(model).get("input_name");
            return ort.run(Map.of(input, floats(model, "input", "input_shape"))).get(entry(model).get("output_name"));
        }
    }

    @Test
    void onnxRuntimeComputesPyTorchsOutputs() throws Exception {
        for (String model : models().keySet()) {
            Tensor want = floats(model, "output", "output_shape");
            float[] w = FloatTensors.read(want);
            // a function check that can fail: the two seeded images get clearly different logits
            double spread = 0;
            for (int c = 0; c < CLASSES; c++) {
                spread = Math.max(spread, Math.abs(w[c] - w[CLASSES + c]));
            }
            assertTrue(spread > 1e-2, model + ": PyTorch gives (nearly) the same logits for both inputs: " + spread);
            for (String mode : MODES) {
                OnnxModel m = Onnx.read(file(model, mode));
                assertEquals(OPSET, m.opset());
                OrtRunner.OutputDifference d = OrtRunner.difference("logits", want, runOnInput(m, model));
                System.err.printf("%s %s: ONNX Runtime vs PyTorch max abs %.3g, rel %.3g%n", model, mode, d.maxAbs(), d.maxRel());
                assertTrue(d.maxRel() <= MAX_REL, model + " " + mode + ": " + d);
            }
        }
    }

    @Test
    void writingBackUnchangedGivesTheSameBytesAndOutputs() throws Exception {
        for (String model : models().keySet()) {
            for (String mode : MODES) {
                Path in = file(model, mode);
                OnnxModel m = Onnx.read(in);
                Path out = dir.resolve(model + "-" + mode + "-same.onnx");
                Onnx.write(out, m, m.stateDict());
                assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(out), model + " " + mode);
                Tensor a = runOnInput(m, model);
                Tensor b = runOnInput(Onnx.read(out), model);
                assertTrue(torch.equal(a, b), model + " " + mode);
            }
        }
    }

    @Test
    void aChangedInitializerIsWrittenReadBackAndChangesTheOutputs() throws Exception {
        for (String model : models().keySet()) {
            for (String mode : MODES) {
                Path in = file(model, mode);
                OnnxModel m = Onnx.read(in);
                // the weight of the first convolution
                String weight = m.topologicalOrder().stream().filter(r -> r.node().opType().equals("Conv")).findFirst()
                        .orElseThrow().inputs().get(1).name();
                StateDict sd = m.stateDict();
                StateDict changed = new StateDict();
                TorchTensors.put(changed, weight, TorchTensors.get(sd, weight).mul(new Scalar(2.0)));
                Path out = dir.resolve(model + "-" + mode + "-changed.onnx");
                Onnx.write(out, m, changed);
                OnnxModel back = Onnx.read(out);
                StateDict sdBack = back.stateDict();
                for (String name : sd.names()) {
                    HostTensor want = name.equals(weight) ? changed.get(weight) : sd.get(name);
                    assertTrue(want.sameContent(sdBack.get(name)), model + " " + mode + " " + name);
                }
                OrtRunner.OutputDifference d = OrtRunner.difference("logits", runOnInput(m, model), runOnInput(back, model));
                assertTrue(d.maxRel() > 1e-3, model + " " + mode + ": doubling " + weight + " changed nothing: " + d);
                // and back: the original tensors over the changed model give the original file
                Path restored = dir.resolve(model + "-" + mode + "-restored.onnx");
                Checkpoints.writeLike(restored, sd, out);
                assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(restored), model + " " + mode);
            }
        }
    }

    @Test
    void theKeptExportHoldsTheStateDictAndItsAliasesStandForEqualTensors() throws Exception {
        for (String model : models().keySet()) {
            StateDict pt = Checkpoints.read(file(model, "state"));
            OnnxModel kept = Onnx.read(file(model, "kept"));
            StateDict onnx = kept.stateDict();
            int matched = 0;
            for (String name : pt.names()) {
                if (name.endsWith("num_batches_tracked")) {
                    continue; // not part of the exported function
                }
                String init = kept.initializerOf(name);
                assertNotNull(init, model + ": " + name + " is neither an initializer nor an alias of one");
                assertTrue(pt.get(name).sameContent(onnx.get(init)), model + ": " + name + " as " + init);
                matched++;
            }
            assertTrue(matched > 0);
            for (Map.Entry<String, String> a : kept.aliases().entrySet()) {
                assertTrue(pt.get(a.getKey()).sameContent(pt.get(a.getValue())), model + ": alias " + a);
            }
            OnnxModel folded = Onnx.read(file(model, "folded"));
            assertTrue(!batchNorm() || folded.initializers().size() < kept.initializers().size(),
                    model + ": the folded export is smaller");
            assertTrue(folded.initializers().stream().anyMatch(i -> i.name().startsWith("onnx::")),
                    model + ": the folded export renames the initializers it computed");
            assertFalse(kept.topologicalOrder().isEmpty());
            assertEquals(kept.nodes().size() - kept.aliases().size(), kept.topologicalOrder().size(),
                    model + ": every node but the alias Identities");
        }
    }
}
