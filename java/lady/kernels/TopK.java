package lady.kernels;

/**
 * The k best columns of every row, best first (ties by lower column): {@code indices} and
 * {@code values} are row-major [rows x k].
 */
public record TopK(int rows, int k, int[] indices, float[] values) {

    /** Column of the rank-th best value of row (rank 0 is the argmax). */
    public int index(int row, int rank) {
        return indices[row * k + rank];
    }

    public float value(int row, int rank) {
        return values[row * k + rank];
    }
}
