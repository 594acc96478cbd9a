package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.permutation.Secret;
import lady.report.Json;
import lady.structure.StructuralTesting;
import lady.torch.Torch;

/** The structural attack and its undo end to end through the command line: attack, resync, canon's normal form. */
class StructuralCliTest {
    private static final String ARCH = "vgg16_bn_cifar";

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void attackVerifyResyncAndNormalForm(@TempDir Path dir) throws Exception {
        StateDict original = StructuralTesting.model(ARCH, 0.125, 6).stateDict();
        Path ref = dir.resolve("ref.pt");
        Checkpoints.write(ref, original, Checkpoints.Format.TORCH_ZIP);
        Path nso = dir.resolve("nso.pt");
        Path secret = dir.resolve("nso.secret.json");
        CliRun a = CliRun.of("attack", "--model", ref.toString(), "--attack", "dummy:20,nso", "--seed", "3", "--out",
                nso.toString(), "--verify", "--secret", secret.toString(), "--format", "json", "--quiet");
        assertEquals(0, a.code(), a.err());
        Map<?, ?> aj = (Map<?, ?>) Json.parse(a.out().trim());
        List<?> verified = (List<?>) aj.get("verified_max_output_diff");
        assertEquals(2, verified.size(), "both attacks checked");
        Secret s = Secret.read(secret);
        assertEquals(15, s.structure().size());
        StateDict attacked = Checkpoints.read(nso);
        assertTrue(attacked.shape("features.24.weight")[0] > 64, "widened");

        Path fixed = dir.resolve("fixed.pt");
        Path report = dir.resolve("report.json");
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", nso.toString(), "--secret",
                secret.toString(), "--out", fixed.toString(), "--report", report.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("structural features.24") && r.out().contains("cancelling cluster(s)")
                && r.out().contains("Psi against the secret's lineage 100.00 %"), r.out());
        Map<?, ?> rj = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals(100.0, ((Number) rj.get("structural_psi_overall")).doubleValue());
        Map<?, ?> structural = (Map<?, ?>) rj.get("structural");
        assertEquals(Boolean.TRUE, structural.get("changed"));
        assertEquals(15, ((List<?>) structural.get("groups")).size());
        double diff = StructuralTesting.maxRelativeDiff(original, Checkpoints.read(fixed));
        assertTrue(diff <= StructuralUndoTest.RESTORED_REL, "restored within " + diff);

        CliRun off = CliRun.of("resync", "--reference", ref.toString(), "--suspect", nso.toString(), "--no-structural",
                "--quiet");
        assertEquals(3, off.code(), off.out() + off.err());
        assertTrue(off.err().contains("not the same architecture"), off.err());

        Path refNf = dir.resolve("ref.nf.pt");
        Path susNf = dir.resolve("nso.nf.pt");
        CliRun n1 = CliRun.of("canon", "--model", ref.toString(), "--normal-form", "--out", refNf.toString(), "--quiet");
        assertEquals(0, n1.code(), n1.err());
        CliRun n2 = CliRun.of("canon", "--model", nso.toString(), "--normal-form", "--out", susNf.toString(), "--compare",
                refNf.toString(), "--format", "json", "--quiet");
        assertEquals(0, n2.code(), n2.err());
        Map<?, ?> nj = (Map<?, ?>) Json.parse(n2.out().trim());
        assertEquals(Boolean.TRUE, nj.get("same_network"), n2.out());
    }

    @Test
    void misuseIsAClearUsageError(@TempDir Path dir) {
        Path ref = dir.resolve("ref.pt");
        Checkpoints.write(ref, StructuralTesting.model(ARCH, 0.125, 7).stateDict(), Checkpoints.Format.TORCH_ZIP);
        String out = dir.resolve("out.pt").toString();
        String[][] cases = {
            {"--verify checks the function-preserving attacks", "--attack", "noise:1", "--layer", "features.0", "--verify"},
            {"--secret records what the structural attacks", "--attack", "quant:8", "--secret", dir.resolve("s.json").toString()},
            {"unknown group 'nope'", "--attack", "scale:2", "--groups", "nope"},
            {"--groups selects the groups of the structural attacks", "--attack", "quant:8", "--groups", "features.0"},
        };
        for (String[] c : cases) {
            String[] args = new String[c.length - 1 + 6];
            args[0] = "attack";
            args[1] = "--model";
            args[2] = ref.toString();
            args[3] = "--out";
            args[4] = out;
            args[5] = "--quiet";
            System.arraycopy(c, 1, args, 6, c.length - 1);
            CliRun r = CliRun.of(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().contains(c[0]), r.err());
            assertTrue(!Files.exists(Path.of(out)), "nothing written on a refusal");
        }
    }
}
