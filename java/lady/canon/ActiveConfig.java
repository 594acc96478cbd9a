package lady.canon;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.LadyException;
import lady.paper.Paper;
import lady.report.Json;

/**
 * Settings of active ranking (method.md section 5): plain SGD (no momentum) on the input with a
 * StepLR schedule, the network frozen.
 *
 * @param steps        optimizer steps (the paper: 30000; tests use a few)
 * @param lr           initial learning rate (the paper: 1.0)
 * @param lrStep       StepLR step: the learning rate is multiplied by {@code lrGamma} every {@code lrStep} steps
 * @param lrGamma      StepLR factor
 * @param seed         seed of the initial input (the only randomness)
 * @param authorsSlice take the responses at the next Conv2d / Linear module after the target, as the
 *                     authors' script does by an off-by-one (method.md 10, item 6); off by default.
 *                     With it on, the responses are not those of the target's neurons: a permutation
 *                     of the target group does not permute them, so the ranking cannot follow it
 */
public record ActiveConfig(int steps, double lr, int lrStep, double lrGamma, long seed, boolean authorsSlice) {
    public ActiveConfig {
        if (steps < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking steps must be >= 0, got " + steps);
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking learning rate must be > 0, got " + lr);
        }
        if (lrStep < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking StepLR step must be >= 1, got " + lrStep);
        }
        if (!(lrGamma > 0) || Double.isInfinite(lrGamma)) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking StepLR factor must be > 0, got " + lrGamma);
        }
    }

    /** The paper's settings ({@link Paper}'s ACTIVE_* constants) with {@code seed}. */
    public static ActiveConfig paper(long seed) {
        return new ActiveConfig(Paper.ACTIVE_STEPS, Paper.ACTIVE_LR, Paper.ACTIVE_LR_STEP, Paper.ACTIVE_LR_GAMMA, seed,
                false);
    }

    public ActiveConfig withSteps(int s) {
        return new ActiveConfig(s, lr, lrStep, lrGamma, seed, authorsSlice);
    }

    public ActiveConfig withSeed(long s) {
        return new ActiveConfig(steps, lr, lrStep, lrGamma, s, authorsSlice);
    }

    public ActiveConfig withAuthorsSlice(boolean a) {
        return new ActiveConfig(steps, lr, lrStep, lrGamma, seed, a);
    }

    /** The learning rate of step {@code step} (0-based): StepLR, {@code lr * gamma^(step / lrStep)}. */
    public double lrAt(int step) {
        return lr * Math.pow(lrGamma, step / lrStep);
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("lr", lr);
        m.put("lr_step", lrStep);
        m.put("lr_gamma", lrGamma);
        m.put("seed", seed);
        m.put("authors_slice", authorsSlice);
        return m;
    }

    /** Reads {@link #toJson()}'s form; {@code what} names the value in messages. */
    static ActiveConfig fromJson(Object json, String what) {
        if (!(json instanceof Map<?, ?> m)) {
            throw LadyException.invalidInput(what + ": expected an object with the active ranking settings");
        }
        return new ActiveConfig(intField(m, "steps", what), Json.doubleField(m, "lr", what),
                intField(m, "lr_step", what), Json.doubleField(m, "lr_gamma", what), Json.longField(m, "seed", what),
                Json.booleanField(m, "authors_slice", what));
    }

    private static int intField(Map<?, ?> m, String field, String what) {
        long v = Json.longField(m, field, what);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw LadyException.invalidInput(what + ": \"" + field + "\" is out of range: " + v);
        }
        return (int) v;
    }
}
