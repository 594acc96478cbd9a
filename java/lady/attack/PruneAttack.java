package lady.attack;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.HostTensor;

/**
 * Magnitude pruning (method.md 7): zeroes the T % of the attacked layer's weight entries with the
 * smallest absolute value (local, unstructured). The count is {@code round(T / 100 * numel)}, half
 * to even, as {@code torch.nn.utils.prune} computes it. Ties at the threshold are broken by index
 * (lower flat index pruned first), so the result is deterministic. Rows (output neurons) left
 * entirely zero have no direction and cannot be matched by cosine: their count is reported
 * ("zero_rows") for the resync report to mention.
 *
 * @param percent T in [0, 100]
 */
public record PruneAttack(double percent) implements Attack {
    public PruneAttack {
        if (!(percent >= 0 && percent <= 100)) {
            throw new LadyException(LadyException.Kind.USAGE, "pruning rate T must be a percentage in [0, 100], got "
                    + percent);
        }
    }

    @Override
    public String kind() {
        return "prune";
    }

    @Override
    public double level() {
        return percent;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        String layer = context.requireLayer(kind());
        HostTensor t = state.get(layer);
        float[] w = FloatData.read(layer, t);
        int k = (int) Math.rint(percent / 100.0 * w.length);
        if (k > 0) {
            float[] magnitudes = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                magnitudes[i] = Math.abs(w[i]);
            }
            Arrays.sort(magnitudes);
            float threshold = magnitudes[k - 1]; // the k-th smallest magnitude
            int below = 0;
            for (float v : w) {
                if (Math.abs(v) < threshold) {
                    below++;
                }
            }
            int tiesToPrune = k - below;
            for (int i = 0; i < w.length; i++) {
                float a = Math.abs(w[i]);
                if (a < threshold) {
                    w[i] = 0f;
                } else if (a == threshold && tiesToPrune > 0) {
                    w[i] = 0f;
                    tiesToPrune--;
                }
            }
            FloatData.write(layer, state.writable(layer), w);
        }
        long rows = t.dim() == 0 ? 1 : t.size(0);
        int zeroRows = 0;
        if (rows > 0 && w.length > 0) {
            int rowLength = (int) (w.length / rows);
            for (int r = 0; r < rows; r++) {
                boolean allZero = true;
                for (int i = r * rowLength; i < (r + 1) * rowLength && allZero; i++) {
                    allZero = w[i] == 0f;
                }
                if (allZero) {
                    zeroRows++;
                }
            }
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("percent", percent);
        d.put("zeroed", k);
        d.put("entries", w.length);
        d.put("zero_rows", zeroRows);
        d.put("rows", rows);
        return new AttackResult(spec(), k > 0 ? List.of(layer) : List.of(), d);
    }
}
