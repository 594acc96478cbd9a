package lady.canon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.torch.Torch;
import lady.train.Trainer;

/** Canonical order (method.md 5): equivariance under permutation, Psi, alignment, active ranking, the file. */
@Tag("cpu-sensitive")
class CanonTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    static StateDict model(String arch, long seed) {
        Trainer.seedLibtorch(seed);
        ModelOptions o = arch.startsWith("vgg") || arch.startsWith("resnet")
                ? ModelOptions.defaults().withWidth(0.125) : ModelOptions.defaults();
        return Models.create(arch, o).stateDict();
    }

    static PermutationSpec spec(StateDict s) {
        return Models.fromStateDict(s).permutationSpec();
    }

    static List<String> all(PermutationSpec spec) {
        return spec.groups().stream().map(Group::name).toList();
    }

    static void assertSameTensors(StateDict a, StateDict b) {
        assertEquals(a.names(), b.names());
        for (String n : a.names()) {
            assertTrue(a.get(n).sameContent(b.get(n)), "tensor " + n + " differs");
        }
    }

    @ParameterizedTest
    @CsvSource({"vgg16_cifar, features.17", "vgg16_bn, features.17", "resnet18_cifar, stream.layer2",
            "resnet18_cifar, layer2.0.conv1"})
    void basicOrderOfAPermutedCopyIsTheOriginalOrderComposedWithThePermutation(String arch, String layer) {
        StateDict original = model(arch, 3);
        PermutationSpec spec = spec(original);
        Map<String, Permutation> perms = Permuter.random(spec, all(spec), 17); // every group, not only the ranked one
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);

        LayerOrder ref = Canon.basic(original, null, List.of(layer)).layer(layer);
        LayerOrder sus = Canon.basic(suspect, null, List.of(layer)).layer(layer);
        Permutation p = perms.get(layer);
        assertFalse(p.isIdentity());
        // suspect neuron j is original neuron p[j]: the suspect's k-th ranked neuron is inv(p)[original's k-th]
        assertEquals(p.inverse().then(ref.order()), sus.order(), arch + " " + layer);
        assertEquals(ref.order(), p.then(sus.order()));
        assertEquals(100.0, Canon.psi(ref, sus, p));
        assertTrue(Canon.psi(ref, sus, null) < 100.0, "without the secret the raw orders differ");
        assertEquals(0, ref.ties());
    }

    @ParameterizedTest
    @CsvSource({"vgg16_bn_cifar", "resnet18_cifar", "lenet5"})
    void everyGroupInCanonicalOrderMakesThePermutedCopyEqualToTheOriginal(String arch) {
        StateDict original = model(arch, 5);
        PermutationSpec spec = spec(original);
        Map<String, Permutation> perms = Permuter.random(spec, all(spec), 23);
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);

        CanonicalOrder ref = Canon.basic(original, null, all(spec));
        CanonicalOrder sus = Canon.rerank(suspect, null, ref);
        Map<String, Double> psi = Canon.psi(ref, sus, perms);
        psi.forEach((g, v) -> assertEquals(100.0, v, g));
        assertEquals(100.0, Canon.psiOverall(ref, psi));
        StateDict a = Canon.align(original, spec, ref);
        StateDict b = Canon.align(suspect, spec, sus);
        assertSameTensors(a, b);
        StateDict lazily = suspect.copy(); // in place, as index maps: the same tensors as the aligned copy
        Canon.alignLazily(lazily, spec, sus);
        assertSameTensors(b, lazily);
        // after alignment the two canonical orders are both the identity: Psi 100 without any secret
        CanonicalOrder again = Canon.rerank(b, null, Canon.basic(a, null, all(spec)));
        Canon.psi(Canon.basic(a, null, all(spec)), again, null).forEach((g, v) -> assertEquals(100.0, v, g));
        assertTrue(Canon.basic(a, null, all(spec)).layers().stream().allMatch(l -> l.order().isIdentity()));
    }

    /**
     * Nested groups (a KV head's query heads and value dimensions): each is ranked on the model as it is, but
     * {@link Permuter} applies it to the block that the KV heads' order brought to its position, so the alignment
     * must give it the order of that block's group. Otherwise a model and its permuted copy align differently.
     */
    @Test
    void nestedGroupsOfALlamaAlignAPermutedCopyToTheSameModel() {
        lady.model.ModelConfig mc = Models.infer(lady.model.LlamaShapes.shapes(false, false), null,
                lady.model.LlamaShapes.CONFIG);
        StateDict original = mc.create().stateDict();
        org.bytedeco.pytorch.global.torch.manual_seed(8);
        for (String name : original.names()) { // Lady's Llama starts with zero projections: every score would tie
            org.bytedeco.pytorch.Tensor t = lady.torch.TorchTensors.view(original.get(name)); // written in place
            t.copy_(org.bytedeco.pytorch.global.torch.randn(t.sizes().vec().get()));
        }
        PermutationSpec spec = mc.description().permutationSpec();
        assertFalse(lady.permutation.Nesting.of(spec).outers().isEmpty(), "the spec has nested groups");
        Map<String, Permutation> perms = Permuter.random(spec, all(spec), 29);
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);

        CanonicalOrder ref = Canon.rankBasic(original, spec, all(spec));
        CanonicalOrder sus = Canon.rerankBasic(suspect, spec, ref);
        assertSameTensors(Canon.align(original, spec, ref), Canon.align(suspect, spec, sus));
        Canon.psi(ref, sus, perms, spec).forEach((g, v) -> assertEquals(100.0, v, g));
        // teeth: each group's own order, as if nothing were nested, aligns the two differently
        Map<String, Permutation> ownRef = new java.util.LinkedHashMap<>();
        Map<String, Permutation> ownSus = new java.util.LinkedHashMap<>();
        ref.layers().forEach(l -> ownRef.put(l.layer(), l.order()));
        sus.layers().forEach(l -> ownSus.put(l.layer(), l.order()));
        StateDict a = Permuter.apply(original, spec, ownRef, Backend.CPU);
        StateDict b = Permuter.apply(suspect, spec, ownSus, Backend.CPU);
        assertFalse(a.names().stream().allMatch(n -> a.get(n).sameContent(b.get(n))));
        // a nested group ranked without its siblings cannot be aligned
        float[] rising = {0, 1}; // the KV heads' order swaps the two heads: q_heads.0's place gets q_heads.1's block
        CanonicalOrder partial = new CanonicalOrder(spec.architecture(), RankingMethod.BASIC, null, List.of(
                new LayerOrder("model.layers.0.self_attn.kv_heads", rising, Canon.order(rising), null),
                new LayerOrder("model.layers.0.self_attn.q_heads.0", rising, Canon.order(rising), null)));
        LadyException e = assertThrows(LadyException.class, () -> Canon.align(original, spec, partial));
        assertTrue(e.getMessage().contains("--layer all"), e.getMessage());
        // active ranking learns an image: a clear refusal for a model that reads token ids
        original.setConfig(lady.model.LlamaShapes.CONFIG);
        LadyException tokens = assertThrows(LadyException.class, () -> Canon.rank(original, null, all(spec),
                RankingMethod.ACTIVE, ActiveConfig.paper(1), ProgressListener.NONE));
        assertTrue(tokens.getMessage().contains("--method basic"), tokens.getMessage());
    }

    /**
     * Two neurons whose float32 scores are equal and whose sums in double are not (a pair that thousands of LLM MLP
     * units have): the canonical order ranks them by the double sums, so the original and a copy that swapped them
     * align to the same tensors (by lower index, each would keep its own order); a true tie is still counted.
     */
    @Test
    void equalFloat32ScoresAreOrderedByTheirExactSums(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        StateDict original = model("toynet", 2);
        PermutationSpec spec = spec(original);
        Group g = spec.group("conv1").orElseThrow();
        lady.tensor.HostTensor w = original.get("conv1.weight");
        float[] v = w.readFloats();
        int per = v.length / (int) g.size();
        System.arraycopy(v, 0, v, per, per); // neuron 1 = neuron 0, its first weight one unit in the last place higher
        v[per] = Math.nextUp(v[0]);
        w.writeFloats(v);
        LayerOrder ranked = Canon.basic(original, null, List.of("conv1")).layer("conv1");
        assertEquals(ranked.scores()[0], ranked.scores()[1], "equal float32 scores");
        assertTrue(ranked.exact()[1] > ranked.exact()[0], "different sums in double");
        assertEquals(0, ranked.ties());
        int[] swap = new int[(int) g.size()];
        for (int i = 0; i < swap.length; i++) {
            swap[i] = i < 2 ? 1 - i : i;
        }
        StateDict suspect = Permuter.apply(original, spec, Map.of("conv1", Permutation.of(swap)), Backend.CPU);
        CanonicalOrder ref = Canon.basic(original, null, List.of("conv1"));
        CanonicalOrder sus = Canon.rerank(suspect, null, ref);
        assertSameTensors(Canon.align(original, spec, ref), Canon.align(suspect, spec, sus));
        assertEquals(100.0, Canon.psi(ref, sus, Map.of("conv1", Permutation.of(swap))).get("conv1"));
        // the file keeps the exact scores; a true tie is still one
        ref.write(dir.resolve("c.json"));
        assertEquals(ranked.exact()[1], CanonicalOrder.read(dir.resolve("c.json")).layer("conv1").exact()[1]);
        v[per] = v[0];
        w.writeFloats(v);
        assertEquals(1, Canon.basic(original, null, List.of("conv1")).layer("conv1").ties());
    }

    @Test
    void basicScoresAreSignedWeightSums() {
        StateDict s = model("toynet", 1);
        Group g = spec(s).group("conv1").orElseThrow();
        float[] scores = BasicRanking.scores(s, g);
        float[] w = new float[(int) s.get("conv1.weight").numel()];
        w = s.get("conv1.weight").readFloats();
        int per = w.length / scores.length;
        for (int n = 0; n < scores.length; n++) {
            double sum = 0;
            for (int k = 0; k < per; k++) {
                sum += w[n * per + k];
            }
            assertEquals((float) sum, scores[n], 1e-6f);
        }
        Permutation order = Canon.order(scores);
        for (int k = 0; k + 1 < scores.length; k++) {
            assertTrue(scores[order.get(k)] >= scores[order.get(k + 1)], "descending");
        }
        // ties: by lower index
        assertEquals(Permutation.of(1, 0, 2), Canon.order(new float[] {1f, 2f, 1f}));
    }

    static ActiveConfig fewSteps(long seed) {
        return ActiveConfig.paper(seed).withSteps(6);
    }

    @Test
    void activeRankingIsSeededItsLossDecreasesAndItFollowsAPermutation(@TempDir Path dir) {
        StateDict original = model("toynet", 7);
        CanonicalOrder a = Canon.rank(original, null, List.of("conv2"), RankingMethod.ACTIVE, fewSteps(11),
                ProgressListener.NONE);
        CanonicalOrder b = Canon.rank(original, null, List.of("conv2"), RankingMethod.ACTIVE, fewSteps(11),
                ProgressListener.NONE);
        CanonicalOrder c = Canon.rank(original, null, List.of("conv2"), RankingMethod.ACTIVE, fewSteps(12),
                ProgressListener.NONE);
        LayerOrder la = a.layer("conv2");
        assertEquals("conv2", la.active().module());
        assertArrayEquals(la.active().input(), b.layer("conv2").active().input(), "same seed, same input");
        assertArrayEquals(la.scores(), b.layer("conv2").scores());
        assertFalse(java.util.Arrays.equals(la.active().input(), c.layer("conv2").active().input()));
        assertTrue(la.active().lossLast() < la.active().lossFirst(), "loss " + la.active().lossFirst() + " -> "
                + la.active().lossLast());
        assertArrayEquals(new long[] {1, 3, 32, 32}, la.active().shape());

        // the same bytes in the file for the same seed
        a.write(dir.resolve("a.json"));
        b.write(dir.resolve("b.json"));
        assertArrayEquals(bytes(dir.resolve("a.json")), bytes(dir.resolve("b.json")));
        CanonicalOrder read = CanonicalOrder.read(dir.resolve("a.json"));
        assertEquals(lady.report.Json.write(a.toJson()), lady.report.Json.write(read.toJson()));
        assertArrayEquals(la.active().input(), read.layer("conv2").active().input(), "input survives the file exactly");

        // the owner re-ranks a permuted suspect with the saved input
        PermutationSpec spec = spec(original);
        Map<String, Permutation> perms = Permuter.random(spec, all(spec), 29);
        StateDict suspect = Permuter.apply(original, spec, perms, Backend.CPU);
        CanonicalOrder sus = Canon.rerank(suspect, null, read);
        assertEquals(100.0, Canon.psi(read.layer("conv2"), sus.layer("conv2"), perms.get("conv2")));
    }

    @ParameterizedTest
    @CsvSource({"resnet18_cifar, stream.layer2, layer2.0.downsample.0", "resnet18_cifar, layer2.0.conv1, layer2.0.conv1",
            "vgg16_bn, classifier.0, classifier.0"})
    void activeRankingFollowsAPermutationOfEveryGroup(String arch, String layer, String module) {
        StateDict original = model(arch, 9);
        CanonicalOrder ref = Canon.rank(original, null, List.of(layer), RankingMethod.ACTIVE, fewSteps(4).withSteps(2),
                ProgressListener.NONE);
        assertEquals(module, ref.layer(layer).active().module());
        PermutationSpec spec = spec(original);
        Map<String, Permutation> perms = Permuter.random(spec, all(spec), 31);
        CanonicalOrder sus = Canon.rerank(Permuter.apply(original, spec, perms, Backend.CPU), null, ref);
        assertEquals(100.0, Canon.psi(ref.layer(layer), sus.layer(layer), perms.get(layer)), arch + " " + layer);
    }

    @Test
    void activeLossDecreasesStepByStepAtTheStart() {
        StateDict original = model("toynet", 8);
        var m = Models.fromStateDict(original);
        ActiveRanking.Learned l = ActiveRanking.learn(m, "conv1", ActiveRanking.inputShape(3, 32), fewSteps(3),
                ProgressListener.NONE);
        assertEquals(6, l.losses().length);
        for (int i = 1; i < l.losses().length; i++) {
            assertTrue(l.losses()[i] < l.losses()[i - 1], "step " + i + ": " + java.util.Arrays.toString(l.losses()));
        }
        assertTrue(m.module().parameters(true).get(0).requires_grad(), "parameters' flags restored");
    }

    @Test
    void authorsSliceReadsTheNextLayerAndIsRefusedWhenSizesDiffer() {
        StateDict s = model("vgg16_cifar", 2);
        CanonicalOrder o = Canon.rank(s, null, List.of("features.17"), RankingMethod.ACTIVE,
                ActiveConfig.paper(1).withSteps(1).withAuthorsSlice(true), ProgressListener.NONE);
        assertEquals("features.19", o.layer("features.17").active().module());
        LadyException e = assertThrows(LadyException.class, () -> Canon.rank(model("toynet", 2), null,
                List.of("conv1"), RankingMethod.ACTIVE, fewSteps(1).withAuthorsSlice(true), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("conv2"), e.getMessage());
    }

    @Test
    void unknownLayerAndEditedFileGiveClearErrors(@TempDir Path dir) throws Exception {
        StateDict s = model("toynet", 1);
        LadyException e = assertThrows(LadyException.class, () -> Canon.basic(s, null, List.of("conv9")));
        assertEquals(LadyException.Kind.USAGE, e.kind());
        assertTrue(e.getMessage().contains("conv1"), e.getMessage());
        Path f = dir.resolve("c.json");
        Canon.basic(s, null, List.of("conv1")).write(f);
        Files.writeString(f, Files.readString(f).replace("\"order\":[", "\"order\":[0,"));
        LadyException bad = assertThrows(LadyException.class, () -> CanonicalOrder.read(f));
        assertEquals(LadyException.Kind.INVALID_INPUT, bad.kind());
        assertNotEquals(null, bad.getMessage());
    }

    static byte[] bytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
