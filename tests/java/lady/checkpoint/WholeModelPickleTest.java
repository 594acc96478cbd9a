package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * Whole models pickled by {@code torch.save(model)} (tests/python/whole_models.py): Lady reads each as its state dict,
 * the same names in the same order and the same tensors as {@code model.state_dict()} saved beside it, walking the
 * pickled module objects as inert data (nothing is constructed or run). Before, every such file was refused ("refers to
 * global 'torchvision.models.resnet.ResNet', which is not allowed"). The globals pickle payloads reach for are still
 * refused by name.
 */
class WholeModelPickleTest {
    private static final List<String> MODELS = List.of("resnet18", "mobilenet_v3_small", "efficientnet_b0", "transformer",
            "net", "wrapped");

    @TempDir
    static Path dir;

    @BeforeAll
    static void save() throws Exception {
        Torch.init();
        String err = PythonTorch.run("whole_models.py", dir.toString(), "4");
        assertNull(err, err);
    }

    @Test
    void aWholePickledModelReadsAsItsStateDict() {
        for (String m : MODELS) {
            StateDict whole = Checkpoints.read(dir.resolve(m + "-model.pt"));
            StateDict sd = Checkpoints.read(dir.resolve(m + "-sd.pt"));
            assertEquals(List.copyOf(sd.names()), List.copyOf(whole.names()), m); // in order
            for (String n : sd.names()) {
                assertTrue(sd.get(n).sameContent(whole.get(n)), m + " " + n);
            }
        }
        java.util.Set<String> net = Checkpoints.read(dir.resolve("net-model.pt")).names();
        assertTrue(net.contains("head.weight") && net.contains("fc.weight") && !net.contains("scratch")
                && !net.contains("conv.bias"), net.toString());
    }

    @Test
    void theCommandsTakeIt() throws Exception {
        Path model = dir.resolve("resnet18-model.pt");
        CliRun spec = CliRun.of("spec", "--model", model.toString());
        assertEquals(0, spec.code(), spec.err());
        assertTrue(spec.out().startsWith("resnet18: 12 groups"), spec.out());
        Path out = dir.resolve("p.pt");
        CliRun p = CliRun.of("permute", "--model", model.toString(), "--seed", "3", "--out", out.toString(), "--secret",
                dir.resolve("p.json").toString(), "--quiet");
        assertEquals(0, p.code(), p.err());
        CliRun r = CliRun.of("resync", "--reference", model.toString(), "--suspect", out.toString(), "--out",
                dir.resolve("r.pt").toString(), "--secret", dir.resolve("p.json").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        assertTrue(Checkpoints.read(dir.resolve("r.pt")).sameTensors(Checkpoints.read(dir.resolve("resnet18-sd.pt"))));
    }

    /**
     * A module that contains itself, an object that is no module, a file that calls a function and gives no state dict,
     * and the globals pickle payloads reach for are refused in one line, by name where there is one.
     */
    @Test
    void objectsThatAreNoModelAreRefused() throws Exception {
        // m = NEWOBJ(__main__.M); BUILD {"_parameters": {}, "_modules": {"self": m}}
        String loop = "\u0080\u0002c__main__\nM\n)\u0081q\u0000}(X\u000b\u0000\u0000\u0000_parameters}X\b\u0000\u0000\u0000"
                + "_modules}X\u0004\u0000\u0000\u0000selfh\u0000sub.";
        LadyException e = read(loop);
        assertTrue(e.getMessage().contains("contains itself"), e.getMessage());
        e = read("\u0080\u0002ccollections\nCounter\n)\u0081.");
        assertTrue(e.getMessage().contains("holds an object of class collections.Counter, not a state dict"), e.getMessage());
        e = read("\u0080\u0002ctorch.storage\n_load_from_bytes\nC\u0001x\u0085R.");
        assertTrue(e.getMessage().contains("refers to global 'torch.storage._load_from_bytes', which is not allowed"),
                e.getMessage());
        // 31 levels of modules, each holding the one below twice: 2^31 names from 2 kB, refused at once
        StringBuilder dag = new StringBuilder("\u0080\u0002");
        for (int k = 0; k <= 30; k++) {
            dag.append("c__main__\nM\n)\u0081}(X\u000b\u0000\u0000\u0000_parameters}X\b\u0000\u0000\u0000_modules}");
            if (k > 0) {
                String below = "h" + (char) (k - 1);
                dag.append("(X\u0001\u0000\u0000\u0000a").append(below).append("X\u0001\u0000\u0000\u0000b").append(below)
                        .append('u');
            }
            dag.append("ubq").append((char) k).append('0');
        }
        e = assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> read(dag + "h\u001e."));
        assertTrue(e.getMessage().contains("more than " + Unpickler.MAX_MODULES + " modules"), e.getMessage());
        for (String payload : new String[] {"subprocess\nPopen", "posix\nsystem", "builtins\ngetattr"}) {
            e = read("\u0080\u0002c" + payload + "\nX\u0002\u0000\u0000\u0000ls\u0085R.");
            assertTrue(e.getMessage().contains("refers to global '" + payload.replace('\n', '.') + "', which is not allowed"),
                    e.getMessage());
        }
    }

    private LadyException read(String pickle) throws Exception {
        Path p = dir.resolve("hostile-" + Integer.toHexString(pickle.hashCode()) + ".pt");
        byte[] bytes = pickle.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        Files.write(p, CheckpointTestSupport.zip(Map.of("m/data.pkl", bytes, "m/version", "3\n".getBytes())));
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.read(p));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        return e;
    }
}
