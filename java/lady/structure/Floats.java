package lady.structure;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * The one place where structural edits touch a state dict's tensors: a tensor's values as a float array
 * (any float dtype, converted), its unit roundoff, and a new tensor of any shape written back in the dtype
 * the name had. Everything else in this package is plain arrays.
 */
final class Floats {
    private Floats() {}

    /** The values of tensor {@code name} in row-major order (float32). */
    static float[] read(StateDict state, String name) {
        HostTensor t = state.get(name);
        requireFloat(name, t);
        return t.readFloats();
    }

    /**
     * The squared norm of each of the {@code n} neuron slices of member {@code m} of tensor {@code m.tensor()}: read in
     * place from the tensor's memory (float32, bfloat16, float16: converted range by range, no copy of a 1 GB
     * embedding), the tensor gathered first only when the state holds it permuted lazily.
     */
    static double[] squaredNorms(StateDict state, lady.permutation.Member m, int n) {
        lady.tensor.IndexedTensor indexed = state.indexed(m.tensor());
        DType dt = indexed.dtype();
        if (indexed.identity() && (dt == DType.FLOAT32 || dt == DType.BFLOAT16 || dt == DType.FLOAT16)) {
            HostTensor t = indexed.base();
            HostTensor.ValueReader values = t.valueReader();
            return Slices.squaredNorms((first, out, count) -> values.read(first, out, 0, count), t.shape(), m.axis(),
                    m.offset(), m.block(), n);
        }
        return new Slices(read(state, m.tensor()), state.shape(m.tensor()), m, n).squaredNorms();
    }

    /** The values of tensor {@code name} of any dtype (integers included, e.g. num_batches_tracked) as float32. */
    static float[] values(StateDict state, String name) {
        return state.get(name).readFloats();
    }

    /** Replaces tensor {@code name} by the float32 tensor {@code t}, in the dtype the name had. */
    static void write(StateDict state, String name, HostTensor t) {
        DType dtype = state.get(name).dtype();
        state.put(name, dtype == DType.FLOAT32 ? t : t.converted(dtype));
    }

    /**
     * The unit roundoff of tensor {@code name}'s dtype (half the distance from 1 to the next number): 2^-24 for
     * float32, 2^-11 for float16, 2^-8 for bfloat16, 2^-53 for float64.
     */
    static double unitRoundoff(StateDict state, String name) {
        HostTensor t = state.get(name);
        requireFloat(name, t);
        return switch (t.dtype()) {
            case FLOAT64 -> 0x1p-53;
            case FLOAT16 -> 0x1p-11;
            case BFLOAT16 -> 0x1p-8;
            default -> 0x1p-24;
        };
    }

    private static void requireFloat(String name, HostTensor t) {
        if (!t.dtype().floating()) {
            throw LadyException.invalidInput("tensor '" + name + "' is " + t.dtype().name().toLowerCase(java.util.Locale.ROOT)
                    + "; structural edits work on floating-point weights");
        }
    }
}
