package lady.resync;

import java.util.Locale;

import lady.LadyException;

/**
 * How {@link Combination} weighs the contributions of a group's evidence by their dimension d (values
 * per neuron). The similarity of the group is the weighted mean of the contributions' cosines.
 */
public enum EvidenceWeighting {
    /** w = sqrt(d): each cosine counted as a z-score (its spread between unrelated rows is about 1 / sqrt(d)). Default. */
    SQRT_DIMENSION,
    /** w = d: every value counts alike (the cosine of the concatenated rows, had they equal norms). */
    DIMENSION,
    /** w = 1: every contribution alike (the sum of the cosines). */
    EQUAL;

    /** The weight of a contribution of dimension d (a ready similarity, d = 0, weighs 1). */
    public double weight(long d) {
        if (d <= 0) {
            return 1;
        }
        return switch (this) {
            case SQRT_DIMENSION -> Math.sqrt(d);
            case DIMENSION -> d;
            case EQUAL -> 1;
        };
    }

    public static EvidenceWeighting parse(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "sqrt", "sqrt_dimension" -> SQRT_DIMENSION;
            case "dim", "dimension" -> DIMENSION;
            case "equal" -> EQUAL;
            default -> throw new LadyException(LadyException.Kind.USAGE, "unknown evidence weighting '" + text
                    + "' (expected sqrt, dimension or equal)");
        };
    }
}
