package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.PermutationSpec;
import lady.permutation.SpecFile;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** {@code lady spec} and {@code --spec}: the derived spec as a file, read back, giving the same results. */
class SpecCommandTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static Path model(Path dir, String arch) {
        ModelOptions o = ModelOptions.defaults();
        StateDict state = Models.create(arch, arch.startsWith("resnet") ? o.withWidth(0.25) : o).stateDict();
        Path p = dir.resolve(arch + ".pt");
        Checkpoints.write(p, state, Checkpoints.Format.TORCH_ZIP);
        return p;
    }

    @Test
    void theWrittenSpecIsTheDerivedOneAndPermuteGivesTheSameBytesWithIt(@TempDir Path dir) throws IOException {
        Path in = model(dir, "resnet18_cifar");
        Path spec = dir.resolve("spec.json");
        CliRun r = CliRun.of("spec", "--model", in.toString(), "--out", spec.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resnet18_cifar: 12 groups"), r.out());
        assertTrue(r.out().contains("stream.layer1"), r.out());

        PermutationSpec derived = Models.infer(Checkpoints.read(in), null).description().permutationSpec();
        PermutationSpec read = SpecFile.read(spec);
        assertEquals(derived, read);

        Path a = dir.resolve("a.pt"), b = dir.resolve("b.pt");
        assertEquals(0, CliRun.of("permute", "--model", in.toString(), "--seed", "3", "--out", a.toString(), "--secret",
                dir.resolve("sa.json").toString()).code());
        CliRun withSpec = CliRun.of("permute", "--model", in.toString(), "--spec", spec.toString(), "--seed", "3", "--out",
                b.toString(), "--secret", dir.resolve("sb.json").toString());
        assertEquals(0, withSpec.code(), withSpec.err());
        assertEquals(-1L, Files.mismatch(a, b));
        assertNotEquals(-1L, Files.mismatch(in, a));

        Path back = dir.resolve("back.pt");
        CliRun resync = CliRun.of("resync", "--reference", in.toString(), "--suspect", b.toString(), "--spec", spec.toString(),
                "--out", back.toString(), "--secret", dir.resolve("sb.json").toString(), "--quiet");
        assertEquals(0, resync.code(), resync.err());
        assertTrue(Checkpoints.read(in).sameTensors(Checkpoints.read(back)));
    }

    @Test
    void aSpecThatDoesNotFitTheModelIsRefusedWithTheProblem(@TempDir Path dir) throws IOException {
        Path in = model(dir, "toynet");
        Path spec = dir.resolve("spec.json");
        assertEquals(0, CliRun.of("spec", "--model", in.toString(), "--out", spec.toString()).code());
        String text = Files.readString(spec);
        String broken = text.replaceFirst("\"size\": ?8,", "\"size\": 9,");
        assertNotEquals(text, broken);
        Files.writeString(spec, broken.replaceAll("\"length\": ?8,", "\"length\": 9,"));
        CliRun r = CliRun.of("permute", "--model", in.toString(), "--spec", spec.toString(), "--seed", "1", "--out",
                dir.resolve("o.pt").toString(), "--secret", dir.resolve("s.json").toString());
        assertEquals(3, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("'conv1.weight' axis 0 has 8 entries"), r.err());
        assertTrue(Files.notExists(dir.resolve("o.pt")));
    }

    @Test
    void anUnknownNetworkIsSaidToShareNoNameAndGetsTheSpecOptionInThreeShortLines(@TempDir Path dir) {
        StateDict state = new StateDict();
        for (int i = 0; i < 200; i++) {
            TorchTensors.put(state, "block" + i + ".proj.weight", org.bytedeco.pytorch.global.torch.zeros(4, 4));
        }
        Path in = dir.resolve("odd.pt");
        Checkpoints.write(in, state, Checkpoints.Format.TORCH_ZIP);
        CliRun r = CliRun.of("spec", "--model", in.toString());
        assertEquals(3, r.code());
        String[] lines = r.err().strip().split("\n");
        assertTrue(lines.length <= 3, r.err());
        for (String line : lines) {
            assertTrue(line.length() <= 400, line);
        }
        assertTrue(r.err().contains("no network Lady knows has any of these tensor names"), r.err());
        assertTrue(r.err().contains("--spec") && r.err().contains("--graph"), r.err());
    }

    /**
     * A DataParallel save ('module.' before every name) and a torch.compile'd model's ('_orig_mod.') are named as such,
     * with the way out, in three short lines.
     */
    @Test
    void aWrappersSaveIsNamedWithTheWayOut(@TempDir Path dir) {
        StateDict plain = Models.create("resnet18", ModelOptions.defaults().withWidth(0.25)).stateDict();
        for (String[] w : new String[][] {{"module.", "DataParallel", "k[7:]"}, {"_orig_mod.", "torch.compile", "k[10:]"}}) {
            StateDict wrapped = new StateDict();
            plain.names().forEach(n -> wrapped.put(w[0] + n, plain.get(n)));
            Path in = dir.resolve("wrapped.pt");
            Checkpoints.write(in, wrapped, Checkpoints.Format.TORCH_ZIP);
            CliRun r = CliRun.of("spec", "--model", in.toString());
            assertEquals(3, r.code());
            String[] lines = r.err().strip().split("\n");
            assertEquals(3, lines.length, r.err());
            assertTrue(lines[1].contains("'" + w[0] + "'") && lines[1].contains(w[1]) && lines[1].contains("resnet18")
                    && lines[1].contains(w[2]), r.err());
        }
    }

    /**
     * A Wide ResNet built by RobustBench with sub_block1=True (a block its forward never runs) is not read: the error says
     * so and how to drop it, in three short lines; without it the network is read as wrn_16_1 (a name of the pattern, not of the list).
     */
    @Test
    void robustBenchsUnusedSubBlockIsNamedWithTheWayOut(@TempDir Path dir) {
        StateDict plain = Models.create("wrn_16_1", ModelOptions.defaults()).stateDict();
        StateDict withSub = new StateDict();
        plain.names().forEach(n -> withSub.put(n, plain.get(n)));
        plain.names().stream().filter(n -> n.startsWith("block1.")).forEach(n -> withSub.put("sub_" + n, plain.get(n)));
        Path in = dir.resolve("robustbench.pt");
        Checkpoints.write(in, withSub, Checkpoints.Format.TORCH_ZIP);
        CliRun r = CliRun.of("spec", "--model", in.toString());
        assertEquals(3, r.code());
        String[] lines = r.err().strip().split("\n");
        assertEquals(3, lines.length, r.err());
        assertTrue(lines[1].contains("sub_block1") && lines[1].contains("k.startswith('sub_block1.')")
                && lines[1].length() <= 400, r.err());
        Path without = dir.resolve("plain.pt");
        Checkpoints.write(without, plain, Checkpoints.Format.TORCH_ZIP);
        CliRun ok = CliRun.of("spec", "--model", without.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().startsWith("wrn_16_1: "), ok.out());
    }
}
