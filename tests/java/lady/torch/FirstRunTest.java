package lady.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stack notes, pitfall 1: with an empty JavaCPP cache the first JVM that loads libtorch used to die
 * with SIGSEGV. Starts a fresh JVM with a new empty cache directory and runs {@code lady info}.
 */
class FirstRunTest {

    @Test
    void infoWorksOnFirstRunWithEmptyJavacppCache(@TempDir Path cache) throws IOException, InterruptedException {
        Path build = Path.of(System.getProperty("lady.build.dir", "target"));
        String classpath = build.resolve("classes") + File.pathSeparator
                + Files.readString(build.resolve("classpath.txt")).trim();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-Dorg.bytedeco.javacpp.cachedir=" + cache, "-cp", classpath,
                "lady.cli.Main", "info"));
        pb.environment().remove("JAVA_TOOL_OPTIONS"); // CI sets a cache dir there: this test wants its own
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        pb.redirectErrorStream(true);
        Process process = pb.start();
        boolean done = process.waitFor(240, TimeUnit.SECONDS);
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            process.destroyForcibly();
        }
        assertTrue(done, "lady info did not finish in time:\n" + output);
        assertEquals(0, process.exitValue(), "lady info failed on a first run with an empty JavaCPP cache:\n" + output);
        assertTrue(output.contains("cuda kernels compiled"), output);
        assertTrue(output.contains("gpu count"), output);
        try (var files = Files.walk(cache)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().equals("libtorch_cpu.so")),
                    "libtorch_cpu.so should have been extracted into the new cache");
        }
    }
}
