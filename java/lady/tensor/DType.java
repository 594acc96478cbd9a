package lady.tensor;

/**
 * The tensor element types Lady's checkpoint formats carry, with their names in each format: the
 * PyTorch legacy storage class ({@code torch.FloatStorage}) used in pickled zip checkpoints, and
 * the safetensors dtype string. All are stored little-endian. libtorch's scalar types are mapped in
 * {@code lady.torch.TorchTensors}, so that this type (and every checkpoint) works without libtorch.
 */
public enum DType {
    FLOAT32(4, true, "FloatStorage", "F32"),
    FLOAT16(2, true, "HalfStorage", "F16"),
    BFLOAT16(2, true, "BFloat16Storage", "BF16"),
    FLOAT64(8, true, "DoubleStorage", "F64"),
    INT64(8, false, "LongStorage", "I64"),
    INT32(4, false, "IntStorage", "I32"),
    INT16(2, false, "ShortStorage", "I16"),
    INT8(1, false, "CharStorage", "I8"),
    UINT8(1, false, "ByteStorage", "U8"),
    BOOL(1, false, "BoolStorage", "BOOL");

    private final int elementSize;
    private final boolean floating;
    private final String torchStorage;
    private final String safetensorsName;

    DType(int elementSize, boolean floating, String torchStorage, String safetensorsName) {
        this.elementSize = elementSize;
        this.floating = floating;
        this.torchStorage = torchStorage;
        this.safetensorsName = safetensorsName;
    }

    /** Bytes per element. */
    public int elementSize() {
        return elementSize;
    }

    /** Whether this is a floating-point type (float16, bfloat16, float32, float64). */
    public boolean floating() {
        return floating;
    }

    /** The storage class name in module {@code torch}, e.g. "FloatStorage". */
    public String torchStorage() {
        return torchStorage;
    }

    /** The safetensors dtype, e.g. "F32". */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The dtype whose torch storage class is {@code name}, or null. */
    public static DType ofTorchStorage(String name) {
        for (DType d : values()) {
            if (d.torchStorage.equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** The dtype named {@code name} in safetensors, or null. */
    public static DType ofSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        return null;
    }
}
