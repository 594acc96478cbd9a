package lady.attack;

import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Neuron scaling (symmetries.md; Yan et al. 2023): every neuron of the selected groups multiplied by a
 * factor drawn log-uniformly in [1/R, R], compensated so that the function is kept (in the consumers, or
 * by the batch norm's running statistics; lady.structure.NeuronScaling). Refused, with the reason, for a
 * group whose neurons pass through an activation that is not positively homogeneous.
 *
 * @param range R >= 1
 */
public record ScaleAttack(double range) implements Attack {
    public ScaleAttack {
        StructuralAttacks.requireLevel(range >= 1 && !Double.isInfinite(range),
                "scale range R must be a finite number >= 1 (factors in [1/R, R]), got " + range);
    }

    @Override
    public String kind() {
        return "scale";
    }

    @Override
    public double level() {
        return range;
    }

    @Override
    public boolean preservesFunction() {
        return true;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        StructuralAttacks.Tally t = new StructuralAttacks.Tally();
        StructuralAttacks.scale(state, context, range, Seeds.derive(context.seed(), "attack.scale"), t);
        return t.result(spec());
    }
}
