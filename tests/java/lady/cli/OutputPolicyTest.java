package lady.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.torch.ChildJvm;
import lady.torch.Torch;
import lady.train.Trainer;

/**
 * Issue 20, items 3 and 4, through the command line: no command overwrites one of its inputs (by name,
 * symbolic link or hard link), and a command that fails leaves no new file and no temporary behind.
 * Each case checks every byte of every file in the folder before and after.
 */
class OutputPolicyTest {

    @BeforeAll
    static void init() {
        Torch.init(); // also extracts libtorch for the child JVM below (same cache)
    }

    /** Every file under {@code dir} with its bytes (links by their target's bytes), by relative path. */
    static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(p -> !p.equals(dir)).toList()) {
                String key = dir.relativize(p).toString();
                m.put(key, Files.isRegularFile(p) ? java.util.HexFormat.of().formatHex(
                        java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))) : "dir");
            }
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return m;
    }

    /** A toynet checkpoint, its permuted copy and the secret, in {@code dir}. */
    static Path[] fixture(Path dir) {
        Path model = dir.resolve("model.pt");
        Trainer.seedLibtorch(5);
        Checkpoints.write(model, Models.create("toynet", ModelOptions.defaults()).stateDict(), Checkpoints.Format.TORCH_ZIP);
        Path suspect = dir.resolve("suspect.pt");
        Path secret = dir.resolve("secret.json");
        CliRun p = CliRun.of("permute", "--model", model.toString(), "--seed", "3", "--out", suspect.toString(),
                "--secret", secret.toString(), "--quiet");
        assertEquals(0, p.code(), p.err());
        return new Path[] {model, suspect, secret};
    }

    /** Runs {@code args}; asserts the exit code and that the folder is byte for byte as before. */
    static CliRun refused(Path dir, int code, String expected, String... args) throws IOException {
        Map<String, String> before = snapshot(dir);
        CliRun r = CliRun.of(args);
        assertEquals(code, r.code(), String.join(" ", args) + "\nstdout: " + r.out() + "\nstderr: " + r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertEquals(before, snapshot(dir), String.join(" ", args) + ": the folder changed");
        return r;
    }

    @Test
    void resyncPermuteAndCanonNeverOverwriteAnInput(@TempDir Path dir) throws IOException {
        Path[] f = fixture(dir);
        String model = f[0].toString(), suspect = f[1].toString(), secret = f[2].toString();
        Path link = Files.createSymbolicLink(dir.resolve("link.pt"), f[1]);
        Path hard = Files.createLink(dir.resolve("hard.pt"), f[0]);
        String same = "is the same file as";
        for (String out : List.of(suspect, model, link.toString())) {
            refused(dir, 2, same, "resync", "--reference", model, "--suspect", suspect, "--out", out, "--quiet");
        }
        for (String report : List.of(model, secret, hard.toString())) {
            refused(dir, 2, same, "resync", "--reference", model, "--suspect", suspect, "--secret", secret,
                    "--report", report, "--quiet");
        }
        Files.createDirectory(dir.resolve("sub"));
        refused(dir, 2, "name the same file", "resync", "--reference", model, "--suspect", suspect, "--out",
                dir.resolve("x.pt").toString(), "--report", dir.resolve("sub/../x.pt").toString(), "--quiet");
        refused(dir, 2, same, "permute", "--model", model, "--seed", "1", "--out", dir.resolve("p.pt").toString(),
                "--secret", model);
        refused(dir, 2, same, "permute", "--model", model, "--seed", "1", "--out", hard.toString(), "--secret",
                dir.resolve("s.json").toString());
        Path canon = dir.resolve("canon.json");
        assertEquals(0, CliRun.of("canon", "--model", model, "--layer", "all", "--out", canon.toString(), "--quiet").code());
        refused(dir, 2, same, "canon", "--model", suspect, "--from", canon.toString(), "--out", canon.toString());
        refused(dir, 2, same, "canon", "--model", suspect, "--from", canon.toString(), "--out", suspect);
        refused(dir, 2, same, "canon", "--model", suspect, "--from", canon.toString(), "--out",
                dir.resolve("a.pt").toString(), "--order", canon.toString());
        refused(dir, 2, same, "canon", "--model", model, "--layer", "all", "--out", model);
        refused(dir, 2, same, "attack", "--model", suspect, "--attack", "quant:8", "--out", link.toString(), "--quiet");
        refused(dir, 2, same, "watermark", "embed", "--model", model, "--key", dir.resolve("k.json").toString(), "--out",
                hard.toString(), "--quiet");
        refused(dir, 2, "name the same file", "train", "--arch", "toynet", "--epochs", "0", "--out",
                dir.resolve("t.pt").toString(), "--watermark", "conv2", "--key", dir.resolve("t.pt").toString(), "--quiet");
    }

    /** The 11 bad secrets of the canon case (and friends): the aligned output never appears. */
    @Test
    void canonWithABadSecretLeavesNoOutput(@TempDir Path dir) throws IOException {
        Path[] f = fixture(dir);
        Path canon = dir.resolve("canon.json");
        assertEquals(0, CliRun.of("canon", "--model", f[0].toString(), "--layer", "all", "--out", canon.toString(),
                "--quiet").code());
        String good = Files.readString(f[2]);
        List<String> bad = new ArrayList<>(List.of("", "not json", "[]", "{}", "{\"format\": \"lady-secret\"}",
                good.replaceFirst("\\[\\s*\\d+", "[99999"), good.replaceFirst("\\[\\s*\\d+", "[-1"),
                good.replaceFirst("\\[\\s*\\d+", "[\"x\""), good.replaceFirst("\\[\\s*\\d+\\s*,", "["),
                good.substring(0, good.length() / 2), good.replace("\"permutations\"", "\"perms\"")));
        for (int i = 0; i < bad.size(); i++) {
            Path s = Files.writeString(dir.resolve("bad" + i + ".json"), bad.get(i));
            Map<String, String> before = snapshot(dir);
            CliRun r = CliRun.of("canon", "--model", f[1].toString(), "--from", canon.toString(), "--out",
                    dir.resolve("aligned.pt").toString(), "--order", dir.resolve("order.json").toString(), "--secret",
                    s.toString());
            assertTrue(r.code() == 3 || r.code() == 4, "bad secret " + i + ": exit " + r.code() + " " + r.err());
            assertFalse(r.err().contains("\tat "), r.err());
            assertEquals(before, snapshot(dir), "bad secret " + i + " (" + r.err().trim() + "): the folder changed");
        }
    }

    @Test
    void aMissingOrUnwritableOutputFolderFailsAtOnceAndLeavesNothing(@TempDir Path dir) throws IOException {
        Path[] f = fixture(dir);
        String model = f[0].toString();
        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        String secret = dir.resolve("s.json").toString();
        refused(dir, 4, "no such folder", "permute", "--model", model, "--out", dir.resolve("missing/p.pt").toString(),
                "--secret", secret);
        refused(dir, 4, "is not a folder", "permute", "--model", model, "--out", file.resolve("p.pt").toString(),
                "--secret", secret);
        refused(dir, 2, "is a folder", "permute", "--model", model, "--out", dir.toString(), "--secret", secret);
        refused(dir, 2, "exists and is not a folder", "table1", "--model", model, "--data", "digits", "--out",
                file.toString());
        refused(dir, 2, "exists and is not a folder", "figure", "ranking-quant", "--model", model, "--out",
                file.toString());
        refused(dir, 2, "exists and is not a folder", "correlate", "--model", model, "--layer", "conv2", "--data",
                "digits", "--out", file.toString());
        refused(dir, 2, "exists and is not a folder", "demo", "--quick", "--out", file.toString());
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            // root ignores permission bits; sysfs refuses new files even to root
            Path target = Files.isWritable(locked) ? Path.of("/sys/lady-p.pt") : locked.resolve("p.pt");
            assumeTrue(Files.isDirectory(target.getParent()), "no folder that refuses new files here");
            refused(dir, 4, "cannot write", "permute", "--model", model, "--out", target.toString(), "--secret", secret);
            assertFalse(Files.exists(target));
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** A write that fails half-way (here the file size limit, as on a full disk): no output, no temporary. */
    @Test
    void aWriteThatFailsHalfWayLeavesNothing(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model.pt");
        Trainer.seedLibtorch(6);
        Checkpoints.write(model, Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.125)).stateDict(),
                Checkpoints.Format.TORCH_ZIP);
        long kib = Files.size(model) / 1024;
        assertTrue(kib > 512, "the checkpoint is larger than the limit below: " + kib + " KiB");
        Map<String, String> before = snapshot(dir);
        ChildJvm r = ChildJvm.lady(kib / 2, List.of("-XX:-UsePerfData"), "permute", "--model", model.toString(),
                "--seed", "1", "--out", dir.resolve("p.pt").toString(), "--secret", dir.resolve("s.json").toString(),
                "--quiet");
        assertEquals(4, r.code(), r.output());
        assertTrue(r.output().contains("cannot write " + dir.resolve("p.pt")), r.output());
        assertFalse(r.output().contains(".lady-"), "the message names the user's file, not a temporary: " + r.output());
        assertEquals(before, snapshot(dir));
    }

    /** A NaN or infinite weight in either model: one line naming the model, the group and the neuron; nothing written. */
    @Test
    void aNonFiniteWeightIsRefusedByName(@TempDir Path dir) throws IOException {
        Path[] f = fixture(dir);
        for (float bad : new float[] {Float.NaN, Float.NEGATIVE_INFINITY}) {
            lady.checkpoint.StateDict s = Checkpoints.read(f[1]);
            String name = s.names().stream().filter(n -> s.get(n).shape().length == 4).findFirst().orElseThrow();
            float[] v = s.get(name).readFloats();
            v[v.length - 1] = bad;
            s.put(name, lady.tensor.HostTensor.ofFloats(v, s.get(name).shape()));
            Path broken = dir.resolve("broken.pt");
            Checkpoints.write(broken, s, Checkpoints.Format.TORCH_ZIP);
            for (Path[] pair : new Path[][] {{f[0], broken}, {broken, f[1]}}) {
                CliRun r = refused(dir, 3, "has a NaN or infinite weight", "resync", "--reference", pair[0].toString(),
                        "--suspect", pair[1].toString(), "--out", dir.resolve("fixed.pt").toString(), "--quiet");
                assertTrue(r.err().contains("check or repair the file"), r.err());
                assertEquals(1, r.err().strip().lines().count(), r.err());
                // the same without the structural undo (which meets the value first when it runs): the tensors named
                r = refused(dir, 3, "has a NaN or infinite weight", "resync", "--reference", pair[0].toString(),
                        "--suspect", pair[1].toString(), "--out", dir.resolve("fixed.pt").toString(), "--quiet",
                        "--no-structural");
                assertTrue(r.err().contains(name) && r.err().contains("check or repair the file"), r.err());
                assertEquals(1, r.err().strip().lines().count(), r.err());
            }
            Files.delete(broken);
        }
    }
}
