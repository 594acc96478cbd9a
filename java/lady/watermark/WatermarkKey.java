package lady.watermark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.io.AtomicFiles;
import lady.paper.Paper;
import lady.report.Json;
import lady.util.Seeds;
import lady.util.Text;

/**
 * The owner's secret of an Uchida et al. (2017) watermark (method.md 8): the watermarked weight
 * tensor, the T bits, and the T x L projection matrix X (L = length of w_bar = C*k*k for a conv
 * weight of shape O x C x k x k), plus the embedding weight lambda.
 *
 * <p><b>Deterministic generation</b> (this is part of the key format, version 1): from the seed,
 * bit {@code t} is 1 when the {@code t}-th {@code nextDouble()} of
 * {@code new SplittableRandom(Seeds.derive(seed, "watermark.bits"))} is below {@code pOne}; X is
 * filled row-major with i.i.d. N(0, 1) deviates from
 * {@code new SplittableRandom(Seeds.derive(seed, "watermark.key"))} by the basic Box-Muller
 * transform ({@code u1 = 1 - nextDouble(), u2 = nextDouble(), r = sqrt(-2 ln u1)}, deviates
 * {@code r cos(2 pi u2)} then {@code r sin(2 pi u2)}) computed with {@link StrictMath} and
 * rounded to float. SplittableRandom and StrictMath are fully specified by the JDK, so the same seed
 * gives the same key on every machine and JDK; the file therefore need not hold the matrix.
 *
 * <p>File (JSON, written atomically):
 * <pre>
 * {"format": "lady-watermark-key", "format_version": 1, "method": "uchida2017",
 *  "layer": "features.19.weight", "T": 64, "w_bar_length": 1152, "p_one": 0.666..., "seed": 7,
 *  "lambda": 0.1, "log_base": 2, "bits": [1, 0, ...], "matrix": [[...], ...]}   (matrix optional)
 * </pre>
 * When the file holds a matrix it is used as it is (a key made elsewhere, without our seed).
 *
 * @param layer   name of the watermarked weight tensor, e.g. "features.19.weight"
 * @param bits    the T watermark bits, each 0 or 1
 * @param length  L, the length of w_bar (C*k*k)
 * @param pOne    probability of a 1 bit used to draw the bits (informative when the bits are given)
 * @param seed    seed the bits and X were generated from; null when the file gave an explicit matrix
 * @param lambda  weight of the watermark loss during embedding
 * @param matrix  X, row-major T x L
 */
