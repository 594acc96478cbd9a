package lady.attack;

import lady.LadyException;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/** Bulk copies between a float32 host tensor and a Java array (no libtorch). */
final class FloatData {
    private FloatData() {}

    static float[] read(String name, HostTensor t) {
        check(name, t);
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("tensor '" + name + "' is too large to attack (" + n + " entries)");
        }
        float[] a = t.readFloats();
        for (float v : a) {
            if (Float.isNaN(v)) {
                throw LadyException.invalidInput("tensor '" + name + "' contains NaN");
            }
        }
        return a;
    }

    static void write(String name, HostTensor t, float[] a) {
        check(name, t);
        if (t.numel() != a.length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' changed size during the attack");
        }
        t.writeFloats(a);
    }

    private static void check(String name, HostTensor t) {
        if (t.dtype() != DType.FLOAT32) {
            throw LadyException.invalidInput("tensor '" + name + "' is " + t.dtype().name().toLowerCase(java.util.Locale.ROOT)
                    + "; attacks work on float32 weights");
        }
    }
}
