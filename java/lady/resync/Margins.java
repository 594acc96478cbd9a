package lady.resync;

import java.util.Locale;

import lady.LadyException;

/**
 * How the confidence margins of a group solved by the prefilter ({@link PrefilteredMatch}) are computed. A
 * margin is a reference neuron's matched similarity minus its best other one (method.md section 4). In every
 * mode a row whose margin would be below the low-margin threshold ({@link ResyncOptions#marginThreshold()}) gets
 * its exact margin, so the low-margin count is the dense path's and the minimum is exact whenever some row is low.
 */
public enum Margins {
    /** {@link #EXACT} when the resync's dense margin work is within {@link #AUTO_EXACT_BUDGET_FLOP}, else
     * {@link #BOUND}: resolved once per resync ({@link #resolve(double)}). Default. */
    AUTO,
    /** As the dense path computes them: the rows the sketch cannot settle get their full similarities, about
     * one dense similarity product per prefiltered group (bench/RESULTS.md). */
    EXACT,
    /** Lower bounds from the sketch: the best other confirmed candidate or the bound of every column left out,
     * whichever is larger; rows whose bound is below the low-margin threshold get their exact margin. No dense
     * product otherwise: what makes an LLM's groups affordable; reported as bounds. */
    BOUND;

    /**
     * The most dense margin work, in FLOP ({@link #resolve(double)}: the sum over the resync's groups of
     * 2 n^2 D, D the values per neuron of the group's first-pass evidence), for which {@link #AUTO} computes
     * exact margins: 2e12 FLOP is about 20 s of the native cosine kernel on the 2-core development machine
     * (its measured fp32 FMA peak is 128 GFLOP/s on both cores: 16 s at peak). Torchvision VGG16's whole
     * resync is 1.03e12 and stays exact (so its default margins equal the dense path's, issue 20), ResNet50 and
     * ViT-B/16 are far below; a Llama-3.2-1B pair is about 14e12 (16 MLP groups of 2 x 8192^2 x 6144 and the
     * stream), 110 s at least on that machine, which is why its margins are bounds by default.
     */
    public static final double AUTO_EXACT_BUDGET_FLOP = 2e12;

    public static Margins parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown margins '" + text
                    + "' (expected auto, exact or bound)");
        }
    }

    /**
     * What {@link #AUTO} becomes for a resync whose dense margin work is {@code denseFlop}: {@link #EXACT} within
     * {@link #AUTO_EXACT_BUDGET_FLOP}, else {@link #BOUND}.
     */
    public static Margins resolve(double denseFlop) {
        return denseFlop <= AUTO_EXACT_BUDGET_FLOP ? EXACT : BOUND;
    }

    /** This mode for a resync of {@code denseFlop} dense margin work: {@link #resolve} for {@link #AUTO}, else itself. */
    public Margins resolved(double denseFlop) {
        return this == AUTO ? resolve(denseFlop) : this;
    }

    /** The word of the command line and the report's {@code margins_mode}. */
    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }
}
