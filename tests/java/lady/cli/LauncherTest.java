package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code lady} launcher script: with one thread asked for ({@code --threads 1}, {@code --threads=1}, or
 * {@code LADY_THREADS=1} without {@code --threads}) it sizes the JVM's own threads for one processor and compiles in
 * the foreground (issue 15: one core, CPU time / wall time at most 1.2), and only then. The script runs against a
 * stand-in {@code java} that prints its arguments, and a build folder that is never stale.
 */
class LauncherTest {
    private static final List<String> ONE_CORE = List.of("-XX:ActiveProcessorCount=1", "-Xbatch");

    @Test
    void oneThreadAskedForSizesTheJvmForOneCore(@TempDir Path dir) throws Exception {
        for (List<String> args : List.of(List.of("resync", "--threads", "1", "--quiet"),
                List.of("attack", "--threads=1"))) {
            List<String> jvm = launch(dir, Map.of(), args);
            assertEquals(ONE_CORE, jvm.subList(0, 2), args + ": " + jvm);
            assertEquals(args, jvm.subList(jvm.indexOf("lady.cli.Main") + 1, jvm.size()), "arguments passed on");
        }
        assertEquals(ONE_CORE, launch(dir, Map.of("LADY_THREADS", "1"), List.of("resync")).subList(0, 2));
    }

    @Test
    void otherThreadCountsLeaveTheJvmAlone(@TempDir Path dir) throws Exception {
        List<List<String>> cases = List.of(List.of("resync", "--threads", "2"), List.of("resync", "--threads=12"),
                List.of("resync"), List.of("resync", "--threads", "1", "--threads", "2"));
        for (List<String> args : cases) {
            List<String> jvm = launch(dir, Map.of(), args);
            assertFalse(jvm.contains("-Xbatch") || jvm.contains("-XX:ActiveProcessorCount=1"), args + ": " + jvm);
            assertEquals("-Xmx8g", jvm.get(0), "the default heap option");
        }
        // --threads on the command line wins over LADY_THREADS
        assertFalse(launch(dir, Map.of("LADY_THREADS", "1"), List.of("resync", "--threads", "2")).contains("-Xbatch"));
    }

    @Test
    void theUsersJavaOptionsComeAfterTheLaunchersSoTheyWin(@TempDir Path dir) throws Exception {
        List<String> jvm = launch(dir, Map.of("LADY_JAVA_OPTS", "-Xmx2g -XX:ActiveProcessorCount=2"),
                List.of("resync", "--threads", "1"));
        assertEquals(List.of("-XX:ActiveProcessorCount=1", "-Xbatch", "-Xmx2g", "-XX:ActiveProcessorCount=2"),
                jvm.subList(0, 4));
    }

    /** The launcher's java arguments, up to and including the CLI's. */
    private static List<String> launch(Path dir, Map<String, String> env, List<String> args)
            throws IOException, InterruptedException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path build = Files.createDirectories(dir.resolve("build"));
        Files.writeString(build.resolve("lady.jar"), "");
        Files.writeString(build.resolve("classpath.txt"), "cp");
        Path script = dir.resolve("lady"); // a copy beside no sources: never stale, never builds
        Files.copy(Path.of("lady"), script, StandardCopyOption.REPLACE_EXISTING);
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove("LADY_JAVA_OPTS");
        pb.environment().remove("LADY_THREADS");
        pb.environment().put("LADY_BUILD_DIR", build.toString());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher returned");
        assertEquals(0, p.exitValue(), out);
        return List.of(out.split("\n"));
    }
}
