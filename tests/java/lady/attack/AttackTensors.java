package lady.attack;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.checkpoint.StateDict;

/** Test helpers: tensors from Java arrays and back. */
final class AttackTensors {
    private AttackTensors() {}

    static Tensor tensor(float[] values, long... shape) {
        Tensor t = torch.empty(shape);
        t.data_ptr_float().put(values, 0, values.length);
        return t;
    }

    static float[] values(Tensor t) {
        float[] a = new float[(int) t.numel()];
        t.data_ptr_float().get(a, 0, a.length);
        return a;
    }

    static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return a;
    }

    /** A small conv net's state: conv weight 16x3x3x3 + bias, bn, linear 10x64 + bias. */
    static StateDict smallNet(long seed) {
        StateDict s = new StateDict();
        s.put("features.0.weight", tensor(uniform(seed, 16 * 27, -0.3, 0.2), 16, 3, 3, 3));
        s.put("features.0.bias", tensor(uniform(seed + 1, 16, -0.1, 0.1), 16));
        s.put("features.1.weight", tensor(uniform(seed + 2, 16, 0.5, 1.5), 16));
        s.put("features.1.running_var", tensor(uniform(seed + 3, 16, 0.5, 1.5), 16));
        s.put("features.3.weight", tensor(uniform(seed + 4, 64 * 16 * 9, -0.05, 0.08), 64, 16, 3, 3));
        s.put("classifier.weight", tensor(uniform(seed + 5, 10 * 64, -1, 1), 10, 64));
        s.put("classifier.bias", tensor(uniform(seed + 6, 10, -1, 1), 10));
        return s;
    }
}
