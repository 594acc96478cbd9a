package lady.util;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The one place where text that Lady did not write itself (tensor names and dict keys from a checkpoint,
 * group names from a secret, a layer from a key file, a path) is made safe and short for a message:
 * <ul>
 * <li>{@link #escape}: control characters (C0, DEL, C1), Unicode line separators and bidirectional
 * overrides become visible escapes ({@code \x1b}, {@code \n}, {@code \u202e}), so that a name holding
 * {@code ESC ] 0 ; title BEL} cannot retitle or repaint the user's terminal;</li>
 * <li>{@link #quote}: escaped, cut to {@link #MAX_QUOTED} characters, in single quotes;</li>
 * <li>{@link #sample}: a long list of names as a count and its first few ("198 names, e.g. 'a', 'b',
 * 'c', ..."), {@link #shape}: a shape with many dimensions as its rank and first few.</li>
 * </ul>
 * The CLI also passes every error message through {@link #escapeLines} before printing it: the last guard.
 */
public final class Text {
    private Text() {}

    /** Longest untrusted string quoted in full; longer ones are cut with a note of their length. */
    public static final int MAX_QUOTED = 120;
    /** Names shown by {@link #sample} (and dimensions by {@link #shape}) before the rest is counted. */
    public static final int SAMPLE = 3;
    /** Longest name {@link #sample} shows in full (a line of three stays under 300 characters). */
    public static final int MAX_SAMPLED = 60;
    /** Dimensions {@link #shape} prints in full. */
    public static final int MAX_FULL_RANK = 8;

    /** {@code s} with every control character written as a visible escape (see the class comment). */
    public static String escape(String s) {
        return escape(s, false);
    }

    /** As {@link #escape}, but keeps line feeds: for messages that are meant to have several lines. */
    public static String escapeLines(String s) {
        return escape(s, true);
    }

    private static String escape(String s, boolean keepNewlines) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String rep = replacement(c, keepNewlines);
            if (rep != null && b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (b != null) {
                if (rep != null) {
                    b.append(rep);
                } else {
                    b.append(c);
                }
            }
        }
        return b == null ? s : b.toString();
    }

    private static String replacement(char c, boolean keepNewlines) {
        switch (c) {
            case '\n':
                return keepNewlines ? null : "\\n";
            case '\r':
                return "\\r";
            case '\t':
                return "\\t";
            default:
                break;
        }
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
            return String.format(Locale.ROOT, "\\x%02x", (int) c);
        }
        if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029
                || c == 0x200e || c == 0x200f || c == 0x061c) {
            return String.format(Locale.ROOT, "\\u%04x", (int) c);
        }
        return null;
    }

    /** {@code 'escaped'}, cut to {@link #MAX_QUOTED} characters ("... (N characters)") when longer. */
    public static String quote(String s) {
        return quote(s, MAX_QUOTED);
    }

    private static String quote(String s, int max) {
        if (s == null) {
            return "null";
        }
        String shown = s.length() > max ? s.substring(0, max) : s;
        return "'" + escape(shown) + "'" + (s.length() > max ? "... (" + s.length() + " characters)" : "");
    }

    /** Each item {@link #quote quoted}, comma-separated, all of them (for short lists). */
    public static String quoteAll(Collection<String> items) {
        List<String> out = new ArrayList<>(items.size());
        for (String s : items) {
            out.add(quote(s));
        }
        return String.join(", ", out);
    }

    /**
     * A list for a message: all of it when it has at most {@link #SAMPLE} items ({@code 'a', 'b'}), else its
     * first {@link #SAMPLE} and the count of the rest ({@code 'a', 'b', 'c' and 195 more}); items quoted, each cut
     * to {@link #MAX_SAMPLED} characters.
     */
    public static String sample(Collection<String> items) {
        StringBuilder b = new StringBuilder();
        Iterator<String> it = items.iterator();
        for (int i = 0; i < SAMPLE && it.hasNext(); i++) {
            if (i > 0) {
                b.append(", ");
            }
            b.append(quote(it.next(), MAX_SAMPLED));
        }
        int rest = items.size() - SAMPLE;
        if (rest > 0) {
            b.append(" and ").append(rest).append(" more");
        }
        return b.toString();
    }

    /** {@code [a, b, c]}, or for more than {@link #MAX_FULL_RANK} dimensions {@code [a, b, c, ... (N dims)]}. */
    public static String shape(long[] shape) {
        if (shape == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("[");
        int shown = shape.length <= MAX_FULL_RANK ? shape.length : SAMPLE;
        for (int i = 0; i < shown; i++) {
            if (i > 0) {
                b.append(", ");
            }
            b.append(shape[i]);
        }
        if (shown < shape.length) {
            b.append(", ... (").append(shape.length).append(" dims)");
        }
        return b.append(']').toString();
    }
}
