package lady.model;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.graph.Node;
import lady.report.Json;

/**
 * The rotary frequencies of a Llama-family attention as transformers computes them (modeling_rope_utils):
 * the default {@code theta^(-2i/d)}, and the {@code rope_scaling} of config.json ({@code rope_type}, or the
 * older key {@code type}): {@code linear} (frequencies divided by the factor), {@code dynamic} (NTK: the base
 * grows for sequences longer than {@code max_position_embeddings}; shorter ones keep the default), {@code
 * llama3} (Llama 3.1: wavelengths longer than {@code original_max_position_embeddings / low_freq_factor} divided
 * by the factor, shorter than {@code original / high_freq_factor} kept, a smooth blend between). Other types
 * (yarn, longrope, ...) are named by {@link #unsupported()}: only Lady's forward pass needs the frequencies, so a
 * model with them is still permuted and resynchronized, never run.
 *
 * @param type         "default", "linear", "dynamic", "llama3", or the unsupported type as written
 * @param theta        rope_theta
 * @param factor       rope_scaling's factor (1 when absent)
 * @param low          low_freq_factor (llama3)
 * @param high         high_freq_factor (llama3)
 * @param originalMax  original_max_position_embeddings (llama3)
 * @param maxPositions max_position_embeddings (dynamic)
 */
record LlamaRope(String type, double theta, double factor, double low, double high, long originalMax, long maxPositions) {
    static final double DEFAULT_THETA = 10000.0;
    static final String DEFAULT = "default";
    private static final String ATTR = "rope_";

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
        return new LlamaRope(type, theta, number(m, "factor", 1), number(m, "low_freq_factor", 0),
                number(m, "high_freq_factor", 0), (long) number(m, "original_max_position_embeddings", 0), maxPositions);
    }

    /** Gemma 3's rope of its sliding layers: {@code rope_local_base_freq}, without scaling. */
    LlamaRope local(double localTheta) {
        return new LlamaRope(DEFAULT, localTheta, 1, 0, 0, 0, maxPositions);
    }

    private static double number(Map<?, ?> m, String key, double fallback) {
        return m.get(key) instanceof Number n ? n.doubleValue() : fallback;
    }

    /** Null when Lady's forward computes these frequencies, else why it cannot. */
    String unsupported() {
        if (!(theta > 0) || Double.isInfinite(theta)) {
            return "rope_theta " + theta + " (not a positive number) is not computed by Lady's forward pass";
        }
        boolean ok = switch (type) {
            case DEFAULT -> true;
            case "linear" -> factor > 0;
            case "dynamic" -> factor > 0 && maxPositions > 0;
            case "llama3" -> factor > 0 && low > 0 && high > low && originalMax > 0;
            default -> false;
        };
        return ok ? null : "rope_scaling of type '" + type + "'" + (switch (type) {
            case "linear", "dynamic", "llama3" -> " with these parameters";
            default -> "";
        }) + " is not computed by Lady's forward pass (default, linear, dynamic and llama3 are)";
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
        return a;
    }

    /** The rope of an attention node (as {@link #attrs()} wrote it; plain RoPE for a node without them). */
    static LlamaRope of(Node n) {
        return new LlamaRope(n.stringAttr(ATTR + "type", DEFAULT), n.doubleAttr("rope_theta", DEFAULT_THETA),
                n.doubleAttr(ATTR + "factor", 1.0), n.doubleAttr(ATTR + "low_freq_factor", 0.0),
                n.doubleAttr(ATTR + "high_freq_factor", 0.0), n.longAttr(ATTR + "original_max_positions", 0),
                n.longAttr("max_positions", 0));
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
