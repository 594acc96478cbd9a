package lady.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * The commands that only move and compare weights never load libtorch (about 3 s of every command
 * that does): each runs in a child JVM that logs every class it loads ({@code -Xlog:class+load}, into a
 * file), and none may come from {@code org.bytedeco.pytorch}. The model is made here without libtorch.
 */
class NoTorchTest {
    private static final String TORCH_PACKAGE = "org.bytedeco.pytorch";

    /** A toynet with random weights (every tensor float32, normal, std 0.1), written without libtorch. */
    static StateDict toynet(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        StateDict sd = new StateDict();
        Models.describe("toynet", ModelOptions.defaults()).tensorShapes().forEach((name, shape) -> {
            float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (0.1 * random.nextGaussian());
            }
            sd.put(name, HostTensor.ofFloats(v, shape));
        });
        return sd;
    }

    private static void assertNoTorch(Path dir, String... args) throws IOException, InterruptedException {
        Path log = dir.resolve(args[0] + ".classes.log");
        ChildJvm run = ChildJvm.lady(List.of("-Xlog:class+load=info:file=" + log), args);
        assertEquals(0, run.code(), "lady " + String.join(" ", args) + ":\n" + run.output());
        List<String> classes = Files.readAllLines(log);
        assertTrue(classes.stream().anyMatch(l -> l.contains("lady.checkpoint.StateDict")), "the log lists the classes");
        assertEquals(null, classes.stream().filter(l -> l.contains(TORCH_PACKAGE)).findFirst().orElse(null),
                "lady " + args[0] + " loaded libtorch");
    }

    @Test
    void weightOnlyCommandsDoNotLoadLibtorch(@TempDir Path dir) throws IOException, InterruptedException {
        Path model = dir.resolve("m.pt");
        Checkpoints.write(model, toynet(3), Checkpoints.Format.TORCH_ZIP);
        assertEquals(DType.FLOAT32, Checkpoints.read(model).get("conv1.weight").dtype());
        String m = model.toString();
        String permuted = dir.resolve("p.pt").toString();
        assertNoTorch(dir, "permute", "--model", m, "--seed", "5", "--out", permuted, "--secret",
                dir.resolve("s.json").toString(), "--threads", "1");
        assertNoTorch(dir, "resync", "--reference", m, "--suspect", permuted, "--out", dir.resolve("r.pt").toString(),
                "--report", dir.resolve("r.json").toString(), "--secret", dir.resolve("s.json").toString(), "--quiet");
        assertTrue(Checkpoints.read(model).sameTensors(Checkpoints.read(dir.resolve("r.pt"))), "resync restored the input");
        assertNoTorch(dir, "attack", "--model", m, "--attack", "noise:1,quant:8,prune:50", "--layer", "conv2", "--seed",
                "2", "--out", dir.resolve("a.pt").toString(), "--quiet");
        assertNoTorch(dir, "canon", "--model", m, "--layer", "all", "--method", "basic", "--out",
                dir.resolve("c.json").toString(), "--quiet");
        assertTrue(Files.exists(dir.resolve("c.json")));
        assertNoTorch(dir, "canon", "--model", m, "--normal-form", "--out", dir.resolve("nf.pt").toString(), "--quiet");
        assertTrue(Files.exists(dir.resolve("nf.pt")));
        assertNoTorch(dir, "spec", "--model", m);
    }
}
