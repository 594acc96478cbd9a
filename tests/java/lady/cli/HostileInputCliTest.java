package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.train.Trainer;

/**
 * Issue 20, items 5, 7 and 8, through the command line: sizes from a file are checked against the model before
 * anything is allocated (no stack trace, no gigabytes), text from a file cannot drive the terminal, and an
 * architecture mismatch answers in a few short lines.
 */
class HostileInputCliTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** What the command printed on stderr, checked: the exit code, one error, no stack trace, no control character. */
    static String error(int code, String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(code, r.code(), String.join(" ", args) + "\n" + r.err());
        assertTrue(r.err().startsWith("lady: error: "), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), "no stack trace: " + r.err());
        assertFalse(r.err().chars().anyMatch(c -> (c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0)),
                "no control character: " + r.err());
        return r.err();
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void watermarkKeysWithAbsurdDimensionsAreRefusedBeforeAllocating(@TempDir Path dir) throws Exception {
        Path model = OutputPolicyTest.fixture(dir)[0];
        String head = "{\"format\":\"lady-watermark-key\",\"format_version\":1,\"method\":\"uchida2017\","
                + "\"layer\":\"conv2.weight\",\"lambda\":0.1,";
        // T x L beyond the int range (an explicit matrix): a NegativeArraySizeException stack trace before
        Path overflow = Files.writeString(dir.resolve("k1.json"), head
                + "\"T\":2,\"w_bar_length\":2147483639,\"bits\":[1,0],\"matrix\":[[1],[2]]}");
        assertTrue(error(3, "watermark", "detect", "--model", model.toString(), "--key", overflow.toString())
                .contains("is more than"));
        // L = 2^28 from a seed: 3.2 GB of X was generated before the model check refused it
        Path big = Files.writeString(dir.resolve("k2.json"), head
                + "\"T\":3,\"w_bar_length\":268435456,\"seed\":1,\"bits\":[1,0,1]}");
        long before = allocatedBytes();
        String e = error(3, "watermark", "detect", "--model", model.toString(), "--key", big.toString());
        long allocated = allocatedBytes() - before;
        assertTrue(e.contains("does not fit the model"), e);
        assertTrue(allocated < 64L << 20, "allocated " + (allocated >> 20) + " MiB to refuse the key");
    }

    @Test
    void aMillionEntryPermutationIsAnErrorNotAStackTrace(@TempDir Path dir) throws Exception {
        Path[] f = OutputPolicyTest.fixture(dir);
        Path canon = dir.resolve("canon.json");
        assertEquals(0, CliRun.of("canon", "--model", f[0].toString(), "--layer", "all", "--out", canon.toString(),
                "--quiet").code());
        String million = IntStream.range(0, 1_000_000).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Path secret = Files.writeString(dir.resolve("big.json"), Files.readString(f[2])
                .replaceFirst("\"conv1\":\\[[^]]*]", "\"conv1\":[" + million + "]"));
        assertTrue(error(3, "canon", "--model", f[1].toString(), "--from", canon.toString(), "--out",
                dir.resolve("a.pt").toString(), "--secret", secret.toString()).contains("has 1000000 entries"));
        assertTrue(error(3, "resync", "--reference", f[0].toString(), "--suspect", f[1].toString(), "--secret",
                secret.toString(), "--quiet").contains("1000000"));
        assertFalse(Files.exists(dir.resolve("a.pt")));
    }

    /** A toynet checkpoint with 198 more tensors whose names hold an OSC title sequence and are very long. */
    @Test
    void anArchitectureMismatchIsAFewShortEscapedLines(@TempDir Path dir) {
        Trainer.seedLibtorch(1);
        StateDict sd = Models.create("toynet", ModelOptions.defaults()).stateDict();
        for (int i = 0; i < 198; i++) {
            sd.put("extra." + i + ".\u001b]0;pwned\u0007" + "x".repeat(500), HostTensor.allocate(DType.FLOAT32, 2));
        }
        Path f = dir.resolve("m.pt");
        Checkpoints.write(f, sd, Checkpoints.Format.TORCH_ZIP);
        for (String arch : new String[] {"toynet", "vgg16", "resnet18"}) {
            String e = error(3, "permute", "--model", f.toString(), "--arch", arch, "--out", dir.resolve("o.pt").toString(),
                    "--secret", dir.resolve("s.json").toString());
            String[] lines = e.split("\n");
            assertTrue(lines.length <= 3, lines.length + " lines:\n" + e);
            for (String line : lines) {
                assertTrue(line.length() <= 400, line.length() + " characters: " + line);
            }
            assertTrue(e.contains("unexpected"), e);
        }
        String toynet = error(3, "permute", "--model", f.toString(), "--arch", "toynet", "--out",
                dir.resolve("o.pt").toString(), "--secret", dir.resolve("s.json").toString());
        assertTrue(toynet.contains("unexpected 198: extra.0.\\x1b]0;pwned\\x07xxx"), "shown escaped and cut: " + toynet);
        // no --arch: the architecture cannot be recognized; the message samples the names as well
        StateDict odd = new StateDict();
        odd.put("\u001b[2J\u001b]0;x\u0007w", HostTensor.allocate(DType.FLOAT32, 2));
        Path g = dir.resolve("odd.pt");
        Checkpoints.write(g, odd, Checkpoints.Format.TORCH_ZIP);
        assertTrue(error(3, "permute", "--model", g.toString(), "--out", dir.resolve("o.pt").toString(), "--secret",
                dir.resolve("s.json").toString()).contains("\\x1b[2J\\x1b]0;x\\x07w"));
    }
}
