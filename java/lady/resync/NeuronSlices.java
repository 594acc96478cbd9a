package lady.resync;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.permutation.Member;

/**
 * The one place that turns a group member's tensor into per-neuron rows: an n x d float32 matrix
 * whose row j holds everything neuron j owns in that tensor, for every evidence source of the
 * resync (producer rows, consumer columns, bias and normalization vectors).
 *
 * <p>Along the member's axis, neuron j owns the indices {@code [j * block, (j + 1) * block)}; its
 * row is that slice over every other axis, in row-major order: for a producer weight (axis 0) the
 * flattened weight row, for a consumer weight (axis 1) the column {@code W[:, j]} (a conv's
 * {@code W[:, j, :, :]}; a Linear fed by conv -> flatten: the block of H*W columns of channel j, for
 * every output row), for a vector (bias, BN) the neuron's value(s). Rows are libtorch views where
 * the memory is already laid out row per neuron (producers: no copy), a gathered copy otherwise.
 */
public final class NeuronSlices {
    private NeuronSlices() {}

    /** The rows of {@code member}'s tensor {@code t} for a group of {@code n} neurons: n x d, float32, contiguous. */
    public static Tensor rows(Tensor t, Member member, long n) {
        Tensor x = layout(t, member, n);
        if (x.size(0) > 1) {
            x = x.transpose(0, 1);
        }
        return x.reshape(n, -1).to(torch.ScalarType.Float).contiguous();
    }

    /** The rows of the given {@code neurons} only (in that order): {@code rows(t, member, n)} restricted to them. */
    public static Tensor rows(Tensor t, Member member, long n, long[] neurons) {
        layout(t, member, n); // validates the shape
        long block = member.block();
        long[] idx = new long[Math.toIntExact(neurons.length * block)];
        for (int k = 0; k < neurons.length; k++) {
            for (int b = 0; b < block; b++) {
                idx[(int) (k * block + b)] = neurons[k] * block + b;
            }
        }
        Tensor index = torch.from_blob(new org.bytedeco.javacpp.LongPointer(idx), new long[] {idx.length},
                new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long)).clone();
        Tensor picked = t.index_select(member.axis(), index);
        return rows(picked, member, neurons.length);
    }

    /**
     * cos(a's row i, b's row i) for every neuron i of two tensors of the same member (the matched pairs
     * of an aligned group), without gathering the rows: one pass over both tensors in their own layout.
     */
    public static double[] diagonalCosine(Tensor a, Tensor b, Member member, long n) {
        Tensor x = layout(a, member, n).to(torch.ScalarType.Float).contiguous();
        Tensor y = layout(b, member, n).to(torch.ScalarType.Float).contiguous();
        if (x.size(0) == 1) {
            return Similarity.diagonalCosine(x.reshape(n, -1), y.reshape(n, -1), Math.toIntExact(n));
        }
        return Similarity.diagonalCosineStrided(x, y, Math.toIntExact(n));
    }

    /** {@code t} viewed as (outer, n, d / outer): the axes before the member's axis, its neurons, the rest. */
    private static Tensor layout(Tensor t, Member member, long n) {
        long[] shape = t.sizes().vec().get();
        int axis = member.axis();
        if (axis >= shape.length) {
            throw LadyException.invalidInput("tensor '" + member.tensor() + "' has " + shape.length
                    + " axes; its group permutes axis " + axis);
        }
        long span = n * member.block();
        if (shape[axis] != span) {
            throw LadyException.invalidInput(String.format("tensor '%s' has %d entries along axis %d; its group of %d "
                    + "neurons (blocks of %d) needs %d", member.tensor(), shape[axis], axis, n, member.block(), span));
        }
        long outer = 1;
        for (int a = 0; a < axis; a++) {
            outer *= shape[a];
        }
        long inner = 1;
        for (int a = axis + 1; a < shape.length; a++) {
            inner *= shape[a];
        }
        return t.reshape(outer, n, member.block() * inner);
    }

    /** Values per neuron (d) of {@link #rows}, from the shape alone. */
    public static long dimension(long[] shape, Member member, long n) {
        long total = 1;
        for (long s : shape) {
            total *= s;
        }
        return n == 0 ? 0 : total / n;
    }
}
