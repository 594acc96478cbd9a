package lady.onnx;

import lady.LadyException;
import lady.onnx.proto.Onnx.TensorProto;

/**
 * A tensor held in a node attribute (a Constant node's value, a ConstantOfShape fill): its type, its
 * shape, and its values as {@code long}s (integer and boolean types) or {@code double}s (float types),
 * decoded on request. Validated like initializers when the model is read.
 */
public final class OnnxConstant {
    /** Constants larger than this are described but not decoded into Java arrays. */
    public static final long MAX_DECODED_ELEMENTS = 1 << 24;

    private final OnnxInitializer info;
    private final TensorProto proto;

    OnnxConstant(OnnxInitializer info, TensorProto proto) {
        this.info = info;
        this.proto = proto;
    }

    public OnnxDType dtype() {
        return info.dtype();
    }

    public long[] shape() {
        return info.shape();
    }

    /** The values of an integer or boolean constant, row-major. */
    public long[] longs() {
        return OnnxTensors.decodeLongs(proto, check());
    }

    /** The values of a floating-point constant (FLOAT, DOUBLE, FLOAT16, BFLOAT16), row-major. */
    public double[] doubles() {
        return OnnxTensors.decodeDoubles(proto, check());
    }

    private OnnxInitializer check() {
        if (info.storage() == OnnxInitializer.Storage.EXTERNAL) {
            throw LadyException.invalidInput("constant '" + info.name() + "' keeps its values in an external file");
        }
        if (info.elements() > MAX_DECODED_ELEMENTS) {
            throw LadyException.invalidInput("constant '" + info.name() + "' has " + info.elements()
                    + " values; at most " + MAX_DECODED_ELEMENTS + " are decoded");
        }
        return info;
    }

    @Override
    public String toString() {
        return info.toString();
    }
}
