package lady.resync;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.Architecture;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.model.Stage;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;
import lady.torch.TorchTensors;

/**
 * Activation matching (method.md sections 4 and 6, beyond the paper): the same probe images go
 * through the reference and the suspect (eval mode), and reference neuron i and suspect neuron j of
 * a group are compared by the Pearson correlation of their outputs over every image and position.
 * A neuron's output is its producer's pre-activation output (after the batch norm, before the ReLU:
 * {@link Stage#PRE_ACTIVATION}); a group with several producers (a residual stream: the stem or
 * downsample conv and every block's conv2) sums their correlation matrices, as the weight signal
 * sums the cosines of its producers. Correlations are computed by the native centered cosine kernel.
 *
 * <p>A permutation does not change what a network computes, so a group's outputs do not depend on
 * whether the groups before it are already re-ordered: one forward pass of each model gives every
 * group's matrix. Only a match that is not a permutation (argmax duplicates) changes the suspect's
 * function; then the suspect is run again, as re-ordered so far, for the groups that follow.
 */
public final class ActivationSignal implements Evidence {
    static final String NAME = "activations";

    /** Default number of probe images (ours: enough positions for stable correlations, one batch). */
    public static final int DEFAULT_PROBE_IMAGES = 256;

    private final Model reference;
    private final ModelConfig config;
    private final Map<String, List<String>> producers = new HashMap<>();
    private final Tensor probe;
    private final Backend backend;
    private Model suspect;
    private Map<String, float[]> cache;

    /**
     * @param referenceState the reference's weights (the same the resync reads)
     * @param arch           architecture name, or null to infer it from {@code referenceState}
     * @param spec           the permutation groups of the resync
     * @param probe          N x C x H x W probe images, normalized as the model expects; kept (not copied)
     */
    public ActivationSignal(StateDict referenceState, String arch, PermutationSpec spec, Tensor probe, Backend backend) {
        this.config = Models.infer(referenceState, arch);
        this.reference = config.create();
        this.reference.load(referenceState);
        this.probe = probe;
        this.backend = backend;
        Architecture description = config.description();
        Map<String, String> layerOfWeight = new HashMap<>();
        description.producers().forEach(p -> layerOfWeight.put(p.weight(), p.name()));
        for (Group g : spec.groups()) {
            List<String> layers = new ArrayList<>();
            for (Member m : g.members(Role.PRODUCER_WEIGHT)) {
                String layer = layerOfWeight.get(m.tensor());
                if (layer == null) {
                    throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "': producer '"
                            + m.tensor() + "' is not the weight of a layer of " + config.architecture());
                }
                layers.add(layer);
            }
            producers.put(g.name(), layers);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    /** One ready similarity per group: the summed Pearson matrices of its producers' outputs. A permutation
     * does not change the outputs, so it depends on no other group's alignment. */
    @Override
    public List<Contribution> contributions(Group g, EvidenceContext context) {
        return List.of(Contribution.matrix(NAME, String.join("+", producers.get(g.name())), similarity(g,
                context.suspect())));
    }

    /**
     * The N x N similarity of group {@code g}, row-major: {@code s[i * n + j]} compares reference
     * neuron i with suspect neuron j, the suspect as re-ordered so far by the resync.
     */
    public float[] similarity(Group g, StateDict suspectState) {
        if (cache == null) {
            cache = compute(suspectState);
        }
        float[] s = cache.get(g.name());
        if (s == null) {
            throw new LadyException(LadyException.Kind.INTERNAL, "no activations for group '" + g.name() + "'");
        }
        return s.clone();
    }

    @Override
    public void applied(Group g, long[] match) {
        if (java.util.Arrays.stream(match).distinct().count() != match.length) {
            cache = null; // the suspect no longer computes the same function: run it again
        }
    }

    /** Per group, the summed Pearson matrix of its producers' outputs (reference rows, suspect columns). */
    @SuppressWarnings("try")
    private Map<String, float[]> compute(StateDict suspectState) {
        if (suspect == null) {
            suspect = Models.infer(suspectState, config.architecture()).create();
        }
        suspect.load(suspectState);
        Set<String> all = new LinkedHashSet<>();
        producers.values().forEach(all::addAll);
        List<String> layers = List.copyOf(all);
        Map<String, float[]> out = new HashMap<>();
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> a = outputs(reference, layers);
            Map<String, Tensor> b = outputs(suspect, layers);
            for (Map.Entry<String, List<String>> e : producers.entrySet()) {
                float[] s = null;
                for (String layer : e.getValue()) {
                    Tensor ra = a.get(layer);
                    int n = Math.toIntExact(ra.size(0));
                    if (s == null) {
                        s = new float[n * n];
                    }
                    Similarity.accumulateCosine(backend, TorchTensors.own(ra), TorchTensors.own(b.get(layer)), true, s);
                }
                out.put(e.getKey(), s);
            }
        }
        return out;
    }

    /** Each layer's pre-activation outputs as rows: neuron c -> its values over every image and position. */
    private Map<String, Tensor> outputs(Model model, List<String> layers) {
        boolean wasTraining = model.module().is_training();
        model.train(false);
        try {
            Map<String, Tensor> rows = new HashMap<>();
            model.capture(probe, layers, Stage.PRE_ACTIVATION).forEach((layer, t) -> rows.put(layer,
                    t.transpose(0, 1).reshape(t.size(1), -1).to(torch.ScalarType.Float).contiguous()));
            return rows;
        } finally {
            model.train(wasTraining);
        }
    }
}
