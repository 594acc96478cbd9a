package lady.watermark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.paper.Paper;
import lady.report.Json;
import lady.torch.Torch;

/** Key generation, file round trip and the fit check. */
class WatermarkKeyTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void sameSeedGivesTheSameKeyAndOtherSeedsOthers() {
        WatermarkKey a = WatermarkKey.generate("features.19.weight", 1152, 64, Paper.UCHIDA_P_ONE, 7, 0.1);
        WatermarkKey b = WatermarkKey.generate("features.19.weight", 1152, 64, Paper.UCHIDA_P_ONE, 7, 0.1);
        WatermarkKey c = WatermarkKey.generate("features.19.weight", 1152, 64, Paper.UCHIDA_P_ONE, 8, 0.1);
        assertEquals(a, b);
        assertArrayEquals(a.matrix(), b.matrix());
        assertArrayEquals(a.bits(), b.bits());
        assertFalse(java.util.Arrays.equals(a.matrix(), c.matrix()));
        assertNotEquals(a, c);
        // pinned values: the generator is part of the key format (SplittableRandom + StrictMath Box-Muller),
        // so a key file without its matrix must rebuild the same X on every machine and JDK
        assertEquals(GOLDEN_BITS, Detection.bitString(a.bits()).substring(0, 16));
        assertEquals(GOLDEN_X0, a.x(0, 0));
        assertEquals(GOLDEN_X1, a.x(63, 1151));
    }

    static final String GOLDEN_BITS = "1111001111101101";
    static final float GOLDEN_X0 = -0x1.527d6ap0f; // -1.3222262
    static final float GOLDEN_X1 = -0x1.1b18ecp1f; // -2.211698

    @Test
    void keyIsStandardNormalAndBitsAreTwoThirdsOnes() {
        WatermarkKey k = WatermarkKey.generate("w", 1000, 3000, Paper.UCHIDA_P_ONE, 1, 0.1);
        float[] x = k.matrix();
        double mean = 0;
        double sq = 0;
        for (float v : x) {
            mean += v;
            sq += (double) v * v;
        }
        mean /= x.length;
        double var = sq / x.length - mean * mean;
        assertEquals(0.0, mean, 0.005);
        assertEquals(1.0, var, 0.005);
        int ones = 0;
        for (int b : k.bits()) {
            ones += b;
        }
        assertEquals(2.0 / 3.0, ones / 3000.0, 0.03);
    }

    @Test
    void fileRoundTripWithAndWithoutTheMatrix(@TempDir Path dir) throws Exception {
        WatermarkKey k = WatermarkKey.generate("features.19.weight", 36, 16, Paper.UCHIDA_P_ONE, 3, 0.1);
        Path small = dir.resolve("k.json");
        k.write(small, false);
        @SuppressWarnings("unchecked")
        Map<String, Object> j = (Map<String, Object>) Json.parse(Files.readString(small));
        assertEquals("lady-watermark-key", j.get("format"));
        assertEquals(1L, j.get("format_version"));
        assertEquals(16L, j.get("T"));
        assertEquals(36L, j.get("w_bar_length"));
        assertFalse(j.containsKey("matrix"));
        assertEquals(k, WatermarkKey.read(small));
        Path full = dir.resolve("full.json");
        k.write(full, true);
        assertEquals(k, WatermarkKey.read(full));
        // edited bits no longer match the seed: refused instead of silently detecting other bits
        String text = Files.readString(small);
        int[] bits = k.bits();
        bits[0] = 1 - bits[0];
        String edited = text.replace("\"bits\":" + Json.write(k.bits()), "\"bits\":" + Json.write(bits));
        assertNotEquals(text, edited);
        Files.writeString(small, edited);
        LadyException e = assertThrows(LadyException.class, () -> WatermarkKey.read(small));
        assertTrue(e.getMessage().contains("do not match"), e.getMessage());
        LadyException missing = assertThrows(LadyException.class, () -> WatermarkKey.read(dir.resolve("none.json")));
        assertEquals(LadyException.Kind.IO, missing.kind());
    }

    @Test
    void keyThatDoesNotFitTheModelIsRefusedNamingBothSizes() {
        StateDict state = new StateDict();
        state.put("features.19.weight", lady.tensor.HostTensor.allocate(lady.tensor.DType.FLOAT32, 8, 4, 3, 3));
        WatermarkKey k = WatermarkKey.generate("features.19.weight", 1152, 64, Paper.UCHIDA_P_ONE, 1, 0.1);
        LadyException e = assertThrows(LadyException.class, () -> Uchida.detect(state, k));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("1152") && e.getMessage().contains("36")
                && e.getMessage().contains("[8, 4, 3, 3]"), e.getMessage());
        WatermarkKey other = WatermarkKey.generate("features.21.weight", 36, 64, Paper.UCHIDA_P_ONE, 1, 0.1);
        LadyException e2 = assertThrows(LadyException.class, () -> other.checkFits(state));
        assertTrue(e2.getMessage().contains("features.21.weight"), e2.getMessage());
    }
}
