package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.protobuf.ByteString;

import lady.LadyException;
import lady.cli.CliRun;
import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.onnx.proto.Onnx.TensorShapeProto;
import lady.torch.Torch;

/**
 * Bad or hostile ONNX files (truncated protobuf, external data that escapes the model's folder or is
 * missing, negative or overflowing dimensions, data that does not match its shape, unknown data types) get
 * one clear one-line error, also from the command line (non-zero exit, no stack trace), never a crash, an
 * out-of-memory or a hang. Sizes are checked before anything is allocated: a file of a few bytes that
 * claims a 4 GiB tensor is refused at once.
 */
class HostileOnnxTest {
    private static final Duration LIMIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private ModelProto good;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @BeforeEach
    void model() throws Exception {
        OnnxTestModels.Weights w = OnnxTestModels.Weights.draw(5);
        OnnxTestModels.writeClassifier(dir, "good.onnx", w, 0); // also writes the external data file
        good = OnnxTestModels.classifier(w, 0);
    }

    private LadyException refused(byte[] file, LadyException.Kind kind, String fragment) throws Exception {
        Path p = dir.resolve("hostile-" + Integer.toHexString(Arrays.hashCode(file)) + ".onnx");
        Files.write(p, file);
        LadyException e = assertTimeoutPreemptively(LIMIT, () -> assertThrows(LadyException.class, () -> Onnx.read(p)));
        assertEquals(kind, e.kind(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        return e;
    }

    private LadyException refused(ModelProto m, String fragment) throws Exception {
        return refused(m.toByteArray(), LadyException.Kind.INVALID_INPUT, fragment);
    }

    /** {@link #good} with initializer {@code i} changed. */
    private ModelProto withInitializer(int i, UnaryOperator<TensorProto.Builder> change) {
        GraphProto g = good.getGraph();
        return good.toBuilder().setGraph(g.toBuilder().setInitializer(i, change.apply(g.getInitializer(i).toBuilder())))
                .build();
    }

    private ModelProto externalAt(String location) {
        return withInitializer(3, t -> t.setExternalData(0, OnnxTestModels.entry("location", location)));
    }

    @Test
    void truncatedFilesAreRefused() throws Exception {
        byte[] all = good.toByteArray();
        // cuts inside the graph (which holds nearly all of the file) and in the last bytes
        for (int cut : new int[] {3, all.length / 4, all.length / 2, all.length - 40, all.length - 1}) {
            refused(Arrays.copyOf(all, cut), LadyException.Kind.INVALID_INPUT, "is not a valid ONNX file");
        }
        byte[] garbage = new byte[4096];
        new java.util.SplittableRandom(1).nextBytes(garbage);
        refused(garbage, LadyException.Kind.INVALID_INPUT, "");
        refused(new byte[0], LadyException.Kind.INVALID_INPUT, "has no graph");
    }

    @Test
    void externalDataOutsideTheFolderOrMissingIsRefused() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.write(outside.resolve("secret.bin"), new byte[64]);
        Path models = Files.createDirectories(dir.resolve("models"));
        for (String location : new String[] {"../outside/secret.bin", outside.resolve("secret.bin").toString(),
                "a/../../outside/secret.bin", "", "."}) {
            Path p = models.resolve("escape.onnx");
            Files.write(p, externalAt(location).toByteArray());
            LadyException e = assertThrows(LadyException.class, () -> Onnx.read(p), location);
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("escapes the model's folder"), e.getMessage());
        }
        // a link inside the folder that leads out of it
        Files.createSymbolicLink(models.resolve("link.bin"), outside.resolve("secret.bin"));
        Files.write(models.resolve("link.onnx"), externalAt("link.bin").toByteArray());
        LadyException link = assertThrows(LadyException.class, () -> Onnx.read(models.resolve("link.onnx")));
        assertTrue(link.getMessage().contains("leads out of the model's folder"), link.getMessage());

        refused(externalAt("missing.bin").toByteArray(), LadyException.Kind.IO, "external data file 'missing.bin' is missing");
        refused(withInitializer(3, t -> t.setExternalData(1, OnnxTestModels.entry("offset", "1000"))),
                "is past the end of 'weights.bin'");
        refused(withInitializer(3, t -> t.setExternalData(2, OnnxTestModels.entry("length", "400"))),
                "go past the end of 'weights.bin'");
        refused(withInitializer(3, t -> t.setExternalData(2, OnnxTestModels.entry("length", "8"))),
                "has 8 bytes of external data; its shape [3] of FLOAT needs 12");
        refused(withInitializer(3, t -> t.setExternalData(1, OnnxTestModels.entry("offset", "-4"))),
                "offset '-4' is not a non-negative integer");
        refused(withInitializer(3, t -> t.clearExternalData()), "names no location");
    }

