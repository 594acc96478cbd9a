package lady.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.model.LlamaShapes;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.Torch;

/**
 * The parallel-neuron search finds the same clusters whether its candidates come from the sorted projection or
 * from the cosines of all pairs (the path for half precision, where the projection's window holds every pair):
 * float32 VGG groups and a bfloat16 Llama's MLP units, both with dummy pairs and splits planted by the attack. A later
 * pass given the partition (what the merging keeps between the passes over a group) computes the same clusters.
 */
class ParallelNeuronsTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static void samePaths(StateDict state, String arch, String group, int minMerged) {
        NetworkView view = NetworkView.of(state, arch);
        NeuronGroup d = new NeuronGroup(state, view.group(group), view.rule(group));
        double t = Tolerance.of(d.roundoff());
        List<ParallelNeurons.Cluster> projected = ParallelNeurons.find(d, t, Long.MAX_VALUE);
        List<ParallelNeurons.Cluster> cosines = ParallelNeurons.find(d, t, 0);
        // a later pass given the partition (classes numbered in another order) computes the same clusters
        int[] classes = new int[d.size()];
        for (int c = 0; c < projected.size(); c++) {
            for (int j : projected.get(c).members()) {
                classes[j] = projected.size() - c;
            }
        }
        List<ParallelNeurons.Cluster> known = ParallelNeurons.find(d, t, classes);
        assertEquals(projected.size(), cosines.size(), group);
        assertEquals(projected.size(), known.size(), group);
        int merged = 0;
        for (int c = 0; c < projected.size(); c++) {
            for (List<ParallelNeurons.Cluster> other : List.of(cosines, known)) {
                assertArrayEquals(projected.get(c).members(), other.get(c).members(), group + " cluster " + c);
                assertArrayEquals(projected.get(c).ratios(), other.get(c).ratios(), group + " cluster " + c);
                assertEquals(projected.get(c).vanishing(), other.get(c).vanishing(), group + " cluster " + c);
            }
            merged += projected.get(c).members().length > 1 ? 1 : 0;
        }
        assertTrue(merged >= minMerged, group + ": " + merged + " clusters of parallel neurons");
    }

    @Test
    void float32GroupsWithDummiesAndSplits() {
        String arch = "vgg16_cifar";
        StateDict reference = StructuralTesting.model(arch, 0.125, 4).stateDict();
        StructuralTesting.Attacked a = StructuralTesting.attack(reference, arch, "dummy:20,split:20,scale:4", List.of(), 5);
        for (String g : List.of("features.0", "features.10", "classifier.0")) {
            samePaths(a.state(), arch, g, 2);
        }
    }

    @Test
    void bfloat16MlpUnitsWithDummiesAndSplits() {
        SplittableRandom r = new SplittableRandom(7);
        StateDict s = new StateDict();
        LlamaShapes.shapes().forEach((name, shape) -> {
            float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (shape.length == 1 ? 1 + 0.2 * r.nextGaussian() : 0.1 * r.nextGaussian());
            }
            s.put(name, HostTensor.ofFloats(v, shape).converted(DType.BFLOAT16));
        });
        s.setConfig(LlamaShapes.CONFIG);
        StructuralTesting.Attacked a = StructuralTesting.attack(s, "llama", "dummy:25,split:25", List.of(), 3);
        assertEquals(DType.BFLOAT16, a.state().get("model.layers.0.mlp.gate_proj.weight").dtype());
        samePaths(a.state(), "llama", "model.layers.0.mlp.gate_proj", 3);
        samePaths(a.state(), "llama", "model.layers.1.mlp.gate_proj", 3);
    }
}
