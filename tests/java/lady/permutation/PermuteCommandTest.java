package lady.permutation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.kernels.Backend;
import lady.model.Model;
import lady.torch.Torch;

/** {@code lady permute} in-process on small models written to a temporary folder. */
class PermuteCommandTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }


    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void permutesVerifiesAndWritesTheSecretInTheInputFormat(@TempDir Path dir) {
        for (Checkpoints.Format format : Checkpoints.Format.values()) {
            if (!format.standalone()) {
                continue; // an ONNX model is written from its graph (lady.onnx's tests)
            }
            Model model = PermuterTest.model("vgg16_bn_cifar", 21);
            StateDict original = model.stateDict();
            Path in = dir.resolve("in-" + format), out = dir.resolve("out-" + format), secret = dir.resolve("s-" + format + ".json");
            Checkpoints.write(in, original, format);
            CliRun r = run("permute", "--model", in.toString(), "--seed", "7", "--out", out.toString(), "--secret",
                    secret.toString(), "--verify");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("permuted 15 groups of vgg16_bn_cifar (seed 7)"), r.out());
            assertTrue(r.err().contains("verified: max abs logit difference"), r.err());
            assertEquals(format, Checkpoints.formatOf(out));

            Secret s = Secret.read(secret);
            assertEquals("vgg16_bn_cifar", s.architecture());
            assertEquals(7L, s.seed());
            assertEquals(15, s.permutations().size());
            // the output is exactly the original with the recorded permutations applied
            StateDict expected = Permuter.apply(original, model.permutationSpec(), s.permutations(), Backend.REFERENCE);
            StateDict written = Checkpoints.read(out);
            for (String name : original.names()) {
                assertArrayEquals(PermuterTest.values(expected.get(name)), PermuterTest.values(written.get(name)), name);
            }
            // and the secret's inverses restore the input bit for bit
            Permuter.applyInPlace(written, model.permutationSpec(), s.inverses(model.permutationSpec()), Backend.CPU);
            for (String name : original.names()) {
                assertArrayEquals(PermuterTest.values(original.get(name)), PermuterTest.values(written.get(name)), name);
            }
        }
    }

    /**
     * A model whose outputs do not depend on its inputs (its last layer zeroed, as torchvision initializes ViT's head):
     * --verify passes, since nothing changed, but says that it could not have seen a wrong permutation; in JSON too.
     * The same model with its head gives outputs that depend on the inputs, and no such words.
     */
    @Test
    void aCheckThatCannotSeeAnythingSaysSo(@TempDir Path dir) {
        Model model = PermuterTest.model("vgg16_bn_cifar", 22);
        StateDict original = model.stateDict();
        for (boolean zeroed : new boolean[] {false, true}) {
            StateDict sd = original.copy();
            if (zeroed) {
                for (String name : sd.names()) {
                    if (name.startsWith("classifier.6.")) { // the last Linear: weight and bias
                        java.nio.FloatBuffer f = sd.get(name).floats();
                        for (int i = 0; i < f.limit(); i++) {
                            f.put(i, 0f);
                        }
                    }
                }
            }
            Path in = dir.resolve("in-" + zeroed + ".pt");
            Checkpoints.write(in, sd, Checkpoints.Format.TORCH_ZIP);
            CliRun r = run("permute", "--model", in.toString(), "--seed", "7", "--out", dir.resolve("o.pt").toString(),
                    "--secret", dir.resolve("s.json").toString(), "--verify", "--quiet");
            assertEquals(0, r.code(), r.err());
            assertEquals(zeroed, r.out().contains("so this check cannot tell a wrong permutation"), r.out());
            r = run("permute", "--model", in.toString(), "--seed", "7", "--out", dir.resolve("o.pt").toString(),
                    "--secret", dir.resolve("s.json").toString(), "--verify", "--quiet", "--format", "json");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("\"verify_outputs_depend_on_inputs\":" + !zeroed), r.out());
        }
    }

    @Test
    void selectedGroupsAndScalingAreRecorded(@TempDir Path dir) {
        Model model = PermuterTest.model("resnet18_cifar", 22);
        Path in = dir.resolve("r.pt"), out = dir.resolve("o.pt"), secret = dir.resolve("s.json");
        Checkpoints.write(in, model.stateDict(), Checkpoints.Format.TORCH_ZIP);
        String group = model.permutationSpec().groups().get(1).name();
        CliRun r = run("permute", "--model", in.toString(), "--groups", group, "--seed", "3", "--out", out.toString(),
                "--secret", secret.toString(), "--scale-range", "0.5:2.0", "--verify");
        assertEquals(0, r.code(), r.err());
        Secret s = Secret.read(secret);
        assertEquals(java.util.List.of(group), java.util.List.copyOf(s.permutations().keySet()));
        assertEquals(model.permutationSpec().groups().get(1).size(), s.scales().get(group).length);
    }

    @Test
    void badRequestsFailClearly(@TempDir Path dir) throws Exception {
        Model model = PermuterTest.model("toynet", 23);
        Path in = dir.resolve("t.safetensors"), out = dir.resolve("o.safetensors"), secret = dir.resolve("s.json");
        Checkpoints.write(in, model.stateDict(), Checkpoints.Format.SAFETENSORS);
        CliRun unknown = run("permute", "--model", in.toString(), "--groups", "conv1,bogus", "--seed", "1", "--out",
                out.toString(), "--secret", secret.toString());
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown group 'bogus'") && unknown.err().contains("valid: all, conv1"),
                unknown.err());
        assertFalse(Files.exists(out) || Files.exists(secret), "nothing is written on error");
        CliRun range = run("permute", "--model", in.toString(), "--scale-range", "2:1", "--out", out.toString(),
                "--secret", secret.toString());
        assertEquals(2, range.code());
        assertTrue(range.err().contains("--scale-range"), range.err());
        CliRun missing = run("permute", "--model", dir.resolve("none.pt").toString(), "--out", out.toString(), "--secret",
                secret.toString());
        assertEquals(4, missing.code(), missing.err());
    }
}
