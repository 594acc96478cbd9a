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

    /**
     * Puts the built-in digits into a Python test's parameters: "train" and "test" (the CIFAR-10 binary files,
     * copied from the resources into {@code dir}), "mean" and "std" (the normalization of lady.paper.Paper).
     */
    public static void putDigits(java.util.Map<String, Object> params, Path dir) throws IOException {
        params.put("train", copyResource(lady.data.Digits.TRAIN_RESOURCE, dir).toString());
        params.put("test", copyResource(lady.data.Digits.TEST_RESOURCE, dir).toString());
        params.put("mean", doubles(lady.paper.Paper.CIFAR_MEAN));
        params.put("std", doubles(lady.paper.Paper.CIFAR_STD));
    }

    private static Path copyResource(String resource, Path dir) throws IOException {
        Path out = dir.resolve(Path.of(resource).getFileName().toString());
        if (!Files.exists(out)) {
            try (java.io.InputStream in = lady.data.Digits.class.getResourceAsStream(resource)) {
                Files.copy(in, out);
            }
        }
        return out;
    }

    private static java.util.List<Double> doubles(float[] v) {
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
        return run(TIMEOUT_S, script, args);
    }

    /** {@link #run(String, String...)} with its own time limit (scripts that train). */
    public static String run(long timeoutS, String script, String... args) throws IOException, InterruptedException {
        assumeInstalled();
        String[] cmd = new String[args.length + 2];
        cmd[0] = PYTHON.toString();
        cmd[1] = root().resolve("tests/python").resolve(script).toString();
        System.arraycopy(args, 0, cmd, 2, args.length);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root().toFile()).redirectErrorStream(true);
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1"); // no __pycache__ in the source tree
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process p = pb.start();
        if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out after " + timeoutS + " s";
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Assumptions.assumeTrue(p.exitValue() != NO_TORCH_EXIT, "skipped: " + PYTHON + " has no torch: " + out.trim());
        return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + out;
    }
}
