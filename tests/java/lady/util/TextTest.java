package lady.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

/** The one helper for untrusted text in messages (issue 20, items 7 and 8). */
class TextTest {
    @Test
    void controlCharactersBidiOverridesAndLineBreaksBecomeVisible() {
        assertEquals("plain name.0", Text.escape("plain name.0"));
        assertEquals("a\\x1b]0;title\\x07b", Text.escape("a\u001b]0;title\u0007b"));
        assertEquals("\\n\\r\\t\\x00\\x7f\\x9b\\u202e\\u2028", Text.escape("\n\r\t\u0000\u007f\u009b\u202e\u2028"));
        assertEquals("line one\nline \\x1b two", Text.escapeLines("line one\nline \u001b two"));
        assertEquals("'caf\u00e9 \u4e2d'", Text.quote("caf\u00e9 \u4e2d"), "printable Unicode is kept");
    }

    @Test
    void longNamesListsAndShapesAreShortened() {
        String q = Text.quote("x".repeat(5000));
        assertTrue(q.length() < Text.MAX_QUOTED + 40 && q.endsWith("... (5000 characters)"), q);
        assertEquals("a, b", Text.list(List.of("a", "b"), 3));
        assertEquals("n0, n1, n2, ... (198 in all)",
                Text.list(IntStream.range(0, 198).mapToObj(i -> "n" + i).toList(), 3));
        assertEquals("x".repeat(Text.MAX_LISTED) + "..., a\\x1bb", Text.list(List.of("x".repeat(5000), "a\u001bb"), 3));
        assertEquals("[1, 2, 3]", Text.shape(new long[] {1, 2, 3}));
        long[] many = new long[100_000];
        assertEquals("[0, 0, 0, ... (100000 dims)]", Text.shape(many));
    }
}
