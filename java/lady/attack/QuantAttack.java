package lady.attack;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.IndexedTensor;
import lady.util.Parallel;

/**
 * Quantization (method.md 7): every Conv2d and Linear weight of the network (the names come from
 * {@link AttackContext#weights()}), per-tensor min-max with B bits:
 * {@code levels = 2^B - 1; scale = levels / (max - min); q = round(clamp((w - min) * scale, 0, levels));
 * w' = q / scale + min}, computed in double, rounded to float32 and stored in the tensor's dtype (bfloat16 and
 * float16 weights: rounded again to the nearest, so that each level may move by half a unit in the last place
 * of that dtype, and there are still at most 2^B distinct values); round half to even, like {@code torch.round}.
 * A constant tensor (max == min) is left as it is. Biases and batch-norm tensors are untouched. Deterministic
 * (no randomness). The weights are read in chunks (their range, then the change) and quantized lazily
 * ({@link StateDict#mapValuesLazily}) as they are written or next read: a bfloat16 7B model is attacked in
 * bounded memory.
 *
 * @param bits B, 1 to 24
 */
public record QuantAttack(int bits) implements Attack {
    public QuantAttack {
        if (bits < 1 || bits > 24) {
            throw new LadyException(LadyException.Kind.USAGE, "quantization bits B must be an integer in [1, 24], got "
                    + bits);
        }
    }

    @Override
    public String kind() {
        return "quant";
    }

    @Override
    public double level() {
        return bits;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        List<String> names = context.weights();
        if (names.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE,
                    "the quant attack needs the names of the network's Conv2d and Linear weights (none given)");
        }
        for (String name : names) { // validate all before changing any
            long dim = state.shape(name).length; // the shape alone: get() would gather a lazily permuted tensor
            if (dim != 2 && dim != 4) {
                throw LadyException.invalidInput("tensor '" + name + "' has " + dim
                        + " dimensions: not a Conv2d (4-D) or Linear (2-D) weight");
            }
        }
        double levels = Math.pow(2, bits) - 1;
        List<String> changed = new ArrayList<>();
        int constant = 0;
        double maxError = 0;
        context.progress().start(spec(), names.size(), "tensors");
        for (String name : names) {
            context.progress().advance(1);
            IndexedTensor t = state.streamed(name); // read in chunks, changed lazily: never a copy of the model
            FloatData.check(name, t.dtype());
            float[] range = range(name, t);
            float min = range[0];
            float max = range[1];
            if (t.numel() == 0) {
                continue;
            }
            if (max == min) {
                constant++;
                continue;
            }
            double scale = levels / ((double) max - min);
            IndexedTensor.ValueMap quantize = quantizer(min, scale, levels, t.dtype());
            maxError = Math.max(maxError, maxChange(t, quantize));
            state.mapValuesLazily(name, quantize);
            changed.add(name);
        }
        context.progress().finish();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("bits", bits);
        d.put("levels", (long) levels);
        d.put("quantized_tensors", changed.size());
        d.put("constant_tensors", constant);
        d.put("max_abs_change", maxError);
        return new AttackResult(spec(), changed, d);
    }

    /** Levels up to which the stored value of each level is computed once, in a table (2^16: 256 KB). */
    static final int TABLE_LEVELS = 1 << 16;

    /**
     * The change of one tensor: {@code x = (w - min) scale; q = rint(clamp(x, 0, levels)); w' = q / scale + min} in
     * double, rounded to float32, then as stored in {@code dtype}. With at most {@link #TABLE_LEVELS} levels, w' of
     * each level is computed once (the same expression, the same value) and looked up.
     */
    static IndexedTensor.ValueMap quantizer(float min, double scale, double levels, DType dtype) {
        if (levels > TABLE_LEVELS) {
            return (v, n) -> {
                for (int i = 0; i < n; i++) {
                    double x = (v[i] - (double) min) * scale;
                    double q = Math.rint(Math.min(Math.max(x, 0), levels));
                    v[i] = FloatData.storable(dtype, (float) (q / scale + min));
                }
            };
        }
        float[] stored = new float[(int) levels + 1];
        for (int q = 0; q < stored.length; q++) {
            stored[q] = FloatData.storable(dtype, (float) (q / scale + min));
        }
        return (v, n) -> {
            for (int i = 0; i < n; i++) {
                double x = (v[i] - (double) min) * scale;
                v[i] = stored[(int) Math.rint(Math.min(Math.max(x, 0), levels))];
            }
        };
    }

    /** {min, max} of the tensor's values; NaN and infinite values refused. Read on the threads, in parts. */
    private static float[] range(String name, IndexedTensor t) {
        int parts = Parallel.threads();
        float[][] r = new float[parts][];
        boolean[] nan = new boolean[parts];
        stream(t, parts, part -> {
            r[part] = new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
            return (v, n) -> {
                float min = r[part][0];
                float max = r[part][1];
                boolean bad = false;
                for (int i = 0; i < n; i++) {
                    float x = v[i];
                    bad |= x != x;
                    min = Math.min(min, x);
                    max = Math.max(max, x);
                }
                r[part][0] = min;
                r[part][1] = max;
                nan[part] |= bad;
            };
        });
        float[] out = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (int p = 0; p < parts; p++) { // min and max of the parts: the same whatever the parts
            if (r[p] != null) {
                out[0] = Math.min(out[0], r[p][0]);
                out[1] = Math.max(out[1], r[p][1]);
            }
            if (nan[p]) {
                throw LadyException.invalidInput("tensor '" + name + "' contains NaN");
            }
        }
        if (t.numel() > 0 && (Float.isInfinite(out[0]) || Float.isInfinite(out[1]))) {
            throw LadyException.invalidInput("tensor '" + name + "' contains an infinite value");
        }
        return out;
    }

    /** The largest |quantized - original| over the tensor's values (the stored change). Read on the threads. */
    private static double maxChange(IndexedTensor t, IndexedTensor.ValueMap quantize) {
        int parts = Parallel.threads();
        double[] max = new double[parts];
        stream(t, parts, part -> {
            float[][] copy = {new float[0]};
            return (v, n) -> {
                if (copy[0].length < n) {
                    copy[0] = new float[n];
                }
                float[] q = copy[0];
                System.arraycopy(v, 0, q, 0, n);
                quantize.apply(q, n);
                double m = max[part];
                for (int i = 0; i < n; i++) {
                    m = Math.max(m, Math.abs((double) q[i] - v[i]));
                }
                max[part] = m;
            };
        });
        double m = 0;
        for (double x : max) {
            m = Math.max(m, x);
        }
        return m;
    }

    private static void stream(IndexedTensor t, int parts, java.util.function.IntFunction<IndexedTensor.FloatChunkSink> sinks) {
        try {
            t.streamValues(parts, sinks);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // the sinks here do no IO
        }
    }
}
