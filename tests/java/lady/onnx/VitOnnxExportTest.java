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
 * built from MatMul, Reshape, Transpose and Softmax, its packed in-projection split with Slice, batch and heads merged
 * on one axis. The graph gives its residual stream, its MLP hidden units and its attention ({@link OnnxAttention}):
 * the heads, and inside each its q and k dimensions alike and its v dimensions with out_proj's columns. (No built-in
 * family reads a ViT of this size: vit_b_16's is ViT-B/16's, whose heads config.json-less weights cannot tell; the
 * graph's groups are compared with the --graph spec of the state dict only.)
 */
class VitOnnxExportTest extends PyTorchPermutationChecks {
    static final int WIDTH = 64;
    static final int MLP = 128;
    static final int LAYERS = 2;
    static final int HEADS = 4;

    @Override
    Map<String, Integer> models() {
        return Map.of("vit_tiny", 32);
    }

    @Override
    boolean batchNorm() {
        return false;
    }

    @Test
    void theStreamEveryMlpAndTheHeadsAreGroupsInBothExportModes() throws Exception {
        for (String mode : MODES) {
            PermutationSpec spec = Models.spec(Onnx.read(file("vit_tiny", mode)).stateDict(), null, null,
                    file("vit_tiny", mode));
            List<Long> sizes = spec.groups().stream().map(Group::size).sorted().toList();
            List<Long> want = new java.util.ArrayList<>();
            for (int l = 0; l < LAYERS; l++) {
                want.add((long) HEADS);
                for (int h = 0; h < 2 * HEADS; h++) { // q/k dimensions and v dimensions of each head
                    want.add((long) (WIDTH / HEADS));
                }
            }
            want.addAll(List.of((long) WIDTH, (long) MLP, (long) MLP));
            assertEquals(want.stream().sorted().toList(), sizes, mode + ": " + PyTorchPermutationChecks.sizes(spec));
            Group stream = spec.groups().stream().filter(g -> g.size() == WIDTH).findFirst().orElseThrow();
            // the patch embedding's rows, the class token, the positions, every norm, q/k/v's and the MLPs' inputs,
            // the attention's and MLPs' outputs, the head's inputs
            assertTrue(stream.members().size() >= 4 + 8 * LAYERS + 3, mode + ": " + stream.members());
            for (int l = 0; l < LAYERS; l++) {
                String block = "/encoder/layers/encoder_layer_" + l + "/self_attention";
                Group heads = spec.groups().stream().filter(g -> g.name().equals(block + ".kv_heads")).findFirst()
                        .orElseThrow(() -> new AssertionError(mode + ": no heads group for " + block + ": " + spec.groups()));
                // in_proj's q, k and v rows (weight and bias), out_proj's columns
                assertEquals(7, heads.members().size(), mode + ": " + heads.members());
                assertEquals(WIDTH / HEADS, heads.members().get(0).block(), mode);
            }
            assertTrue(spec.notes().stream().noneMatch(n -> n.contains("Slice") || n.contains("Reshape")), mode + ": "
                    + spec.notes());
        }
    }
}
