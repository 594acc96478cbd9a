package lady.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The rotary frequencies of config.json's rope_scaling (the folder tests compare the whole forward pass with the
 * script's, which computes them as transformers does; these are the cases a short sequence does not reach).
 */
class LlamaRopeTest {
    static final long HEAD_DIM = 16;

    private static LlamaRope rope(Map<String, Object> config) {
        return LlamaRope.of(Dims.of(Map.of(), ModelOptions.defaults(), config));
    }

    private static Map<String, Object> config(Object scaling) {
        Map<String, Object> c = new HashMap<>();
        c.put("rope_theta", 500000.0);
        c.put("max_position_embeddings", 128L);
        c.put("rope_scaling", scaling);
        return c;
    }

    @Test
    void defaultLinearAndDynamic() {
        double[] plain = rope(config(null)).invFreq(HEAD_DIM, 7, null);
        assertEquals(1.0, plain[0], 0.0);
        assertEquals(Math.pow(500000.0, -2.0 / HEAD_DIM), plain[1], 1e-15);
        assertNull(rope(config(null)).unsupported(HEAD_DIM));

        double[] linear = rope(config(Map.of("type", "linear", "factor", 4.0))).invFreq(HEAD_DIM, 7, null);
        for (int i = 0; i < plain.length; i++) {
            assertEquals(plain[i] / 4, linear[i], 1e-15);
        }
        double[] stored = {1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125};
        assertEquals(0.25 / 4, rope(config(Map.of("type", "linear", "factor", 4.0))).invFreq(HEAD_DIM, 7, stored)[2], 0.0);

        LlamaRope dynamic = rope(config(Map.of("rope_type", "dynamic", "factor", 2.0)));
        assertArrayEquals(plain, dynamic.invFreq(HEAD_DIM, 128, null), 0.0, "up to max_position_embeddings: the default");
        double[] longer = dynamic.invFreq(HEAD_DIM, 256, null);
        double base = 500000.0 * Math.pow(2.0 * 256 / 128 - 1, HEAD_DIM / (HEAD_DIM - 2.0));
        assertEquals(Math.pow(base, -2.0 / HEAD_DIM), longer[1], 1e-15);
        assertTrue(longer[1] < plain[1]);
    }

    @Test
    void llama3KeepsShortWavelengthsDividesLongOnesAndBlendsBetween() {
        Map<String, Object> scaling = Map.of("rope_type", "llama3", "factor", 8.0, "low_freq_factor", 1.0,
                "high_freq_factor", 4.0, "original_max_position_embeddings", 256L);
        double[] plain = rope(config(null)).invFreq(HEAD_DIM, 7, null);
        double[] f = rope(config(scaling)).invFreq(HEAD_DIM, 7, null);
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < f.length; i++) {
            double wavelength = 2 * Math.PI / plain[i];
            if (wavelength < 64) {
                assertEquals(plain[i], f[i], 0.0);
                kept++;
            } else if (wavelength > 256) {
                assertEquals(plain[i] / 8, f[i], 1e-18);
                divided++;
            } else {
                double smooth = (256 / wavelength - 1) / 3;
                assertEquals((1 - smooth) * plain[i] / 8 + smooth * plain[i], f[i], 1e-15);
                blended++;
            }
        }
        assertTrue(kept > 0 && divided > 0 && blended > 0, kept + " " + divided + " " + blended);

        // newer configurations put theta and the scaling in rope_parameters: the same frequencies
        Map<String, Object> parameters = new HashMap<>(scaling);
        parameters.put("rope_theta", 500000.0);
        Map<String, Object> newer = config(null);
        newer.remove("rope_theta");
        newer.remove("rope_scaling");
        newer.put("rope_parameters", parameters);
        assertArrayEquals(f, rope(newer).invFreq(HEAD_DIM, 7, null), 0.0);
    }

    @Test
    void otherTypesAreNamedNotComputed() {
        assertTrue(rope(config(Map.of("rope_type", "yarn", "factor", 4.0))).unsupported(HEAD_DIM).contains("'yarn'"));
        assertTrue(rope(config(Map.of("rope_type", "llama3", "factor", 8.0))).unsupported(HEAD_DIM).contains("parameters"));
        String notAMap = rope(config("linear")).unsupported(HEAD_DIM);
        assertTrue(notAMap.startsWith("rope_scaling") && notAMap.contains("linear"), notAMap);
    }

    /**
     * LongRoPE: each frequency divided by its short factor, by its long factor past original_max_position_embeddings;
     * cos and sin scaled by sqrt(1 + ln f / ln original), f = max_position_embeddings / original; factor lists that do
     * not have one entry per rotated pair are named, not computed.
     */
    @Test
    void longRopeDividesByItsFactorsAndScalesCosAndSin() {
        java.util.List<Double> shortF = java.util.Collections.nCopies((int) HEAD_DIM / 2, 2.0);
        java.util.List<Double> longF = java.util.Collections.nCopies((int) HEAD_DIM / 2, 8.0);
        Map<String, Object> c = new java.util.HashMap<>(config(Map.of("type", "longrope", "short_factor", shortF,
                "long_factor", longF)));
        c.put("original_max_position_embeddings", 4096L);
        c.put("max_position_embeddings", 131072L);
        LlamaRope r = rope(c);
        assertNull(r.unsupported(HEAD_DIM));
        double[] plain = rope(config(null)).invFreq(HEAD_DIM, 7, null);
        double[] near = r.invFreq(HEAD_DIM, 7, null);
        double[] far = r.invFreq(HEAD_DIM, 5000, null);
        for (int i = 0; i < plain.length; i++) {
            assertEquals(plain[i] / 2, near[i], 1e-15);
            assertEquals(plain[i] / 8, far[i], 1e-15);
        }
        assertEquals(Math.sqrt(1 + Math.log(32) / Math.log(4096)), r.cosSinScale(), 1e-15);
        assertEquals(1.0, rope(config(null)).cosSinScale(), 0.0);
        assertTrue(r.unsupported(HEAD_DIM / 2).contains("'longrope' with these parameters"), "12 of 16 dimensions rotated");
    }
}
