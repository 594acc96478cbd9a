package lady.torch;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;

/** Bulk copies between Java float arrays and owned, contiguous CPU float32 libtorch tensors (one JNI call each). */
public final class FloatTensors {
    private FloatTensors() {}

    /** A new owned float32 tensor of {@code shape} holding {@code data} (no from_blob: nothing borrowed). */
    public static Tensor of(float[] data, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != data.length) {
            throw LadyException.invalidInput("a tensor of shape " + java.util.Arrays.toString(shape) + " needs " + n
                    + " values, got " + data.length);
        }
        Torch.init();
        Tensor t = torch.zeros(shape);
        if (data.length > 0) {
            t.data_ptr_float().put(data, 0, data.length);
        }
        return t;
    }

    /** The values of {@code t} (any float dtype, converted to float32) in row-major order. */
    public static float[] read(Tensor t) {
        Tensor c = t.detach().to(torch.ScalarType.Float).contiguous();
        long n = c.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("a tensor of " + n + " values does not fit a Java array");
        }
        float[] a = new float[(int) n];
        if (n > 0) {
            c.data_ptr_float().get(a, 0, a.length);
        }
        return a;
    }
}
