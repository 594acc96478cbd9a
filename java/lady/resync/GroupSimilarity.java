package lady.resync;

import lady.checkpoint.StateDict;
import lady.permutation.Group;

/**
 * A source of a group's neuron similarity other than the producer weights, plugged into
 * {@link ReferenceResync} through {@link ResyncOptions#similarity()}. The resync still walks the
 * groups in topological order and applies each group's match to the suspect before the next group;
 * the match, the confidence margins and Psi are computed from this similarity exactly as from the
 * weights' cosine, and the integrity check still compares the producer rows' norms.
 */
public interface GroupSimilarity {
    /** The signal this source stands for (for reports). */
    Signal signal();

    /**
     * The N x N similarity of group {@code g}, row-major: {@code s[i * n + j]} compares reference
     * neuron i with suspect neuron j, the suspect as re-ordered so far by the resync.
     */
    float[] similarity(Group g, StateDict suspect);

    /** Told after group {@code g}'s match was applied to the suspect (new j = old match[j]). */
    void applied(Group g, long[] match);
}
