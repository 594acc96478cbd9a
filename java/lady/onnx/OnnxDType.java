package lady.onnx;

import lady.LadyException;
import lady.tensor.DType;

/**
 * The element types of ONNX tensors ({@code TensorProto.DataType}), with their size, the typed field
 * that holds them when a tensor does not use {@code raw_data}, and the {@link DType} of a Lady state
 * dict where libtorch has one. Codes 17-23 (8-bit floats, 4-bit integers and floats) come after the
 * ONNX 1.12 schema Lady vendors; they are recognized so that such initializers are passed through
 * untouched. A code not listed here is refused as an unknown data type.
 */
public enum OnnxDType {
    FLOAT(1, 32, Field.FLOAT, DType.FLOAT32),
    UINT8(2, 8, Field.INT32, DType.UINT8),
    INT8(3, 8, Field.INT32, DType.INT8),
    UINT16(4, 16, Field.INT32, null),
    INT16(5, 16, Field.INT32, DType.INT16),
    INT32(6, 32, Field.INT32, DType.INT32),
    INT64(7, 64, Field.INT64, DType.INT64),
    STRING(8, 0, Field.STRING, null),
    BOOL(9, 8, Field.INT32, DType.BOOL),
    FLOAT16(10, 16, Field.INT32, DType.FLOAT16),
    DOUBLE(11, 64, Field.DOUBLE, DType.FLOAT64),
    UINT32(12, 32, Field.UINT64, null),
    UINT64(13, 64, Field.UINT64, null),
    COMPLEX64(14, 64, Field.FLOAT, null),
    COMPLEX128(15, 128, Field.DOUBLE, null),
    BFLOAT16(16, 16, Field.INT32, DType.BFLOAT16),
    FLOAT8E4M3FN(17, 8, Field.INT32, null),
    FLOAT8E4M3FNUZ(18, 8, Field.INT32, null),
    FLOAT8E5M2(19, 8, Field.INT32, null),
    FLOAT8E5M2FNUZ(20, 8, Field.INT32, null),
    UINT4(21, 4, Field.INT32, null),
    INT4(22, 4, Field.INT32, null),
    FLOAT4E2M1(23, 4, Field.INT32, null);

    /** The typed field of {@code TensorProto} that holds values of a type when raw_data is not used. */
    public enum Field {
        /** float_data (FLOAT; COMPLEX64 as real/imaginary pairs). */
        FLOAT,
        /** int32_data (every type of 16 bits or less, and INT32; 16-bit floats as their bit patterns). */
        INT32,
        /** int64_data. */
        INT64,
        /** double_data (DOUBLE; COMPLEX128 as pairs). */
        DOUBLE,
        /** uint64_data (UINT32, UINT64). */
        UINT64,
        /** string_data. */
        STRING
    }

    private final int code;
    private final int bits;
    private final Field field;
    private final DType dtype;

    OnnxDType(int code, int bits, Field field, DType dtype) {
        this.code = code;
        this.bits = bits;
        this.field = field;
        this.dtype = dtype;
    }

    /** The {@code TensorProto.DataType} number. */
    public int code() {
        return code;
    }

    /** Bits per element (0 for STRING, whose elements have no fixed size). */
    public int bits() {
        return bits;
    }

    /** Where the values live when {@code raw_data} is not used. */
    public Field field() {
        return field;
    }

    /** Typed-field entries per element: 2 for the complex types, 1 otherwise. */
    public int fieldValuesPerElement() {
        return this == COMPLEX64 || this == COMPLEX128 ? 2 : 1;
    }

    /** The state-dict type of these elements, or null when libtorch (and so a state dict) has none. */
    public DType checkpointType() {
        return dtype;
    }

    /** Bytes of {@code elements} values in raw_data or an external file (4-bit types: two per byte). */
    public long bytes(long elements) {
        if (this == STRING) {
            throw new LadyException(LadyException.Kind.INTERNAL, "string tensors have no fixed byte size");
        }
        return bits >= 8 ? Math.multiplyExact(elements, (long) bits / 8) : (elements + 1) / 2;
    }

    /** The type of {@code code}, or null when ONNX has no such type. */
    public static OnnxDType ofCode(int code) {
        for (OnnxDType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }

    /** The ONNX type holding a state dict's {@code dtype}. */
    public static OnnxDType of(DType dtype) {
        for (OnnxDType t : values()) {
            if (t.dtype == dtype) {
                return t;
            }
        }
        throw new LadyException(LadyException.Kind.INTERNAL, "no ONNX type for " + dtype);
    }
}
