package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.LadyException;
import lady.model.PermutationCheck;
import lady.torch.Torch;

/** Intermediate outputs: Model.capture (input / pre- / post-activation of any producer) and Model.runLayer. */
class CaptureTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_bn_cifar", "resnet18_cifar", "lenet5"})
    @SuppressWarnings("try")
    void everyProducerIsCapturedAndRunsAloneFromItsInput(String arch) {
        torch.manual_seed(1);
        ModelOptions options = arch.startsWith("lenet") ? ModelOptions.defaults() : ModelOptions.defaults().withWidth(0.125);
        Model model = Models.create(arch, options);
        model.train(false);
        List<String> layers = Models.describe(arch, options).producers().stream().map(Architecture.Producer::name).toList();
        Tensor x = PermutationCheck.probe(3, 3, 32, 5);
        try (NoGradGuard g = new NoGradGuard()) {
            Map<String, Tensor> in = model.capture(x, layers, Stage.INPUT);
            Map<String, Tensor> pre = model.capture(x, layers, Stage.PRE_ACTIVATION);
            Map<String, Tensor> post = model.capture(x, layers, Stage.POST_ACTIVATION);
            assertEquals(layers, List.copyOf(pre.keySet()), "in the order asked");
            for (String layer : layers) {
                assertTrue(torch.equal(pre.get(layer), model.runLayer(layer, in.get(layer), Stage.PRE_ACTIVATION)), layer);
                assertTrue(torch.equal(post.get(layer), torch.relu(pre.get(layer))), layer);
                assertTrue(torch.equal(pre.get(layer), model.forwardTo(x, layer)), layer);
            }
            // the last producer's pre-activation output is the logits
            String last = layers.get(layers.size() - 1);
            assertTrue(torch.equal(pre.get(last), model.forward(x)), arch + ": logits");
        }
    }

    @Test
    void aSubstringOfALayerNameIsNotALayer() {
        Model model = Models.create("lenet5");
        Tensor x = PermutationCheck.probe(1, 3, 32, 5);
        LadyException e = assertThrows(LadyException.class, () -> model.capture(x, List.of("conv"), Stage.PRE_ACTIVATION));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("conv1, conv2, fc1, fc2, fc3"), e.getMessage());
        assertThrows(LadyException.class, () -> model.runLayer("bn1", x, Stage.PRE_ACTIVATION));
        assertThrows(LadyException.class, () -> model.runLayer("conv1", x, Stage.INPUT));
    }
}
