package lady.permutation;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * The per-neuron slices of a group member: the one place that turns a member's (axis, offset, block)
 * into rows. Neuron j of a group of {@code n} owns, along the member's axis, the indices
 * {@code [offset + j*block, offset + (j+1)*block)}; its slice is every entry of the tensor at those
 * indices (all other axes), flattened in the tensor's order. For a conv weight's rows that is the filter;
 * for a consumer's columns (axis 1), the column block; for attention heads, head_dim rows of one q/k/v
 * segment.
 */
public final class MemberSlices {
    private MemberSlices() {}

    /** The slices of member {@code m} of a group of {@code n} neurons in {@code t}: a contiguous float32 [n, k] tensor. */
    public static Tensor rows(Tensor t, Member m, long n) {
        Tensor x = t.narrow(m.axis(), m.offset(), n * m.block());
        if (m.axis() != 0) {
            x = x.movedim(m.axis(), 0);
        }
        return x.reshape(n, -1).to(torch.ScalarType.Float).contiguous();
    }

    /**
     * {@code t} with member {@code m}'s neuron slices gathered by {@code match} (new neuron j = old neuron
     * match[j]), everything outside the member's range untouched. Unlike a permutation, {@code match} may
     * repeat neurons (the paper's argmax with duplicates).
     */
    public static Tensor gather(Tensor t, Member m, long[] match) {
        long length = t.size(m.axis());
        long[] idx = new long[Math.toIntExact(length)];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        for (int j = 0; j < match.length; j++) {
            for (long k = 0; k < m.block(); k++) {
                idx[Math.toIntExact(m.offset() + j * m.block() + k)] = m.offset() + match[j] * m.block() + k;
            }
        }
        Tensor index = torch.from_blob(new LongPointer(idx), new long[] {idx.length},
                new TensorOptions(torch.ScalarType.Long)).clone();
        return t.index_select(m.axis(), index).contiguous();
    }
}
