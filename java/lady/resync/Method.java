package lady.resync;

import java.util.Locale;

import lady.LadyException;

/** How a group's neurons are matched from the similarity matrix (method.md section 4). */
public enum Method {
    /** The paper: each reference neuron takes its most similar suspect neuron. Not always a
     * permutation: duplicates are counted and reported. */
    ARGMAX,
    /** Exact maximum-weight perfect matching (linear assignment): always a permutation. Default. */
    ASSIGNMENT;

    public static Method parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown resync method '" + text + "' (expected assignment or argmax)");
        }
    }
}
