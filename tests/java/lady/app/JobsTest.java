package lady.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.kernels.Backend;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Secret;
import lady.permutation.SpecFile;
import lady.progress.ProgressListener;
import lady.torch.Torch;

/** The runners of the application layer: results, manifests, stages, and nothing written on failure. */
class JobsTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** A listener that keeps the stages it is told about. */
    static ProgressListener stages(List<String> seen) {
        return ProgressListener.stages((what, seconds) -> {
            assertTrue(seconds >= 0, what);
            seen.add(what);
        });
    }

    @Test
    void permuteReturnsItsResultWithAManifest(@TempDir Path dir) {
        Path in = dir.resolve("m.pt"), out = dir.resolve("p.pt"), secret = dir.resolve("s.json");
        Checkpoints.write(in, Models.create("lenet5").stateDict(), Checkpoints.Format.TORCH_ZIP);
        List<String> seen = new ArrayList<>();
        PermuteJob.Result r = PermuteJob.run(new PermuteJob.Request(in, null, null, null, "all", 7, out, secret, true,
                null, Backend.CPU), stages(seen));
        assertEquals("lenet5", r.architecture());
        assertEquals(r.groups(), r.permuted());
        assertTrue(r.groups() > 0);
        assertEquals(7L, r.seed());
        assertFalse(r.scaled() || r.onnx());
        assertNotNull(r.difference());
        assertTrue(r.difference() < 1e-4, "logits changed by " + r.difference());
        assertEquals(7L, Secret.read(secret).seed());
        assertTrue(Files.exists(out));

        Manifest m = r.manifest();
        assertEquals("lady", m.tool());
        assertEquals("permute", m.job());
        assertEquals(Map.of("--model", in.toString()), m.inputs());
        assertEquals(7L, m.options().get("seed"));
        assertEquals("cpu", m.options().get("backend"));
        assertEquals(List.of("read", "permute", "verify", "write", "total"), List.copyOf(m.seconds().keySet()));
        assertEquals(4, seen.size(), seen.toString());
        assertTrue(seen.get(0).startsWith("read " + in + ": lenet5"), seen.toString());
        assertEquals(m.toJson().get("options"), m.options());
    }

    @Test
    void aFailedPermuteWritesNothing(@TempDir Path dir) {
        Path in = dir.resolve("m.pt"), out = dir.resolve("p.pt"), secret = dir.resolve("s.json");
        Checkpoints.write(in, Models.create("lenet5").stateDict(), Checkpoints.Format.TORCH_ZIP);
        LadyException e = assertThrows(LadyException.class, () -> PermuteJob.run(new PermuteJob.Request(in, null,
                null, null, "no.such.group", 7, out, secret, false, null, Backend.CPU), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("no.such.group"), e.getMessage());
        assertFalse(Files.exists(out) || Files.exists(secret));
    }

    @Test
    void resyncUndoesAPermuteAndWritesItsReport(@TempDir Path dir) {
        Path in = dir.resolve("m.pt"), permuted = dir.resolve("p.pt"), secret = dir.resolve("s.json");
        Path fixed = dir.resolve("f.pt"), report = dir.resolve("r.json");
        Checkpoints.write(in, Models.create("lenet5").stateDict(), Checkpoints.Format.TORCH_ZIP);
        PermuteJob.run(new PermuteJob.Request(in, null, null, null, "all", 3, permuted, secret, false, null,
                Backend.CPU), ProgressListener.NONE);
        List<String> seen = new ArrayList<>();
        ResyncJob.Result r = ResyncJob.run(new ResyncJob.Request(in, permuted, fixed, report, null, null, null, "all",
                secret, lady.resync.ResyncOptions.defaults(), lady.resync.Signal.WEIGHTS, null, 0, true, 0),
                stages(seen));
        assertEquals(100.0, r.report().psi(), 1e-9);
        assertTrue(Checkpoints.read(fixed).sameTensors(Checkpoints.read(in)), "the resynced model is the original");
        assertTrue(Files.exists(report));
        assertEquals("resync", r.manifest().job());
        assertEquals(List.of("--reference", "--suspect", "--secret"), List.copyOf(r.manifest().inputs().keySet()));
        assertEquals("assignment", r.manifest().options().get("method"));
        assertEquals(List.of("read", "write", "total"), List.copyOf(r.manifest().seconds().keySet()));
        assertEquals(2, seen.size(), seen.toString());
    }

    @Test
    void specReturnsTheGroupsAndWritesTheSpecFile(@TempDir Path dir) {
        Path in = dir.resolve("m.pt"), out = dir.resolve("spec.json");
        Checkpoints.write(in, Models.create("lenet5").stateDict(), Checkpoints.Format.TORCH_ZIP);
        SpecJob.Result r = SpecJob.run(new SpecJob.Request(in, null, null, null, out), ProgressListener.NONE);
        assertEquals("lenet5", r.spec().architecture());
        assertEquals(r.spec().groups().stream().map(Group::name).toList(),
                SpecFile.read(out).groups().stream().map(Group::name).toList());
        assertEquals("spec", r.manifest().job());
        assertEquals(Map.of("--model", in.toString()), r.manifest().inputs());
        assertTrue(r.manifest().seconds().get("total") >= r.manifest().seconds().get("spec"));
    }
}
