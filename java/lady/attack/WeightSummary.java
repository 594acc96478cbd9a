package lady.attack;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.tensor.HostTensor;

/** What an attack left in a weight: its entries, zeros, distinct values and spread (lady attack's report). */
public final class WeightSummary {
    private WeightSummary() {}

    /**
     * Entries, zeros, distinct values and population std of a float tensor, as the JSON object {@code lady attack}
     * prints per changed weight: name, entries, zeros, distinct, std.
     */
    public static Map<String, Object> of(String name, HostTensor t) {
        float[] a = t.readFloats();
        long n = a.length;
        long zeros = 0;
        int[] bits = new int[a.length];
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            float v = a[i];
            zeros += v == 0f ? 1 : 0;
            bits[i] = Float.floatToIntBits(v == 0f ? 0f : v);
            sum += v;
        }
        java.util.Arrays.sort(bits); // distinct values by sorting: a hash set of millions of boxed values took seconds
        int distinct = 0;
        for (int i = 0; i < bits.length; i++) {
            if (i == 0 || bits[i] != bits[i - 1]) {
                distinct++;
            }
        }
        double mean = n == 0 ? 0 : sum / n;
        double ss = 0;
        for (float v : a) {
            ss += (v - mean) * (v - mean);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("entries", n);
        m.put("zeros", zeros);
        m.put("distinct", distinct);
        m.put("std", n == 0 ? 0.0 : Math.sqrt(ss / n));
        return m;
    }
}