    @Test
    void absurdDimensionsAreRefusedBeforeAnyAllocation() throws Exception {
        refused(withInitializer(0, t -> t.setDims(0, -4)), "has a negative dimension");
        // 2^62 x 2^62 elements: the product overflows
        refused(withInitializer(0, t -> t.setDims(0, 1L << 62).setDims(1, 1L << 62)), "whose size overflows");
        // 2^30 x 2^2 floats (16 GiB) claimed by a file of a few hundred bytes
        refused(withInitializer(0, t -> t.setDims(0, 1L << 30).setDims(1, 4)), "bytes of data; its shape [1073741824, 4]");
        refused(withInitializer(1, t -> t.setDims(0, 1L << 40)), "has 4 values in its float_data field");
        // a graph input with a negative dimension
        GraphProto g = good.getGraph();
        TensorShapeProto.Dimension minus = TensorShapeProto.Dimension.newBuilder().setDimValue(-3).build();
        refused(good.toBuilder().setGraph(g.toBuilder().setInput(0, g.getInput(0).toBuilder().setType(
                g.getInput(0).getType().toBuilder().setTensorType(g.getInput(0).getType().getTensorType().toBuilder()
                        .setShape(g.getInput(0).getType().getTensorType().getShape().toBuilder().setDim(1, minus))))))
                .build(), "value 'x' has a negative dimension");
    }

    @Test
    void dataThatDoesNotMatchItsShapeIsRefused() throws Exception {
        refused(withInitializer(0, t -> t.setRawData(t.getRawData().substring(1))),
                "initializer 'w1' has 191 bytes of data; its shape [4, 12] of FLOAT needs 192");
        refused(withInitializer(1, t -> t.addFloatData(1f)), "initializer 'b1' has 5 values in its float_data field");
        refused(withInitializer(4, t -> t.clearInt64Data()), "has 0 values in its int64_data field; its shape [3] needs 3");
        refused(withInitializer(6, t -> t.setDataType(TensorProto.DataType.STRING_VALUE)),
                "string tensors cannot use raw_data");
    }

    @Test
    void unknownDataTypesAreRefused() throws Exception {
        refused(withInitializer(0, t -> t.setDataType(99)), "initializer 'w1' has an unknown data type (99)");
        refused(withInitializer(0, t -> t.setDataType(0)), "unknown data type (0)");
        TensorProto bad = TensorProto.newBuilder().setDataType(77).addDims(1).setRawData(ByteString.copyFrom(new byte[1]))
                .build();
        refused(good.toBuilder().setGraph(good.getGraph().toBuilder().addNode(NodeProto.newBuilder().setOpType("Constant")
                .addOutput("c").addAttribute(AttributeProto.newBuilder().setName("value")
                        .setType(AttributeProto.AttributeType.TENSOR).setT(bad)))).build(),
                "tensor attribute 'value' of node Constant has an unknown data type (77)");
        // the uint16 initializer (a known type without a libtorch one) is no error: it stays out of the state dict
        Path ok = dir.resolve("good.onnx");
        assertFalse(Onnx.read(ok).stateDict().contains("u16"));
    }

