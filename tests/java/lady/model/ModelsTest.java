package lady.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.TorchTensors;

class ModelsTest {

    @BeforeAll
    static void oneThread() {
        ModelTesting.singleThread();
    }

    @AfterAll
    static void threadsBack() {
        ModelTesting.restoreThreads();
    }

    static List<String> archs() {
        return ModelTesting.ARCHS;
    }

    @ParameterizedTest
    @MethodSource("archs")
    void buildsAndGivesBatchByClassesLogits(String arch) {
        Model model = Models.create(arch, ModelTesting.small(arch).withClasses(7));
        assertEquals(arch, model.architecture());
        model.train(false);
        Tensor logits = model.forward(ModelTesting.batch(3, 1));
        assertArrayEquals(new long[] {3, 7}, logits.sizes().vec().get());
        assertTrue(torch.isfinite(logits).all().item_bool(), arch + ": logits not finite");
    }

    @ParameterizedTest
    @MethodSource("archs")
    void inferRecoversArchitectureAndOptionsFromItsOwnStateDict(String arch) {
        ModelOptions options = ModelTesting.small(arch).withClasses(5);
        Model model = Models.create(arch, options);
        StateDict state = model.stateDict();
        ModelConfig config = Models.infer(state);
        assertEquals(arch, config.architecture());
        assertEquals(5, config.options().numClasses());
        assertEquals(options.width(), config.options().width(), 1e-12);
        assertEquals(3, config.options().inputChannels());
        assertEquals(List.copyOf(state.names()), List.copyOf(config.create().stateDict().names()));

        Model rebuilt = Models.fromStateDict(state);
        model.train(false);
        rebuilt.train(false);
        Tensor x = ModelTesting.batch(2, 2);
        assertEquals(0.0, ModelTesting.maxAbsDiff(model.forward(x), rebuilt.forward(x)), 0.0);
    }

