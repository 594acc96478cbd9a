package lady.kernels;

/**
 * Named tolerances of the kernel tests: every optimized or GPU version is compared with the
 * reference through these, never through ad-hoc literals. Index results (permutations, argmax,
 * assignments, orders) are always compared exactly.
 */
public final class Tolerances {
    private Tolerances() {}

    /** Permutations move bytes: results must be bit for bit identical. */
    public static final double PERMUTE_EXACT = 0.0;

    /** Maximum relative error of a float32 dot product / cosine against the reference
     * (different summation orders, FMA): |a - b| <= F32_MAX_REL_ERR * max(1, |b|). */
    public static final double F32_MAX_REL_ERR = 1e-5;

    /** Objective of an exact assignment vs the reference's: the same optimum summed in double in
     * another order, so equal up to this relative error per row (times n, relative to the objective). */
    public static final double ASSIGN_OBJECTIVE_REL_ERR = 1e-9;

    /** The CUDA auction is exact on the matrix quantized to L levels, L * (n + 1) = this range
     * (assign_cuda.cu): its objective may lie n * (max - min) / L below the optimum. */
    public static final double AUCTION_LEVELS_RANGE = 4294967296.0;

    /** The paper's equivalence check: logits of a permuted model vs the original (method.md 3). */
    public static final double LOGITS_MAX_ABS_DIFF = 1e-4;
}
