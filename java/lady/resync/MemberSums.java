package lady.resync;

import lady.checkpoint.StateDict;
import lady.permutation.Member;

/**
 * Per-neuron sums of a group member's values, read where they lie (a mapped checkpoint's float32, bfloat16 or
 * float16 bytes, through lazy index maps: {@link NeuronRows}), without a float32 copy of the member: what the basic
 * canonical ranking scores a Llama's 128k-row embedding and its 14336-unit MLPs with.
 */
public final class MemberSums {
    private MemberSums() {}

    /** acc[j] += the sum, in double, of neuron j's values in member {@code m} (of a group of {@code n}) of {@code state}. */
    public static void accumulate(StateDict state, Member m, long n, double[] acc) {
        NeuronRows.of(state.indexed(m.tensor()), m, n).accumulateSums(acc);
    }
}