    @Test
    void vgg16NamesAndShapesAreTorchvisions() {
        Model model = Models.create("vgg16", ModelTesting.small("vgg16"));
        assertEquals(TorchvisionNames.VGG16, List.copyOf(model.stateDict().names()));
        Map<String, long[]> full = Models.describe("vgg16", ModelOptions.defaults().withClasses(1000)).tensorShapes();
        assertEquals(TorchvisionNames.VGG16, List.copyOf(full.keySet()));
        assertArrayEquals(new long[] {4096, 25088}, full.get("classifier.0.weight"));
        assertArrayEquals(new long[] {512, 512, 3, 3}, full.get("features.28.weight"));
        assertArrayEquals(new long[] {1000, 4096}, full.get("classifier.6.weight"));
        long parameters = full.values().stream().mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b)).sum();
        assertEquals(138_357_544L, parameters); // torchvision's vgg16 parameter count
    }

    @Test
    void vgg16BnNamesAreTorchvisions() {
        StateDict state = Models.create("vgg16_bn", ModelTesting.small("vgg16_bn")).stateDict();
        assertEquals(TorchvisionNames.VGG16_BN, List.copyOf(state.names()));
        assertArrayEquals(new long[0], state.shape("features.1.num_batches_tracked"));
    }

    @Test
    void resnet18NamesAndShapesAreTorchvisions() {
        StateDict state = Models.create("resnet18", ModelTesting.small("resnet18")).stateDict();
        assertEquals(TorchvisionNames.RESNET18, List.copyOf(state.names()));
        StateDict cifar = Models.create("resnet18_cifar", ModelTesting.small("resnet18_cifar")).stateDict();
        assertEquals(TorchvisionNames.RESNET18, List.copyOf(cifar.names()));
        Map<String, long[]> full = Models.describe("resnet18", ModelOptions.defaults().withClasses(1000)).tensorShapes();
        assertArrayEquals(new long[] {64, 3, 7, 7}, full.get("conv1.weight"));
        assertArrayEquals(new long[] {128, 64, 1, 1}, full.get("layer2.0.downsample.0.weight"));
        assertArrayEquals(new long[] {1000, 512}, full.get("fc.weight"));
        long parameters = full.entrySet().stream().filter(e -> !e.getKey().contains("running") && !e.getKey().endsWith("tracked"))
                .mapToLong(e -> Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b)).sum();
        assertEquals(11_689_512L, parameters); // torchvision's resnet18 parameter count
        assertArrayEquals(new long[] {64, 3, 3, 3},
                Models.describe("resnet18_cifar", ModelOptions.defaults()).tensorShapes().get("conv1.weight"));
    }

    @Test
    void widthMultiplierScalesVggChannelsAndCifarHead() {
        Map<String, long[]> s = Models.describe("vgg16_cifar", ModelOptions.defaults().withWidth(0.25)).tensorShapes();
        assertArrayEquals(new long[] {16, 3, 3, 3}, s.get("features.0.weight"));
        assertArrayEquals(new long[] {16, 16, 3, 3}, s.get("features.2.weight"));
        assertArrayEquals(new long[] {32, 16, 3, 3}, s.get("features.5.weight"));
        assertArrayEquals(new long[] {128, 128, 3, 3}, s.get("features.28.weight"));
        assertArrayEquals(new long[] {128, 128}, s.get("classifier.0.weight"));
        assertArrayEquals(new long[] {10, 128}, s.get("classifier.6.weight"));
        Map<String, long[]> full = Models.describe("vgg16_cifar", ModelOptions.defaults()).tensorShapes();
        assertArrayEquals(new long[] {512, 512}, full.get("classifier.0.weight"));
        assertArrayEquals(new long[] {512, 512}, full.get("classifier.3.weight"));
        StateDict hidden = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar").withHidden(32)).stateDict();
        assertArrayEquals(new long[] {32, 64}, hidden.shape("classifier.0.weight"));
        assertEquals(32, Models.infer(hidden).options().hidden());
    }

    @Test
    void inferFindsAnyWidthMultiplier() {
        for (double width : new double[] {0.3, 0.1, 0.07}) {
            for (String arch : List.of("vgg16_cifar", "resnet18_cifar")) {
                Map<String, long[]> shapes = Models.describe(arch, ModelOptions.defaults().withWidth(width)).tensorShapes();
                StateDict state = new StateDict();
                shapes.forEach((name, shape) -> state.put(name, HostTensor.allocate(DType.FLOAT32, shape)));
                ModelOptions inferred = Models.infer(state).options();
                assertEquals(shapes.keySet(), Models.describe(arch, inferred).tensorShapes().keySet());
                Models.describe(arch, inferred).tensorShapes().forEach((name, shape) ->
                        assertArrayEquals(shapes.get(name), shape, arch + " width " + width + ": " + name));
            }
        }
    }

    @Test
    void unknownArchitectureNamesTheNearestKnownOnes() { // all of them made a line of a kilobyte
        LadyException e = assertThrows(LadyException.class, () -> Models.create("vgg19", ModelOptions.defaults()));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("nearest known: vgg16, vgg16_bn,") && e.getMessage().contains(
                "(" + Models.NAMES.size() + " in all)"), e.getMessage());
        assertTrue(e.getMessage().length() < 300, e.getMessage());
        String huge = "x".repeat(1 << 20); // compared by its first characters only
        LadyException h = assertTimeoutPreemptively(java.time.Duration.ofSeconds(5),
                () -> assertThrows(LadyException.class, () -> Models.create(huge, ModelOptions.defaults())));
        assertTrue(h.getMessage().length() < 1000, "the name is cut: " + h.getMessage().length());
        assertThrows(LadyException.class, () -> Models.create("lenet5", ModelOptions.defaults().withWidth(0.5)));
        assertThrows(LadyException.class, () -> ModelOptions.defaults().withClasses(0));
    }

    @Test
    void stateDictIsACopyAndLoadRoundTrips() {
        Model a = Models.create("lenet5");
        Model b = Models.create("lenet5");
        StateDict sa = a.stateDict();
        TorchTensors.view(sa.get("conv1.weight")).fill_(new org.bytedeco.pytorch.Scalar(0.5f));
        assertFalse(sa.get("conv1.weight").sameContent(a.stateDict().get("conv1.weight")), "stateDict() must copy");
        TorchTensors.view(sa.get("bn1.running_var")).fill_(new org.bytedeco.pytorch.Scalar(2.0f));
        b.load(sa);
        StateDict sb = b.stateDict();
        for (String name : sa.names()) {
            assertTrue(sa.get(name).sameContent(sb.get(name)), name);
        }
        TorchTensors.view(sa.get("fc1.bias")).fill_(new org.bytedeco.pytorch.Scalar(3.0f));
        assertFalse(sa.get("fc1.bias").sameContent(b.stateDict().get("fc1.bias")), "load() must copy");
    }

    @Test
    void mismatchIsOneErrorListingMissingUnexpectedAndMisshaped() {
        StateDict state = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar")).stateDict();
        StateDict broken = new StateDict();
        for (String name : state.names()) {
            if (!name.equals("features.2.bias")) {
                broken.put(name, state.get(name));
            }
        }
        broken.put("features.5.weight", HostTensor.allocate(DType.FLOAT32, 33, 16, 3, 3));
        broken.put("extra.weight", HostTensor.allocate(DType.FLOAT32, 2));
        Model model = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar"));
        LadyException e = assertThrows(LadyException.class, () -> model.load(broken));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        String m = e.getMessage();
        assertTrue(m.contains("missing 1: features.2.bias"), m);
        assertTrue(m.contains("unexpected 1: extra.weight"), m);
        assertTrue(m.contains("mis-shaped 1: features.5.weight [33, 16, 3, 3] (expected [16, 8, 3, 3])"), m);

        LadyException wrongArch = assertThrows(LadyException.class, () -> Models.fromStateDict(state, "vgg16_bn_cifar"));
        assertEquals(LadyException.Kind.INVALID_INPUT, wrongArch.kind());
        assertTrue(wrongArch.getMessage().contains("features.1.running_mean"), wrongArch.getMessage());

        StateDict alien = new StateDict();
        alien.put("encoder.weight", HostTensor.allocate(DType.FLOAT32, 2, 2));
        LadyException unknown = assertThrows(LadyException.class, () -> Models.infer(alien));
        assertEquals(LadyException.Kind.INVALID_INPUT, unknown.kind());
    }

    @Test
    void explicitArchitectureOverridesDetection() {
        StateDict state = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar")).stateDict();
        assertEquals("vgg16_cifar", Models.infer(state, "vgg16_cifar").architecture());
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(state, "vgg16"));
        assertTrue(e.getMessage().contains("classifier.0.weight"), e.getMessage());
    }

    @Test
    void wrongInputShapeIsAClearError() {
        Model lenet = Models.create("lenet5");
        LadyException e = assertThrows(LadyException.class, () -> lenet.forward(torch.zeros(1, 3, 28, 28)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        Model vgg = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar"));
        assertThrows(LadyException.class, () -> vgg.forward(torch.zeros(1, 1, 32, 32)));
    }

    @Test
    void smallNetsFollowTheirInputSize() {
        ModelOptions mnist = ModelOptions.defaults().withInput(1, 28);
        for (String arch : List.of("lenet5", "toynet", "fc")) {
            Model m = Models.create(arch, mnist);
            m.train(false);
            Tensor y = m.forward(torch.randn(2, 1, 28, 28));
            assertArrayEquals(new long[] {2, 10}, y.sizes().vec().get());
            ModelConfig c = Models.infer(m.stateDict());
            assertEquals(arch, c.architecture());
            assertEquals(1, c.options().inputChannels(), arch);
            assertEquals(28, c.options().inputSize(), arch);
        }
    }

    @Test
    void trainingModeEnablesDropout() {
        Model m = Models.create("vgg16_cifar", ModelTesting.small("vgg16_cifar"));
        Tensor x = ModelTesting.batch(4, 3);
        m.train(false);
        double eval = ModelTesting.maxAbsDiff(m.forward(x), m.forward(x));
        m.train(true);
        List<Double> diffs = new ArrayList<>();
        diffs.add(ModelTesting.maxAbsDiff(m.forward(x), m.forward(x)));
        assertEquals(0.0, eval, 0.0);
        assertTrue(diffs.get(0) > 0, "dropout should make two training-mode passes differ: " + Arrays.toString(diffs.toArray()));
    }
}
