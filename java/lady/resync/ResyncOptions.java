package lady.resync;

import java.util.List;
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
 * @param signalSource    where the neuron similarity comes from instead of the weights: null for the
 *                        weights (default), else e.g. an {@link ActivationSignal}
 * @param prefilter       whether large groups find their exact assignment through the random-projection
 *                        prefilter ({@link PrefilteredMatch}; auto by default; same match as dense)
 * @param evidence        which weight evidence the assignment reads: all (default) or the producers' rows
 *                        only; the argmax method always reads the producers' rows only (the paper)
 * @param weighting       how the contributions of a group are weighed ({@link Combination}; sqrt(d) by default)
 * @param margins         the confidence margins of prefiltered groups: auto (default: exact when the resync's
 *                        dense margin work is within a budget, else bounds), exact (about one dense similarity
 *                        product per group) or the sketch's lower bounds ({@link Margins})
 * @param screenMinFlop   a group the prefilter cannot resolve is screened for any relation to the reference before
 *                        its dense path when that path's similarity product (2 n^2 D) costs at least this many
 *                        FLOP ({@link RelationScreen}; default {@link RelationScreen#MIN_DENSE_FLOP}; infinity: never)
 */
public record ResyncOptions(Method method, Backend backend, Set<String> groups, double marginThreshold,
        double integrityRatio, Evidence signalSource, Prefilter prefilter, EvidenceScope evidence,
        EvidenceWeighting weighting, Margins margins, double screenMinFlop) {
    public ResyncOptions {
        groups = Set.copyOf(groups);
    }

    public static ResyncOptions defaults() {
        return new ResyncOptions(Method.ASSIGNMENT, Backend.CPU, Set.of(), Paper.RESYNC_LOW_MARGIN,
                Paper.RESYNC_INTEGRITY_RATIO, null, Prefilter.AUTO, EvidenceScope.ALL, EvidenceWeighting.SQRT_DIMENSION,
                Margins.AUTO, RelationScreen.MIN_DENSE_FLOP);
    }

    /** The signal the neurons are compared by. */
    public Signal signal() {
        return signalSource == null ? Signal.WEIGHTS : Signal.ACTIVATIONS;
    }

    /** The weight evidence actually read: the producers' rows for argmax (the paper's mode), else {@link #evidence()}. */
    public EvidenceScope effectiveEvidence() {
        return method == Method.ARGMAX ? EvidenceScope.PRODUCERS : evidence;
    }

    /** The evidence sources of this resync, in the order their contributions are combined. */
    List<Evidence> sources() {
        if (signalSource != null) {
            return List.of(signalSource);
        }
        if (effectiveEvidence() == EvidenceScope.PRODUCERS) {
            return List.of(new ProducerRows());
        }
        return List.of(new ProducerRows(), new NeuronVectors(), new ConsumerColumns());
    }

    public ResyncOptions withMethod(Method m) {
        return new ResyncOptions(m, backend, groups, marginThreshold, integrityRatio, signalSource, prefilter, evidence,
                weighting, margins, screenMinFlop);
    }

    public ResyncOptions withGroups(Set<String> g) {
        return new ResyncOptions(method, backend, g, marginThreshold, integrityRatio, signalSource, prefilter, evidence,
                weighting, margins, screenMinFlop);
    }

    public ResyncOptions withBackend(Backend b) {
        return new ResyncOptions(method, b, groups, marginThreshold, integrityRatio, signalSource, prefilter, evidence,
                weighting, margins, screenMinFlop);
    }

    /** Compare neurons by {@code s} instead of the weights (null: the weights again). */
    public ResyncOptions withSignalSource(Evidence s) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, s, prefilter, evidence,
                weighting, margins, screenMinFlop);
    }

    /** Flag matched neurons whose relative norm ratio lies outside [1/r, r] (r > 1). */
    public ResyncOptions withIntegrityRatio(double r) {
        if (!(r > 1) || Double.isInfinite(r)) {
            throw new lady.LadyException(lady.LadyException.Kind.USAGE, "the integrity ratio must be a number > 1, got " + r);
        }
        return new ResyncOptions(method, backend, groups, marginThreshold, r, signalSource, prefilter, evidence,
                weighting, margins, screenMinFlop);
    }

    /** Prefilter large groups (auto), every group (on), or none (off: always the dense similarity). */
    public ResyncOptions withPrefilter(Prefilter p) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, signalSource, p, evidence,
                weighting, margins, screenMinFlop);
    }

    /** Margins on prefiltered groups: auto (default), exact, or the sketch's lower bounds (no dense product). */
    public ResyncOptions withMargins(Margins m) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, signalSource, prefilter, evidence,
                weighting, m, screenMinFlop);
    }

    /** Read all the weight evidence (default) or the producers' rows only. */
    public ResyncOptions withEvidence(EvidenceScope e) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, signalSource, prefilter, e,
                weighting, margins, screenMinFlop);
    }

    /** Weigh a group's contributions by sqrt(d) (default), d, or equally. */
    public ResyncOptions withWeighting(EvidenceWeighting w) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, signalSource, prefilter,
                evidence, w, margins, screenMinFlop);
    }

    /** Screen the groups the prefilter cannot resolve when their dense product costs at least {@code flop} FLOP. */
    public ResyncOptions withScreenMinFlop(double flop) {
        return new ResyncOptions(method, backend, groups, marginThreshold, integrityRatio, signalSource, prefilter,
                evidence, weighting, margins, flop);
    }
}
