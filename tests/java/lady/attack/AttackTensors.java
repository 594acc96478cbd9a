package lady.attack;

import java.util.SplittableRandom;

import lady.checkpoint.StateDict;
import lady.tensor.HostTensor;

/** Test helpers: tensors from Java arrays and back. */
final class AttackTensors {
    private AttackTensors() {}

    static HostTensor tensor(float[] values, long... shape) {
        return HostTensor.ofFloats(values, shape);
    }

    static float[] values(HostTensor t) {
        return t.readFloats();
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
