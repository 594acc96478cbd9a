package lady.attack;

import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Dummy neurons (Yan et al. 2023): round(P % of a group's original neurons) cancelling pairs appended to
 * every selected group: each pair has the same fresh incoming weights (drawn with the std of the layer's
 * weights) and consumer columns c and -c (the std of each consumer's weights), so it always adds zero.
 * With 5 % a 512-neuron group gets 26 pairs.
 *
 * @param percent P in [0, 100]
 */
public record DummyAttack(double percent) implements Attack {
    public DummyAttack {
        StructuralAttacks.requireLevel(percent >= 0 && percent <= 100,
                "dummy percent P must be in [0, 100] (pairs per 100 original neurons), got " + percent);
    }

    @Override
    public String kind() {
        return "dummy";
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
        StructuralAttacks.dummy(state, context, percent, Seeds.derive(context.seed(), "attack.dummy"), t);
        return t.result(spec());
    }
}
