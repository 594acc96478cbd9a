package lady.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stack notes, pitfall 1: with an empty JavaCPP cache the first JVM that loads libtorch used to die
 * with SIGSEGV. Starts a fresh JVM with a new empty cache directory and runs {@code lady info}.
 */
class FirstRunTest {

    @Test
    void infoWorksOnFirstRunWithEmptyJavacppCache(@TempDir Path cache) throws IOException, InterruptedException {
        ChildJvm run = ChildJvm.lady(List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache), "info");
        String output = run.output();
        assertEquals(0, run.code(), "lady info failed on a first run with an empty JavaCPP cache:\n" + output);
        assertTrue(output.contains("cuda kernels compiled"), output);
        assertTrue(output.contains("gpu count"), output);
        try (var files = Files.walk(cache)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().equals("libtorch_cpu.so")),
                    "libtorch_cpu.so should have been extracted into the new cache");
        }
    }
}
