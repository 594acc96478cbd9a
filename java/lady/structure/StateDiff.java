package lady.structure;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.checkpoint.StateDict;

/**
 * How far one state dict is from another, tensor by tensor, relative to each tensor's scale: the measure of
 * issue 18's acceptance ("every tensor within relative 1e-4 of the original's").
 */
public final class StateDiff {
    private StateDiff() {}

    /**
     * Two state dicts hold the same network up to float rounding when every tensor agrees within this, relative to its
     * largest magnitude (issue 18's bound for a model restored from a purely structural attack; float32 rounding of the
     * few operations involved leaves about 1e-7).
     */
    public static final double SAME_REL = 1e-4;

    /**
     * Unit roundoffs of the storage format that a restored tensor may differ by, relative to its largest magnitude, in
     * a half-precision model: a split neuron's two shares are each rounded to the format when stored, and their sum
     * comes back within about two of its units (a bfloat16 Llama's down projection: 1.3 units of 2^-8).
     */
    public static final double SAME_ROUNDOFFS = 4;

    /**
     * The largest relative difference ({@link #relative}) of two state dicts that hold the same network:
     * {@link #SAME_REL}, or {@link #SAME_ROUNDOFFS} unit roundoffs of the coarsest floating-point format among their
     * tensors when that is more (bfloat16: 0.016, float16: 0.002).
     */
    public static double sameRel(StateDict a, StateDict b) {
        double u = 0;
        for (StateDict s : new StateDict[] {a, b}) {
            for (String name : s.names()) {
                lady.tensor.DType d = s.indexed(name).dtype();
                if (d.floating()) {
                    u = Math.max(u, Floats.unitRoundoff(s, name));
                }
            }
        }
        return Math.max(SAME_REL, SAME_ROUNDOFFS * u);
    }

    /**
     * Per tensor of {@code a}, in its order, {@code max |a - b| / max |a|} (the absolute difference for an all-zero
     * tensor); null when the two do not have the same names and shapes.
     */
    public static Map<String, Double> relative(StateDict a, StateDict b) {
        if (!a.names().equals(b.names())) {
            return null;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        for (String name : a.names()) {
            if (!java.util.Arrays.equals(a.shape(name), b.shape(name))) {
                return null;
            }
            float[] x = Floats.values(a, name);
            float[] y = Floats.values(b, name);
            double scale = 0;
            double diff = 0;
            for (int i = 0; i < x.length; i++) {
                scale = Math.max(scale, Math.abs(x[i]));
                diff = Math.max(diff, Math.abs((double) x[i] - y[i]));
            }
            out.put(name, scale == 0 ? diff : diff / scale);
        }
        return out;
    }

    /** The largest of {@link #relative}; infinite when names or shapes differ. */
    public static double max(StateDict a, StateDict b) {
        Map<String, Double> d = relative(a, b);
        return d == null ? Double.POSITIVE_INFINITY : max(d);
    }

    /** The largest of the per-tensor differences {@code relative} ({@link #relative}'s non-null result); 0 for none. */
    public static double max(Map<String, Double> relative) {
        return relative.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }
}
