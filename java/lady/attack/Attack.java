package lady.attack;

import lady.checkpoint.StateDict;

/**
 * One attack of method.md section 7, a small value type parsed from a spec string
 * ({@code noise:7}, {@code finetune:2}, {@code quant:8}, {@code prune:95}; see {@link Attacks}), or a
 * structural attack ({@code scale:4}, {@code dummy:5}, {@code split:5}, {@code nso}).
 * {@link #apply} changes the state dict in place (pass {@link StateDict#copy()} to keep the
 * original); its randomness comes only from {@link AttackContext#seed()}.
 */
public sealed interface Attack permits NoiseAttack, FinetuneAttack, QuantAttack, PruneAttack, StructuralAttack,
        NsoAttack {
    /** "noise", "finetune", "quant", "prune", "scale", "dummy", "split" or "nso". */
    String kind();

    /**
     * Whether the attack keeps the network's function (the structural attacks: scale, dummy, split, nso), so
     * that {@code lady attack --verify} can check it.
     */
    default boolean preservesFunction() {
        return false;
    }

    /** The level: Omega, epochs Theta, bits B or percent T. */
    double level();

    /** The canonical spec, e.g. "noise:7"; {@code Attacks.parse(spec())} gives an equal attack. */
    default String spec() {
        return kind() + ":" + Attacks.formatLevel(level());
    }

    /**
     * Whether the network's batch-norm statistics should be re-estimated after this attack (it changed
     * weights without training): any level above 0; a fine-tuning trains in train mode, which
     * re-estimates them itself; an attack that keeps the function keeps the statistics right.
     */
    default boolean needsRecalibration() {
        return level() > 0 && !preservesFunction();
    }

    /** Applies the attack to {@code state} in place and says what it did. */
    AttackResult apply(StateDict state, AttackContext context);
}
