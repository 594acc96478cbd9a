package lady.checkpoint;

import org.bytedeco.pytorch.global.torch.ScalarType;

import lady.LadyException;

/**
 * The tensor element types Lady's checkpoint formats carry, with their names in each format: the
 * PyTorch legacy storage class ({@code torch.FloatStorage}) used in pickled zip checkpoints, and
 * the safetensors dtype string. All are stored little-endian.
 */
public enum DType {
    FLOAT32(ScalarType.Float, 4, "FloatStorage", "F32"),
    FLOAT16(ScalarType.Half, 2, "HalfStorage", "F16"),
    BFLOAT16(ScalarType.BFloat16, 2, "BFloat16Storage", "BF16"),
    FLOAT64(ScalarType.Double, 8, "DoubleStorage", "F64"),
    INT64(ScalarType.Long, 8, "LongStorage", "I64"),
    INT32(ScalarType.Int, 4, "IntStorage", "I32"),
    INT16(ScalarType.Short, 2, "ShortStorage", "I16"),
    INT8(ScalarType.Char, 1, "CharStorage", "I8"),
    UINT8(ScalarType.Byte, 1, "ByteStorage", "U8"),
    BOOL(ScalarType.Bool, 1, "BoolStorage", "BOOL");

    private final ScalarType scalarType;
    private final int elementSize;
    private final String torchStorage;
    private final String safetensorsName;

    DType(ScalarType scalarType, int elementSize, String torchStorage, String safetensorsName) {
        this.scalarType = scalarType;
        this.elementSize = elementSize;
        this.torchStorage = torchStorage;
        this.safetensorsName = safetensorsName;
    }

    public ScalarType scalarType() {
        return scalarType;
    }

    /** Bytes per element. */
    public int elementSize() {
        return elementSize;
    }

    /** The storage class name in module {@code torch}, e.g. "FloatStorage". */
    public String torchStorage() {
        return torchStorage;
    }

    /** The safetensors dtype, e.g. "F32". */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The dtype of a libtorch scalar type; a clear error for types no checkpoint format here holds. */
    public static DType of(ScalarType t) {
        // JavaCPP may return a non-canonical enum instance: compare the native values
        for (DType d : values()) {
            if (d.scalarType.value == t.value) {
                return d;
            }
        }
        throw LadyException.invalidInput("tensors of type " + t + " cannot be stored in a checkpoint");
    }

    /** The dtype whose torch storage class is {@code name}, or null. */
    static DType ofTorchStorage(String name) {
        for (DType d : values()) {
            if (d.torchStorage.equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** The dtype named {@code name} in safetensors, or null. */
    static DType ofSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        return null;
    }
}
