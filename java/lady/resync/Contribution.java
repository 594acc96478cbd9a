package lady.resync;

/**
 * One piece of evidence about a group's n neurons: either feature rows of the reference and of the
 * suspect (n x d float32 matrices, row per neuron, compared by cosine similarity), or a ready n x n
 * similarity (row-major: {@code s[i * n + j]} compares reference neuron i with suspect neuron j).
 *
 * @param source     the {@link Evidence#name()} it comes from
 * @param tensor     the member tensor it was read from (or a label such as the probe layers)
 * @param dimension  values per neuron d (the weight of the contribution grows with it, see
 *                   {@link Combination}); 0 for a ready similarity, which then weighs 1
 * @param rows       the reference's and the suspect's rows, or null for a ready similarity
 * @param similarity the ready n x n similarity, or null for rows
 * @param dependencies the groups whose alignment orders the rows' values (a producer's input groups, a
 *                     consumer's output groups: {@link EvidenceContext#dependencies}), those that can still change
 *                     during the resync; empty when none can
 */
public record Contribution(String source, String tensor, long dimension, RowPair rows, float[] similarity,
        java.util.List<String> dependencies) {
    public Contribution {
        dependencies = java.util.List.copyOf(dependencies);
    }

    /** The rows of a group member in the reference and the suspect, compared by cosine similarity. */
    static Contribution member(String source, lady.permutation.Member member, EvidenceContext context, long n,
            java.util.List<String> dependencies) {
        RowPair rows = RowPair.of(context.reference().indexed(member.tensor()), context.suspect().indexed(member.tensor()),
                member, n);
        return new Contribution(source, member.tensor(), rows.dimension(), rows, null, dependencies);
    }

    /** Rows already gathered (n x d float32 each), compared by cosine similarity. */
    static Contribution rows(String source, String tensor, lady.tensor.HostTensor reference,
            lady.tensor.HostTensor suspect) {
        return new Contribution(source, tensor, reference.size(1), RowPair.of(reference, suspect), null,
                java.util.List.of());
    }

    /** A ready n x n similarity. */
    public static Contribution matrix(String source, String tensor, float[] similarity) {
        return new Contribution(source, tensor, 0, null, similarity, java.util.List.of());
    }

    /** Whether this contribution is rows (else a ready similarity). */
    public boolean isRows() {
        return similarity == null;
    }

    /** Frees the rows gathered for this contribution (never the state dicts' own tensors); it is not read again. */
    void release() {
        if (rows != null) {
            rows.release();
        }
    }

    /** What identifies the contribution between two solves of a group: its source and tensor. */
    String key() {
        return source + " " + tensor;
    }
}
