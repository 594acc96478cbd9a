package lady.resync;

import org.bytedeco.pytorch.Tensor;

import lady.permutation.Member;

/**
 * The reference's and the suspect's rows of one contribution (n x d float32 each, row per neuron),
 * gathered from the member's tensors only when a dense product or the prefilter needs them: the
 * matched pairs alone ({@link #diagonalCosine()}, a later pass's certificate) are read in the
 * tensors' own layout ({@link NeuronSlices}).
 */
final class RowPair {
    private final Tensor referenceTensor;
    private final Tensor suspectTensor;
    private final Member member;
    private final long n;
    private final long dimension;
    private Tensor reference;
    private Tensor suspect;

    private RowPair(Tensor referenceTensor, Tensor suspectTensor, Member member, long n, long dimension,
            Tensor reference, Tensor suspect) {
        this.referenceTensor = referenceTensor;
        this.suspectTensor = suspectTensor;
        this.member = member;
        this.n = n;
        this.dimension = dimension;
        this.reference = reference;
        this.suspect = suspect;
    }

    /** Rows already gathered (n x d float32, contiguous). */
    static RowPair of(Tensor reference, Tensor suspect) {
        return new RowPair(null, null, null, reference.size(0), reference.size(1), reference, suspect);
    }

    /** The rows of {@code member} in the reference's and the suspect's tensor, for a group of n neurons. */
    static RowPair of(Tensor referenceTensor, Tensor suspectTensor, Member member, long n) {
        return new RowPair(referenceTensor, suspectTensor, member, n, referenceTensor.numel() / n, null, null);
    }

    long dimension() {
        return dimension;
    }

    Tensor reference() {
        if (reference == null) {
            reference = NeuronSlices.rows(referenceTensor, member, n);
        }
        return reference;
    }

    Tensor suspect() {
        if (suspect == null) {
            suspect = NeuronSlices.rows(suspectTensor, member, n);
        }
        return suspect;
    }

    /** The reference's rows {@code refRows} and the suspect's rows {@code susRows}, as {reference, suspect}. */
    Tensor[] subset(long[] refRows, long[] susRows) {
        if (member == null || reference != null) {
            return new Tensor[] {select(reference(), refRows), select(suspect(), susRows)};
        }
        return new Tensor[] {NeuronSlices.rows(referenceTensor, member, n, refRows),
                NeuronSlices.rows(suspectTensor, member, n, susRows)};
    }

    private static Tensor select(Tensor rows, long[] which) {
        Tensor index = org.bytedeco.pytorch.global.torch.from_blob(new org.bytedeco.javacpp.LongPointer(which),
                new long[] {which.length}, new org.bytedeco.pytorch.TensorOptions(
                        org.bytedeco.pytorch.global.torch.ScalarType.Long)).clone();
        return rows.index_select(0, index).contiguous();
    }

    /** cos(reference row i, suspect row i) for every i. */
    double[] diagonalCosine() {
        if (member == null || reference != null) {
            return Similarity.diagonalCosine(reference(), suspect(), Math.toIntExact(n));
        }
        return NeuronSlices.diagonalCosine(referenceTensor, suspectTensor, member, n);
    }
}
