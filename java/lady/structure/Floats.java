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
     * place from a float32 tensor's memory (no copy of a 400 MB classifier), copied otherwise.
     */
    static double[] squaredNorms(StateDict state, lady.permutation.Member m, int n) {
        HostTensor t = state.get(m.tensor());
        long[] shape = t.shape();
        if (t.dtype() == DType.FLOAT32 && t.byteSize() <= Integer.MAX_VALUE - 8) {
            double[] out = Slices.squaredNorms(t.floats(), shape, m.axis(), m.offset(), m.block(), n);
            java.lang.ref.Reference.reachabilityFence(t);
            return out;
        }
        return new Slices(read(state, m.tensor()), shape, m, n).squaredNorms();
    }

    /** The values of tensor {@code name} of any dtype (integers included, e.g. num_batches_tracked) as float32. */
    static float[] values(StateDict state, String name) {
        return state.get(name).readFloats();
    }

    /** Replaces tensor {@code name} by {@code data} of {@code shape}, in the dtype it had. */
    static void write(StateDict state, String name, float[] data, long[] shape) {
        DType dtype = state.get(name).dtype();
        HostTensor t = HostTensor.ofFloats(data, shape);
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
