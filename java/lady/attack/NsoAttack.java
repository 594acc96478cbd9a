package lady.attack;

import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Neural structural obfuscation as a whole (Yan et al., USENIX Security 2023, the attack that removed nine
 * white-box watermarks): on every selected group, {@link #DUMMY_PERCENT} % dummy pairs, {@link #SPLIT_PERCENT}
 * % splits (a 512-neuron group becomes 590), every neuron rescaled by a factor in [1/{@link #SCALE_RANGE},
 * {@link #SCALE_RANGE}], then a random permutation. The function is kept.
 */
public record NsoAttack() implements Attack {
    /** Scale factors in [1/4, 4]. */
    public static final double SCALE_RANGE = 4;
    /** Dummy pairs per 100 original neurons. */
    public static final double DUMMY_PERCENT = 5;
    /** Split neurons per 100 original neurons. */
    public static final double SPLIT_PERCENT = 5;

    @Override
    public String kind() {
        return "nso";
    }

    @Override
    public double level() {
        return 0;
    }

    @Override
    public String spec() {
        return kind();
    }

    @Override
    public boolean preservesFunction() {
        return true;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        StructuralAttacks.requireMemory(state);
        StructuralAttacks.Tally t = new StructuralAttacks.Tally();
        long seed = context.seed();
        StructuralAttacks.dummy(state, context, DUMMY_PERCENT, Seeds.derive(seed, "attack.dummy"), t);
        StructuralAttacks.split(state, context, SPLIT_PERCENT, Seeds.derive(seed, "attack.split"), t);
        StructuralAttacks.scale(state, context, SCALE_RANGE, Seeds.derive(seed, "attack.scale"), t);
        StructuralAttacks.permute(state, context, Seeds.derive(seed, "attack.permute"), t);
        return t.result(spec());
    }
}
