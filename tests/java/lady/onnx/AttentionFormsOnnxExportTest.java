package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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
 * Attention in the forms other libraries write it, exported by PyTorch 1.13 (tests/python/onnx_attention_forms.py; 8
 * query heads of 8): multi-query as Falcon writes it (one k and v head the products broadcast), the same packed in one
 * projection with a rotary embedding, grouped-query with q viewed as [groups, heads in a group] against k and v
 * broadcast over the group (2 key and value heads), with and without a rotary embedding, timm's packed projection
 * viewed as [3, heads, dimensions] and unbound (a Split) or indexed (Gathers), and projections packed per head:
 * GPT-NeoX's sliced from [heads, 3 dimensions] with a rotary embedding on a quarter or all of each head, BLOOM's
 * indexed from [heads, 3, dimensions]; and Swin's window attention, whose relative position bias per head is gathered
 * from a learned table (the table's columns move with the heads) and whose shifted-window mask is added through a
 * view of the scores. Every symmetry is a group with no note: the key and value heads with their query heads (none for one),
 * the query heads inside each group, q's and k's dimensions together (pinned by a rotary embedding), v's dimensions;
 * {@code lady permute --verify} keeps ONNX Runtime's outputs and moves at least 95 % of the weights; {@code lady
 * resync} gives the export back byte for byte.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AttentionFormsOnnxExportTest {
    static final int HEADS = 8;
    static final int HEAD_DIM = 8;
    /** Per model: key and value heads, and whether a rotary embedding pins q's and k's dimensions. */
    static final Map<String, int[]> MODELS = new java.util.TreeMap<>(Map.of("mqa", new int[] {1, 0}, "mqa-rope",
            new int[] {1, 1}, "gqa5", new int[] {2, 0}, "gqa5-rope", new int[] {2, 1}, "timm", new int[] {HEADS, 0},
            "timm-index", new int[] {HEADS, 0}, "neox", new int[] {HEADS, 1}, "neox-full", new int[] {HEADS, 1},
            "bloom", new int[] {HEADS, 0}, "swin", new int[] {HEADS, 0}));

    Path dir;

    @BeforeAll
    void export(@TempDir Path folder) throws Exception {
        dir = folder;
        PythonTorch.assumeInstalled();
        assertNull(PythonTorch.run("onnx_attention_forms.py", dir.toString(), "3"), "the export failed");
    }

    @Test
    void everySymmetryIsAGroup() {
        for (Map.Entry<String, int[]> e : MODELS.entrySet()) {
            String model = e.getKey();
            int kv = e.getValue()[0];
            boolean rotary = e.getValue()[1] == 1;
            Path p = dir.resolve(model + ".onnx");
            PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
            assertEquals(List.of(), spec.notes(), model);
            assertEquals(kv == 1 ? List.of() : List.of((long) kv), sizes(spec, ".kv_heads"), model);
            assertEquals(kv == HEADS ? List.of() : java.util.Collections.nCopies(kv, (long) HEADS / kv),
                    sizes(spec, ".q_heads."), model);
            assertEquals(rotary ? List.of() : java.util.Collections.nCopies(kv, (long) HEAD_DIM), sizes(spec, ".qk_pass."),
                    model);
            assertEquals(java.util.Collections.nCopies(kv, (long) HEAD_DIM), sizes(spec, ".v_dims."), model);
            if (model.equals("swin")) { // the bias table's columns: one per head, in the heads' group
                assertTrue(spec.groups().stream().filter(g -> g.name().endsWith(".kv_heads")).findFirst().orElseThrow()
                        .members().stream().anyMatch(m -> m.tensor().equals("table") && m.axis() == 1), model);
            }
            // k's rows move with q's by head group (k's dimensions with q's where nothing pins them)
            assertTrue(spec.groups().stream().anyMatch(g -> g.members().stream().anyMatch(m -> m.tensor().startsWith(
                    List.of("mqa", "gqa5", "gqa5-rope").contains(model) ? "k." : "qkv."))), model + ": " + spec.groups());
        }
    }

    /** Swin's heads moved without their bias table's columns: ONNX Runtime's check fails (the table must move). */
    @Test
    void swinsHeadsWithoutTheirBiasTableChangeTheFunction() {
        Path p = dir.resolve("swin.onnx");
        PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
        List<Group> wrong = spec.groups().stream().map(g -> new Group(g.name(), g.size(), g.members().stream()
                .filter(m -> !m.tensor().equals("table")).toList())).toList();
        java.util.Set<String> fixed = new java.util.HashSet<>(spec.fixed());
        fixed.add("table");
        Path wrongSpec = dir.resolve("swin-wrong.json");
        lady.permutation.SpecFile.write(wrongSpec, new PermutationSpec(spec.architecture(), wrong, fixed));
        lady.cli.CliRun r = lady.cli.CliRun.of("permute", "--model", p.toString(), "--spec", wrongSpec.toString(),
                "--seed", "9", "--out", dir.resolve("swin-wrong.onnx").toString(), "--secret",
                dir.resolve("swin-wrong.secret.json").toString(), "--verify", "--quiet");
        assertTrue(r.code() != 0 && r.err().contains("NOT equivalent"), r.code() + ": " + r.err());
    }

    private static List<Long> sizes(PermutationSpec spec, String kind) {
        return spec.groups().stream().filter(g -> g.name().contains(kind)).map(Group::size).toList();
    }

    @Test
    void permuteKeepsTheFunctionAndResyncGivesTheExportBack() throws Exception {
        for (String model : MODELS.keySet()) {
            PyTorchPermutationChecks.permuteVerifyAndResync(dir, model, dir.resolve(model + ".onnx"), "9");
        }
    }
}
