package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.graph.Node;
import lady.report.Json;

/**
 * The rotary frequencies of a Llama-family attention as transformers computes them (modeling_rope_utils):
 * the default {@code theta^(-2i/d)}, and the {@code rope_scaling} of config.json ({@code rope_type}, or the
 * older key {@code type}): {@code linear} (frequencies divided by the factor), {@code dynamic} (NTK: the base
 * grows for sequences longer than {@code max_position_embeddings}; shorter ones keep the default), {@code
 * llama3} (Llama 3.1: wavelengths longer than {@code original_max_position_embeddings / low_freq_factor} divided
 * by the factor, shorter than {@code original / high_freq_factor} kept, a smooth blend between), {@code longrope}
 * (Phi-3's 128k variants, Phi-3.5, Phi-4-mini: each frequency divided by its short_factor, or long_factor past
 * original_max_position_embeddings, cos and sin scaled by the attention factor: {@link #cosSinScale()}). Other types
 * (yarn, ...) are named by {@link #unsupported(long)}: only Lady's forward pass needs the frequencies, so a
 * model with them is still permuted and resynchronized, never run.
 *
 * @param type         "default", "linear", "dynamic", "llama3", or the unsupported type as written
 * @param theta        rope_theta
 * @param factor       rope_scaling's factor (1 when absent)
 * @param low          low_freq_factor (llama3)
 * @param high         high_freq_factor (llama3)
 * @param originalMax  original_max_position_embeddings (llama3)
 * @param maxPositions max_position_embeddings (dynamic, longrope)
 * @param shortFactor  longrope's short_factor (null for the other types)
 * @param longFactor   longrope's long_factor (null for the other types)
 * @param attentionFactor longrope's attention_factor (NaN: derived, {@link #cosSinScale()})
 */
