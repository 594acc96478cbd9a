package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * Whole models pickled by {@code torch.save(model)} (tests/python/whole_models.py): Lady reads each as its state dict,
 * the same names in the same order and the same tensors as {@code model.state_dict()} saved beside it, walking the
 * pickled module objects as inert data (nothing is constructed or run). Before, every such file was refused ("refers to
 * global 'torchvision.models.resnet.ResNet', which is not allowed"). Objects that are no model, and the globals pickle
 * payloads reach for, are refused: {@code HostileCheckpointTest}.
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

}