public record WatermarkKey(String layer, int[] bits, int length, double pOne, Long seed, double lambda,
        float[] matrix) {

    public static final String FORMAT = "lady-watermark-key";
    public static final int FORMAT_VERSION = 1;
    public static final String METHOD = "uchida2017";

    public WatermarkKey {
        if (layer == null || layer.isBlank()) {
            throw LadyException.invalidInput("watermark key: no layer");
        }
        if (bits == null || bits.length < 1) {
            throw LadyException.invalidInput("watermark key: it needs at least one bit");
        }
        for (int b : bits) {
            if (b != 0 && b != 1) {
                throw LadyException.invalidInput("watermark key: bits must be 0 or 1, got " + b);
            }
        }
        if (length < 1) {
            throw LadyException.invalidInput("watermark key: w_bar length must be >= 1, got " + length);
        }
        if (!(lambda > 0) || Double.isInfinite(lambda)) {
            throw LadyException.invalidInput("watermark key: lambda must be > 0, got " + lambda);
        }
        if (!(pOne >= 0 && pOne <= 1)) {
            throw LadyException.invalidInput("watermark key: p_one must be in [0, 1], got " + pOne);
        }
        if (matrix == null || matrix.length != (long) bits.length * length) {
            throw LadyException.invalidInput("watermark key: the matrix must hold T x L = " + bits.length + " x "
                    + length + " values, got " + (matrix == null ? 0 : matrix.length));
        }
        bits = bits.clone();
        matrix = matrix.clone();
    }

    /** T, the number of bits. */
    public int size() {
        return bits.length;
    }

    @Override
    public int[] bits() {
        return bits.clone();
    }

    @Override
    public float[] matrix() {
        return matrix.clone();
    }

    /** Entry (t, i) of X. */
    public float x(int t, int i) {
        return matrix[t * length + i];
    }

    /**
     * Generates a key deterministically from {@code seed} (see the class comment).
     *
     * @param layer  watermarked weight tensor, e.g. "features.19.weight"
     * @param length L = C*k*k of that tensor
     * @param bits   T
     * @param pOne   P(bit = 1)
     * @param lambda embedding weight
     */
    public static WatermarkKey generate(String layer, int length, int bits, double pOne, long seed, double lambda) {
        if (bits < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "watermark bits T must be >= 1, got " + bits);
        }
        if (length < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "w_bar length must be >= 1, got " + length);
        }
        if ((long) bits * length > Integer.MAX_VALUE - 8) {
            throw new LadyException(LadyException.Kind.USAGE, "watermark key too large: " + bits + " x " + length);
        }
        SplittableRandom bitRandom = new SplittableRandom(Seeds.derive(seed, "watermark.bits"));
        int[] b = new int[bits];
        for (int t = 0; t < bits; t++) {
            b[t] = bitRandom.nextDouble() < pOne ? 1 : 0;
        }
        SplittableRandom random = new SplittableRandom(Seeds.derive(seed, "watermark.key"));
        float[] x = new float[bits * length];
        for (int i = 0; i < x.length; i += 2) {
            double u1 = 1.0 - random.nextDouble(); // (0, 1]: log is finite
            double u2 = random.nextDouble();
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
            double a = 2.0 * StrictMath.PI * u2;
            x[i] = (float) (r * StrictMath.cos(a));
            if (i + 1 < x.length) {
                x[i + 1] = (float) (r * StrictMath.sin(a));
            }
        }
        return new WatermarkKey(layer, b, length, pOne, seed, lambda, x);
    }

    /** A key with the paper's parameters (T = 64, P(1) = 2/3, lambda = 0.1) for {@code layer} of {@code state}. */
    public static WatermarkKey forModel(StateDict state, String layer, long seed) {
        return generate(layer, wBarLength(state, layer), Paper.UCHIDA_BITS, Paper.UCHIDA_P_ONE, seed,
                Paper.UCHIDA_LAMBDA);
    }

    /** L = numel / shape[0] of weight {@code layer} (C*k*k for a conv); a clear error for a tensor without filters. */
    public static int wBarLength(StateDict state, String layer) {
        long[] shape = state.shape(layer);
        if (shape.length < 2 || shape[0] < 1) {
            throw LadyException.invalidInput("tensor " + Text.quote(layer) + " has shape " + Text.shape(shape)
                    + ": the watermark needs a weight with filters on axis 0 (a conv weight O x C x k x k)");
        }
        long l = 1;
        for (int i = 1; i < shape.length; i++) {
            l *= shape[i];
            if (l > Integer.MAX_VALUE) {
                throw LadyException.invalidInput("tensor " + Text.quote(layer) + " of shape " + Text.shape(shape)
                        + " has more than " + Integer.MAX_VALUE + " weights per filter: too large for a watermark");
            }
        }
        return (int) l;
    }

    /**
     * Refuses a key that does not fit {@code state}: the layer must exist and its w_bar length must
     * be the key's.
     *
     * @throws LadyException INVALID_INPUT naming both sizes
     */
    public void checkFits(StateDict state) {
        checkFits(state, layer, bits.length, length);
    }

    private static void checkFits(StateDict state, String layer, int t, int length) {
        if (!state.contains(layer)) {
            throw LadyException.invalidInput("the watermark key is for tensor " + Text.quote(layer)
                    + ", which the model does not have");
        }
        int actual = wBarLength(state, layer);
        if (actual != length) {
            throw LadyException.invalidInput(String.format(
                    "the watermark key does not fit the model: the key's X is %d x %d (w_bar length %d for %s), "
                            + "but the model's %s has shape %s, i.e. w_bar length %d",
                    t, length, length, Text.quote(layer), Text.quote(layer), Text.shape(state.shape(layer)), actual));
        }
    }

    /** The JSON form; the matrix only when {@code withMatrix} (the seed regenerates it). */
    public Map<String, Object> toJson(boolean withMatrix) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("format_version", FORMAT_VERSION);
        m.put("method", METHOD);
        m.put("layer", layer);
        m.put("T", bits.length);
        m.put("w_bar_length", length);
        m.put("p_one", pOne);
        m.put("seed", seed);
        m.put("lambda", lambda);
        m.put("log_base", Paper.UCHIDA_LOG_BASE);
        m.put("bits", bits.clone());
        if (withMatrix || seed == null) {
            List<Object> rows = new ArrayList<>();
            for (int t = 0; t < bits.length; t++) {
                double[] row = new double[length];
                for (int i = 0; i < length; i++) {
                    row[i] = x(t, i);
                }
                rows.add(row);
            }
            m.put("matrix", rows);
        }
        return m;
    }

    /** Writes the key atomically (without the matrix unless {@code withMatrix}). */
    public void write(Path path, boolean withMatrix) {
        AtomicFiles.writeString(path, Json.write(toJson(withMatrix)) + "\n");
    }

    /** Most entries of X a key may have: the largest Java array (a real key has T x C k k, e.g. 64 x 4608). */
    static final long MAX_MATRIX_ENTRIES = Integer.MAX_VALUE - 8;
    /** Most entries of X built for a key read without its model (256 MB; with the model, its layer bounds L and the
     * file's bits bound T). */
    static final long MAX_ENTRIES_WITHOUT_MODEL = 1L << 26;

    /** Reads a key written by {@link #write}; clear errors for missing, malformed or inconsistent files. */
    public static WatermarkKey read(Path path) {
        return read(path, null);
    }

    /**
     * Reads a key for {@code model} (null: any model): its layer and w_bar length are checked against the model
     * ({@link #checkFits}) before X is built or read, so that a key with absurd dimensions is refused without
     * allocating them.
     */
    public static WatermarkKey read(Path path, StateDict model) {
        Map<?, ?> m = Json.readVersionedFile(path, "watermark key", FORMAT, FORMAT_VERSION);
        if (!METHOD.equals(m.get("method"))) {
            throw LadyException.invalidInput(path + ": unsupported watermark method " + m.get("method")
                    + " (this Lady reads " + METHOD + ")");
        }
        String layer = m.get("layer") instanceof String s ? s : null;
        if (layer == null) {
            throw LadyException.invalidInput(path + ": missing \"layer\"");
        }
        int t = integer(m, "T", path);
        int length = integer(m, "w_bar_length", path);
        double lambda = number(m, "lambda", path);
        double pOne = m.get("p_one") == null ? Paper.UCHIDA_P_ONE : number(m, "p_one", path);
        if (m.get("log_base") != null && number(m, "log_base", path) != Paper.UCHIDA_LOG_BASE) {
            throw LadyException.invalidInput(path + ": log_base " + m.get("log_base") + " is not supported (only "
                    + Paper.UCHIDA_LOG_BASE + ")");
        }
        if ((long) t * length > MAX_MATRIX_ENTRIES) {
            throw LadyException.invalidInput(path + ": T x w_bar_length = " + t + " x " + length + " is more than "
                    + MAX_MATRIX_ENTRIES + " entries: not a key Lady can hold");
        }
        if (model != null) {
            checkFits(model, layer, t, length);
        } else if ((long) t * length > MAX_ENTRIES_WITHOUT_MODEL) {
            throw LadyException.invalidInput(path + ": T x w_bar_length = " + t + " x " + length + " is more than the "
                    + MAX_ENTRIES_WITHOUT_MODEL + " entries of X read without the model (read it for its model)");
        }
        Long seed = m.get("seed") instanceof Number n ? n.longValue() : null;
        if (!(m.get("bits") instanceof List<?> bl) || bl.size() != t) {
            throw LadyException.invalidInput(path + ": \"bits\" must be a list of T = " + t + " values");
        }
        int[] bits = new int[t];
        for (int i = 0; i < t; i++) {
            if (!(bl.get(i) instanceof Long b) || (b != 0 && b != 1)) {
                throw LadyException.invalidInput(path + ": bit " + i + " is not 0 or 1: " + bl.get(i));
            }
            bits[i] = (int) (long) (Long) bl.get(i);
        }
        float[] matrix;
        if (m.get("matrix") != null) {
            matrix = matrix(m.get("matrix"), t, length, path);
        } else if (seed != null) {
            WatermarkKey g = generate(layer, length, t, pOne, seed, lambda);
            if (!Arrays.equals(g.bits, bits)) {
                throw LadyException.invalidInput(path + ": the bits do not match those generated from seed " + seed
                        + " (edited file? store the matrix explicitly to use other bits)");
            }
            matrix = g.matrix;
        } else {
            throw LadyException.invalidInput(path + ": neither \"seed\" nor \"matrix\": the key cannot be rebuilt");
        }
        return new WatermarkKey(layer, bits, length, pOne, seed, lambda, matrix);
    }

    private static float[] matrix(Object value, int t, int length, Path path) {
        if (!(value instanceof List<?> rows) || rows.size() != t) {
            throw LadyException.invalidInput(path + ": \"matrix\" must be T = " + t + " rows");
        }
        for (int r = 0; r < t; r++) { // the shape first: X is allocated only for as many numbers as the file holds
            if (!(rows.get(r) instanceof List<?> row) || row.size() != length) {
                throw LadyException.invalidInput(path + ": matrix row " + r + " must hold w_bar_length = " + length
                        + " numbers");
            }
        }
        float[] x = new float[Math.multiplyExact(t, length)];
        for (int r = 0; r < t; r++) {
            List<?> row = (List<?>) rows.get(r);
            for (int i = 0; i < length; i++) {
                if (!(row.get(i) instanceof Number n) || !Double.isFinite(n.doubleValue())) {
                    throw LadyException.invalidInput(path + ": matrix[" + r + "][" + i + "] is not a finite number");
                }
                x[r * length + i] = n.floatValue();
            }
        }
        return x;
    }

    private static int integer(Map<?, ?> m, String field, Path path) {
        if (!(m.get(field) instanceof Long n) || n < 1 || n > Integer.MAX_VALUE) {
            throw LadyException.invalidInput(path + ": \"" + field + "\" must be a positive integer, got " + m.get(field));
        }
        return (int) (long) n;
    }

    private static double number(Map<?, ?> m, String field, Path path) {
        if (!(m.get(field) instanceof Number n) || !Double.isFinite(n.doubleValue())) {
            throw LadyException.invalidInput(path + ": \"" + field + "\" must be a number, got " + m.get(field));
        }
        return n.doubleValue();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WatermarkKey k && layer.equals(k.layer) && Arrays.equals(bits, k.bits) && length == k.length
                && Double.compare(pOne, k.pOne) == 0 && java.util.Objects.equals(seed, k.seed)
                && Double.compare(lambda, k.lambda) == 0 && Arrays.equals(matrix, k.matrix);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(layer, Arrays.hashCode(bits), length, seed, lambda, Arrays.hashCode(matrix));
    }

    @Override
    public String toString() {
        return "WatermarkKey[" + layer + ", T=" + bits.length + ", L=" + length + ", seed=" + seed + ", lambda=" + lambda
                + "]";
    }
}
