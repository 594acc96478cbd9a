package lady.structure;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.torch.FloatTensors;

/**
 * The one place where structural edits touch a state dict's tensors: a tensor's values as a float array
 * (any float dtype, converted), its unit roundoff, and a new tensor of any shape written back in the dtype
 * the name had. Everything else in this package is plain arrays.
 */
final class Floats {
    private Floats() {}

    /** The values of tensor {@code name} in row-major order (float32). */
    static float[] read(StateDict state, String name) {
        Tensor t = state.get(name);
        requireFloat(name, t);
        return FloatTensors.read(t);
    }

    /**
     * The squared norm of each of the {@code n} neuron slices of member {@code m} of tensor {@code m.tensor()}: read in
     * place from a float32 tensor's memory (no copy of a 400 MB classifier), copied otherwise.
     */
    static double[] squaredNorms(StateDict state, lady.permutation.Member m, int n) {
        Tensor t = state.get(m.tensor());
        long[] shape = state.shape(m.tensor());
        if (t.scalar_type().value == torch.ScalarType.Float.value && t.is_contiguous()) {
            java.nio.FloatBuffer view = t.data_ptr_float().capacity(t.numel()).asBuffer();
            double[] out = Slices.squaredNorms(view, shape, m.axis(), m.offset(), m.block(), n);
            java.lang.ref.Reference.reachabilityFence(t);
            return out;
        }
        return new Slices(read(state, m.tensor()), shape, m, n).squaredNorms();
    }

    /** The values of tensor {@code name} of any dtype (integers included, e.g. num_batches_tracked) as float32. */
    static float[] values(StateDict state, String name) {
        return FloatTensors.read(state.get(name));
    }

    /** Replaces tensor {@code name} by {@code data} of {@code shape}, in the dtype it had. */
    static void write(StateDict state, String name, float[] data, long[] shape) {
        Tensor old = state.get(name);
        Tensor t = FloatTensors.of(data, shape);
        if (old.scalar_type().value != torch.ScalarType.Float.value) {
            t = t.to(old.scalar_type()).contiguous();
        }
        state.put(name, t);
    }

    /**
     * The unit roundoff of tensor {@code name}'s dtype (half the distance from 1 to the next number): 2^-24 for
     * float32, 2^-11 for float16, 2^-8 for bfloat16, 2^-53 for float64.
     */
    static double unitRoundoff(StateDict state, String name) {
        Tensor t = state.get(name);
        requireFloat(name, t);
        int v = t.scalar_type().value;
        if (v == torch.ScalarType.Double.value) {
            return 0x1p-53;
        }
        if (v == torch.ScalarType.Half.value) {
            return 0x1p-11;
        }
        if (v == torch.ScalarType.BFloat16.value) {
            return 0x1p-8;
        }
        return 0x1p-24;
    }

    private static void requireFloat(String name, Tensor t) {
        int v = t.scalar_type().value;
        if (v != torch.ScalarType.Float.value && v != torch.ScalarType.Double.value && v != torch.ScalarType.Half.value
                && v != torch.ScalarType.BFloat16.value) {
            throw LadyException.invalidInput("tensor '" + name + "' is " + t.scalar_type()
                    + "; structural edits work on floating-point weights");
        }
    }
}
