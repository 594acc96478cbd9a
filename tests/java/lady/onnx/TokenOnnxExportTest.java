package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;

/**
 * A BERT-style text classifier exported to ONNX by PyTorch 1.13 (tests/python/onnx_tokens.py: token ids and an
 * attention mask in, position and token-type embeddings looked up through sliced buffers, post-norm layers with
 * attention written as Hugging Face's BertModel writes it, a pooler), both export modes: the whole residual stream (the
 * position and token-type tables, which the graph reads at constant rows, move with it), every attention's heads and
 * the dimensions inside them, every MLP and the pooler are groups, with no note; {@code lady permute --verify} of every
 * group keeps ONNX Runtime's outputs on seeded token ids and masks and moves at least 95 % of the weight tensors; {@code
 * lady resync} gives the export back byte for byte.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenOnnxExportTest {
    static final int WIDTH = 32;
    static final int HEADS = 4;
    static final int LAYERS = 2;
    static final String[] MODES = {"kept", "folded"};

    Path dir;

    @BeforeAll
    void export(@TempDir Path folder) throws Exception {
        dir = folder;
        PythonTorch.assumeInstalled();
        assertNull(PythonTorch.run("onnx_tokens.py", dir.toString(), "3"), "the export failed");
    }

    @Test
    void everySymmetryOfATextEncoderIsAGroup() {
        for (String mode : MODES) {
            Path p = dir.resolve("bert-" + mode + ".onnx");
            PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
            assertEquals(List.of(), spec.notes(), mode);
            Group stream = spec.groups().get(0);
            assertEquals(WIDTH, stream.size(), mode + ": " + stream.name());
            for (String table : List.of("word.weight", "position.weight", "token_type.weight")) {
                assertTrue(stream.members().stream().anyMatch(m -> m.tensor().equals(table) && m.axis() == 1),
                        mode + ": " + table + " in " + stream.members());
            }
            assertEquals(LAYERS, spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).count(), mode);
            assertEquals(2 * LAYERS * HEADS, spec.groups().stream()
                    .filter(g -> g.name().contains(".qk_pass.") || g.name().contains(".v_dims.")).count(), mode);
            // the stream, the heads and their dimensions, the MLPs, the pooler
            assertEquals(1 + LAYERS * (1 + 2 * HEADS + 1) + 1, spec.groups().size(), mode);
        }
    }

    @Test
    void permuteKeepsTheFunctionOnTokensAndResyncGivesTheExportBack() throws Exception {
        for (String mode : MODES) {
            Path p = dir.resolve("bert-" + mode + ".onnx");
            Path out = dir.resolve("p-" + mode + ".onnx");
            CliRun r = CliRun.of("permute", "--model", p.toString(), "--seed", "9", "--out", out.toString(), "--secret",
                    dir.resolve("p-" + mode + ".json").toString(), "--verify", "--quiet");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("(ONNX Runtime)"), r.out());
            int[] mw = PyTorchPermutationChecks.movedWeights(Onnx.read(p).stateDict(), Onnx.read(out).stateDict());
            assertTrue(mw[0] >= PyTorchPermutationChecks.MIN_MOVED * mw[1], mode + ": " + mw[0] + " of " + mw[1] + " moved");
            Path back = dir.resolve("r-" + mode + ".onnx");
            r = CliRun.of("resync", "--reference", p.toString(), "--suspect", out.toString(), "--secret",
                    dir.resolve("p-" + mode + ".json").toString(), "--out", back.toString(), "--quiet");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
            assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(back), mode);
        }
    }
}
