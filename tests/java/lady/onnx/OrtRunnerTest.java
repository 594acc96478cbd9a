package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.torch.FloatTensors;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** ONNX Runtime runs the Java-built perceptron of {@link OnnxTestModels} and computes what plain Java computes. */
class OrtRunnerTest {
    /** float32 sums in ONNX Runtime against double sums here, over 12 and 4 terms of magnitude <= 1. */
    private static final float TOLERANCE = 1e-5f;

    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void seededInputsGiveTheModelsFunction() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(1);
        OnnxModel m = Onnx.read(OnnxTestModels.writeClassifier(dir, "mlp.onnx", w, 0));
        try (OrtRunner ort = OrtRunner.open(m)) {
            OrtRunner.Options five = new OrtRunner.Options(5, 7, Map.of());
            assertArrayEquals(new long[] {5, 3, 2, 2}, ort.inputShapes(five).get("x"), "fixed dims kept, batch from the options");
            assertArrayEquals(new long[] {9, 3, 2, 2},
                    ort.inputShapes(new OrtRunner.Options(5, 7, Map.of("batch", 9L))).get("x"), "named dims win");
            Tensor x = ort.seededInputs(3, five).get("x");
            assertArrayEquals(FloatTensors.read(x), FloatTensors.read(ort.seededInputs(3, five).get("x")), "same seed, same input");
            assertFalse(java.util.Arrays.equals(FloatTensors.read(x), FloatTensors.read(ort.seededInputs(4, five).get("x"))));
            Map<String, Tensor> out = ort.run(Map.of("x", x));
            assertEquals(List.of("logits"), List.copyOf(out.keySet()));
            float[] want = w.logits(FloatTensors.read(x), 5);
            assertArrayEquals(want, FloatTensors.read(out.get("logits")), TOLERANCE);
            assertArrayEquals(want, FloatTensors.read(ort.logits(x)), TOLERANCE);
        }
    }

    @Test
    void aFixedBatchRunsInPaddedChunks() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(2);
        Path fixed = dir.resolve("fixed.onnx");
        Files.write(fixed, OnnxTestModels.classifier(w, 4).toByteArray());
        OnnxTestModels.writeClassifier(dir, "unused.onnx", w, 0); // the external data file
        try (OrtRunner ort = OrtRunner.open(Onnx.read(fixed))) {
            Tensor x = ort.seededInputs(1, new OrtRunner.Options(10, 1, Map.of())).get("x");
            assertArrayEquals(new long[] {4, 3, 2, 2}, x.sizes().vec().get(), "the file fixes the batch");
            Tensor ten = torch.cat(new org.bytedeco.pytorch.TensorVector(x, x, x.narrow(0, 0, 2)), 0);
            Tensor logits = ort.logits(ten);
            assertArrayEquals(new long[] {10, 3}, logits.sizes().vec().get());
            assertArrayEquals(w.logits(FloatTensors.read(ten), 10), FloatTensors.read(logits), TOLERANCE);
            LadyException e = assertThrows(LadyException.class, () -> ort.logits(torch.zeros(new long[] {2, 3, 4, 4})));
            assertTrue(e.getMessage().contains("takes input [4, 3, 2, 2]; the data gives [2, 3, 4, 4]"), e.getMessage());
        }
    }

    @Test
    void compareMeasuresHowFarTwoModelsAre() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(3);
        OnnxModel a = Onnx.read(OnnxTestModels.writeClassifier(dir, "a.onnx", w, 0));
        Path same = dir.resolve("same.onnx");
        Onnx.write(same, a, a.stateDict());
        OrtRunner.OutputDifference d = OrtRunner.compare(a, Onnx.read(same), 7, OrtRunner.Options.DEFAULT).get(0);
        assertEquals("logits", d.output());
        assertArrayEquals(new long[] {2, OnnxTestModels.CLASSES}, d.shape());
        assertEquals(0.0, d.maxAbs());
        assertEquals(0.0, d.maxRel());

        StateDict changed = new StateDict();
        Tensor b2 = TorchTensors.get(a.stateDict(), "b2");
        TorchTensors.put(changed, "b2", b2.add(torch.full_like(b2, new org.bytedeco.pytorch.Scalar(0.25))));
        Path shifted = dir.resolve("shifted.onnx");
        Onnx.write(shifted, a, changed);
        d = OrtRunner.compare(a, Onnx.read(shifted), 7, OrtRunner.Options.DEFAULT).get(0);
        assertEquals(0.25, d.maxAbs(), 1e-6, "a bias shifted by 0.25 shifts every logit by 0.25");
        assertTrue(d.maxRel() > 0);
    }

    /** A detector's labels and counts are integers: compared exactly, as float32 holds them. */
    @Test
    void integerOutputsAreCompared() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(6);
        var g = OnnxTestModels.classifier(w, 0).getGraph().toBuilder()
                .addNode(OnnxTestModels.node("ArgMax", "argmax", new String[] {"logits"}, new String[] {"label"},
                        OnnxTestModels.intAttr("axis", 1), OnnxTestModels.intAttr("keepdims", 0)))
                .addOutput(lady.onnx.proto.Onnx.ValueInfoProto.newBuilder().setName("label").setType(lady.onnx.proto.Onnx.TypeProto.newBuilder()
                        .setTensorType(lady.onnx.proto.Onnx.TypeProto.Tensor.newBuilder().setElemType(
                                lady.onnx.proto.Onnx.TensorProto.DataType.INT64_VALUE))))
                .build();
        Path p = OnnxTestModels.writeClassifier(dir, "argmax.onnx", w, 0); // (with its external data file)
        Files.write(p, OnnxTestModels.model(g).toByteArray());
        OnnxModel a = Onnx.read(p);
        List<OrtRunner.OutputDifference> same = OrtRunner.compare(a, a, 7, OrtRunner.Options.DEFAULT);
        assertEquals(List.of("logits", "label"), same.stream().map(OrtRunner.OutputDifference::output).toList());
        assertEquals(0.0, same.get(1).maxRel());

        StateDict changed = new StateDict(); // class 0's bias far above the others: every label becomes 0
        Tensor b2 = TorchTensors.get(a.stateDict(), "b2");
        Tensor shift = torch.zeros_like(b2);
        shift.index_put_(new org.bytedeco.pytorch.TensorIndexVector(new org.bytedeco.pytorch.TensorIndex(0)),
                new org.bytedeco.pytorch.Scalar(1000.0));
        TorchTensors.put(changed, "b2", b2.add(shift));
        Path shifted = dir.resolve("argmax-shifted.onnx");
        Onnx.write(shifted, a, changed);
        OrtRunner.OutputDifference d = OrtRunner.compare(a, Onnx.read(shifted), 7, OrtRunner.Options.DEFAULT).get(1);
        assertEquals("label", d.output());
        assertTrue(d.maxAbs() >= 1, "some label changed: " + d);
    }

    @Test
    void ladyEvalRefusesWhatDoesNotApplyToAnOnnxModel() throws Exception {
        Path m = OnnxTestModels.writeClassifier(dir, "mlp.onnx", OnnxTestModels.Weights.draw(5), 0);
        lady.cli.CliRun arch = lady.cli.CliRun.of("eval", "--model", m.toString(), "--arch", "vgg16", "--limit", "4");
        assertEquals(LadyException.Kind.USAGE.exitCode(), arch.code(), arch.err());
        assertTrue(arch.err().contains("--arch does not apply to an ONNX model"), arch.err());
        lady.cli.CliRun size = lady.cli.CliRun.of("eval", "--model", m.toString(), "--limit", "4", "--quiet");
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), size.code(), size.err());
        assertTrue(size.err().contains("takes input [batch, 3, 2, 2]; the data gives [4, 3, 32, 32]"), size.err());
    }

    @Test
    void aGraphOnnxRuntimeRefusesIsOneLine() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(4);
        OnnxTestModels.writeClassifier(dir, "mlp.onnx", w, 0);
        var g = OnnxTestModels.classifier(w, 0).getGraph();
        Path bad = dir.resolve("unknown-op.onnx");
        Files.write(bad, OnnxTestModels.model(g.toBuilder().setNode(2, g.getNode(2).toBuilder().setOpType("NoSuchOp"))
                .build()).toByteArray());
        LadyException e = assertThrows(LadyException.class, () -> OrtRunner.open(Onnx.read(bad)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().startsWith("ONNX Runtime cannot load"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