    @Test
    void duplicateNamesAndDeepNestingAreRefused() throws Exception {
        GraphProto g = good.getGraph();
        refused(good.toBuilder().setGraph(g.toBuilder().addInitializer(g.getInitializer(0))).build(),
                "two initializers are named 'w1'");
        // 200 nested subgraphs: past protobuf's recursion limit, refused without a stack overflow
        GraphProto nested = GraphProto.newBuilder().setName("leaf").build();
        for (int i = 0; i < 200; i++) {
            nested = GraphProto.newBuilder().addNode(NodeProto.newBuilder().setOpType("If").addAttribute(
                    AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH)
                            .setG(nested))).build();
        }
        refused(OnnxTestModels.model(nested).toByteArray(), LadyException.Kind.INVALID_INPUT, "is not a valid ONNX file");
    }

    /**
     * A stride, dilation or kernel size, a group or block count at zero or below (ONNX requires them positive) is refused
     * before ONNX Runtime loads the model: its loader divides by some of them (a Conv's or a pool's stride of 0, a
     * ConvTranspose's group of 0, a GroupNormalization's num_groups of 0) and would end the process with SIGFPE. A node
     * inside a subgraph is checked too.
     */
    @Test
    void sizesThatOnnxRequiresPositiveAreRefusedBeforeOnnxRuntimeLoadsTheModel() throws Exception {
        AttributeProto[] bad = {OnnxTestModels.ints("strides", 1, 0), OnnxTestModels.intAttr("group", 0),
                OnnxTestModels.ints("dilations", 1, -1), OnnxTestModels.ints("kernel_shape", 0, 3)};
        String[] ops = {"Conv", "ConvTranspose", "Conv", "MaxPool"};
        for (int k = 0; k < bad.length; k++) {
            NodeProto n = OnnxTestModels.node(ops[k], "n" + k, ops[k].equals("MaxPool") ? new String[] {"x"}
                    : new String[] {"x", "w"}, new String[] {"y"}, bad[k]);
            GraphProto g = GraphProto.newBuilder().setName("bad").addNode(k == 3 ? wrapped(n) : n)
                    .addInitializer(OnnxTestModels.floats("w", new float[4 * 4 * 9], 4, 4, 3, 3))
                    .addInput(OnnxTestModels.value("x", 1, 4, 8, 8)).addOutput(OnnxTestModels.value("y", 1, 4, 6, 6)).build();
            Path p = dir.resolve("bad-" + k + ".onnx");
            Files.write(p, OnnxTestModels.model(g).toByteArray());
            OnnxModel m = Onnx.read(p);
            LadyException e = assertTimeoutPreemptively(LIMIT, () -> assertThrows(LadyException.class, () -> OrtRunner.open(m)));
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("which ONNX requires positive"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }

    /**
     * A Conv reading a matrix (its input's spatial axes reduced away): ONNX Runtime 1.23's shape inference asserts on it
     * while it loads the model and ends the process (SIGABRT); Lady refuses the file first, in one line, naming the node.
     */
    @Test
    void aConvOnAMatrixIsRefusedBeforeOnnxRuntimeLoadsTheModel() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("flat")
                .addNode(OnnxTestModels.node("ReduceMean", "pool", new String[] {"x"}, new String[] {"m"},
                        OnnxTestModels.ints("axes", 2, 3), OnnxTestModels.intAttr("keepdims", 0)))
                .addNode(OnnxTestModels.node("Conv", "fc", new String[] {"m", "w"}, new String[] {"y"}))
                .addInitializer(OnnxTestModels.floats("w", new float[16], 4, 4, 1, 1))
                .addInput(OnnxTestModels.value("x", 1, 4, 8, 8)).addOutput(OnnxTestModels.value("y", 1, 4)).build();
        Path p = dir.resolve("flat.onnx");
        Files.write(p, OnnxTestModels.model(g).toByteArray());
        OnnxModel m = Onnx.read(p);
        LadyException e = assertTimeoutPreemptively(LIMIT, () -> assertThrows(LadyException.class, () -> OrtRunner.open(m)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("the 'Conv' node 'fc' reads a rank-2 input"), e.getMessage());
    }

    /**
     * A model on which ONNX Runtime aborts, here an LSTM whose weights are a matrix (ONNX Runtime 1.23 terminates the
     * process while it runs it, SIGABRT), ends ONNX Runtime's child process, never Lady's: one line says how it ended
     * and what ONNX Runtime printed, the command exits with INVALID_INPUT's code and leaves no file, and the next model
     * runs in a fresh child. Run in ONNX Runtime inside Lady's process, as before, the first call ended the test JVM.
     */
    @Test
    void onnxRuntimeAbortingEndsItsOwnProcessNeverLadys() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("lstm")
                .addNode(OnnxTestModels.node("LSTM", "lstm", new String[] {"x", "W", "R"}, new String[] {"y"},
                        OnnxTestModels.intAttr("hidden_size", 16)))
                .addInitializer(OnnxTestModels.floats("W", new float[1024], 1, 1024))
                .addInitializer(OnnxTestModels.floats("R", new float[1024], 1, 64, 16))
                .addInput(OnnxTestModels.value("x", 2, 1, 16)).addOutput(OnnxTestModels.value("y", 2, 1, 1, 16)).build();
        Path p = dir.resolve("lstm.onnx");
        Files.write(p, OnnxTestModels.model(g).toByteArray());
        OnnxModel m = Onnx.read(p);
        LadyException e = refusedWhileItRuns(m);
        assertTrue(e.getMessage().contains("ONNX Runtime ended while it ran") && e.getMessage().contains("SIGABRT"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());

        try (OrtRunner r = OrtRunner.open(Onnx.read(dir.resolve("good.onnx")))) { // a fresh child serves the next one
            assertFalse(r.run(r.seededInputs(1, OrtRunner.Options.DEFAULT)).isEmpty());
        }

        Path out = dir.resolve("out.onnx");
        CliRun c = CliRun.of("permute", "--model", p.toString(), "--verify", "--out", out.toString(), "--secret",
                dir.resolve("secret.json").toString(), "--quiet");
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), c.code(), c.err());
        assertTrue(c.err().strip().startsWith("lady: error: ONNX Runtime ended"), c.err());
        assertFalse(Files.exists(out) || Files.exists(dir.resolve("secret.json")), "no output is left");
    }

    /**
     * A model that ONNX Runtime would run without end, here a Loop of 2^62 trips around an Add, does not hang Lady:
     * after the time limit ({@code lady.ort.timeout}, 2 s here; 300 s by default) ONNX Runtime's child is stopped and
     * one line says so and how to allow longer; the next model runs in a fresh child. Before the limit, {@code permute
     * --verify} of this file ran until it was killed.
     */
    @Test
    void aLoopWithoutEndIsStoppedAtTheTimeLimit() throws Exception {
        Path p = dir.resolve("loop.onnx");
        Files.write(p, OnnxTestModels.model(loopGraph(1L << 62)).toByteArray());
        OnnxModel m = Onnx.read(p);
        String before = System.getProperty("lady.ort.timeout");
        System.setProperty("lady.ort.timeout", "2");
        try {
            LadyException e = refusedWhileItRuns(m);
            assertTrue(e.getMessage().startsWith("ONNX Runtime took more than 2 s while it ran ")
                    && e.getMessage().contains("LADY_ORT_TIMEOUT"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());

            Path few = dir.resolve("few.onnx"); // the same graph with 3 trips runs: the limit stops only what overruns it
            Files.write(few, OnnxTestModels.model(loopGraph(3)).toByteArray());
            try (OrtRunner r = assertTimeoutPreemptively(LIMIT, () -> OrtRunner.open(Onnx.read(few)))) {
                float[] x = new float[16];
                x[5] = 1;
                float[] y = lady.torch.FloatTensors.read(r.run(java.util.Map.of("x",
                        lady.torch.FloatTensors.of(x, new long[] {1, 16}))).get("y"));
                assertEquals(4f, y[5], 0f, "x + 3 trips of + 1");
                assertEquals(3f, y[0], 0f, "x + 3 trips of + 1");
            }
            System.setProperty("lady.ort.timeout", "0");
            LadyException usage = assertThrows(LadyException.class, () -> {
                try (OrtRunner r = OrtRunner.open(m)) {
                    r.run(r.seededInputs(1, OrtRunner.Options.DEFAULT));
                }
            });
            assertEquals(LadyException.Kind.USAGE, usage.kind(), usage.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty("lady.ort.timeout");
            } else {
                System.setProperty("lady.ort.timeout", before);
            }
        }
    }

    /** y = x + (a Loop of {@code trips} trips, each adding 1 to a value that starts at 0). */
    private static GraphProto loopGraph(long trips) {
        TensorProto one = OnnxTestModels.floats("one", new float[] {1}, 1);
        GraphProto body = GraphProto.newBuilder().setName("body")
                .addNode(OnnxTestModels.node("Identity", "keep", new String[] {"c_in"}, new String[] {"c_out"}))
                .addNode(OnnxTestModels.node("Add", "step", new String[] {"v_in", "one"}, new String[] {"v_out"}))
                .addInitializer(one)
                .addInput(typed("i", TensorProto.DataType.INT64_VALUE)).addInput(typed("c_in", TensorProto.DataType.BOOL_VALUE))
                .addInput(OnnxTestModels.value("v_in", 1))
                .addOutput(typed("c_out", TensorProto.DataType.BOOL_VALUE)).addOutput(OnnxTestModels.value("v_out", 1))
                .build();
        TensorProto m = TensorProto.newBuilder().setName("M").setDataType(TensorProto.DataType.INT64_VALUE)
                .addInt64Data(trips).build();
        TensorProto cond = TensorProto.newBuilder().setName("cond").setDataType(TensorProto.DataType.BOOL_VALUE)
                .addInt32Data(1).build();
        return GraphProto.newBuilder().setName("loop")
                .addNode(OnnxTestModels.node("Loop", "loop", new String[] {"M", "cond", "v0"}, new String[] {"s"},
                        AttributeProto.newBuilder().setName("body").setType(AttributeProto.AttributeType.GRAPH)
                                .setG(body).build()))
                .addNode(OnnxTestModels.node("Add", "out", new String[] {"x", "s"}, new String[] {"y"}))
                .addInitializer(m).addInitializer(cond).addInitializer(OnnxTestModels.floats("v0", new float[] {0}, 1))
                .addInput(OnnxTestModels.value("x", 1, 16)).addOutput(OnnxTestModels.value("y", 1, 16)).build();
    }

    /** A scalar value of ONNX element type {@code type}. */
    private static lady.onnx.proto.Onnx.ValueInfoProto typed(String name, int type) {
        return lady.onnx.proto.Onnx.ValueInfoProto.newBuilder().setName(name).setType(lady.onnx.proto.Onnx.TypeProto
                .newBuilder().setTensorType(lady.onnx.proto.Onnx.TypeProto.Tensor.newBuilder().setElemType(type)
                        .setShape(TensorShapeProto.getDefaultInstance()))).build();
    }

    /**
     * A model that asks ONNX Runtime for more memory than the machine has (a 4 TiB ConstantOfShape whose size
     * depends on the input's shape) is refused in one line: ONNX Runtime's child runs under an address-space limit
     * of {@link OrtWorker#MEMORY_FRACTION} of the machine's memory (at least 4 GiB), so the allocation fails at once, whatever the
     * system's overcommit setting, instead of growing into swap.
     */
    @Test
    void anAllocationBeyondTheMachineFailsInOneLine() throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("hog")
                .addNode(OnnxTestModels.node("Shape", "shape", new String[] {"x"}, new String[] {"xs"}))
                .addNode(OnnxTestModels.node("Mul", "size", new String[] {"xs", "big"}, new String[] {"n"}))
                .addNode(OnnxTestModels.node("ConstantOfShape", "fill", new String[] {"n"}, new String[] {"z"}))
                .addNode(OnnxTestModels.node("ReduceSum", "sum", new String[] {"z"}, new String[] {"zs"},
                        OnnxTestModels.intAttr("keepdims", 0)))
                .addNode(OnnxTestModels.node("Add", "out", new String[] {"x", "zs"}, new String[] {"y"}))
                .addInitializer(OnnxTestModels.longs("big", 1L << 40, 1))
                .addInput(OnnxTestModels.value("x", 1, 16)).addOutput(OnnxTestModels.value("y", 1, 16)).build();
        Path p = dir.resolve("hog.onnx");
        Files.write(p, OnnxTestModels.model(g).toByteArray());
        OnnxModel m = Onnx.read(p);
        LadyException e = refusedWhileItRuns(m);
        assertTrue(e.getMessage().contains("bad_alloc") || e.getMessage().contains("allocat"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());

        Path limits = Path.of("/proc", Long.toString(OrtWorker.childPid()), "limits");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(limits), "no /proc here to read the child's limits");
        String line = Files.readAllLines(limits).stream().filter(l -> l.startsWith("Max address space")).findFirst()
                .orElseThrow();
        String[] words = line.substring("Max address space".length()).trim().split("\\s+");
        long total = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getTotalMemorySize();
        assertFalse(words[0].equals("unlimited"), line);
        assertEquals(OrtWorker.Child.addressLimit(total) / 1024 * 1024, Long.parseLong(words[0]), line);
        assertTrue(OrtWorker.Child.addressLimit(total) <= Math.max(total, OrtWorker.MIN_ADDRESS_SPACE), line);
    }

    /**
     * Where a lower hard address-space limit is already in place (a container, a CI runner), the child's shell cannot
     * raise it to its own limit: it keeps the lower one and still starts the child. Before, {@code ulimit -v N && exec}
     * stopped there and every ONNX Runtime request failed ("cannot start ONNX Runtime's process ... ulimit: error").
     */
    @Test
    void aLowerHardLimitInPlaceStillStartsTheChild() throws Exception {
        List<String> words = OrtWorker.Child.memoryLimit();
        org.junit.jupiter.api.Assumptions.assumeFalse(words.isEmpty(), "no POSIX shell here");
        long below = OrtWorker.MIN_ADDRESS_SPACE / 1024 / 2; // KiB: half the smallest limit the child asks for
        Process p = new ProcessBuilder("/bin/sh", "-c", "ulimit -v " + below + " && exec " + words.get(0) + " -c \"$0\""
                + " /bin/echo started", words.get(2)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals("started", out.strip());
    }

    /** The one-line INVALID_INPUT refusal of running {@code m} in ONNX Runtime on seeded inputs, within {@link #LIMIT}. */
    private static LadyException refusedWhileItRuns(OnnxModel m) {
        LadyException e = assertTimeoutPreemptively(LIMIT, () -> assertThrows(LadyException.class, () -> {
            try (OrtRunner r = OrtRunner.open(m)) {
                r.run(r.seededInputs(1, OrtRunner.Options.DEFAULT));
            }
        }));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
        return e;
    }

    /** {@code n} inside the then-branch of an If node (whose else-branch is empty). */
    private static NodeProto wrapped(NodeProto n) {
        GraphProto branch = GraphProto.newBuilder().setName("branch").addNode(n).build();
        return NodeProto.newBuilder().setOpType("If").setName("if").addInput("x").addOutput("y").addAttribute(
                AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(branch))
                .build();
    }

    @Test
    void theCommandLineSaysOneLineAndExitsNonZero() throws Exception {
        Path truncated = dir.resolve("truncated.onnx");
        byte[] all = good.toByteArray();
        Files.write(truncated, Arrays.copyOf(all, all.length / 2));
        Path escape = Files.createDirectories(dir.resolve("m")).resolve("escape.onnx");
        Files.write(escape, externalAt("../weights.bin").toByteArray());
        Path huge = dir.resolve("huge.onnx");
        Files.write(huge, withInitializer(0, t -> t.setDims(0, 1L << 30).setDims(1, 4)).toByteArray());
        for (Path p : new Path[] {truncated, escape, huge}) {
            CliRun r = assertTimeoutPreemptively(LIMIT, () -> CliRun.of("eval", "--model", p.toString(), "--limit", "4"));
            assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), r.code(), r.err());
            String err = r.err().strip();
            assertTrue(err.startsWith("lady: error: "), err);
            assertFalse(err.contains("\n"), "one line: " + err);
            assertFalse(err.contains("Exception"), err);
        }
    }
}
