package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.tensor.HostTensor;
import lady.torch.FloatTensors;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** The ONNX model view, its state dict, writing back, and the topological order, on models built in Java. */
class OnnxModelTest {
    private static final long SEED = 11;

    @TempDir
    Path dir;

    private OnnxTestModels.Weights weights;
    private Path file;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @BeforeEach
    void writeModel() throws Exception {
        weights = OnnxTestModels.Weights.draw(SEED);
        file = OnnxTestModels.writeClassifier(dir, "mlp.onnx", weights, 0);
    }

    @Test
    void theViewHoldsWhatTheFileSays() {
        OnnxModel m = Onnx.read(file);
        assertEquals(8, m.irVersion());
        assertEquals(17, m.opset());
        assertEquals("lady-tests 1", m.producer());
        assertEquals(Map.of("owner", "lady"), m.metadata());
        assertEquals(1, m.inputs().size());
        OnnxValue x = m.inputs().get(0);
        assertEquals("x", x.name());
        assertEquals(OnnxDType.FLOAT, x.elemType());
        assertEquals("[batch, 3, 2, 2]", x.shape().toString());
        assertFalse(x.shape().get(0).fixed());
        assertEquals("batch", x.shape().get(0).param());
        assertEquals(List.of("logits"), m.outputs().stream().map(OnnxValue::name).toList());
        assertEquals("[batch, 4]", m.valueInfo().get("h").shape().toString());

        assertEquals(List.of("Flatten", "Gemm", "Relu", "Identity", "Identity", "Gemm"),
                m.nodes().stream().map(OnnxNode::opType).toList());
        OnnxNode fc1 = m.nodes().get(1);
        assertEquals(List.of("flat", "w1", "b1"), fc1.inputs());
        assertEquals(1, fc1.attribute("transB").asLong());
        assertEquals(1.0f, fc1.attribute("alpha").asFloat());
        LadyException wrongType = assertThrows(LadyException.class, () -> fc1.attribute("alpha").asLongs());
        assertTrue(wrongType.getMessage().contains("'alpha' is of type FLOAT"), wrongType.getMessage());

        assertEquals(List.of("w1 FLOAT[4, 12] RAW", "b1 FLOAT[4] TYPED", "w2 FLOAT[3, 4] RAW", "b2 FLOAT[3] EXTERNAL",
                "steps INT64[3] TYPED", "half FLOAT16[2] TYPED", "u16 UINT16[2] RAW"),
                m.initializers().stream().map(OnnxInitializer::toString).toList());
        assertEquals(Map.of("w2_alias", "w2", "w2_alias2", "w2"), m.aliases());
        assertEquals("w2", m.initializerOf("w2_alias2"));
        assertEquals("w1", m.initializerOf("w1"));
        assertNull(m.initializerOf("h"));
        // raw data is read in place from the file's mapping, not copied onto the heap (a heap copy is no direct buffer)
        assertTrue(m.proto().getGraph().getInitializer(0).getRawData().asReadOnlyByteBuffer().isDirect(),
                "w1's raw data aliases the mapped file");
    }

    @Test
    void theStateDictDecodesEveryStorageForm() {
        StateDict sd = Onnx.read(file).stateDict();
        assertEquals(List.of("w1", "b1", "w2", "b2", "steps", "half"), new ArrayList<>(sd.names()),
                "u16 has no libtorch type and is left out");
        assertArrayEquals(weights.w1(), sd.get("w1").readFloats());
        assertArrayEquals(new long[] {OnnxTestModels.HIDDEN, OnnxTestModels.FEATURES}, sd.shape("w1"));
        assertArrayEquals(weights.b1(), sd.get("b1").readFloats());
        assertArrayEquals(weights.w2(), sd.get("w2").readFloats());
        assertArrayEquals(weights.b2(), sd.get("b2").readFloats(), "external data, after its offset");
        Tensor steps = TorchTensors.get(sd, "steps");
        for (int i = 0; i < OnnxTestModels.STEPS.length; i++) {
            assertEquals(OnnxTestModels.STEPS[i], steps.get(i).item_long());
        }
        assertArrayEquals(new float[] {1.0f, -2.0f}, sd.get("half").readFloats(), "float16 from int32_data");
        assertTrue(sd.sameTensors(Checkpoints.read(file)), "Checkpoints reads .onnx files as their initializers");
        assertEquals(Checkpoints.Format.ONNX, Checkpoints.formatOf(file));
    }

