package lady.resync;

import java.util.List;
import java.util.Set;

import lady.permutation.Group;

/**
 * One source of evidence about which suspect neuron plays which reference neuron (method.md section
 * 4, "More evidence"). {@link ReferenceResync} walks the groups in topological order and, for each
 * group, asks every source of the resync for its {@link Contribution}s, combines them
 * ({@link Combination}), solves the match and applies it to the suspect.
 *
 * <p>A source says what it can tell about a group <i>now</i>: evidence whose other axes are indexed
 * by another group is only comparable once that group is aligned (a producer's rows read its input
 * group; a consumer's columns are ordered by the consumer's own output group), so such a
 * contribution is usable only when {@link EvidenceContext#aligned} says so, and the source lists
 * those groups in {@link #dependencies}: a group whose dependencies were aligned or corrected after it
 * was solved is solved again in a later pass.
 *
 * <p>Sources: {@link ProducerRows} (the paper), {@link NeuronVectors} (bias and batch-norm values),
 * {@link ConsumerColumns}, {@link ActivationSignal} (outputs on probe images).
 */
public interface Evidence {
    /** The source's name in reports, e.g. "producer_rows". */
    String name();

    /** What this source can tell about group {@code g} now; empty when nothing is usable yet. */
    List<Contribution> contributions(Group g, EvidenceContext context);

    /** The groups whose alignment this source's evidence about {@code g} depends on (usable now or not). */
    default Set<String> dependencies(Group g, EvidenceContext context) {
        return Set.of();
    }

    /**
     * Values per neuron of what this source would contribute about {@code g} now, from the tensors' shapes (nothing
     * is read; an upper bound where values may be left out): what {@link Margins#AUTO} weighs the resync's dense
     * work by. 0 for a source that does not give rows (a ready similarity).
     */
    default long dimension(Group g, EvidenceContext context) {
        return 0;
    }

    /** Told after group {@code g}'s match was applied to the suspect (new j = old match[j]). */
    default void applied(Group g, long[] match) {}
}
