package lady.resync;

import java.util.Locale;

import lady.LadyException;

/** What a group's neurons are compared by (method.md sections 4 and 6). */
public enum Signal {
    /** The paper: cosine similarity of the producer rows (weights). Default. */
    WEIGHTS,
    /** Ours: Pearson correlation of the neurons' outputs over a probe batch, the same images through
     * the reference and the suspect ({@link ActivationSignal}). */
    ACTIVATIONS;

    public static Signal parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown resync signal '" + text
                    + "' (expected weights or activations)");
        }
    }

    /** The lower-case name used on the command line and in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
