package lady.resync;

import java.util.Set;

import lady.kernels.Backend;
import lady.paper.Paper;

/**
 * Options of a resync with the reference model.
 *
 * @param method          argmax (the paper) or assignment (default)
 * @param backend         which kernels compute the similarity and the assignment
 * @param groups          names of the groups to resync; empty means all
 * @param marginThreshold a neuron whose margin is below this counts as low-confidence
 * @param integrityRatio  norm ratios outside [1/r, r] are flagged by the integrity check
 * @param similarity      where the neuron similarity comes from: null for the producer weights (the
 *                        paper's signal, default), else e.g. an {@link ActivationSignal}
 * @param prefilter       whether large groups find their exact assignment through the random-projection
 *                        prefilter ({@link PrefilteredMatch}; auto by default; same match as dense)
 * @param margins         the confidence margins of prefiltered groups: exact (default, about one dense
 *                        similarity product per group) or the sketch's lower bounds ({@link Margins})
 */
public record ResyncOptions(Method method, Backend backend, Set<String> groups, double marginThreshold,
        double integrityRatio, GroupSimilarity similarity, Prefilter prefilter, Margins margins) {
    public ResyncOptions {
        groups = Set.copyOf(groups);
    }

    public static ResyncOptions defaults() {
        return new ResyncOptions(Method.ASSIGNMENT, Backend.CPU, Set.of(), Paper.RESYNC_LOW_MARGIN,
                Paper.RESYNC_INTEGRITY_RATIO, null, Prefilter.AUTO, Margins.EXACT);
    }

    /** The signal the neurons are compared by. */
    public Signal signal() {
        return similarity == null ? Signal.WEIGHTS : similarity.signal();
    }

    public ResyncOptions withMethod(Method m) {
        return new ResyncOptions(m, backend, groups, marginThreshold, integrityRatio, similarity, prefilter, margins);
    }

    public ResyncOptions withGroups(Set<String> g) {
        return new ResyncOptions(method, backend, g, marginThreshold, integrityRatio, similarity, prefilter, margins);
    }

    public ResyncOptions withBackend(Backend b) {
        return new ResyncOptions(method, b, groups, marginThreshold, integrityRatio, similarity, prefilter, margins);
    }

    /** Compare neurons by {@code s} instead of the producer weights (null: the weights again). */
    public ResyncOptions withSimilarity(GroupSimilarity s) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, s, prefilter, margins);
    }

    /** Flag matched neurons whose relative norm ratio lies outside [1/r, r] (r > 1). */
    public ResyncOptions withIntegrityRatio(double r) {
        if (!(r > 1) || Double.isInfinite(r)) {
            throw new lady.LadyException(lady.LadyException.Kind.USAGE, "the integrity ratio must be a number > 1, got " + r);
        }
        return new ResyncOptions(method, backend, groups, marginThreshold, r, similarity, prefilter, margins);
    }

    /** Prefilter large groups (auto), every group (on), or none (off: always the dense similarity). */
    public ResyncOptions withPrefilter(Prefilter p) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, similarity, p, margins);
    }

    /** Exact margins on prefiltered groups (default), or the sketch's lower bounds (no dense product). */
    public ResyncOptions withMargins(Margins m) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, similarity, prefilter, m);
    }
}
