package lady.onnx;

import java.util.List;

/**
 * A named value of an ONNX graph (a graph input or output, or an entry of value_info) with its element
 * type and shape where the file gives them.
 *
 * @param name     the value's name
 * @param elemType element type, or null when the file does not give a tensor type
 * @param shape    one entry per axis, or null when the rank is unknown
 */
public record OnnxValue(String name, OnnxDType elemType, List<Dim> shape) {
    public OnnxValue {
        shape = shape == null ? null : List.copyOf(shape);
    }

    /**
     * One axis of a shape: a fixed size ({@code value >= 0}), a named symbolic size such as "batch"
     * ({@code param}), or neither (unknown).
     *
     * @param value the size, or -1 when not fixed
     * @param param the symbolic name, or null
     */
    public record Dim(long value, String param) {
        /** Whether the size is fixed in the file. */
        public boolean fixed() {
            return value >= 0;
        }

        @Override
        public String toString() {
            return fixed() ? Long.toString(value) : param != null ? param : "?";
        }
    }
}
