package lady.resync;

import java.util.Locale;

import lady.LadyException;

/**
 * Whether a group's exact assignment is found through the random-projection prefilter
 * ({@link PrefilteredMatch}) instead of the dense N x N cosine matrix. The prefilter is exact where
 * it answers (it proves its match optimal for the dense matrix, up to the stated sketch-error bound)
 * and hands the group back to the dense path otherwise, so the match never differs from the dense
 * method's. It applies to the weight signal with the assignment method only.
 */
public enum Prefilter {
    /** Prefilter a group when its dense product is large ({@link PrefilteredMatch#worthIt}). Default. */
    AUTO,
    /** Try the prefilter on every group (tests and benchmarks); still falls back to dense when ambiguous. */
    ON,
    /** Always the dense N x N similarity. */
    OFF;

    public static Prefilter parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown prefilter '" + text + "' (expected auto, on or off)");
        }
    }
}
