package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.model.PermutationCheck;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.torch.Torch;

/** Activation matching (ResyncOptions.similarity = ActivationSignal) on permuted copies. */
class ActivationSignalTest {
    private static final int PROBE = 32;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static Tensor probe(Model model) {
        return PermutationCheck.probe(PROBE, 3, 32, 17);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16_bn_cifar", "resnet18_cifar", "lenet5"})
    void permutedCopyIsFoundByActivationsAlone(String arch) {
        torch.manual_seed(4);
        ModelOptions options = arch.startsWith("lenet") ? ModelOptions.defaults() : ModelOptions.defaults().withWidth(0.125);
        Model model = Models.create(arch, options);
        StateDict original = model.stateDict();
        var spec = model.permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, spec.groups().stream().map(Group::name).toList(), 9);
        for (Method method : Method.values()) {
            StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
            ActivationSignal signal = new ActivationSignal(original, arch, spec, probe(model), Backend.CPU);
            ResyncOptions o = ResyncOptions.defaults().withMethod(method).withSignalSource(signal);
            assertEquals(Signal.ACTIVATIONS, o.signal());
            ResyncReport report = ReferenceResync.run(original, suspect, spec, o, ReferenceResyncTest.secret(perms),
                    ProgressListener.NONE);
            assertEquals(spec.groups().size(), report.groups().size(), "one pass, every group once");
            for (GroupResult g : report.groups()) {
                assertEquals(100.0, g.psi(), arch + " " + method + " group " + g.name());
                assertEquals(0, g.duplicates(), g.name());
                assertTrue(g.minMargin() > 0, g.name() + " margin " + g.minMargin());
            }
            ReferenceResyncTest.assertRestored(original, suspect);
        }
    }

    @Test
    void anotherModelIsNotAPermutedCopy() {
        // the signal must be able to fail: a differently initialized network does not match neuron for neuron
        torch.manual_seed(4);
        Model a = Models.create("lenet5");
        torch.manual_seed(5);
        Model b = Models.create("lenet5");
        var spec = a.permutationSpec();
        ActivationSignal signal = new ActivationSignal(a.stateDict(), null, spec, probe(a), Backend.CPU);
        ResyncReport report = ReferenceResync.run(a.stateDict(), b.stateDict(), spec,
                ResyncOptions.defaults().withSignalSource(signal), null, ProgressListener.NONE);
        GroupResult fc1 = report.groups().stream().filter(g -> g.name().equals("fc1")).findFirst().orElseThrow();
        long identity = java.util.stream.IntStream.range(0, fc1.match().length).filter(i -> fc1.match()[i] == i).count();
        assertTrue(identity < fc1.match().length / 2, "unrelated models matched " + identity + " of " + fc1.match().length);
    }

    @Test
    void cliResyncsWithActivations(@TempDir Path dir) throws Exception {
        torch.manual_seed(6);
        Model model = Models.create("toynet");
        Path ref = dir.resolve("ref.pt");
        Path sus = dir.resolve("sus.pt");
        Path secret = dir.resolve("secret.json");
        Path report = dir.resolve("report.json");
        Checkpoints.write(ref, model.stateDict(), Checkpoints.Format.TORCH_ZIP);
        CliRun p = CliRun.of("permute", "--model", ref.toString(), "--seed", "3", "--out", sus.toString(), "--secret",
                secret.toString());
        assertEquals(0, p.code(), p.err());
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--secret",
                secret.toString(), "--report", report.toString(), "--signal", "activations", "--data", "digits",
                "--probe", "16", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals("activations", json.get("signal"));
        assertEquals(100.0, ((Number) json.get("psi")).doubleValue());

        CliRun missing = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--signal",
                "activations", "--quiet");
        assertEquals(2, missing.code(), missing.err());
        assertTrue(missing.err().contains("--signal activations needs --data"), missing.err());
        CliRun unknown = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--signal",
                "gradients", "--quiet");
        assertEquals(2, unknown.code(), unknown.err());
    }

    @Test
    void theSuspectRunsAgainOnlyAfterAMatchThatIsNotAPermutation() {
        torch.manual_seed(10);
        Model model = Models.create("lenet5");
        StateDict original = model.stateDict();
        var spec = model.permutationSpec();
        Group conv1 = spec.groups().get(0);
        Group fc1 = spec.groups().stream().filter(g -> g.name().equals("fc1")).findFirst().orElseThrow();
        StateDict suspect = original.copy();
        ActivationSignal signal = new ActivationSignal(original, null, spec, probe(model), Backend.CPU);
        float[] before = signal.similarity(fc1, suspect);
        // the suspect changes function (conv1's neuron 0 written over neuron 1, as an argmax duplicate does)
        long[] duplicate = java.util.stream.LongStream.range(0, conv1.size()).toArray();
        duplicate[1] = 0;
        for (var m : conv1.members()) {
            suspect.put(m.tensor(), lady.permutation.MemberSlices.gather(suspect.get(m.tensor()), m, duplicate));
        }
        long[] identity = java.util.stream.LongStream.range(0, conv1.size()).toArray();
        signal.applied(conv1, identity); // a permutation: nothing changes, the cached matrix stays
        org.junit.jupiter.api.Assertions.assertArrayEquals(before, signal.similarity(fc1, suspect));
        signal.applied(conv1, duplicate); // not a permutation: the suspect is run again, as it is now
        float[] after = signal.similarity(fc1, suspect);
        assertTrue(!java.util.Arrays.equals(before, after), "fc1's correlations must follow the changed suspect");
    }

    @Test
    void aSubsetOfGroupsIsResyncedAlone() {
        torch.manual_seed(7);
        Model model = Models.create("vgg16_cifar", ModelOptions.defaults().withWidth(0.125));
        StateDict original = model.stateDict();
        var spec = model.permutationSpec();
        Map<String, Permutation> perms = Permuter.random(spec, java.util.List.of("features.17"), 2);
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
        ActivationSignal signal = new ActivationSignal(original, null, spec, probe(model), Backend.CPU);
        ResyncReport report = ReferenceResync.run(original, suspect, spec, ResyncOptions.defaults()
                .withSignalSource(signal).withGroups(Set.of("features.17")), ReferenceResyncTest.secret(perms),
                ProgressListener.NONE);
        assertEquals(1, report.groups().size());
        assertEquals(100.0, report.psi());
        ReferenceResyncTest.assertRestored(original, suspect);
    }
}
