package lady.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;

/**
 * Runs the Python side of a test with Debian's python3-torch (PyTorch 1.13, torchvision). The
 * scripts under tests/python exit with {@link #NO_TORCH_EXIT} when torch cannot be imported; the
 * test is then skipped (reported as such), as it is when the interpreter is missing.
 */
public final class PythonTorch {
    private PythonTorch() {}

    /** Debian's python3-torch lives only here (override with -Dlady.test.python=...). */
    public static final Path PYTHON = Path.of(System.getProperty("lady.test.python", "/usr/bin/python3"));
    public static final long TIMEOUT_S = 120;
    /** The scripts' exit code when torch cannot be imported. */
    public static final int NO_TORCH_EXIT = 3;

    /** The repository root (Maven runs the tests there). */
    public static Path root() {
        return Path.of(System.getProperty("user.dir"));
    }

    /** Copies a bundled resource (e.g. lady.data.Digits.TRAIN_RESOURCE) into {@code dir}, for a script to read. */
    public static Path copyResource(Path dir, String resource) throws IOException {
        Path out = dir.resolve(Path.of(resource).getFileName().toString());
        try (java.io.InputStream in = PythonTorch.class.getResourceAsStream(resource)) {
            Files.copy(in, out);
        }
        return out;
    }

    /** A float array as a JSON list (script parameters). */
    public static java.util.List<Double> floats(float[] v) {
        java.util.List<Double> out = new java.util.ArrayList<>();
        for (float f : v) {
            out.add((double) f);
        }
        return out;
    }

    /** Skips the calling test when the interpreter is missing. */
    public static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(PYTHON),
                "skipped: " + PYTHON + " is not installed (Debian's python3-torch is needed for this test)");
    }

    /**
     * Runs {@code tests/python/SCRIPT ARGS...} from the repository root; null on success, else what went
     * wrong with its output (skips the calling test when torch is missing).
     */
    public static String run(String script, String... args) throws IOException, InterruptedException {
        assumeInstalled();
        String[] cmd = new String[args.length + 2];
        cmd[0] = PYTHON.toString();
        cmd[1] = root().resolve("tests/python").resolve(script).toString();
        System.arraycopy(args, 0, cmd, 2, args.length);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root().toFile()).redirectErrorStream(true);
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1"); // no __pycache__ in the source tree
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process p = pb.start();
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out after " + TIMEOUT_S + " s";
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Assumptions.assumeTrue(p.exitValue() != NO_TORCH_EXIT, "skipped: " + PYTHON + " has no torch: " + out.trim());
        return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + out;
    }
}
