package lady.canon;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.permutation.Permutation;
import lady.report.Json;

/**
 * The canonical order of one permutation group.
 *
 * @param layer  the group's name (its producer module for chain groups, e.g. "features.17")
 * @param scores score of each neuron, in the model's own order (neuron i has {@code scores[i]})
 * @param order  the canonical order: {@code order[k]} is the neuron ranked k-th, by score descending,
 *               ties by exact score where there are ({@code exact}), then by lower index. Applying it as a
 *               permutation (method.md 2: new neuron k = old neuron {@code order[k]}) puts the group in
 *               canonical order
 * @param active for active ranking, the learned input and where the responses were taken; null for basic
 * @param exact  basic ranking: the scores before their rounding to float32 (the sums in double), which order
 *               neurons whose float32 scores are equal ({@link BasicRanking#rank}; a group of 14336 LLM MLP units
 *               has such pairs); null: none (ties by lower index)
 */
public record LayerOrder(String layer, float[] scores, Permutation order, ActiveInput active, double[] exact) {
    public LayerOrder {
        if (scores.length != order.size() || (exact != null && exact.length != scores.length)) {
            throw LadyException.invalidInput("layer '" + layer + "': " + scores.length + " scores"
                    + (exact == null ? "" : " and " + exact.length + " exact scores") + " but an order of "
                    + order.size() + " neurons");
        }
        scores = scores.clone();
        exact = exact == null ? null : exact.clone();
    }

    /** An order without exact scores. */
    public LayerOrder(String layer, float[] scores, Permutation order, ActiveInput active) {
        this(layer, scores, order, active, null);
    }

    /**
     * What active ranking learned for a group.
     *
     * @param module    the module whose pre-activation responses were used (the group's first producer,
     *                  or the next module with the authors' slice)
     * @param shape     the input's shape
     * @param input     the learned input, row-major
     * @param lossFirst loss at the initial input
     * @param lossLast  loss at the learned input
     */
    public record ActiveInput(String module, long[] shape, float[] input, double lossFirst, double lossLast) {
        public ActiveInput {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            if (n != input.length) {
                throw LadyException.invalidInput("the learned input of '" + module + "' has " + input.length
                        + " values but its shape " + java.util.Arrays.toString(shape) + " needs " + n);
            }
            shape = shape.clone();
            input = input.clone();
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("module", module);
            m.put("loss_first", lossFirst);
            m.put("loss_last", lossLast);
            m.put("input_shape", shape);
            m.put("input", widen(input));
            return m;
        }

        static ActiveInput fromJson(Object json, String what) {
            if (!(json instanceof Map<?, ?> m)) {
                throw LadyException.invalidInput(what + ": \"active\" must be an object");
            }
            if (!(m.get("input_shape") instanceof List<?> sl)) {
                throw LadyException.invalidInput(what + ": \"input_shape\" must be a list of sizes");
            }
            long[] shape = new long[sl.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(sl.get(i) instanceof Long v) || v < 1) {
                    throw LadyException.invalidInput(what + ": input_shape[" + i + "] is not a positive integer");
                }
                shape[i] = v;
            }
            Object first = m.get("loss_first");
            Object last = m.get("loss_last");
            return new ActiveInput(Json.stringField(m, "module", what), shape, Json.floatsField(m, "input", what),
                    first instanceof Number f ? f.doubleValue() : Double.NaN,
                    last instanceof Number l ? l.doubleValue() : Double.NaN);
        }
    }

    /** Neurons N. */
    public int size() {
        return scores.length;
    }

    /** The scores (a copy). */
    @Override
    public float[] scores() {
        return scores.clone();
    }

    /** The exact scores (a copy), or null. */
    @Override
    public double[] exact() {
        return exact == null ? null : exact.clone();
    }

    /** Neuron i's score as the order ranks it: its exact score when there are, else its float32 score. */
    private double rankScore(int i) {
        return exact != null ? exact[i] : scores[i];
    }

    /** Adjacent pairs of the canonical order with equal scores (their relative order is by index only). */
    public int ties() {
        int ties = 0;
        for (int k = 0; k + 1 < size(); k++) {
            if (rankScore(order.get(k)) == rankScore(order.get(k + 1))) {
                ties++;
            }
        }
        return ties;
    }

    /** The smallest score gap between neighbours of the canonical order (its confidence); +inf for N < 2. */
    public double minGap() {
        double gap = Double.POSITIVE_INFINITY;
        for (int k = 0; k + 1 < size(); k++) {
            gap = Math.min(gap, rankScore(order.get(k)) - rankScore(order.get(k + 1)));
        }
        return gap;
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("size", size());
        m.put("ties", ties());
        m.put("min_gap", size() < 2 ? null : minGap());
        m.put("order", order.toJson());
        m.put("scores", widen(scores));
        if (exact != null) {
            m.put("exact_scores", exact);
        }
        if (active != null) {
            m.put("active", active.toJson());
        }
        return m;
    }

    static LayerOrder fromJson(Object json, String what) {
        if (!(json instanceof Map<?, ?> m)) {
            throw LadyException.invalidInput(what + ": each entry of \"layers\" must be an object");
        }
        String layer = Json.stringField(m, "layer", what);
        String where = what + ", layer '" + layer + "'";
        float[] scores = Json.floatsField(m, "scores", where);
        Permutation order = Permutation.fromJson(m.get("order"), where + ": \"order\"");
        ActiveInput active = m.get("active") == null ? null : ActiveInput.fromJson(m.get("active"), where);
        double[] exact = m.get("exact_scores") == null ? null : Json.doublesField(m, "exact_scores", where);
        return new LayerOrder(layer, scores, order, active, exact);
    }

    /** float -> double exactly: Json writes the shortest decimal of the double, which parses back to the same float. */
    private static double[] widen(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
