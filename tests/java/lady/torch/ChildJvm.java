package lady.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code lady ARGS...} in a fresh JVM on the test classpath, for what an in-process run cannot show: the
 * first load of libtorch, and what native code prints straight to the process's stderr.
 *
 * @param code   exit code
 * @param output stdout and stderr together
 */
public record ChildJvm(int code, String output) {
    /** Generous: the first run extracts libtorch into an empty cache. */
    public static final long TIMEOUT_S = 240;

    /** Runs {@code lady.cli.Main} with {@code jvmOptions} then {@code args}; fails the test when it does not finish. */
    public static ChildJvm lady(List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        return lady(0, jvmOptions, args);
    }

    /**
     * As {@link #lady(List, String...)}, with the process's file size limit ({@code ulimit -f}, RLIMIT_FSIZE) at
     * {@code maxFileKiB} KiB when it is positive: a write past it fails with EFBIG (the JVM ignores SIGXFSZ), as on
     * a full disk.
     */
    public static ChildJvm lady(long maxFileKiB, List<String> jvmOptions, String... args)
            throws IOException, InterruptedException {
        return lady(java.util.Map.of(), maxFileKiB, jvmOptions, args);
    }

    /** As {@link #lady(long, List, String...)}, with {@code env} added to the child's environment. */
    public static ChildJvm lady(java.util.Map<String, String> env, long maxFileKiB, List<String> jvmOptions,
            String... args) throws IOException, InterruptedException {
        Path build = Path.of(System.getProperty("lady.build.dir", "target"));
        String classpath = build.resolve("classes") + File.pathSeparator
                + Files.readString(build.resolve("classpath.txt")).trim();
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classpath, "lady.cli.Main"));
        cmd.addAll(List.of(args));
        if (maxFileKiB > 0) {
            List<String> shell = new ArrayList<>(List.of("bash", "-c", "ulimit -f " + maxFileKiB + " && exec \"$@\"", "lady"));
            shell.addAll(cmd);
            cmd = shell;
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (jvmOptions.stream().anyMatch(o -> o.startsWith("-Dorg.bytedeco.javacpp.cachedir="))) {
            pb.environment().remove("JAVA_TOOL_OPTIONS"); // CI sets a cache dir there: this run wants its own
        }
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process process = pb.start();
        boolean done = process.waitFor(TIMEOUT_S, TimeUnit.SECONDS);
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            process.destroyForcibly();
        }
        assertTrue(done, "lady " + String.join(" ", args) + " did not finish in " + TIMEOUT_S + " s:\n" + output);
        return new ChildJvm(process.exitValue(), output);
    }
}
