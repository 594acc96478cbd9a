package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.report.Json;

/**
 * Issue 5's acceptance with checkpoints made by PyTorch itself: tests/python/permute_attack.py (Debian's
 * PyTorch 1.13) builds a VGG16-BN (CIFAR head, width 1/4), permutes every layer by hand, adds noise or
 * 8-bit quantization, and computes the paper's argmax matching of one very noisy layer. {@code lady resync}
 * must give Psi 100 and the original tensors back for the permutation alone, at least 99.9 for the noisy and
 * quantized copies, and, with {@code --method argmax}, exactly PyTorch's argmax figures. About 10 s; skipped
 * without python3-torch.
 */
class PythonPermutedCheckpointsTest {
    private static final long SEED = 5;
    private static final double WIDTH = 0.25;
    /** Noise on every weight of the "noisy" copy: sigma = 0.5 std(w), well inside what the resync must survive. */
    private static final double NOISE_OMEGA = 0.5;
    private static final int QUANT_BITS = 8;
    /** The layer of the argmax comparison and its noise: Omega 10, the paper's largest, so that argmax errs. */
    private static final String ARGMAX_LAYER = "features.24";
    private static final double ARGMAX_OMEGA = 10;
    /** The floor for the noisy and quantized copies. */
    private static final double NOISY_PSI_MIN = 99.9;

    @TempDir
    Path dir;

    @Test
    @SuppressWarnings("unchecked")
    void pytorchMadePermutedCheckpointsAreResynced() throws Exception {
        PythonTorch.assumeInstalled();
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("seed", SEED);
        p.put("width", WIDTH);
        p.put("classes", 10);
        p.put("architecture", "vgg16_bn_cifar");
        p.put("noise_omega", NOISE_OMEGA);
        p.put("quant_bits", QUANT_BITS);
        p.put("argmax_layer", ARGMAX_LAYER);
        p.put("argmax_omega", ARGMAX_OMEGA);
        p.put("threads", 1);
        Path params = dir.resolve("params.json");
        Files.writeString(params, Json.write(p));
        assertNull(PythonTorch.run("permute_attack.py", params.toString(), dir.toString()), "the Python side failed");
        Map<String, Object> py = (Map<String, Object>) Json.parse(Files.readString(dir.resolve("result.json")));
        assertTrue(((Number) py.get("logit_diff")).doubleValue() < 1e-4, "the Python permutation must keep the function");

        Path reference = dir.resolve("reference.pt");
        Map<?, ?> exact = resync("permuted", "secret.json", List.of());
        assertEquals(100.0, psi(exact), "permutation only: " + exact.get("psi"));
        assertTrue(Checkpoints.read(reference).sameTensors(Checkpoints.read(dir.resolve("permuted.fixed.pt"))),
                "permutation only: the original tensors back, every one");
        for (String attacked : List.of("noisy", "quant")) {
            Map<?, ?> r = resync(attacked, "secret.json", List.of());
            assertTrue(psi(r) >= NOISY_PSI_MIN, attacked + ": Psi " + psi(r));
        }

        Map<String, Object> expected = (Map<String, Object>) py.get("argmax");
        Map<?, ?> argmax = resync("argmax", "argmax_secret.json", List.of("--groups", ARGMAX_LAYER, "--method", "argmax"));
        Map<?, ?> g = (Map<?, ?>) ((List<?>) argmax.get("groups")).get(0);
        double psiPy = ((Number) expected.get("psi")).doubleValue();
        assertTrue(psiPy < 100, "the argmax case must be hard enough to err (Psi " + psiPy + ")");
        assertEquals(psiPy, ((Number) g.get("psi")).doubleValue(), 1e-9, "Psi of argmax, Lady vs PyTorch");
        assertEquals(((Number) expected.get("psi_paper")).doubleValue(), ((Number) g.get("psi_paper")).doubleValue(),
                1e-9, "the paper's argmax count, Lady vs PyTorch");
        assertEquals(((Number) expected.get("duplicates")).longValue(), ((Number) g.get("duplicates")).longValue());
    }

    private Map<?, ?> resync(String suspect, String secret, List<String> extra) throws Exception {
        Path report = dir.resolve(suspect + ".report.json");
        List<String> args = new java.util.ArrayList<>(List.of("resync", "--reference",
                dir.resolve("reference.pt").toString(), "--suspect", dir.resolve(suspect + ".pt").toString(),
                "--secret", dir.resolve(secret).toString(), "--out", dir.resolve(suspect + ".fixed.pt").toString(),
                "--report", report.toString(), "--quiet"));
        args.addAll(extra);
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.code(), suspect + ": " + r.err());
        return (Map<?, ?>) Json.parse(Files.readString(report));
    }

    private static double psi(Map<?, ?> report) {
        return ((Number) report.get("psi")).doubleValue();
    }
}
