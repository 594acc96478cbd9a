package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * Checkpoints in PyTorch's legacy format (before 1.6; tests/python/legacy_models.py saves each object twice, with
 * {@code _use_new_zipfile_serialization=False} and in the zip format): Lady reads each as the zip file, the same names
 * in the same order and the same tensors (a state dict, a training checkpoint, a whole pickled model, views into shared
 * storages, nine dtypes); commands that write the model write the zip format. Before, every legacy file was refused
 * with a hint to re-save it, which torchvision's older pretrained weights (VGG16's) would have needed.
 */
class LegacyCheckpointTest {
    private static final List<String> CASES = List.of("resnet18", "checkpoint", "whole", "views", "dtypes");

    @TempDir
    static Path dir;

    @BeforeAll
    static void save() throws Exception {
        Torch.init();
        String err = PythonTorch.run("legacy_models.py", dir.toString(), "3");
        assertNull(err, err);
    }

    @Test
    void aLegacyFileReadsAsTheSameObjectInTheZipFormat() {
        for (String c : CASES) {
            StateDict legacy = Checkpoints.read(dir.resolve(c + "-legacy.pt"));
            StateDict zip = Checkpoints.read(dir.resolve(c + "-zip.pt"));
            assertEquals(List.copyOf(zip.names()), List.copyOf(legacy.names()), c); // in order
            for (String n : zip.names()) {
                assertTrue(zip.get(n).sameContent(legacy.get(n)), c + " " + n);
            }
        }
    }

    @Test
    void permuteAndResyncTakeItAndWriteTheZipFormat() throws Exception {
        Path model = dir.resolve("resnet18-legacy.pt");
        Path out = dir.resolve("p.pt");
        CliRun p = CliRun.of("permute", "--model", model.toString(), "--seed", "3", "--verify", "--out", out.toString(),
                "--secret", dir.resolve("p.json").toString(), "--quiet");
        assertEquals(0, p.code(), p.err());
        byte[] head = Arrays.copyOf(Files.readAllBytes(out), 2);
        assertEquals("PK", new String(head, java.nio.charset.StandardCharsets.US_ASCII), "written in the zip format");
        CliRun r = CliRun.of("resync", "--reference", model.toString(), "--suspect", out.toString(), "--out",
                dir.resolve("r.pt").toString(), "--secret", dir.resolve("p.json").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        assertTrue(Checkpoints.read(dir.resolve("r.pt")).sameTensors(Checkpoints.read(dir.resolve("resnet18-zip.pt"))));
    }

    /** Truncated storages, and element counts that disagree with the tensors, are refused in one line. */
    @Test
    void brokenLegacyFilesAreRefused() throws Exception {
        byte[] good = Files.readAllBytes(dir.resolve("views-legacy.pt"));
        Path cut = dir.resolve("cut.pt");
        Files.write(cut, Arrays.copyOf(good, good.length - 5));
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.read(cut));
        assertTrue(e.getMessage().contains("legacy format") && e.getMessage().contains("past the end of the file"),
                e.getMessage());
        byte[] wrong = good.clone();
        int keys = lastStop(wrong); // the keys' pickle ends here; the first storage's element count follows
        wrong[keys + 1] ^= 1;
        Path count = dir.resolve("count.pt");
        Files.write(count, wrong);
        e = assertThrows(LadyException.class, () -> Checkpoints.read(count));
        assertTrue(e.getMessage().contains("elements, its tensors say"), e.getMessage());
    }

    /** The position of the STOP of the pickle before the first storage's data (the fifth pickle of the file). */
    private static int lastStop(byte[] file) {
        int at = 0;
        for (int pickle = 0; pickle < 5; pickle++) {
            Unpickler u = new Unpickler(file, at, "t", pid -> pid instanceof Unpickler.PTuple t && t.size() == 6
                    ? new Unpickler.StorageRef(lady.tensor.DType.FLOAT32, "k", 1) : null);
            u.load();
            at = u.position();
        }
        return at - 1;
    }
}
