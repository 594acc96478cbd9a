package lady.attack;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.HostTensor;

/**
 * Magnitude pruning (method.md 7): zeroes the T % of the attacked layer's weight entries with the
 * smallest absolute value (local, unstructured; several layers: each on its own). The count is {@code round(T / 100 * numel)}, half
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
        List<String> layers = context.requireLayers(kind());
        List<String> changed = new ArrayList<>();
        long zeroed = 0;
        long entries = 0;
        long zeroRows = 0;
        long rows = 0;
        context.progress().start(spec(), layers.size(), "layers");
        for (String layer : layers) {
            HostTensor t = state.get(layer);
            float[] w = FloatData.read(layer, t);
            int k = prune(w);
            if (k > 0) {
                FloatData.write(layer, state.writable(layer), w);
                changed.add(layer);
            }
            long r = t.dim() == 0 ? 1 : t.size(0);
            zeroRows += zeroRows(w, r);
            rows += r;
            zeroed += k;
            entries += w.length;
            context.progress().advance(1, Map.of("layer", layer));
        }
        context.progress().finish();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("percent", percent);
        if (layers.size() > 1) { // each layer pruned on its own (local), as torch.nn.utils.prune per module
            d.put("layers", layers.size());
        }
        d.put("zeroed", zeroed);
        d.put("entries", entries);
        d.put("zero_rows", zeroRows);
        d.put("rows", rows);
        return new AttackResult(spec(), changed, d);
    }

    /** Zeroes the T % of {@code w}'s entries of smallest magnitude (ties by index); returns how many. */
    private int prune(float[] w) {
        int k = (int) Math.rint(percent / 100.0 * w.length);
        if (k == 0) {
            return 0;
        }
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
        return k;
    }

    /** Rows (output neurons) of {@code w} ({@code rows} of them) left entirely zero. */
    private static int zeroRows(float[] w, long rows) {
        int zero = 0;
        if (rows > 0 && w.length > 0) {
            int rowLength = (int) (w.length / rows);
            for (int r = 0; r < rows; r++) {
                boolean allZero = true;
                for (int i = r * rowLength; i < (r + 1) * rowLength && allZero; i++) {
                    allZero = w[i] == 0f;
                }
                if (allZero) {
                    zero++;
                }
            }
        }
        return zero;
    }
}
