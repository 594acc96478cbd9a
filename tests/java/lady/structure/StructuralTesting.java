package lady.structure;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.attack.AttackContext;
import lady.attack.Attacks;
import lady.checkpoint.StateDict;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Lineage;
import lady.permutation.Member;
import lady.permutation.Role;
import lady.progress.ProgressListener;

/** Helpers of the structural tests: seeded models with healthy random parameters, attacks, comparisons. */
public final class StructuralTesting {
    private StructuralTesting() {}

    /**
     * A model of {@code arch} at {@code width} with He-scaled weights, random biases and random batch-norm
     * parameters and statistics (gamma around 1, beta and mean around 0, variance in [0.5, 1.5)), so that a wrong
     * edit shows in the logits and in every tensor.
     */
    public static Model model(String arch, double width, long seed) {
        ModelOptions o = ModelOptions.defaults();
        if (arch.startsWith("vgg") || arch.startsWith("resnet")) {
            o = o.withWidth(width);
        }
        return model(arch, o, seed);
    }

    /** As {@link #model(String, double, long)} with any options. */
    public static Model model(String arch, ModelOptions o, long seed) {
        torch.manual_seed(seed);
        Model m = Models.create(arch, o);
        StateDict s = m.stateDict();
        for (Group g : m.permutationSpec().groups()) {
            for (Member mem : g.members(Role.PRODUCER_WEIGHT)) {
                Tensor t = lady.torch.TorchTensors.view(s.get(mem.tensor())); // written in place
                long[] shape = t.sizes().vec().get();
                t.copy_(torch.randn(shape).mul_(new org.bytedeco.pytorch.Scalar(Math.sqrt(2.0 * shape[0] / t.numel()))));
            }
            for (Member mem : g.members(Role.PRODUCER_BIAS)) {
                Tensor t = lady.torch.TorchTensors.view(s.get(mem.tensor())); // written in place
                t.copy_(torch.randn(t.sizes().vec().get()).mul_(new org.bytedeco.pytorch.Scalar(0.3)));
            }
            for (Member mem : g.members(Role.NORM_WEIGHT, Role.NORM_BIAS, Role.RUNNING_MEAN, Role.RUNNING_VAR)) {
                Tensor t = lady.torch.TorchTensors.view(s.get(mem.tensor())); // written in place
                long[] shape = t.sizes().vec().get();
                boolean var = mem.role() == Role.RUNNING_VAR;
                boolean gamma = mem.role() == Role.NORM_WEIGHT;
                Tensor r = var ? torch.rand(shape) : torch.randn(shape).mul_(new org.bytedeco.pytorch.Scalar(gamma ? 0.2 : 0.1));
                t.copy_(r.add_(new org.bytedeco.pytorch.Scalar(var ? 0.5 : gamma ? 1.0 : 0.0)));
            }
        }
        m.load(s);
        return m;
    }

    /** An attacked copy of {@code state}: {@code chain} (e.g. "dummy:20,split:20,scale:4") and its lineages. */
    public record Attacked(StateDict state, Map<String, Lineage> lineages) {}

    public static Attacked attack(StateDict state, String arch, String chain, List<String> groups, long seed) {
        StateDict copy = state.copy();
        AttackContext ctx = new AttackContext(null, List.of(), seed, null, ProgressListener.NONE)
                .withStructure(arch, groups);
        Attacks.apply(Attacks.parse(chain), copy, ctx);
        return new Attacked(copy, new LinkedHashMap<>(ctx.lineages().all()));
    }

    /** The largest relative difference of a tensor of {@code b} from {@code a}'s ({@link StateDiff#max}). */
    public static double maxRelativeDiff(StateDict a, StateDict b) {
        return StateDiff.max(a, b);
    }

    /** The worst tensor of {@link #maxRelativeDiff} and its difference, or the first shape that differs (for messages). */
    public static String worst(StateDict a, StateDict b) {
        Map<String, Double> d = StateDiff.relative(a, b);
        if (d == null) {
            for (String t : a.names()) {
                if (!b.contains(t) || !java.util.Arrays.equals(a.shape(t), b.shape(t))) {
                    return t + " (shape " + java.util.Arrays.toString(a.shape(t)) + " vs "
                            + (b.contains(t) ? java.util.Arrays.toString(b.shape(t)) : "missing") + ")";
                }
            }
            return "other tensors";
        }
        return d.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey() + " " + e.getValue()).orElse("-");
    }
}
