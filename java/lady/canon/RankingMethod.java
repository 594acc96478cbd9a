package lady.canon;

import java.util.Locale;

import lady.LadyException;

/** How the neurons of a group are scored for the canonical order (method.md section 5). */
public enum RankingMethod {
    /** Score of a neuron = signed sum of all its producer weights. Needs no forward pass. */
    BASIC,
    /** Score of a neuron = its summed pre-activation response to one input learned so that the
     * responses are far apart ({@link ActiveRanking}). */
    ACTIVE;

    /** "basic" or "active" (case-insensitive). */
    public static RankingMethod parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown ranking method '" + text
                    + "' (expected basic or active)");
        }
    }

    /** The name used in files and on the command line. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
