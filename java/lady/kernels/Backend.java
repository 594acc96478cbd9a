package lady.kernels;

import java.util.Locale;

/** Which version of a kernel runs. Every version computes the same result as {@link #REFERENCE}. */
public enum Backend {
    /** The plain reference implementation (native/reference): slow, obviously correct. */
    REFERENCE,
    /** The optimized CPU implementation (native/cpu): threads, cache blocking, vector units. */
    CPU,
    /** The CUDA implementation (native/cuda); needs a GPU and a library built with nvcc. */
    CUDA;

    /** Parses "reference", "cpu" or "cuda" (any case). */
    public static Backend parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new lady.LadyException(lady.LadyException.Kind.USAGE,
                    "unknown backend '" + text + "' (expected reference, cpu or cuda)");
        }
    }
}