    @Test
    void writingTheUnchangedModelGivesTheSameBytes() throws Exception {
        ModelProto inline = OnnxTestModels.classifier(weights, 0).toBuilder()
                .setGraph(OnnxTestModels.classifier(weights, 0).getGraph().toBuilder().removeInitializer(3)
                        .addInitializer(OnnxTestModels.floats("b2", weights.b2(), OnnxTestModels.CLASSES)))
                .build();
        Path in = dir.resolve("inline.onnx");
        Files.write(in, inline.toByteArray());
        OnnxModel m = Onnx.read(in);
        Path same = dir.resolve("same.onnx");
        Onnx.write(same, m, m.stateDict());
        assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(same), "every initializer rewritten from its tensor");
        Path kept = dir.resolve("kept.onnx");
        Onnx.write(kept, m, new StateDict());
        assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(kept), "no initializer replaced");
        Path viaCheckpoints = dir.resolve("checkpoints.onnx");
        Checkpoints.writeLike(viaCheckpoints, Checkpoints.read(in), in);
        assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(viaCheckpoints));
        LadyException noGraph = assertThrows(LadyException.class,
                () -> Checkpoints.write(dir.resolve("x.onnx"), m.stateDict(), Checkpoints.Format.ONNX));
        assertEquals(LadyException.Kind.USAGE, noGraph.kind());
    }

    @Test
    void replacedInitializersKeepTheirStorageFormAndTheRestStays() throws Exception {
        OnnxModel m = Onnx.read(file);
        StateDict sd = m.stateDict();
        StateDict changed = new StateDict();
        for (String name : List.of("w1", "b1", "b2", "steps", "half")) {
            Tensor t = TorchTensors.get(sd, name);
            TorchTensors.put(changed, name, name.equals("steps") ? t.add(torch.ones_like(t)) : t.mul(torch.full_like(t, new org.bytedeco.pytorch.Scalar(-2.0))));
        }
        Path out = dir.resolve("sub").resolve("changed.onnx");
        Files.createDirectories(out.getParent());
        Onnx.write(out, m, changed);

        OnnxModel back = Onnx.read(out);
        assertEquals(m.initializers(), back.initializers(), "names, types, shapes and storage forms");
        StateDict sdBack = back.stateDict();
        for (String name : sd.names()) {
            HostTensor want = changed.contains(name) ? changed.get(name) : sd.get(name);
            assertTrue(want.sameContent(sdBack.get(name)), name);
        }
        assertTrue(Files.isRegularFile(out.resolveSibling("changed.onnx.data")), "external data beside the output");
        TensorProto b2 = back.proto().getGraph().getInitializer(3);
        assertEquals("changed.onnx.data", b2.getExternalData(0).getValue());
        // everything but the initializers is the same message
        assertEquals(strip(m.proto()), strip(back.proto()));
        // the untouched uint16 initializer keeps its bytes
        assertEquals(m.proto().getGraph().getInitializer(6), back.proto().getGraph().getInitializer(6));
        // the input model and its data file are untouched
        assertTrue(Onnx.read(file).stateDict().sameTensors(sd));
        // an external initializer that is not replaced is copied into the output's data file
        Path kept = out.resolveSibling("kept.onnx");
        Onnx.write(kept, m, new StateDict());
        assertTrue(Onnx.read(kept).stateDict().sameTensors(sd));
        assertEquals("kept.onnx.data", Onnx.read(kept).proto().getGraph().getInitializer(3).getExternalData(0).getValue());
    }

    private static ModelProto strip(ModelProto p) {
        return p.toBuilder().setGraph(p.getGraph().toBuilder().clearInitializer()).build();
    }

    @Test
    void writingRefusesTensorsThatDoNotFit() {
        OnnxModel m = Onnx.read(file);
        Path out = dir.resolve("bad.onnx");
        StateDict unknown = new StateDict();
        TorchTensors.put(unknown, "nope", torch.zeros(new long[] {3}));
        assertTrue(assertThrows(LadyException.class, () -> Onnx.write(out, m, unknown)).getMessage()
                .contains("'nope' is no tensor of"));
        StateDict shape = new StateDict();
        TorchTensors.put(shape, "b1", torch.zeros(new long[] {5}));
        assertTrue(assertThrows(LadyException.class, () -> Onnx.write(out, m, shape)).getMessage()
                .contains("initializer is FLOAT [4]"));
        StateDict dtype = new StateDict();
        TorchTensors.put(dtype, "b1", torch.zeros(new long[] {4}).to(torch.ScalarType.Double));
        assertThrows(LadyException.class, () -> Onnx.write(out, m, dtype));
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void topologicalOrderResolvesAliasesAndDropsTheirNodes() throws Exception {
        ModelProto p = OnnxTestModels.classifier(weights, 0);
        List<NodeProto> shuffled = new ArrayList<>(p.getGraph().getNodeList());
        Collections.reverse(shuffled);
        Path reversed = dir.resolve("reversed.onnx");
        Files.write(reversed, p.toBuilder().setGraph(p.getGraph().toBuilder().clearNode().addAllNode(shuffled)).build()
                .toByteArray());
        for (Path f : List.of(file, reversed)) {
            List<OnnxModel.ResolvedNode> order = Onnx.read(f).topologicalOrder();
            assertEquals(List.of("flatten", "fc1", "relu", "fc2"), order.stream().map(r -> r.node().name()).toList(), f.toString());
            assertEquals(List.of(new OnnxModel.Operand(OnnxModel.Operand.Kind.VALUE, "r"),
                    new OnnxModel.Operand(OnnxModel.Operand.Kind.INITIALIZER, "w2"),
                    new OnnxModel.Operand(OnnxModel.Operand.Kind.INITIALIZER, "b2")), order.get(3).inputs());
            assertEquals(OnnxModel.Operand.Kind.GRAPH_INPUT, order.get(0).inputs().get(0).kind());
            Set<String> defined = new HashSet<>();
            for (OnnxModel.ResolvedNode r : order) {
                for (OnnxModel.Operand o : r.inputs()) {
                    if (o.kind() == OnnxModel.Operand.Kind.VALUE) {
                        assertTrue(defined.contains(o.name()), o.name() + " is read before it is produced");
                    }
                }
                defined.addAll(r.node().outputs());
            }
        }
    }

    @Test
    void topologicalOrderRefusesUndefinedValuesAndCycles() throws Exception {
        GraphProto g = OnnxTestModels.classifier(weights, 0).getGraph();
        GraphProto undefined = g.toBuilder().setNode(2, g.getNode(2).toBuilder().setInput(0, "ghost")).build();
        LadyException e = assertThrows(LadyException.class, () -> readGraph(undefined).topologicalOrder());
        assertTrue(e.getMessage().contains("reads 'ghost', which no node"), e.getMessage());
        GraphProto cycle = g.toBuilder().setNode(0, g.getNode(0).toBuilder().setInput(0, "r")).build();
        e = assertThrows(LadyException.class, () -> readGraph(cycle).topologicalOrder());
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
        GraphProto twice = g.toBuilder().setNode(2, g.getNode(2).toBuilder().setOutput(0, "flat")).build();
        e = assertThrows(LadyException.class, () -> readGraph(twice).topologicalOrder());
        assertTrue(e.getMessage().contains("'flat' is defined twice"), e.getMessage());
    }

    @Test
    void constantsDecodeTheirValues() throws Exception {
        TensorProto shape = TensorProto.newBuilder().setDataType(TensorProto.DataType.INT64_VALUE).addDims(2)
                .addInt64Data(-1).addInt64Data(12).build();
        GraphProto g = OnnxTestModels.classifier(weights, 0).getGraph().toBuilder()
                .addNode(NodeProto.newBuilder().setOpType("Constant").addOutput("shape").addAttribute(
                        lady.onnx.proto.Onnx.AttributeProto.newBuilder().setName("value")
                                .setType(lady.onnx.proto.Onnx.AttributeProto.AttributeType.TENSOR).setT(shape)))
                .addNode(NodeProto.newBuilder().setOpType("Constant").addOutput("scale").addAttribute(
                        lady.onnx.proto.Onnx.AttributeProto.newBuilder().setName("value")
                                .setType(lady.onnx.proto.Onnx.AttributeProto.AttributeType.TENSOR)
                                .setT(OnnxTestModels.floats("", new float[] {0.5f}))))
                .build();
        OnnxModel m = readGraph(g);
        OnnxConstant c = m.nodes().get(6).attribute("value").asTensor();
        assertEquals(OnnxDType.INT64, c.dtype());
        assertArrayEquals(new long[] {-1, 12}, c.longs());
        OnnxConstant s = m.nodes().get(7).attribute("value").asTensor();
        assertArrayEquals(new double[] {0.5}, s.doubles());
        assertThrows(LadyException.class, s::longs);
        assertNotEquals(0, m.topologicalOrder().size());
    }

    private OnnxModel readGraph(GraphProto g) throws Exception {
        Path p = Files.createTempFile(dir, "g", ".onnx");
        Files.write(p, OnnxTestModels.model(g).toByteArray());
        return Onnx.read(p);
    }
}
