package lady.attack;

import java.util.Locale;

import lady.LadyException;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * Bulk copies between a host tensor and a Java float array for the value attacks (no libtorch). float32,
 * bfloat16 and float16 weights (Hugging Face checkpoints are mostly bfloat16): the values are read exactly as
 * float32, attacked there, and written back in the tensor's own dtype, rounded to the nearest (ties to even), so
 * the checkpoint keeps its dtype and size. {@link #storable} gives the value a float32 result becomes when stored,
 * for the figures an attack reports.
 */
final class FloatData {
    private FloatData() {}

    static float[] read(String name, HostTensor t) {
        check(name, t.dtype());
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

    /**
     * Writes {@code a} into {@code t} in {@code t}'s dtype; for bfloat16 and float16, {@code a} is rounded in place
     * first ({@link #storable}), so that it holds the values the tensor now has.
     */
    static void write(String name, HostTensor t, float[] a) {
        check(name, t.dtype());
        if (t.numel() != a.length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' changed size during the attack");
        }
        t.writeFloats(0, a, 0, a.length);
    }

    /** {@code v} as a tensor of {@code dtype} stores it: itself for float32, else rounded to the nearest (ties to even). */
    static float storable(DType dtype, float v) {
        return switch (dtype) {
            case BFLOAT16 -> HostTensor.bfloat16ToFloat(HostTensor.floatToBfloat16(v));
            case FLOAT16 -> HostTensor.float16ToFloat(HostTensor.floatToFloat16(v));
            default -> v;
        };
    }

    /** Refuses, by name, a tensor of a dtype attacks do not change. */
    static void check(String name, DType d) {
        if (d != DType.FLOAT32 && d != DType.BFLOAT16 && d != DType.FLOAT16) {
            throw LadyException.invalidInput("tensor '" + name + "' is " + d.name().toLowerCase(Locale.ROOT)
                    + "; attacks work on float32, bfloat16 and float16 weights");
        }
    }
}