record LlamaRope(String type, double theta, double factor, double low, double high, long originalMax, long maxPositions,
        double[] shortFactor, double[] longFactor, double attentionFactor) {
    static final double DEFAULT_THETA = 10000.0;
    static final String DEFAULT = "default";
    /**
     * Qwen2-VL's multimodal rotary embedding (mrope_section splits each head's pairs between temporal, height and width
     * positions): on text, whose three positions are equal, the default frequencies, which is what Lady's forward runs.
     */
    static final String MROPE = "mrope";
    private static final String ATTR = "rope_";
    /** LongRoPE (Phi-3's 128k variants, Phi-3.5, Phi-4-mini). */
    static final String LONGROPE = "longrope";

    LlamaRope(String type, double theta, double factor, double low, double high, long originalMax, long maxPositions) {
        this(type, theta, factor, low, high, originalMax, maxPositions, null, null, Double.NaN);
    }

    /**
     * The rope of a configuration (config.json): {@code rope_theta} and {@code rope_scaling}, or, where those are
     * absent, {@code rope_parameters} (newer transformers versions put both there: {@code {"rope_theta": ...,
     * "rope_type": ..., "factor": ...}}); {@code max_position_embeddings}.
     */
    static LlamaRope of(Dims d) {
        Object parameters = d.config("rope_parameters");
        double theta = d.configDouble("rope_theta", parameters instanceof Map<?, ?> p
                ? number(p, "rope_theta", DEFAULT_THETA) : DEFAULT_THETA);
        long maxPositions = d.configLong("max_position_embeddings", 0);
        Object scaling = d.config("rope_scaling") != null ? d.config("rope_scaling") : parameters;
        if (scaling == null) {
            return new LlamaRope(DEFAULT, theta, 1, 0, 0, 0, maxPositions);
        }
        if (!(scaling instanceof Map<?, ?> m)) {
            return new LlamaRope("rope_scaling " + Json.write(scaling), theta, 1, 0, 0, 0, maxPositions);
        }
        Object t = m.get("rope_type") != null ? m.get("rope_type") : m.get("type");
        String type = t instanceof String s ? s : DEFAULT;
        if (type.equals(MROPE)) { // a text token's temporal, height and width positions are one: the default frequencies
            type = DEFAULT;
        }
        // Phi-3 keeps original_max_position_embeddings beside rope_scaling, newer versions inside it
        long originalMax = (long) number(m, "original_max_position_embeddings", d.configLong(
                "original_max_position_embeddings", 0));
        if (type.equals(LONGROPE)) {
            return new LlamaRope(type, theta, number(m, "factor", Double.NaN), 0, 0, originalMax, maxPositions,
                    numbers(m.get("short_factor")), numbers(m.get("long_factor")), number(m, "attention_factor", Double.NaN));
        }
        return new LlamaRope(type, theta, number(m, "factor", 1), number(m, "low_freq_factor", 0),
                number(m, "high_freq_factor", 0), originalMax, maxPositions);
    }

    /** A JSON list of numbers as doubles; null when it is not one. */
    private static double[] numbers(Object list) {
        if (!(list instanceof List<?> l)) {
            return null;
        }
        double[] out = new double[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Number n)) {
                return null;
            }
            out[i] = n.doubleValue();
        }
        return out;
    }

    /**
     * LongRoPE's scale of cos and sin: rope_scaling's attention_factor, else sqrt(1 + ln f / ln original) for f =
     * factor (or, absent, max_position_embeddings / original_max_position_embeddings) above 1, else 1; 1 for the
     * other types.
     */
    double cosSinScale() {
        if (!type.equals(LONGROPE)) {
            return 1;
        }
        if (!Double.isNaN(attentionFactor)) {
            return attentionFactor;
        }
        double f = !Double.isNaN(factor) ? factor : (double) maxPositions / originalMax;
        return f <= 1 ? 1 : Math.sqrt(1 + Math.log(f) / Math.log(originalMax));
    }

    /** This rope with base {@code base} (GPT-NeoX's rotary_emb_base). */
    LlamaRope withTheta(double base) {
        return new LlamaRope(type, base, factor, low, high, originalMax, maxPositions, shortFactor, longFactor,
                attentionFactor);
    }

    /** Gemma 3's rope of its sliding layers: {@code rope_local_base_freq}, without scaling. */
    LlamaRope local(double localTheta) {
        return new LlamaRope(DEFAULT, localTheta, 1, 0, 0, 0, maxPositions);
    }

    private static double number(Map<?, ?> m, String key, double fallback) {
        return m.get(key) instanceof Number n ? n.doubleValue() : fallback;
    }

    /** Null when Lady's forward computes these frequencies for a head whose first {@code rotaryDim} dimensions rotate. */
    String unsupported(long rotaryDim) {
        if (!(theta > 0) || Double.isInfinite(theta)) {
            return "rope_theta " + theta + " (not a positive number) is not computed by Lady's forward pass";
        }
        boolean ok = switch (type) {
            case DEFAULT -> true;
            case "linear" -> factor > 0;
            case "dynamic" -> factor > 0 && maxPositions > 0;
            case "llama3" -> factor > 0 && low > 0 && high > low && originalMax > 0;
            case LONGROPE -> originalMax > 1 && shortFactor != null && longFactor != null
                    && shortFactor.length == rotaryDim / 2 && longFactor.length == rotaryDim / 2 && positive(shortFactor)
                    && positive(longFactor) && (Double.isNaN(factor) ? maxPositions > 0 : factor > 0)
                    && (Double.isNaN(attentionFactor) || attentionFactor > 0);
            default -> false;
        };
        return ok ? null : "rope_scaling of type '" + type + "'" + (switch (type) {
            case "linear", "dynamic", "llama3", LONGROPE -> " with these parameters";
            default -> "";
        }) + " is not computed by Lady's forward pass (default, linear, dynamic, llama3 and longrope are)";
    }

    private static boolean positive(double[] v) {
        for (double x : v) {
            if (!(x > 0) || Double.isInfinite(x)) {
                return false;
            }
        }
        return true;
    }

    /** The attributes of an {@link lady.graph.Op#ATTENTION_GQA} node that carry this rope. */
    Map<String, Object> attrs() {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("rope_theta", theta);
        a.put(ATTR + "type", type);
        a.put(ATTR + "factor", factor);
        a.put(ATTR + "low_freq_factor", low);
        a.put(ATTR + "high_freq_factor", high);
        a.put(ATTR + "original_max_positions", originalMax);
        a.put("max_positions", maxPositions);
        if (type.equals(LONGROPE)) { // (node attributes hold no list of doubles: the lists as JSON)
            a.put(ATTR + "short_factor", Json.write(shortFactor));
            a.put(ATTR + "long_factor", Json.write(longFactor));
            a.put(ATTR + "attention_factor", attentionFactor);
        }
        return a;
    }

    /** The rope of an attention node (as {@link #attrs()} wrote it; plain RoPE for a node without them). */
    static LlamaRope of(Node n) {
        String shortFactor = n.stringAttr(ATTR + "short_factor", null);
        String longFactor = n.stringAttr(ATTR + "long_factor", null);
        return new LlamaRope(n.stringAttr(ATTR + "type", DEFAULT), n.doubleAttr("rope_theta", DEFAULT_THETA),
                n.doubleAttr(ATTR + "factor", 1.0), n.doubleAttr(ATTR + "low_freq_factor", 0.0),
                n.doubleAttr(ATTR + "high_freq_factor", 0.0), n.longAttr(ATTR + "original_max_positions", 0),
                n.longAttr("max_positions", 0), shortFactor == null ? null : numbers(Json.parse(shortFactor)),
                longFactor == null ? null : numbers(Json.parse(longFactor)), n.doubleAttr(ATTR + "attention_factor",
                        Double.NaN));
    }

    /**
     * The inverse frequencies [headDim / 2] for sequences of {@code seq} positions: from {@code stored} (the
     * rotary_emb.inv_freq buffer older transformers versions saved, or null) or the base, then scaled.
     */
    double[] invFreq(long headDim, long seq, double[] stored) {
        int half = Math.toIntExact(headDim / 2);
        double base = theta;
        boolean grown = type.equals("dynamic") && seq > maxPositions;
        if (grown) {
            base = theta * Math.pow(factor * seq / maxPositions - (factor - 1), (double) headDim / (headDim - 2));
        }
        double[] f = new double[half];
        for (int i = 0; i < half; i++) {
            f[i] = stored != null && !grown ? stored[i] : 1.0 / Math.pow(base, 2.0 * i / headDim);
        }
        if (type.equals(LONGROPE)) { // the long factors for sequences past the original length, else the short
            double[] ext = seq > originalMax ? longFactor : shortFactor;
            for (int i = 0; i < half; i++) {
                f[i] /= ext[i];
            }
        }
        if (type.equals("linear")) {
            for (int i = 0; i < half; i++) {
                f[i] /= factor;
            }
        } else if (type.equals("llama3")) {
            double lowWavelength = originalMax / low;
            double highWavelength = originalMax / high;
            for (int i = 0; i < half; i++) {
                double wavelength = 2 * Math.PI / f[i];
                if (wavelength > lowWavelength) {
                    f[i] /= factor;
                } else if (wavelength >= highWavelength) {
                    double smooth = (originalMax / wavelength - low) / (high - low);
                    f[i] = (1 - smooth) * f[i] / factor + smooth * f[i];
                }
            }
        }
        return f;
    }
}
