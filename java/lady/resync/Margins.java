package lady.resync;

import java.util.Locale;

import lady.LadyException;

/**
 * How the confidence margins of a group solved by the prefilter ({@link PrefilteredMatch}) are computed. A
 * margin is a reference neuron's matched similarity minus its best other one (method.md section 4).
 */
public enum Margins {
    /** As the dense path computes them: the rows the sketch cannot settle get their full similarities, about
     * one dense similarity product per prefiltered group (bench/RESULTS.md). Default. */
    EXACT,
    /** Lower bounds from the sketch: the best other confirmed candidate or the bound of every column left out,
     * whichever is larger. No dense product: what makes a 7B model's groups affordable; reported as bounds. */
    BOUND;

    public static Margins parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown margins '" + text + "' (expected exact or bound)");
        }
    }

    /** The report's word for it. */
    public String label() {
        return this == EXACT ? "exact" : "lower bounds on prefiltered groups";
    }
}
