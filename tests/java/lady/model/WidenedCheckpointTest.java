package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.structure.GroupEdit;
import lady.structure.NetworkView;
import lady.torch.Torch;

/**
 * Checkpoints whose layer widths differ from the family's load and run right: a VGG16 with 146 (not a multiple of
 * 16) or 590 channels in one layer. The zero channels added here compute nothing, so the logits must be the
 * original's; libtorch's float32 convolution is wrong for such input channel counts on some CPUs, which the model
 * works around (lady.torch.Torch#convolutionInputChannels), and this checks the result, not the bug.
 */
class WidenedCheckpointTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void zeroChannelsAddedToALayerChangeNothing() {
        torch.manual_seed(2);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.25));
        StateDict state = model.stateDict();
        StateDict wide = state.copy();
        NetworkView view = NetworkView.of(wide, "vgg16_cifar");
        var g = view.group("features.17");
        List<GroupEdit.Neuron> neurons = new ArrayList<>();
        for (int j = 0; j < 18; j++) { // first: the last channels (past 144) are real ones
            neurons.add(GroupEdit.Neuron.empty());
        }
        for (int j = 0; j < g.size(); j++) {
            neurons.add(GroupEdit.Neuron.copy(j));
        }
        GroupEdit.apply(wide, g, view.rule("features.17"), neurons);
        assertEquals(146, wide.shape("features.19.weight")[1]);
        ModelConfig config = Models.infer(wide, null);
        assertEquals("vgg16_cifar", config.architecture());
        Model widened = config.create();
        widened.load(wide);
        Tensor probe = model.probe(4, 3);
        PermutationCheck.verify(model, widened, probe);

        // features.19 reads 146 channels: its output is the float64 convolution's
        widened.train(false);
        Map<String, Tensor> in = widened.capture(probe, List.of("features.19"), Stage.INPUT);
        Tensor x = in.get("features.19");
        Tensor got = widened.capture(probe, List.of("features.19"), Stage.PRE_ACTIVATION).get("features.19");
        Tensor expected = torch.conv2d(x.to(torch.ScalarType.Double), lady.torch.TorchTensors.view(wide.get("features.19.weight")).to(torch.ScalarType.Double),
                new TensorOptional(lady.torch.TorchTensors.view(wide.get("features.19.bias")).to(torch.ScalarType.Double)), new long[] {1, 1},
                new long[] {1, 1}, new long[] {1, 1}, 1);
        double diff = got.to(torch.ScalarType.Double).sub(expected).abs().max().item_double();
        double scale = expected.abs().max().item_double();
        assertTrue(diff <= 1e-5 * scale, "conv on 146 input channels: " + diff + " of " + scale);
    }

    @Test
    void aVgg16With590ChannelsInOneLayerIsRecognized() {
        Map<String, long[]> shapes = new LinkedHashMap<>(Models.describe("vgg16_cifar", ModelOptions.defaults()).tensorShapes());
        shapes.put("features.17.weight", new long[] {590, 256, 3, 3});
        shapes.put("features.17.bias", new long[] {590});
        shapes.put("features.19.weight", new long[] {512, 590, 3, 3});
        ModelConfig c = Models.infer(shapes, null);
        assertEquals("vgg16_cifar", c.architecture());
        assertEquals(590, c.description().permutationSpec().group("features.17").orElseThrow().size());
        assertEquals(15, c.description().permutationSpec().groups().size());
    }
}
