package lady.onnx;

import java.util.List;

import lady.LadyException;

/**
 * An attribute of an ONNX node with its value typed: {@link #asLong()} for INT, {@link #asLongs()} for
 * INTS, {@link #asFloat()}, {@link #asFloats()}, {@link #asString()}, {@link #asStrings()}, and
 * {@link #asTensor()} for TENSOR (e.g. the value of a Constant node). Subgraphs (GRAPH, GRAPHS), sparse
 * tensors, type protos and lists of tensors are recognized by their {@link Type} but carry no value here.
 * Every accessor throws a one-line {@link LadyException} naming the attribute when the type differs.
 */
public final class OnnxAttribute {
    /** The attribute types of ONNX ({@code AttributeProto.AttributeType}); OTHER for those without a value here. */
    public enum Type { FLOAT, INT, STRING, TENSOR, FLOATS, INTS, STRINGS, GRAPH, OTHER }

    private final String name;
    private final Type type;
    private final Object value;

    OnnxAttribute(String name, Type type, Object value) {
        this.name = name;
        this.type = type;
        this.value = value;
    }

    public String name() {
        return name;
    }

    public Type type() {
        return type;
    }

    public float asFloat() {
        return (Float) expect(Type.FLOAT);
    }

    public long asLong() {
        return (Long) expect(Type.INT);
    }

    public String asString() {
        return (String) expect(Type.STRING);
    }

    /** A copy of the FLOATS values. */
    public float[] asFloats() {
        return ((float[]) expect(Type.FLOATS)).clone();
    }

    /** A copy of the INTS values. */
    public long[] asLongs() {
        return ((long[]) expect(Type.INTS)).clone();
    }

    @SuppressWarnings("unchecked")
    public List<String> asStrings() {
        return (List<String>) expect(Type.STRINGS);
    }

    public OnnxConstant asTensor() {
        return (OnnxConstant) expect(Type.TENSOR);
    }

    private Object expect(Type want) {
        if (type != want) {
            throw LadyException.invalidInput("ONNX attribute '" + name + "' is of type " + type + ", not " + want);
        }
        return value;
    }

    @Override
    public String toString() {
        Object v = switch (type) {
            case FLOATS -> java.util.Arrays.toString((float[]) value);
            case INTS -> java.util.Arrays.toString((long[]) value);
            case GRAPH, OTHER -> "<" + type.name().toLowerCase() + ">";
            default -> value;
        };
        return name + "=" + v;
    }
}
