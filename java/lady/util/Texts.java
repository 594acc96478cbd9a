package lady.util;

import java.util.List;

/** Short texts for messages: long lists and shapes abbreviated, so that an error stays a line or two. */
public final class Texts {
    private Texts() {}

    /** How many dimensions {@link #shape} prints before abbreviating. */
    private static final int DIMS_SHOWN = 6;

    /** {@code items} joined by ", ", at most {@code max} of them, then "... (N in all)". */
    public static String list(List<String> items, int max) {
        if (items.size() <= max) {
            return String.join(", ", items);
        }
        return String.join(", ", items.subList(0, max)) + ", ... (" + items.size() + " in all)";
    }

    /** A shape as {@code [a, b, c]}, abbreviated past a few dimensions ({@code [a, b, ... (100000 dims)]}). */
    public static String shape(long[] shape) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < Math.min(shape.length, DIMS_SHOWN); i++) {
            b.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        if (shape.length > DIMS_SHOWN) {
            b.append(", ... (").append(shape.length).append(" dims)");
        }
        return b.append(']').toString();
    }
}
