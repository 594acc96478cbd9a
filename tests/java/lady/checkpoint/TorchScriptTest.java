package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * TorchScript archives ({@code torch.jit.save} of scripted and traced models, tests/python/torchscript_models.py): Lady
 * reads each exactly as {@code torch.jit.load(file).state_dict()} (the parameters and buffers its code declares, in
 * order; not its plain tensor attributes), and a command that changes the weights writes a TorchScript archive again:
 * the input's code and constants byte for byte, each tensor's storage record holding its new values, so that
 * {@code torch.jit.load} runs the permuted model with the original's outputs and the resynced one with the original's
 * weights. Before, every TorchScript archive was refused with a hint to save its state dict.
 */
class TorchScriptTest {
    private static final List<String> MODELS = List.of("resnet18-script", "resnet18-trace", "mnv3-script", "net-script",
            "tied-script");

    @TempDir
    static Path dir;

    @BeforeAll
    static void save() throws Exception {
        Torch.init();
        String err = PythonTorch.run("torchscript_models.py", "save", dir.toString(), "4");
        assertNull(err, err);
    }

    @Test
    void anArchiveReadsAsTheStateDictTorchJitLoadGives() {
        for (String m : MODELS) {
            StateDict ts = Checkpoints.read(dir.resolve(m + "-ts.pt"));
            StateDict sd = Checkpoints.read(dir.resolve(m + "-sd.pt"));
            assertEquals(List.copyOf(sd.names()), List.copyOf(ts.names()), m); // in order
            for (String n : sd.names()) {
                assertTrue(sd.get(n).sameContent(ts.get(n)), m + " " + n);
            }
        }
        java.util.Set<String> net = Checkpoints.read(dir.resolve("net-script-ts.pt")).names();
        assertEquals(List.of("scale", "shift", "count", "conv.weight", "conv.bias"), List.copyOf(net).subList(0, 5));
        assertFalse(net.contains("constant"), "a plain tensor attribute is in no state dict");
    }

    @Test
    void permuteAndResyncWriteArchivesThatTorchRuns() throws Exception {
        for (String m : List.of("resnet18-trace", "mnv3-script")) { // a traced archive's code fixes every shape
            Path model = dir.resolve(m + "-ts.pt");
            Path permuted = dir.resolve(m + "-p.pt");
            Path restored = dir.resolve(m + "-r.pt");
            CliRun p = CliRun.of("permute", "--model", model.toString(), "--groups", "all", "--seed", "5", "--verify",
                    "--out", permuted.toString(), "--secret", dir.resolve(m + "-s.json").toString(), "--quiet");
            assertEquals(0, p.code(), m + ": " + p.err());
            assertTrue(isScript(permuted), m + ": the permuted model is a TorchScript archive");
            CliRun r = CliRun.of("resync", "--reference", model.toString(), "--suspect", permuted.toString(), "--out",
                    restored.toString(), "--secret", dir.resolve(m + "-s.json").toString(), "--quiet");
            assertEquals(0, r.code(), m + ": " + r.err());
            assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
            String err = PythonTorch.run("torchscript_models.py", "check", model.toString(), permuted.toString(),
                    restored.toString());
            assertNull(err, m + ": " + err);
        }
    }

    @Test
    void aTensorThatSharesItsStorageIsWrittenAsAStateDict() throws IOException {
        Path tied = dir.resolve("tied-script-ts.pt");
        StateDict sd = Checkpoints.read(tied);
        assertTrue(sd.names().containsAll(List.of("a.weight", "b.weight")), sd.names().toString());
        Path out = dir.resolve("tied-out.pt"); // one storage under two names: the archive cannot hold them apart
        Checkpoints.writeLike(out, sd, tied);
        assertFalse(isScript(out));
        assertTrue(Checkpoints.read(out).sameTensors(sd));

        Path net = dir.resolve("net-script-ts.pt"); // every tensor its storage alone: an archive again, read the same
        Path copy = dir.resolve("net-out.pt");
        StateDict n = Checkpoints.read(net);
        Checkpoints.writeLike(copy, n, net);
        assertTrue(isScript(copy));
        assertTrue(Checkpoints.read(copy).sameTensors(n));
    }

    private static boolean isScript(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ZipArchive zip = ZipArchive.open(ch, file.toString());
            String data = zip.entries().keySet().stream().filter(e -> e.endsWith("/data.pkl")).findFirst().orElseThrow();
            return ScriptClasses.isScript(zip, data.substring(0, data.length() - "data.pkl".length()));
        }
    }
}
