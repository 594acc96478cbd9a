package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.cli.CliRun;
import lady.model.Model;
import lady.model.Models;
import lady.report.Json;

/**
 * The integrity check end to end: the scaling attack of `lady permute --scale-range` is flagged by `lady resync
 * --no-structural`; by default the structural undo rescales the neurons back first, and reports it.
 */
class IntegrityCheckCliTest {

    @Test
    void scalingAttackIsFlaggedAndAPlainPermutationIsNot(@TempDir Path dir) throws Exception {
        torch.manual_seed(4);
        Model model = Models.create("lenet5");
        Path ref = dir.resolve("ref.pt");
        Checkpoints.write(ref, model.stateDict(), Checkpoints.Format.TORCH_ZIP);

        Map<?, ?> plain = resync(dir, ref, "plain", null, null, true);
        assertEquals(0, flags(plain), "a permutation alone changes no norm: " + plain);
        Map<?, ?> scaled = resync(dir, ref, "scaled", "0.25:4", null, true);
        assertEquals(100.0, ((Number) scaled.get("psi")).doubleValue(), "cosine matching ignores the scale");
        assertTrue(flags(scaled) > 0, "factors in [1/4, 4] must be flagged: " + scaled);
        // a ratio above every factor's deviation flags nothing
        assertEquals(0, flags(resync(dir, ref, "loose", "0.25:4", "1000", true)));
        // by default the structural undo puts the norms back before the resync: nothing left to flag
        Map<?, ?> undone = resync(dir, ref, "undone", "0.25:4", null, false);
        assertEquals(100.0, ((Number) undone.get("psi")).doubleValue());
        assertEquals(0, flags(undone), "rescaled back by the structural undo: " + undone);
        Map<?, ?> structural = (Map<?, ?>) undone.get("structural");
        assertEquals(Boolean.TRUE, structural.get("changed"), String.valueOf(structural));
        for (Object g : (List<?>) structural.get("groups")) {
            assertTrue(((Number) ((Map<?, ?>) g).get("rescaled")).intValue() > 0, String.valueOf(g));
        }
        assertEquals(Boolean.FALSE, ((Map<?, ?>) resync(dir, ref, "plain2", null, null, false).get("structural")).get("changed"),
                "a plain permutation has nothing to undo");

        CliRun bad = CliRun.of("resync", "--reference", ref.toString(), "--suspect", ref.toString(),
                "--integrity-ratio", "1", "--quiet");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("integrity ratio must be a number > 1"), bad.err());
    }

    private static Map<?, ?> resync(Path dir, Path ref, String name, String scale, String ratio, boolean noStructural)
            throws Exception {
        Path sus = dir.resolve(name + ".pt");
        Path secret = dir.resolve(name + ".secret.json");
        Path report = dir.resolve(name + ".report.json");
        List<String> p = new java.util.ArrayList<>(List.of("permute", "--model", ref.toString(), "--seed", "5",
                "--out", sus.toString(), "--secret", secret.toString(), "--quiet"));
        if (scale != null) {
            p.addAll(List.of("--scale-range", scale));
        }
        CliRun pr = CliRun.of(p.toArray(String[]::new));
        assertEquals(0, pr.code(), pr.err());
        assertEquals("", pr.err(), "--quiet: no stage lines");
        List<String> r = new java.util.ArrayList<>(List.of("resync", "--reference", ref.toString(), "--suspect",
                sus.toString(), "--secret", secret.toString(), "--report", report.toString(), "--quiet"));
        if (ratio != null) {
            r.addAll(List.of("--integrity-ratio", ratio));
        }
        if (noStructural) {
            r.add("--no-structural");
        }
        CliRun rr = CliRun.of(r.toArray(String[]::new));
        assertEquals(0, rr.code(), rr.err());
        assertTrue(rr.out().contains("max_ratio"), rr.out());
        return (Map<?, ?>) Json.parse(Files.readString(report));
    }

    private static int flags(Map<?, ?> report) {
        int n = 0;
        for (Object g : (List<?>) report.get("groups")) {
            n += ((List<?>) ((Map<?, ?>) g).get("integrity_flags")).size();
        }
        return n;
    }
}
