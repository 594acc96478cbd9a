package lady.attack;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;

/** Bulk copies between a contiguous CPU float32 libtorch tensor and a Java array (one JNI call). */
final class FloatData {
    private FloatData() {}

    static float[] read(String name, Tensor t) {
        check(name, t);
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("tensor '" + name + "' is too large to attack (" + n + " entries)");
        }
        float[] a = new float[(int) n];
        if (n > 0) {
            t.data_ptr_float().get(a, 0, a.length);
        }
        for (float v : a) {
            if (Float.isNaN(v)) {
                throw LadyException.invalidInput("tensor '" + name + "' contains NaN");
            }
        }
        return a;
    }

    static void write(String name, Tensor t, float[] a) {
        check(name, t);
        if (t.numel() != a.length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' changed size during the attack");
        }
        if (a.length > 0) {
            t.data_ptr_float().put(a, 0, a.length);
        }
    }

    private static void check(String name, Tensor t) {
        if (t.scalar_type().value != torch.ScalarType.Float.value) {
            throw LadyException.invalidInput("tensor '" + name + "' is " + t.scalar_type()
                    + "; attacks work on float32 weights");
        }
        if (!t.is_contiguous() || !t.device().is_cpu()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name
                    + "' is not a contiguous CPU tensor (a StateDict holds only those)");
        }
    }
}
