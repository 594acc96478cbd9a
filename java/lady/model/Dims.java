package lady.model;

import java.util.Map;

import lady.LadyException;

/**
 * Where a family builder reads the sizes of a network: a checkpoint's shapes (every per-layer width the
 * checkpoint has, so a pruned or widened copy is described as it is), or the options of a new model
 * (widths scaled by {@link ModelOptions#width()}). A builder asks for a size with the value a new model
 * would have; a checkpoint that lacks the tensor answers that value too, and the comparison of the
 * built graph with the checkpoint then reports it as missing.
 */
public abstract class Dims {
    private final ModelOptions options;
    private final Map<String, ?> config;

    private Dims(ModelOptions options, Map<String, ?> config) {
        this.options = options;
        this.config = config == null ? Map.of() : config;
    }

    /** Sizes of a new model with {@code options}. */
    public static Dims of(ModelOptions options) {
        return new Dims(options, null) {
            @Override
            public long size(String tensor, int axis, long fallback) {
                return fallback;
            }

            @Override
            public boolean has(String tensor, boolean fallback) {
                return fallback;
            }

            @Override
            public boolean fromCheckpoint() {
                return false;
            }
        };
    }

    /** Sizes read off a checkpoint's tensor shapes; options (input size, classes) as given. */
    public static Dims of(Map<String, long[]> shapes, ModelOptions options) {
        return of(shapes, options, null);
    }

    /**
     * Sizes read off a checkpoint's tensor shapes, plus the checkpoint's configuration (a Hugging Face
     * folder's config.json: heads, KV heads, RoPE base, ... that no shape tells).
     */
    public static Dims of(Map<String, long[]> shapes, ModelOptions options, Map<String, ?> config) {
        return new Dims(options, config) {
            @Override
            public long size(String tensor, int axis, long fallback) {
                long[] s = shapes.get(tensor);
                return s != null && axis < s.length ? s[axis] : fallback;
            }

            @Override
            public boolean has(String tensor, boolean fallback) {
                return shapes.containsKey(tensor);
            }

            @Override
            public boolean fromCheckpoint() {
                return true;
            }

            @Override
            public java.util.Set<String> names() {
                return java.util.Collections.unmodifiableSet(shapes.keySet());
            }
        };
    }

    /** The checkpoint's tensor names (empty for a new model). */
    public java.util.Set<String> names() {
        return java.util.Set.of();
    }

    /** Every checkpoint tensor's shape by name, in the checkpoint's order (empty for a new model). */
    public java.util.Map<String, long[]> shapes() {
        java.util.Map<String, long[]> out = new java.util.LinkedHashMap<>();
        names().forEach(t -> out.put(t, shape(t)));
        return out;
    }

    /** Size of axis {@code axis} of {@code tensor}, or {@code fallback} for a new model. */
    public abstract long size(String tensor, int axis, long fallback);

    /** Whether {@code tensor} exists (a checkpoint), or {@code fallback} (a new model). */
    public abstract boolean has(String tensor, boolean fallback);

    /** The shape of a checkpoint's tensor {@code tensor} (empty when it is a scalar or absent). */
    public long[] shape(String tensor) {
        int rank = 0;
        while (size(tensor, rank, -1) >= 0) {
            rank++;
        }
        long[] s = new long[rank];
        for (int a = 0; a < rank; a++) {
            s[a] = size(tensor, a, -1);
        }
        return s;
    }

    /** Whether the sizes come from a checkpoint. */
    public abstract boolean fromCheckpoint();

    /** Output channels of the layer whose weight is {@code weight}: the checkpoint's, or {@code base} scaled by the width. */
    public long out(String weight, long base) {
        return size(weight, 0, options.scale(base));
    }

    /** Output channels of {@code weight}, or {@code exact} (not scaled) for a new model. */
    public long outExact(String weight, long exact) {
        return size(weight, 0, exact);
    }

    /** Whether a config.json came with the checkpoint (a Hugging Face folder's, or one beside a file). */
    public boolean hasConfig() {
        return !config.isEmpty();
    }

    /** A value of the checkpoint's configuration (config.json), or null. */
    public Object config(String key) {
        return config.get(key);
    }

    /** An integer of the configuration, or {@code fallback} when it gives none (absent or null); a non-integer refused. */
    public long configLong(String key, long fallback) {
        Number n = number(key);
        if (n == null) {
            return fallback;
        }
        if (n.doubleValue() != Math.rint(n.doubleValue())) {
            throw LadyException.invalidInput("config.json gives " + key + " " + n + ", not a whole number");
        }
        return n.longValue();
    }

    /** A number of the configuration, or {@code fallback} when it gives none (absent or null); a non-number refused. */
    public double configDouble(String key, double fallback) {
        Number n = number(key);
        return n == null ? fallback : n.doubleValue();
    }

    /** The configuration's number {@code key}, null when absent or null; any other value refused, naming it. */
    private Number number(String key) {
        Object v = config.get(key);
        if (v == null || v instanceof Number) {
            return (Number) v;
        }
        throw LadyException.invalidInput("config.json gives " + key + " " + lady.util.Text.quote(String.valueOf(v))
                + ", not a number");
    }

    /** The options of a new model (for a checkpoint: the caller's, e.g. the input size). */
    public ModelOptions options() {
        return options;
    }
}
