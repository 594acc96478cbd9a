package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;

/**
 * {@link PyTorchExportChecks} and {@link PyTorchPermutationChecks} on torchvision's VisionTransformer, small (32 x 32
 * inputs, patches of 8, 2 layers, 4 heads, width 64, MLP 128; random head, class token, biases and norms): a transformer
 * built from MatMul, Reshape, Transpose and Softmax. The graph gives its residual stream and MLP hidden units; the
 * attention projections, whose outputs the export splits into heads with Slice and Reshape, stay in place. (No
 * built-in family reads a ViT of this size: vit_b_16's is ViT-B/16's, whose heads config.json-less weights cannot
 * tell; the graph's groups are compared with the --graph spec of the state dict only.)
 */
class VitOnnxExportTest extends PyTorchPermutationChecks {
    static final int WIDTH = 64;
    static final int MLP = 128;
    static final int LAYERS = 2;

    @Override
    Map<String, Integer> models() {
        return Map.of("vit_tiny", 32);
    }

    @Override
    boolean batchNorm() {
        return false;
    }

    @Test
    void theStreamAndEveryMlpAreGroupsInBothExportModes() throws Exception {
        for (String mode : MODES) {
            PermutationSpec spec = Models.spec(Onnx.read(file("vit_tiny", mode)).stateDict(), null, null,
                    file("vit_tiny", mode));
            List<Long> sizes = spec.groups().stream().map(Group::size).sorted().toList();
            assertEquals(List.of((long) WIDTH, (long) MLP, (long) MLP), sizes, mode + ": " + PyTorchPermutationChecks.sizes(spec));
            Group stream = spec.groups().stream().filter(g -> g.size() == WIDTH).findFirst().orElseThrow();
            // the patch embedding's rows, the class token, the positions, every norm, q/k/v's and the MLPs' inputs,
            // the attention's and MLPs' outputs, the head's inputs
            assertTrue(stream.members().size() >= 4 + 8 * LAYERS + 3, mode + ": " + stream.members());
            assertTrue(spec.notes().stream().anyMatch(n -> n.contains("Slice")), mode + ": " + spec.notes());
        }
    }
}
