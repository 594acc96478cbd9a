package lady.structure;

/**
 * The tolerance of the structural edits' exact tests, derived from the floating-point format the weights
 * are stored in. A neuron that an attacker copied, rescaled or split is an exact multiple of another up to
 * the roundings of those few operations: each entry carries a relative error of a few unit roundoffs u
 * (2^-24 for float32), so the unit vectors of two such neurons differ by a few u in norm, and a dummy pair's
 * merged columns cancel to a few u of their size. Distinct trained neurons are nowhere near that (their
 * cosine is rarely above 0.99, a distance of 0.14). The tests therefore allow {@link #ROUNDOFFS} unit
 * roundoffs: for float32 a distance of 3.8e-6 between unit vectors (1 - cosine below 7.3e-12), a merged
 * column below 3.8e-6 of the columns it sums, a ratio within 3.8e-6 of 1; for float16 0.031, for bfloat16 0.25.
 */
public final class Tolerance {
    private Tolerance() {}

    /**
     * Unit roundoffs allowed: 16 roundings of a few operations each (scaling, merging, the attacker's own
     * arithmetic) with a margin of 4.
     */
    public static final double ROUNDOFFS = 64;

    /** The unit roundoff of tensor {@code name}'s dtype (2^-24 for float32, 2^-11 float16, 2^-8 bfloat16). */
    public static double unitRoundoff(lady.checkpoint.StateDict state, String name) {
        return Floats.unitRoundoff(state, name);
    }

    /** The tolerance for weights stored with unit roundoff {@code u}. */
    public static double of(double u) {
        return ROUNDOFFS * u;
    }
}
