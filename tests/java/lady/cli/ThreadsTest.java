package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.kernels.Kernels;
import lady.torch.Torch;
import lady.util.Parallel;

/**
 * Issue 20, item 6: {@code --threads} is bounded by the machine (100000 made libtorch hang), and every command
 * that takes it applies it, to libtorch and to Lady's CPU kernels ({@code resync} and {@code attack} accepted it
 * and ignored it).
 */
class ThreadsTest {
    private int torchThreads;
    private int kernelThreads;
    private String property;

    @BeforeEach
    void save() {
        Torch.init();
        torchThreads = torch.get_num_threads();
        kernelThreads = Kernels.threads();
        property = System.getProperty("lady.threads");
    }

    @AfterEach
    void restore() {
        torch.set_num_threads(torchThreads);
        Kernels.setThreads(kernelThreads);
        if (property == null) {
            System.clearProperty("lady.threads");
        } else {
            System.setProperty("lady.threads", property);
        }
    }

    @Test
    void tooManyThreadsIsAUsageErrorAtOnce(@TempDir Path dir) {
        Path[] f = OutputPolicyTest.fixture(dir);
        int max = Parallel.maxThreads();
        for (String n : List.of("100000", Integer.toString(max + 1), "0", "-3")) {
            long t0 = System.nanoTime();
            CliRun r = CliRun.of("resync", "--reference", f[0].toString(), "--suspect", f[1].toString(), "--threads", n,
                    "--quiet");
            assertEquals(2, r.code(), n + ": " + r.err());
            assertTrue(r.err().contains("--threads must be between 1 and " + max), r.err());
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "answered at once");
        }
        System.setProperty("lady.threads", "100000");
        CliRun r = CliRun.of("resync", "--reference", f[0].toString(), "--suspect", f[1].toString(), "--quiet");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("LADY_THREADS must be between 1 and " + max), r.err());
        System.clearProperty("lady.threads");
        assertEquals(0, CliRun.of("resync", "--reference", f[0].toString(), "--suspect", f[1].toString(), "--threads",
                Integer.toString(max), "--quiet").code(), "the bound itself is accepted");
    }

    /** Each command's --threads reaches libtorch and the native kernels (checked after the command ran). */
    @Test
    void everyCommandAppliesItsThreadCount(@TempDir Path dir) {
        Path[] f = OutputPolicyTest.fixture(dir);
        List<List<String>> commands = List.of(
                List.of("resync", "--reference", f[0].toString(), "--suspect", f[1].toString()),
                List.of("attack", "--model", f[0].toString(), "--attack", "quant:8", "--out", dir.resolve("a.pt").toString()),
                List.of("permute", "--model", f[0].toString(), "--out", dir.resolve("p.pt").toString(), "--secret",
                        dir.resolve("s.json").toString()),
                List.of("canon", "--model", f[0].toString(), "--layer", "all", "--out", dir.resolve("c.json").toString()),
                List.of("eval", "--model", f[0].toString(), "--data", "digits", "--limit", "64"));
        for (List<String> command : commands) {
            for (int n : new int[] {3, 1}) {
                torch.set_num_threads(2);
                Kernels.setThreads(2);
                String[] args = new java.util.ArrayList<String>(command) {
                    {
                        addAll(List.of("--threads", Integer.toString(n), "--quiet"));
                    }
                }.toArray(String[]::new);
                CliRun r = CliRun.of(args);
                assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
                assertEquals(n, torch.get_num_threads(), command.get(0) + " --threads " + n + ": libtorch");
                assertEquals(n, Kernels.threads(), command.get(0) + " --threads " + n + ": the native kernels");
                assertEquals(n, Parallel.threads(), command.get(0) + " --threads " + n + ": what the library reads");
            }
        }
    }
}
