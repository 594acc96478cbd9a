package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.torch.Torch;

/**
 * PyTorch 1.13's exports with modules as ONNX local functions (tests/python/onnx_functions.py): a torchvision ResNet
 * exported flat, with each BasicBlock a function (its weights inputs of the call), and with every module one (calls
 * nested down to each Conv). Lady derives the same groups from all three, {@code permute --verify} keeps ONNX Runtime's
 * outputs, and resync gives each file back byte for byte. Before the calls were expanded, the two function exports had
 * no group at all (one note per call: an operator Lady does not know).
 */
class FunctionsOnnxExportTest {
    private static final String[] EXPORTS = {"flat", "blocks", "all"};

    @TempDir
    static Path dir;

    @BeforeAll
    static void export() throws Exception {
        Torch.init();
        String err = PythonTorch.run("onnx_functions.py", dir.toString(), "3");
        assertNull(err, err);
    }

    /** Every group as its size and its members' roles, axes, blocks and tensor shapes (names differ between exports). */
    private static List<String> groups(String export) {
        Path p = dir.resolve(export + ".onnx");
        OnnxModel m = Onnx.read(p);
        PermutationSpec spec = Models.spec(m.stateDict(), null, null, p);
        assertEquals(List.of(), spec.notes(), export);
        List<String> out = new ArrayList<>();
        for (Group g : spec.groups()) {
            List<String> members = new ArrayList<>();
            for (Member k : g.members()) {
                members.add(k.role().key() + " axis " + k.axis() + " block " + k.block() + " of "
                        + Arrays.toString(m.tensorShape(k.tensor())));
            }
            members.sort(null);
            out.add(g.size() + ": " + members);
        }
        out.sort(null);
        return out;
    }

    @Test
    void theCallsGiveTheGroupsOfTheFlatExport() {
        List<String> flat = groups("flat");
        assertEquals(8, flat.size(), flat.toString());
        assertEquals(flat, groups("blocks"));
        assertEquals(flat, groups("all"));
    }

    @Test
    void permutedWithTheirFunctionsAndResyncedByteForByte() throws Exception {
        for (String export : new String[] {"blocks", "all"}) {
            Path p = dir.resolve(export + ".onnx");
            Path out = dir.resolve(export + "-p.onnx");
            Path secret = dir.resolve(export + "-p.json");
            CliRun r = CliRun.of("permute", "--model", p.toString(), "--seed", "11", "--out", out.toString(), "--secret",
                    secret.toString(), "--verify", "--quiet");
            assertEquals(0, r.code(), export + ": " + r.err());
            assertTrue(r.out().contains("permuted 8 groups") && r.out().contains("(ONNX Runtime)"), r.out());
            assertFalse(Arrays.equals(Files.readAllBytes(p), Files.readAllBytes(out)), export);
            assertEquals(Onnx.read(p).proto().getFunctionsCount(), Onnx.read(out).proto().getFunctionsCount(), export);

            Path restored = dir.resolve(export + "-r.onnx");
            r = CliRun.of("resync", "--reference", p.toString(), "--suspect", out.toString(), "--out", restored.toString(),
                    "--secret", secret.toString(), "--quiet");
            assertEquals(0, r.code(), export + ": " + r.err());
            assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
            assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(restored), export);
        }
    }
}
