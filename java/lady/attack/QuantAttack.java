package lady.attack;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.HostTensor;

/**
 * Quantization (method.md 7): every Conv2d and Linear weight of the network (the names come from
 * {@link AttackContext#weights()}), per-tensor min-max with B bits:
 * {@code levels = 2^B - 1; scale = levels / (max - min); q = round(clamp((w - min) * scale, 0, levels));
 * w' = q / scale + min}, computed in double, rounded to float32 and stored in the tensor's dtype (bfloat16 and
 * float16 weights: rounded again to the nearest, so that each level may move by half a unit in the last place
 * of that dtype, and there are still at most 2^B distinct values); round half to even, like {@code torch.round}. A constant tensor (max == min) is left as it is. Biases and batch-norm
 * tensors are untouched. Deterministic (no randomness).
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
            long dim = state.get(name).dim();
            if (dim != 2 && dim != 4) {
                throw LadyException.invalidInput("tensor '" + name + "' has " + dim
                        + " dimensions: not a Conv2d (4-D) or Linear (2-D) weight");
            }
        }
        double levels = Math.pow(2, bits) - 1;
        List<String> changed = new ArrayList<>();
        int constant = 0;
        double maxError = 0;
        for (String name : names) {
            HostTensor t = state.get(name);
            float[] w = FloatData.read(name, t);
            if (w.length == 0) {
                continue;
            }
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (float v : w) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            if (Float.isInfinite(min) || Float.isInfinite(max)) {
                throw LadyException.invalidInput("tensor '" + name + "' contains an infinite value");
            }
            if (max == min) {
                constant++;
                continue;
            }
            double scale = levels / ((double) max - min);
            for (int i = 0; i < w.length; i++) {
                double x = (w[i] - (double) min) * scale;
                double q = Math.rint(Math.min(Math.max(x, 0), levels));
                float nw = FloatData.storable(t.dtype(), (float) (q / scale + min));
                maxError = Math.max(maxError, Math.abs((double) nw - w[i]));
                w[i] = nw;
            }
            FloatData.write(name, state.writable(name), w);
            changed.add(name);
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("bits", bits);
        d.put("levels", (long) levels);
        d.put("quantized_tensors", changed.size());
        d.put("constant_tensors", constant);
        d.put("max_abs_change", maxError);
        return new AttackResult(spec(), changed, d);
    }
}
