package lady.onnx;

import java.util.Arrays;

/**
 * An initializer of an ONNX graph (a weight or constant tensor stored in the file), without its data;
 * {@link OnnxModel#stateDict()} gives the data.
 *
 * @param name    the initializer's name (the state-dict name in Lady)
 * @param dtype   element type
 * @param shape   dimensions (a copy is returned)
 * @param storage how the file stores the values
 * @param bytes   size of the values in raw_data or an external file (0 for strings)
 */
public record OnnxInitializer(String name, OnnxDType dtype, long[] shape, Storage storage, long bytes) {
    /** Where an ONNX tensor's values are. */
    public enum Storage {
        /** In {@code raw_data} (little-endian bytes): what exporters write. */
        RAW,
        /** In the typed fields ({@code float_data}, {@code int64_data}, ...). */
        TYPED,
        /** In a file beside the model ({@code data_location = EXTERNAL}). */
        EXTERNAL
    }

    public OnnxInitializer {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long elements() {
        long n = 1;
        for (long d : shape) {
            n *= d; // validated against overflow when read
        }
        return n;
    }

    /** Whether the values can be held in a state dict (libtorch has the type). */
    public boolean inStateDict() {
        return dtype.checkpointType() != null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OnnxInitializer i && name.equals(i.name) && dtype == i.dtype && Arrays.equals(shape, i.shape)
                && storage == i.storage && bytes == i.bytes;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " " + storage;
    }
}
