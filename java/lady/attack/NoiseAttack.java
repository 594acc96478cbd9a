package lady.attack;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.util.Seeds;

/**
 * Gaussian noise (method.md 7): adds i.i.d. N(0, (Omega * sigma)^2) to every entry of the attacked
 * layer's weight, sigma being the population std of that weight before the noise (several layers: each with its own
 * sigma, in the given order). The normal
 * deviates come from a {@link SplittableRandom} seeded from the context's seed and Marsaglia's
 * polar method, both fully specified here, so the same seed gives the same bytes on every run and
 * JDK. Omega = 0 leaves the tensor untouched.
 *
 * @param omega Omega >= 0
 */
public record NoiseAttack(double omega) implements Attack {
    public NoiseAttack {
        if (!(omega >= 0) || Double.isInfinite(omega)) {
            throw new LadyException(LadyException.Kind.USAGE, "noise level Omega must be a finite number >= 0, got "
                    + omega);
        }
    }

    @Override
    public String kind() {
        return "noise";
    }

    @Override
    public double level() {
        return omega;
    }

    @Override
    public AttackResult apply(StateDict state, AttackContext context) {
        List<String> layers = context.requireLayers(kind());
        // one stream of deviates, drawn layer after layer in the given order: one layer's bytes do not depend on
        // whether it is attacked alone or first of several
        SplittableRandom random = new SplittableRandom(Seeds.derive(context.seed(), "attack.noise"));
        List<String> changed = new ArrayList<>();
        double sigmaMin = Double.POSITIVE_INFINITY;
        double sigmaMax = 0;
        double sigma = 0;
        double std = 0;
        context.progress().start(spec(), layers.size(), "layers");
        for (String layer : layers) {
            float[] w = FloatData.read(layer, state.get(layer));
            sigma = populationStd(w);
            std = omega * sigma;
            sigmaMin = Math.min(sigmaMin, sigma);
            sigmaMax = Math.max(sigmaMax, sigma);
            if (std > 0) {
                double[] pair = new double[2];
                for (int i = 0; i < w.length; i += 2) {
                    gaussianPair(random, pair);
                    w[i] = (float) (w[i] + std * pair[0]);
                    if (i + 1 < w.length) {
                        w[i + 1] = (float) (w[i + 1] + std * pair[1]);
                    }
                }
                FloatData.write(layer, state.writable(layer), w);
                changed.add(layer);
            }
            context.progress().advance(1, Map.of("layer", layer));
        }
        context.progress().finish();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("omega", omega);
        if (layers.size() == 1) {
            d.put("sigma", sigma);
            d.put("noise_std", std);
        } else { // each layer's noise is Omega times its own spread
            d.put("layers", layers.size());
            d.put("sigma_min", sigmaMin);
            d.put("sigma_max", sigmaMax);
        }
        return new AttackResult(spec(), changed, d);
    }

    /** Population (divide by N) standard deviation, accumulated in double. */
    static double populationStd(float[] w) {
        if (w.length == 0) {
            return 0;
        }
        double mean = 0;
        for (float v : w) {
            mean += v;
        }
        mean /= w.length;
        double ss = 0;
        for (float v : w) {
            double d = v - mean;
            ss += d * d;
        }
        return Math.sqrt(ss / w.length);
    }

    /** Two independent N(0, 1) deviates (Marsaglia's polar method). */
    static void gaussianPair(SplittableRandom random, double[] out) {
        double u;
        double v;
        double s;
        do {
            u = 2 * random.nextDouble() - 1;
            v = 2 * random.nextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double m = Math.sqrt(-2 * Math.log(s) / s);
        out[0] = u * m;
        out[1] = v * m;
    }
}
