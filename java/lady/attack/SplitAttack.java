package lady.attack;

import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Neuron splits (Yan et al. 2023): round(P % of a group's original neurons), distinct and drawn at random,
 * each duplicated (same incoming weights and batch-norm vectors), the original keeping a share lambda of
 * its outgoing weights and the copy 1 - lambda, lambda uniform in [0.1, 0.9].
 *
 * @param percent P in [0, 100]
 */
public record SplitAttack(double percent) implements Attack {
    public SplitAttack {
        StructuralAttacks.requireLevel(percent >= 0 && percent <= 100,
                "split percent P must be in [0, 100] (neurons split per 100 original neurons), got " + percent);
    }

    @Override
    public String kind() {
        return "split";
    }

    @Override
    public double level() {
        return percent;
    }

    @Override
    public boolean preservesFunction() {
        return true;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        StructuralAttacks.Tally t = new StructuralAttacks.Tally();
        StructuralAttacks.split(state, context, percent, Seeds.derive(context.seed(), "attack.split"), t);
        return t.result(spec());
    }
}
