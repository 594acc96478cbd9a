package lady.resync;

import java.util.Locale;

import lady.LadyException;

/** Which weight evidence the resync with the reference reads (method.md section 4). */
public enum EvidenceScope {
    /** The paper: the producers' rows only (always so for the argmax method, the paper's faithful mode). */
    PRODUCERS,
    /** The producers' rows, the neurons' bias and batch-norm values, and the consumers' columns. Default. */
    ALL;

    public static EvidenceScope parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown evidence '" + text + "' (expected all or producers)");
        }
    }

    /** The lower-case name used on the command line and in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
