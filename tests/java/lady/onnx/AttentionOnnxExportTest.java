package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;

/**
 * {@link PyTorchExportChecks} and {@link PyTorchPermutationChecks} on attention written by hand as Hugging Face's
 * models write it (tests/python/onnx_export.py's AttnNet): a BERT-style layer (separate q, k, v, view and permute,
 * scores divided by sqrt(d) plus an additive mask), a GPT-2-style layer (one packed projection split in three, q
 * scaled by a Mul, a causal mask with Where) and a Llama-style layer (no biases, grouped-query heads repeated with
 * expand and reshape, a rotary embedding on q and k, its tables computed in the graph). All three are attention blocks ({@link OnnxAttention}): heads and the dimensions inside
 * them are groups, except the rotated q and k dimensions of the third, which stay (the check fails if they move); the
 * permutation checks move them. (What must not be a block is in {@link OnnxAttentionTest}.)
 */
class AttentionOnnxExportTest extends PyTorchPermutationChecks {
    static final int WIDTH = 64;
    static final int HEADS = 4;
    /** The Llama-style layer's key and value heads (2 query heads each). */
    static final int KV_HEADS = 2;
    static final int MLP = 128;

    @Override
    Map<String, Integer> models() {
        return Map.of("attn_net", 32);
    }

    @Override
    boolean batchNorm() {
        return false;
    }

    @Test
    void theThreeAttentionsAreBlocksInBothExportModes() throws Exception {
        for (String mode : MODES) {
            PermutationSpec spec = Models.spec(Onnx.read(file("attn_net", mode)).stateDict(), null, null,
                    file("attn_net", mode));
            List<Group> heads = spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).toList();
            assertEquals(List.of((long) HEADS, (long) HEADS, (long) KV_HEADS), heads.stream().map(Group::size).toList(),
                    mode + ": " + PyTorchPermutationChecks.sizes(spec));
            // the query heads inside each of the Llama layer's groups
            assertEquals(List.of((long) (HEADS / KV_HEADS), (long) (HEADS / KV_HEADS)), spec.groups().stream()
                    .filter(g -> g.name().contains(".q_heads.")).map(Group::size).toList(), mode);
            // layer 0: q0, k0, v0 rows (weight and bias) and o0's columns; layer 1: qkv1's three runs of rows
            Set<String> tensors = heads.stream().flatMap(g -> g.members().stream()).map(Member::tensor)
                    .collect(Collectors.toSet());
            if (mode.equals("kept")) { // state-dict names (the folded export renames the weights)
                for (String t : List.of("q0.weight", "k0.weight", "v0.weight", "o0.weight", "qkv1.weight", "qkv1.bias",
                        "o1.weight", "q2.weight", "k2.weight", "v2.weight", "o2.weight")) {
                    assertTrue(tensors.contains(t), t + " in " + tensors);
                }
            }
            long qk = spec.groups().stream().filter(g -> g.name().contains(".qk_pass."))
                    .peek(g -> assertEquals(WIDTH / HEADS, g.size(), g.name())).count();
            long v = spec.groups().stream().filter(g -> g.name().contains(".v_dims."))
                    .peek(g -> assertEquals(WIDTH / HEADS, g.size(), g.name())).count();
            assertEquals(2 * HEADS, qk, mode + ": the rotated dimensions of the third layer stay");
            assertEquals(2 * HEADS + KV_HEADS, v, mode);
            assertEquals(3, spec.groups().stream().filter(g -> g.size() == MLP).count(), mode);
            assertEquals(List.of(), spec.notes(), mode);
        }
    }
}
