package lady.attack;

import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * One structural attack that keeps the function (Yan et al., USENIX Security 2023), on every selected group
 * ({@link AttackContext#groups()}):
 * <ul>
 *   <li>{@code scale:R}: every neuron multiplied by a factor drawn log-uniformly in [1/R, R], compensated so that the
 *       function is kept (in the consumers, or by the batch norm's running statistics: lady.structure.NeuronScaling);
 *       refused, with the reason, for a group whose neurons pass through an activation that is not positively
 *       homogeneous;</li>
 *   <li>{@code dummy:P}: round(P % of a group's original neurons) cancelling pairs appended: each pair has the same
 *       fresh incoming weights (drawn with the std of the layer's weights) and consumer columns c and -c (the std of
 *       each consumer's weights), so it always adds zero; with 5 % a 512-neuron group gets 26 pairs;</li>
 *   <li>{@code split:P}: round(P % of a group's original neurons), distinct and drawn at random, each duplicated
 *       (same incoming weights and batch-norm vectors), the original keeping a share lambda of its outgoing weights
 *       and the copy 1 - lambda, lambda uniform in [0.1, 0.9].</li>
 * </ul>
 *
 * @param kind  "scale", "dummy" or "split"
 * @param level R >= 1 for scale, P in [0, 100] for dummy and split
 */
public record StructuralAttack(String kind, double level) implements Attack {
    public StructuralAttack {
        switch (kind) {
            case "scale" -> StructuralAttacks.requireLevel(level >= 1 && !Double.isInfinite(level),
                    "scale range R must be a finite number >= 1 (factors in [1/R, R]), got " + level);
            case "dummy", "split" -> StructuralAttacks.requireLevel(level >= 0 && level <= 100,
                    kind + " percent P must be in [0, 100] (per 100 original neurons), got " + level);
            default -> throw new IllegalArgumentException("not a structural attack: " + kind);
        }
    }

    @Override
    public boolean preservesFunction() {
        return true;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        StructuralAttacks.requireMemory(state);
        StructuralAttacks.Tally t = new StructuralAttacks.Tally();
        long seed = Seeds.derive(context.seed(), "attack." + kind);
        switch (kind) {
            case "scale" -> StructuralAttacks.scale(state, context, level, seed, t);
            case "dummy" -> StructuralAttacks.dummy(state, context, level, seed, t);
            default -> StructuralAttacks.split(state, context, level, seed, t);
        }
        return t.result(spec());
    }
}
