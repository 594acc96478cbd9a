package lady.report;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import lady.LadyException;

/**
 * A small, dependency-free JSON writer for Lady's result files: maps (insertion order kept), lists,
 * arrays of primitives, strings, numbers, booleans and null. Non-finite doubles become null (JSON
 * has no NaN), so a result file is always valid JSON.
 *
 * <p>{@link #parse(String)} is the matching strict reader (RFC 8259): objects become
 * {@link LinkedHashMap} (key order kept), arrays {@link ArrayList}, integers {@link Long} (a number
 * with a fraction or exponent, or one outside the long range, becomes {@link Double}), plus
 * {@link String}, {@link Boolean} and null. Malformed input gives
 * {@link LadyException.Kind#INVALID_INPUT} with the character position.
 */
public final class Json {
    private Json() {}

    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        append(sb, value);
        return sb.toString();
    }

    private static void append(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            quote(sb, s);
        } else if (v instanceof Double d) {
            sb.append(d.isNaN() || d.isInfinite() ? "null" : formatDouble(d));
        } else if (v instanceof Float f) {
            sb.append(f.isNaN() || f.isInfinite() ? "null" : formatDouble(f.doubleValue()));
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                quote(sb, String.valueOf(e.getKey()));
                sb.append(':');
                append(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof Collection<?> c) {
            sb.append('[');
            Iterator<?> it = c.iterator();
            while (it.hasNext()) {
                append(sb, it.next());
                if (it.hasNext()) {
                    sb.append(',');
                }
            }
            sb.append(']');
        } else if (v instanceof long[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i == 0 ? "" : ",").append(a[i]);
            }
            sb.append(']');
        } else if (v instanceof int[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i == 0 ? "" : ",").append(a[i]);
            }
            sb.append(']');
        } else if (v instanceof double[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i == 0 ? "" : ",");
                append(sb, a[i]);
            }
            sb.append(']');
        } else if (v instanceof Enum<?> e) {
            quote(sb, e.name().toLowerCase(java.util.Locale.ROOT));
        } else {
            quote(sb, v.toString());
        }
    }

    private static String formatDouble(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return Long.toString((long) d) + ".0";
        }
        return Double.toString(d);
    }

    private static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** Deepest nesting of arrays and objects {@link #parse(String)} accepts. */
    public static final int MAX_DEPTH = 512;

    /**
     * Parses one JSON value (surrounding whitespace allowed, nothing else after it).
     *
     * @throws LadyException (INVALID_INPUT) on malformed input, with the position of the problem
     */
    public static Object parse(String text) {
        if (text == null) {
            throw LadyException.invalidInput("invalid JSON: no text");
        }
        Parser p = new Parser(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos < text.length()) {
            throw p.error("unexpected trailing characters");
        }
        return v;
    }

    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        LadyException error(String what) {
            return LadyException.invalidInput("invalid JSON at position " + pos + ": " + what);
        }

        void skipWs() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                    pos++;
                } else {
                    break;
                }
            }
        }

        Object value(int depth) {
            if (pos >= s.length()) {
                throw error("unexpected end of input");
            }
            char c = s.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth + 1);
                case '[':
                    return array(depth + 1);
                case '"':
                    return string();
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    throw error("unexpected character '" + printable(c) + "'");
            }
        }

        private void literal(String word) {
            if (!s.startsWith(word, pos)) {
                throw error("expected '" + word + "'");
            }
            pos += word.length();
        }

        private void checkDepth(int depth) {
            if (depth > MAX_DEPTH) {
                throw error("nesting deeper than " + MAX_DEPTH + " levels");
            }
        }

        private Map<String, Object> object(int depth) {
            checkDepth(depth);
            pos++; // '{'
            LinkedHashMap<String, Object> m = new LinkedHashMap<>();
            skipWs();
            if (pos < s.length() && s.charAt(pos) == '}') {
                pos++;
                return m;
            }
            while (true) {
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '"') {
                    throw error(pos >= s.length() ? "unexpected end of input" : "expected a string key");
                }
                int keyPos = pos;
                String key = string();
                skipWs();
                expect(':');
                skipWs();
                Object v = value(depth);
                if (m.containsKey(key)) {
                    pos = keyPos;
                    throw error("duplicate key \"" + key + "\"");
                }
                m.put(key, v);
                skipWs();
                if (pos >= s.length()) {
                    throw error("unexpected end of input");
                }
                char c = s.charAt(pos++);
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or '}'");
                }
            }
        }

        private ArrayList<Object> array(int depth) {
            checkDepth(depth);
            pos++; // '['
            ArrayList<Object> a = new ArrayList<>();
            skipWs();
            if (pos < s.length() && s.charAt(pos) == ']') {
                pos++;
                return a;
            }
            while (true) {
                skipWs();
                a.add(value(depth));
                skipWs();
                if (pos >= s.length()) {
                    throw error("unexpected end of input");
                }
                char c = s.charAt(pos++);
                if (c == ']') {
                    return a;
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or ']'");
                }
            }
        }

        private void expect(char c) {
            if (pos >= s.length() || s.charAt(pos) != c) {
                throw error("expected '" + c + "'");
            }
            pos++;
        }

        private String string() {
            pos++; // opening quote
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(pos);
                if (c == '"') {
                    pos++;
                    return sb.toString();
                }
                if (c < 0x20) {
                    throw error("control character in string");
                }
                if (c != '\\') {
                    sb.append(c);
                    pos++;
                    continue;
                }
                if (pos + 1 >= s.length()) {
                    throw error("unterminated string");
                }
                char e = s.charAt(pos + 1);
                switch (e) {
                    case '"' -> sb.append('"');
                    case '\\' -> sb.append('\\');
                    case '/' -> sb.append('/');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 6 > s.length()) {
                            throw error("truncated \\u escape");
                        }
                        int code = 0;
                        for (int i = pos + 2; i < pos + 6; i++) {
                            int d = hexDigit(s.charAt(i));
                            if (d < 0) {
                                throw error("bad \\u escape");
                            }
                            code = code * 16 + d;
                        }
                        sb.append((char) code);
                        pos += 4;
                    }
                    default -> throw error("bad escape '\\" + printable(e) + "'");
                }
                pos += 2;
            }
        }

        private Object number() {
            int start = pos;
            if (s.charAt(pos) == '-') {
                pos++;
            }
            if (pos >= s.length()) {
                throw error("truncated number");
            }
            if (s.charAt(pos) == '0') {
                pos++;
            } else if (isDigit(pos)) {
                while (isDigit(pos)) {
                    pos++;
                }
            } else {
                throw error("expected a digit");
            }
            boolean integral = true;
            if (pos < s.length() && s.charAt(pos) == '.') {
                integral = false;
                pos++;
                if (!isDigit(pos)) {
                    throw error("expected a digit after '.'");
                }
                while (isDigit(pos)) {
                    pos++;
                }
            }
            if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                integral = false;
                pos++;
                if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) {
                    pos++;
                }
                if (!isDigit(pos)) {
                    throw error("expected a digit in the exponent");
                }
                while (isDigit(pos)) {
                    pos++;
                }
            }
            String t = s.substring(start, pos);
            if (integral) {
                try {
                    return Long.parseLong(t);
                } catch (NumberFormatException e) {
                    return Double.parseDouble(t); // outside the long range
                }
            }
            return Double.parseDouble(t);
        }

        private boolean isDigit(int i) {
            return i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9';
        }

        private static int hexDigit(char c) {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f') {
                return c - 'a' + 10;
            }
            if (c >= 'A' && c <= 'F') {
                return c - 'A' + 10;
            }
            return -1;
        }

        private static String printable(char c) {
            return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
        }
    }

    /**
     * Reads one of Lady's own JSON files (a secret, a watermark key, ...): a JSON object whose
     * "format" is {@code format} and whose "format_version" is {@code version}. Clear errors: IO for
     * a missing or unreadable file, INVALID_INPUT for malformed JSON, another format or version.
     *
     * @param what what the file is, for messages ("secret file", "watermark key")
     */
    public static java.util.Map<?, ?> readVersionedFile(java.nio.file.Path path, String what, String format, int version) {
        String text;
        try {
            text = java.nio.file.Files.readString(path, java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new lady.LadyException(lady.LadyException.Kind.IO, what + " not found: " + path);
        } catch (java.io.IOException e) {
            throw new lady.LadyException(lady.LadyException.Kind.IO, "cannot read " + what + " " + path + ": " + e.getMessage(), e);
        }
        Object parsed;
        try {
            parsed = parse(text);
        } catch (lady.LadyException e) {
            throw lady.LadyException.invalidInput(path + ": " + e.getMessage());
        }
        if (!(parsed instanceof java.util.Map<?, ?> m) || !format.equals(m.get("format"))) {
            throw lady.LadyException.invalidInput(path + " is not a Lady " + what + " (no \"format\": \"" + format + "\")");
        }
        if (!(m.get("format_version") instanceof Number v) || v.intValue() != version) {
            throw lady.LadyException.invalidInput(path + ": unsupported " + what + " version " + m.get("format_version")
                    + " (this Lady reads " + version + ")");
        }
        return m;
    }

    // ---- typed fields of a parsed object (for readers of Lady's own files) ----

    /** {@code m[field]} as a long (a JSON integer); INVALID_INPUT naming {@code what} and the field otherwise. */
    public static long longField(java.util.Map<?, ?> m, String field, String what) {
        if (!(m.get(field) instanceof Long n)) {
            throw lady.LadyException.invalidInput(what + ": \"" + field + "\" must be an integer, got " + m.get(field));
        }
        return n;
    }

    /** {@code m[field]} as a finite double (any JSON number). */
    public static double doubleField(java.util.Map<?, ?> m, String field, String what) {
        if (!(m.get(field) instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw lady.LadyException.invalidInput(what + ": \"" + field + "\" must be a number, got " + m.get(field));
        }
        return n.doubleValue();
    }

    /** {@code m[field]} as a boolean. */
    public static boolean booleanField(java.util.Map<?, ?> m, String field, String what) {
        if (!(m.get(field) instanceof Boolean b)) {
            throw lady.LadyException.invalidInput(what + ": \"" + field + "\" must be true or false, got " + m.get(field));
        }
        return b;
    }

    /** {@code m[field]} as a string. */
    public static String stringField(java.util.Map<?, ?> m, String field, String what) {
        if (!(m.get(field) instanceof String s)) {
            throw lady.LadyException.invalidInput(what + ": \"" + field + "\" must be a string, got " + m.get(field));
        }
        return s;
    }

    /** {@code m[field]} as a list of finite numbers, narrowed to float (exact for values written from floats). */
    public static float[] floatsField(java.util.Map<?, ?> m, String field, String what) {
        double[] d = doublesField(m, field, what);
        float[] x = new float[d.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) d[i];
        }
        return x;
    }

    /** {@code m[field]} as a list of finite numbers. */
    public static double[] doublesField(java.util.Map<?, ?> m, String field, String what) {
        if (!(m.get(field) instanceof java.util.List<?> list)) {
            throw lady.LadyException.invalidInput(what + ": \"" + field + "\" must be a list of numbers");
        }
        double[] x = new double[list.size()];
        for (int i = 0; i < x.length; i++) {
            if (!(list.get(i) instanceof Number n) || !Double.isFinite(n.doubleValue())) {
                throw lady.LadyException.invalidInput(what + ": \"" + field + "\"[" + i + "] is not a finite number: "
                        + list.get(i));
            }
            x[i] = n.doubleValue();
        }
        return x;
    }
}
