package lady.resync;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How a resync's confidence margins were computed, and why: the mode asked for, what it resolved to
 * ({@link Margins#resolve}), the dense margin work that decided it, and how many groups report lower bounds.
 *
 * @param requested   the mode asked for ({@link Margins#AUTO} by default)
 * @param mode        what the resync ran with: {@link Margins#EXACT} or {@link Margins#BOUND}
 * @param denseFlop   the resync's dense margin work: the sum over its groups of 2 n^2 D, D the values per neuron of
 *                    the group's first-pass evidence (from the tensors' shapes)
 * @param threshold   the low-margin threshold: a margin below it is always exact
 * @param boundGroups groups whose reported margins include lower bounds (prefiltered with {@link Margins#BOUND},
 *                    or kept by a later pass's certificate, whose margins are lower bounds in every mode)
 */
public record MarginsChoice(Margins requested, Margins mode, double denseFlop, double threshold, int boundGroups) {

    /** The report's {@code margins} sentence: what was computed, and why. */
    public String label() {
        String work = "about " + flop(denseFlop) + " of dense products here";
        String low = String.format(Locale.ROOT, "rows below %s exact", number(threshold));
        if (mode == Margins.BOUND) {
            String why = work + (requested == Margins.AUTO ? ", over --margins auto's "
                    + flop(Margins.AUTO_EXACT_BUDGET_FLOP) + " budget" : "");
            if (boundGroups == 0) {
                return "exact in every group (" + (denseFlop == 0 ? "dense similarities only"
                        : "bounds were allowed: exact ones cost " + why) + ")";
            }
            return "lower bounds on prefiltered groups (exact: " + why + "; --margins exact computes them); " + low
                    + "; " + boundGroups + " group(s) report lower bounds";
        }
        String why = denseFlop == 0 ? "dense similarities only" : requested == Margins.AUTO ? work
                + ", within --margins auto's " + flop(Margins.AUTO_EXACT_BUDGET_FLOP) + " budget" : "--margins exact";
        return "exact (" + why + ")" + (boundGroups == 0 ? "" : "; " + boundGroups
                + " group(s) kept by a later pass's certificate report its lower bounds, " + low);
    }

    /** The report's fields: {@code margins} (the sentence), {@code margins_mode}, {@code margins_dense_flop}, ... */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("margins", label());
        m.put("margins_mode", mode.word());
        m.put("margins_requested", requested.word());
        m.put("margins_dense_flop", denseFlop);
        m.put("margins_budget_flop", Margins.AUTO_EXACT_BUDGET_FLOP);
        m.put("margins_bound_groups", boundGroups);
        return m;
    }

    /** A FLOP count for a reader: "14 TFLOP", "0.93 TFLOP", "350 GFLOP". */
    static String flop(double f) {
        String[] units = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"};
        int u = 0;
        while (f >= 1000 && u < units.length - 1) {
            f /= 1000;
            u++;
        }
        return number(f) + " " + units[u];
    }

    /** Two significant digits below 10 (no trailing zeros), whole numbers from 10 up. */
    private static String number(double v) {
        if (v >= 10) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        String s = String.format(Locale.ROOT, "%.2g", v);
        return s.contains(".") && !s.contains("e") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
    }
}
