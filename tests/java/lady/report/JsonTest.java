package lady.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.LadyException;

class JsonTest {

    @Test
    void parsesScalars() {
        assertEquals(42L, Json.parse("42"));
        assertEquals(-7L, Json.parse(" -7 "));
        assertEquals(0L, Json.parse("0"));
        assertEquals(1.5, Json.parse("1.5"));
        assertEquals(-2.5e-3, Json.parse("-2.5E-3"));
        assertEquals(1e20, Json.parse("100000000000000000000")); // beyond long: a double
        assertEquals(Boolean.TRUE, Json.parse("true"));
        assertEquals(Boolean.FALSE, Json.parse("false"));
        assertNull(Json.parse("null"));
        assertEquals("a\"b\\c/\n\t\u00e9\ud83d\ude00", Json.parse("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\""));
    }

    @Test
    void parsesNestedStructuresInOrder() {
        Object v = Json.parse("{\"z\": [1, 2.0, {\"x\": null}], \"a\": {}, \"m\": []}");
        Map<?, ?> m = assertInstanceOf(LinkedHashMap.class, v);
        assertEquals(List.of("z", "a", "m"), new ArrayList<>(m.keySet()));
        List<?> z = assertInstanceOf(ArrayList.class, m.get("z"));
        assertEquals(1L, z.get(0));
        assertEquals(2.0, z.get(1));
        assertTrue(((Map<?, ?>) z.get(2)).containsKey("x"));
    }

    @Test
    void writeThenParseRoundTrips() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "vgg16 \"bn\"\n\u0001");
        m.put("n", 123456789012L);
        m.put("x", 0.1);
        m.put("big", 1.0e300);
        m.put("whole", 3.0);
        m.put("flag", true);
        m.put("none", null);
        m.put("list", List.of(1L, -2L, List.of("a")));
        m.put("shape", new long[] {64, 3, 3, 3});
        Object back = Json.parse(Json.write(m));
        Map<String, Object> expected = new LinkedHashMap<>(m);
        expected.put("shape", List.of(64L, 3L, 3L, 3L));
        assertEquals(expected, back);
        assertEquals(Json.write(m), Json.write(back));
    }

    @Test
    void malformedInputIsRejectedWithPosition() {
        String[] bad = {"", "   ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e",
            "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\u0001\"", "[1 2]", "1 2",
            "{\"a\":1,\"a\":2}", "NaN", "+1", "'a'", "[", "]"};
        for (String b : bad) {
            LadyException e = assertThrows(LadyException.class, () -> Json.parse(b), b);
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().startsWith("invalid JSON at position "), e.getMessage());
        }
        LadyException e = assertThrows(LadyException.class, () -> Json.parse("[1, x]"));
        assertTrue(e.getMessage().contains("position 4"), e.getMessage());
        assertThrows(LadyException.class, () -> Json.parse(null));
    }

    @Test
    void depthIsLimited() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertInstanceOf(ArrayList.class, Json.parse(ok));
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        LadyException e = assertThrows(LadyException.class, () -> Json.parse(deep));
        assertTrue(e.getMessage().contains("nesting deeper"), e.getMessage());
        String deepObj = "{\"a\":".repeat(Json.MAX_DEPTH + 1) + "1" + "}".repeat(Json.MAX_DEPTH + 1);
        assertThrows(LadyException.class, () -> Json.parse(deepObj));
    }
}
