package lady.experiment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.torch.Torch;
import lady.train.TrainConfig;
import lady.train.Trainer;

/** A tiny Table 1: toynet briefly trained on a few hundred digits, one run, two levels per attack. */
class Table1Test {
    static StateDict reference;
    static Dataset train;
    static Dataset test;

    @BeforeAll
    static void model() {
        Torch.init();
        train = Digits.train().limit(300);
        test = Digits.test().limit(200);
        Trainer.seedLibtorch(11);
        Model m = Models.create("toynet", ModelOptions.defaults());
        new Trainer(TrainConfig.fineTuning(1).withSeed(5)).deterministic(true).train(m, train);
        reference = m.stateDict();
    }

    static Table1.Config tiny() {
        return Table1.Config.paper("conv2").withRuns(1).withSeed(7)
                .withLevels(List.of(0.0, 10.0), List.of(1, 2), List.of(8, 2), List.of(0.0, 95.0));
    }

    /** The CLI's default layer is the paper's features.17 found by position: features.24 in a VGG16 with batch norm. */
    @Test
    void cliDefaultLayerIsThePapersConvByPosition(@TempDir Path dir) throws IOException {
        Path m = dir.resolve("bn.pt");
        lady.checkpoint.Checkpoints.write(m, Models.create("vgg16_bn_cifar", ModelOptions.defaults().withWidth(0.125))
                .stateDict(), lady.checkpoint.Checkpoints.Format.TORCH_ZIP);
        lady.cli.CliRun r = lady.cli.CliRun.of("table1", "--model", m.toString(), "--attacks", "quant", "--quant", "8",
                "--runs", "1", "--eval-limit", "32", "--out", dir.resolve("out").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        String md = Files.readString(dir.resolve("out/table1.md"));
        assertTrue(md.contains("attacked layer features.24"), md);
        lady.cli.CliRun toy = lady.cli.CliRun.of("table1", "--model", writeToy(dir).toString(), "--attacks", "quant",
                "--out", dir.resolve("toy").toString(), "--quiet");
        assertEquals(3, toy.code(), toy.err());
        assertTrue(toy.err().contains("not a VGG16") && toy.err().contains("name a layer"), toy.err());
    }

    private static Path writeToy(Path dir) {
        Path p = dir.resolve("toy.pt");
        lady.checkpoint.Checkpoints.write(p, reference, lady.checkpoint.Checkpoints.Format.TORCH_ZIP);
        return p;
    }

    @Test
    void tinyTableWritesEveryFileAndPassesItsChecks(@TempDir Path dir) throws IOException {
        Table1.Config config = tiny();
        Table1.Result r = Table1.run(config, reference, null, train, test, ProgressListener.NONE);
        assertEquals("toynet", r.architecture());
        assertEquals(List.of("conv2"), r.groups());
        assertEquals(8, r.runs().size(), "2 levels x 4 attacks x 1 run");
        assertTrue(r.failures().isEmpty(), "error check: " + r.failures());
        for (Table1.Run run : r.runs()) {
            // the assignment resync is a permutation of the attacked model: same error, to the image
            assertEquals(run.errorAttacked(), run.errorResyncAssignment(), run.spec());
            assertTrue(run.errorCheck());
            if (run.psiAssignment() == 100.0) {
                assertTrue(run.restoredExactly(), run.spec() + ": Psi 100 gives the attacked tensors back bit for bit");
            }
            assertEquals(200, run.images());
            assertEquals(16, run.neurons());
        }
        Table1.Run clean = find(r, "noise:0");
        assertEquals(100.0, clean.psiAssignment());
        assertEquals(100.0, clean.psiArgmax());
        assertEquals(100.0, clean.psiPaper());
        assertEquals(0, clean.integrityFlags(), "no attack: no neuron flagged");
        assertEquals(1.0, clean.integrityMaxRatio(), 1e-6, "no attack: every norm ratio is 1");
        assertEquals(r.baseError(), clean.errorAttacked(), "Omega 0 leaves the model as it is");
        assertEquals(100.0, find(r, "prune:0").psiAssignment());
        assertEquals(100.0, find(r, "quant:8").psiAssignment());
        Table1.Run noisy = find(r, "noise:10");
        assertTrue(noisy.psiAssignment() <= 100.0 && noisy.psiAssignment() >= 0);
        assertTrue((double) noisy.attackDetails().get("sigma") > 0);
        // fine-tuning: one trajectory of 2 epochs, epoch 1 taken as the Theta = 1 cell
        Table1.Run ft1 = find(r, "finetune:1");
        Table1.Run ft2 = find(r, "finetune:2");
        assertEquals(2, ft1.attackDetails().get("trajectory_epochs"));
        assertEquals(ft1.attackSeed(), ft2.attackSeed());
        assertNotEquals(ft1.permutationSeed(), ft2.permutationSeed(), "a new secret per cell");
        assertEquals(95.0, (double) find(r, "prune:95").attackDetails().get("percent"));

        List<Path> files = Table1Files.write(dir, r, Map.of("model", "test"));
        for (String name : List.of("runs.jsonl", "table1.csv", "table1.md", "table1_noise.png", "table1_noise.csv",
                "table1_finetune.png", "table1_quant.png", "table1_prune.png", "table1_prune.csv")) {
            assertTrue(files.contains(dir.resolve(name)), name);
            assertTrue(Files.size(dir.resolve(name)) > 0, name);
        }
        byte[] png = Files.readAllBytes(dir.resolve("table1_quant.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4));
        List<String> lines = Files.readAllLines(dir.resolve("runs.jsonl"));
        assertEquals(8, lines.size());
        @SuppressWarnings("unchecked")
        Map<String, Object> first = (Map<String, Object>) Json.parse(lines.get(0));
        assertEquals("noise:0", first.get("spec"));
        assertEquals(true, first.get("error_check"));
        assertTrue(first.containsKey("tool") && first.containsKey("config") && first.containsKey("seeds"));
        List<String> csv = Files.readAllLines(dir.resolve("table1.csv"));
        assertEquals(9, csv.size());
        assertTrue(csv.get(1).startsWith("noise,0,1,100,0,100,0,100,0,"), csv.get(1));
        assertTrue(csv.get(1).endsWith(",100,9.9600,100,7.0300"), "paper's 'none' row next to Omega 0: " + csv.get(1));
        String md = Files.readString(dir.resolve("table1.md"));
        assertTrue(md.contains("| noise Ω | 10 |") && md.contains("93.50 / 56.62"), md);
        assertEquals(3, Files.readAllLines(dir.resolve("table1_noise.csv")).size());

        // same seed, fewer attacks: the cells that remain have the same numbers
        Table1.Result again = Table1.run(config.withAttacks(List.of("noise", "prune")), reference, null, null, test,
                ProgressListener.NONE);
        for (Table1.Run a : again.runs()) {
            Table1.Run b = find(r, a.spec());
            assertEquals(b.psiArgmax(), a.psiArgmax(), a.spec());
            assertEquals(b.psiAssignment(), a.psiAssignment(), a.spec());
            assertEquals(b.errorAttacked(), a.errorAttacked(), a.spec());
            assertEquals(b.permutationSeed(), a.permutationSeed(), a.spec());
        }
    }

    @Test
    void wholeNetworkResyncsEveryGroupAndBadLayersAreClearErrors() {
        Table1.Config config = tiny().withAttacks(List.of("quant")).withWholeNetwork(true)
                .withLevels(List.of(), List.of(), List.of(8), List.of());
        Table1.Result r = Table1.run(config, reference, "toynet", null, test, ProgressListener.NONE);
        assertEquals(List.of("conv1", "conv2", "fc1"), r.groups());
        assertEquals(8 + 16 + 64, r.runs().get(0).neurons());
        assertEquals(100.0, r.runs().get(0).psiAssignment());
        assertTrue(r.runs().get(0).errorCheck());

        LadyException out = assertThrows(LadyException.class,
                () -> Table1.run(tiny().withAttacks(List.of("noise")).withLevels(List.of(1.0), List.of(), List.of(),
                        List.of()).withLayer("fc2"), reference, null, null, test, ProgressListener.NONE));
        assertEquals(LadyException.Kind.USAGE, out.kind());
        LadyException unknown = assertThrows(LadyException.class,
                () -> Table1.run(tiny().withLayer("nope"), reference, null, train, test, ProgressListener.NONE));
        assertTrue(unknown.getMessage().contains("conv2"), unknown.getMessage());
        assertThrows(LadyException.class, () -> tiny().withAttacks(List.of("blur")));
        assertFalse(Table1.paperKey("noise:0").equals("noise:0"));
    }

    static Table1.Run find(Table1.Result r, String spec) {
        return r.runs().stream().filter(x -> x.spec().equals(spec)).findFirst().orElseThrow();
    }
}
