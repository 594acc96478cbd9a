package lady.kernels;

/**
 * Per-row argmax of a similarity matrix with the best and second-best values (method.md section 4:
 * argmax matching and its confidence margin). Ties go to the lower column; {@code second[i]} is the
 * largest value among the other columns (equal to {@code best[i]} when the maximum repeats,
 * {@code -infinity} for a single column).
 */
public record ArgmaxTop2(int[] index, float[] best, float[] second) {

    public int rows() {
        return index.length;
    }

    /** best - second of row i: how clearly row i picked its column. */
    public float margin(int i) {
        return best[i] - second[i];
    }

    /** The argmax columns as a match array (not necessarily a permutation). */
    public int[] match() {
        return index.clone();
    }

    /**
     * Number of rows whose column was already taken by an earlier row: 0 exactly when the argmax
     * match is a permutation (for a square matrix). The paper counts these as errors.
     */
    public int duplicates() {
        int max = 0;
        for (int j : index) {
            max = Math.max(max, j);
        }
        boolean[] seen = new boolean[max + 1];
        int dup = 0;
        for (int j : index) {
            if (seen[j]) {
                dup++;
            }
            seen[j] = true;
        }
        return dup;
    }
}
