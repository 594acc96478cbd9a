package lady.permutation;

import lady.tensor.HostTensor;

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

    /** The slices of member {@code m} of a group of {@code n} neurons in {@code t}: a contiguous float32 [n, k]
     * tensor (the tensor itself, seen as [n, k], when the member is all of a float32 tensor's axis 0). */
    public static HostTensor rows(HostTensor t, Member m, long n) {
        long[] shape = t.shape();
        long span = n * m.block();
        if (m.axis() == 0 && m.offset() == 0 && shape.length > 0 && shape[0] == span) {
            return t.toFloat32().reshape(n, -1);
        }
        return t.axisSlice(m.axis(), m.offset(), span).toFloat32().reshape(n, -1);
    }

    /**
     * {@code t} with member {@code m}'s neuron slices gathered by {@code match} (new neuron j = old neuron
     * match[j]), everything outside the member's range untouched: a new tensor. Unlike a permutation,
     * {@code match} may repeat neurons (the paper's argmax with duplicates).
     */
    public static HostTensor gather(HostTensor t, Member m, long[] match) {
        return t.gather(m.axis(), m.offset(), m.block(), match);
    }
}
