package lady.util;

import java.util.ArrayList;
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
 * <li>{@link #list}: a long list of names as its first few and a count ("a, b, c, ... (198 in all)"),
 * each escaped and cut ({@link #cut}); {@link #shape}: a shape with many dimensions as its first few and its rank.</li>
 * </ul>
 * The CLI also passes every error message through {@link #escapeLines} before printing it: the last guard.
 */
public final class Text {
    private Text() {}

    /** Longest untrusted string quoted in full; longer ones are cut with a note of their length. */
    public static final int MAX_QUOTED = 120;
    /** Dimensions {@link #shape} shows of a shape with more than {@link #MAX_FULL_RANK}. */
    public static final int DIMS_SHOWN = 3;
    /** How many names an error message lists ({@link #list}). */
    public static final int NAMES_SHOWN = 3;
    /** Longest item {@link #list} shows in full (a line of three stays under 200 characters). */
    public static final int MAX_LISTED = 60;
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

    /** The width of a text table's column holding {@code cells}: the longest cell, at least {@code min}. */
    public static int columnWidth(java.util.Collection<String> cells, int min) {
        return Math.max(min, cells.stream().mapToInt(String::length).max().orElse(0));
    }

    /** HTML-escapes text and attribute values ({@code < > & " '}). */
    public static String html(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(ch);
            }
        }
        return b.toString();
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

    /** {@code s} {@link #escape escaped}, cut to {@link #MAX_LISTED} characters ("...") when longer: a name in a list. */
    public static String cut(String s) {
        if (s == null) {
            return "null";
        }
        String e = escape(s.length() > MAX_LISTED ? s.substring(0, MAX_LISTED + 1) : s);
        return e.length() > MAX_LISTED ? e.substring(0, MAX_LISTED) + "..." : e;
    }

    /**
     * A list for a message: {@code items} joined by ", ", at most {@code max} of them, then "... (N in all)";
     * each item {@link #cut escaped and cut}, so that a line of names stays short whatever a file holds.
     */
    /** Levenshtein distance of {@code a} and {@code b} (insertions, deletions and substitutions of one char each). */
    public static int editDistance(String a, String b) {
        int[] row = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            row[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int up = row[j];
                row[j] = Math.min(Math.min(row[j] + 1, row[j - 1] + 1), diagonal + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
                diagonal = up;
            }
        }
        return row[b.length()];
    }

    public static String list(List<String> items, int max) {
        List<String> shown = new ArrayList<>(Math.min(items.size(), max));
        for (String s : items.subList(0, Math.min(items.size(), max))) {
            shown.add(cut(s));
        }
        return String.join(", ", shown) + (items.size() > max ? ", ... (" + items.size() + " in all)" : "");
    }

    /** {@code [a, b, c]}, or for more than {@link #MAX_FULL_RANK} dimensions {@code [a, b, c, ... (N dims)]}. */
    public static String shape(long[] shape) {
        if (shape == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("[");
        int shown = shape.length <= MAX_FULL_RANK ? shape.length : DIMS_SHOWN;
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
