package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;

/**
 * Text models exported to ONNX by PyTorch 1.13 (tests/python/onnx_tokens.py), both export modes: a BERT-style
 * classifier (token ids and an attention mask in, position and token-type embeddings looked up through sliced buffers,
 * post-norm layers with attention written as Hugging Face's BertModel writes it, a pooler) and a GPT-2-style language
 * model (Conv1D layers through addmm on flattened tokens, a packed c_attn split in three, a causal mask from a sliced
 * buffer, the head tied to the embedding). The whole residual stream (the tables the graph reads at constant rows move
 * with it), every attention's heads and the dimensions inside them, every MLP and the pooler are groups, with no note;
 * {@code lady permute --verify} of every group keeps ONNX Runtime's outputs on seeded token ids and masks and moves at
 * least 95 % of the weight tensors; {@code lady resync} gives the export back byte for byte.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenOnnxExportTest {
    static final int WIDTH = 32;
    static final int HEADS = 4;
    static final int LAYERS = 2;
    static final String[] MODES = {"kept", "folded"};
    /** The models (in name order), with the tables their stream holds. */
    static final Map<String, List<String>> TABLES = new java.util.TreeMap<>(Map.of("bert", List.of("word.weight",
            "position.weight", "token_type.weight"), "gpt2", List.of("wte.weight", "wpe.weight")));

    Path dir;

    @BeforeAll
    void export(@TempDir Path folder) throws Exception {
        dir = folder;
        PythonTorch.assumeInstalled();
        assertNull(PythonTorch.run("onnx_tokens.py", dir.toString(), "3"), "the export failed");
    }

    @Test
    void everySymmetryOfATextModelIsAGroup() {
        for (String model : TABLES.keySet()) {
            for (String mode : MODES) {
                everySymmetry(model, mode);
            }
        }
    }

    /** The groups of {@code model}'s export {@code which} ("kept", "folded"). */
    private void everySymmetry(String model, String which) {
        String mode = model + " " + which;
        Path p = dir.resolve(model + "-" + which + ".onnx");
        PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
        assertEquals(List.of(), spec.notes(), mode);
        Group stream = spec.groups().get(0);
        assertEquals(WIDTH, stream.size(), mode + ": " + stream.name());
        for (String table : TABLES.get(model)) {
            assertTrue(stream.members().stream().anyMatch(m -> m.tensor().equals(table) && m.axis() == 1),
                    mode + ": " + table + " in " + stream.members());
        }
        assertEquals(LAYERS, spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).count(), mode);
        assertEquals(2 * LAYERS * HEADS, spec.groups().stream()
                .filter(g -> g.name().contains(".qk_pass.") || g.name().contains(".v_dims.")).count(), mode);
        // the stream, the heads and their dimensions, the MLPs, BERT's pooler
        assertEquals(1 + LAYERS * (1 + 2 * HEADS + 1) + (model.equals("bert") ? 1 : 0), spec.groups().size(), mode);
    }

    @Test
    void permuteKeepsTheFunctionOnTokensAndResyncGivesTheExportBack() throws Exception {
        for (String mode : TABLES.keySet().stream().flatMap(m -> Arrays.stream(MODES).map(x -> m + "-" + x)).toList()) {
            PyTorchPermutationChecks.permuteVerifyAndResync(dir, mode, dir.resolve(mode + ".onnx"), "9");
        }
    }
}
