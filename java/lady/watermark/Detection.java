package lady.watermark;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The watermark read from a model with a key.
 *
 * @param layer     the watermarked weight tensor
 * @param extracted the extracted bits: {@code round(sigmoid(X w_bar))}, i.e. {@code X w_bar > 0}
 * @param expected  the key's bits
 * @param errors    Hamming distance between the two
 * @param berPct    bit error rate, {@code 100 * errors / T}
 * @param minMargin smallest {@code |X w_bar|} over the bits read correctly (how far from flipping); 0 when none
 */
public record Detection(String layer, int[] extracted, int[] expected, int errors, double berPct, double minMargin) {

    /** T, the number of bits. */
    public int size() {
        return expected.length;
    }

    /** The extracted bits as a string of 0 and 1. */
    public String extractedString() {
        return bitString(extracted);
    }

    static String bitString(int[] bits) {
        StringBuilder sb = new StringBuilder(bits.length);
        for (int b : bits) {
            sb.append(b);
        }
        return sb.toString();
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("T", expected.length);
        m.put("errors", errors);
        m.put("ber_pct", berPct);
        m.put("min_margin", minMargin);
        m.put("extracted", bitString(extracted));
        m.put("expected", bitString(expected));
        return m;
    }
}
