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

    /**
     * An ONNX model whose permuted copy's outputs differ by more than {@link #LOGITS_MAX_ABS_DIFF} of their scale still
     * passes when the difference is at most this many times the model's own float32 noise: the difference the same model
     * shows with every float32 weight moved by one unit in the last place (lady.onnx.OrtRunner#floatNoise). Deep models
     * with random weights (Inception-v3: 0.7-1.04e-4 from the summation order alone) sit at 1e-4; a wrong move changes
     * the outputs by 0.1 or more of their scale.
     */
    public static final double FLOAT_NOISE_FACTOR = 4.0;
}
