package lady.resync;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;
import lady.util.Parallel;
import lady.util.Seeds;
import lady.util.Text;

/**
 * A language model compared with one whose vocabulary differs: a fine-tune that added tokens (a chat template's, a
 * padding token) keeps its base's rows and appends its own, so its embedding and output layer have more rows
 * ({@code Architecture.vocabularyTensors()}); a trimmed vocabulary (a smaller model for fewer languages) keeps a subset
 * of them; a reordered one (token ids shuffled together with the tokenizer: the function is the same) keeps them all,
 * elsewhere. No permutation of the network moves a vocabulary axis, so the evidence there is the rows both models hold,
 * paired:
 * <ul>
 * <li><b>by content</b> ({@link Alignment#CONTENT}) when most of the suspect's rows hold, in some column order, the
 * values of a reference row (their multisets hashed: a copy whose embedding the fine-tune left alone, as LoRA does):
 * each such suspect row is compared with that reference row, and rows without a partner are left out;</li>
 * <li><b>by position</b> ({@link Alignment#POSITION}) otherwise: the first {@code min(V_ref, V_sus)} rows, views of
 * the tensors' first bytes (nothing copied). After the resync, {@link #checkRows} tests whether those rows held the
 * same tokens; when they did not (a vocabulary both reordered and retrained, or an unrelated model), the report says
 * the embedding and head gave no evidence.</li>
 * </ul>
 * The resync reads both models through those rows, and the suspect gets back its whole tensors afterwards, each with
 * the column order the resync gave its rows ({@link #restore}): the suspect keeps its vocabulary, in its order. A
 * suspect ranked against a canonical order ({@code lady canon --from}) is read by position on the order's token count.
 */
public final class VocabularyViews {
    /** How the two vocabularies' rows are paired. */
    public enum Alignment {
        /** Row t with row t, on the rows both have. */
        POSITION,
        /** Each suspect row with the reference row holding the same values in some column order. */
        CONTENT
    }

    private final StateDict reference;
    private final Map<String, HostTensor> whole = new LinkedHashMap<>(); // the suspect's own tensors, by name
    private final Map<String, HostTensor> views = new LinkedHashMap<>(); // what the suspect holds instead, meanwhile
    private final List<String> tensors; // the vocabulary tensors compared
    private final String key; // the one whose rows are paired and checked (null: none with columns)
    private final long referenceRows;
    private final long suspectRows;
    private final Alignment alignment;
    private final long[] referenceIndex; // pair k: reference row referenceIndex[k] with suspect row suspectIndex[k]
    private final long[] suspectIndex; // (both null: the first rows, by position)
    private DType roundedTo; // the storage format the rows' values were paired in (null: their own)
    private Map<String, Object> suspectConfig; // the suspect's own configuration, given back by restore
    private boolean narrowed; // whether the suspect holds views until restore

    private VocabularyViews(StateDict reference, List<String> tensors, String key, long referenceRows, long suspectRows,
            Alignment alignment, long[] referenceIndex, long[] suspectIndex) {
        this.reference = reference;
        this.tensors = List.copyOf(tensors);
        this.key = key;
        this.referenceRows = referenceRows;
        this.suspectRows = suspectRows;
        this.alignment = alignment;
        this.referenceIndex = referenceIndex;
        this.suspectIndex = suspectIndex;
    }

    /** Share of sampled common rows whose values equal, at the same position, at and above which rows pair by it. */
    static final double SAME_POSITION_SHARE = 0.9;
    /** Share of sampled suspect rows found, by their values, in the reference at and above which rows pair by content. */
    static final double CONTENT_SHARE = 0.5;

    /**
     * How the suspect's {@code vocabulary} tensors (a row per vocabulary entry) are compared with the reference's:
     * null when the two vocabularies have the same rows in the same order (sampled: nothing to do); otherwise the
     * pairing ({@link Alignment}), and when the rows compared are not all of both tensors, the suspect's tensors are
     * replaced by their compared rows here, in place, until {@link #restore}.
     */
    public static VocabularyViews narrow(StateDict reference, StateDict suspect, List<String> vocabulary) {
        List<String> names = new ArrayList<>();
        long ref = -1;
        long sus = -1;
        for (String name : vocabulary) {
            if (!reference.contains(name) || !suspect.contains(name)) {
                continue;
            }
            long[] a = reference.shape(name);
            long[] b = suspect.shape(name);
            if (a.length != b.length || a.length == 0
                    || !Arrays.equals(Arrays.copyOfRange(a, 1, a.length), Arrays.copyOfRange(b, 1, b.length))) {
                continue; // not a row count alone: the shape check names it
            }
            if ((ref >= 0 && ref != a[0]) || (sus >= 0 && sus != b[0])) {
                throw LadyException.invalidInput(String.format("the vocabulary tensors disagree on their row count: "
                        + "'%s' has %d rows in the reference and %d in the suspect, others %d and %d", name, a[0], b[0],
                        ref, sus));
            }
            ref = a[0];
            sus = b[0];
            names.add(name);
        }
        String key = names.stream().filter(n -> reference.shape(n).length >= 2 && reference.shape(n)[1] > 1).findFirst()
                .orElse(null);
        if (names.isEmpty() || (key == null && ref == sus)) {
            return null;
        }
        DType in = key == null ? null : comparedIn(reference.get(key).dtype(), suspect.get(key).dtype());
        long[][] pairs = key == null ? null : pairs(reference.get(key), suspect.get(key), in);
        if (pairs == SAME_ROWS) {
            pairs = null;
            if (ref == sus) {
                return null;
            }
        }
        if (pairs == null && ref == sus) { // the same size, rows not found elsewhere: compared as they are, then checked
            return new VocabularyViews(reference, names, key, ref, sus, Alignment.POSITION, null, null);
        }
        long common = pairs == null ? Math.min(ref, sus) : pairs[0].length;
        VocabularyViews v = new VocabularyViews(reference.select(reference.names()), names, key, ref, sus,
                pairs == null ? Alignment.POSITION : Alignment.CONTENT, pairs == null ? null : pairs[0],
                pairs == null ? null : pairs[1]);
        v.roundedTo = pairs == null ? null : in;
        v.reference.setConfig(withVocabulary(reference.config(), common));
        for (String name : names) {
            v.reference.put(name, rowsOf(reference.get(name), v.referenceIndex, common));
        }
        v.narrowSuspect(suspect, names, common);
        return v;
    }

    /** What {@link #pairs} answers when the sampled rows are the same at the same positions. */
    private static final long[][] SAME_ROWS = new long[2][0];

    /**
     * The rows of {@code s} paired with rows of {@code r} by their values (rounded to {@code in}, the coarser of
     * their storage formats: {@link #comparedIn}; null: as they are): {@link #SAME_ROWS} when sampled common rows
     * hold the same values at the same positions ({@link #SAME_POSITION_SHARE}); null when most of the suspect's rows
     * are not found in the reference ({@link #CONTENT_SHARE}: retrained, or unrelated); else {reference rows, suspect
     * rows}, ascending in the reference's, of every suspect row whose values (in any column order) are those of one
     * reference row alone, each reference row paired once.
     */
    private static long[][] pairs(HostTensor r, HostTensor s, DType in) {
        long vr = r.size(0);
        long vs = s.size(0);
        if (vr == 0 || vs == 0) {
            return null; // nothing to pair (the shape check names an empty vocabulary)
        }
        long common = Math.min(vr, vs);
        int m = (int) Math.min(SAMPLED_ROWS, common);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(ROWS_SEED);
        long[] at = rnd.longs(m, 0, common).toArray();
        long[] hr = rowHashes(r, at, in);
        long[] hs = rowHashes(s, at, in);
        int same = 0;
        for (int i = 0; i < m; i++) {
            same += hr[2 * i] == hs[2 * i] && hr[2 * i + 1] == hs[2 * i + 1] ? 1 : 0;
        }
        if (same >= SAME_POSITION_SHARE * m) {
            return SAME_ROWS;
        }
        long[] all = rowHashes(r, null, in);
        Map<Long, Integer> where = new java.util.HashMap<>(); // a row's first hash -> its row, or -1 when not alone
        for (int i = 0; i < vr; i++) {
            where.merge(all[2 * i], i, (x, y) -> -1);
        }
        long[] sampled = rowHashes(s, rnd.longs(m, 0, vs).toArray(), in);
        int found = 0;
        for (int i = 0; i < m; i++) {
            found += partner(where, all, sampled, i) >= 0 ? 1 : 0;
        }
        if (found < CONTENT_SHARE * m) {
            return null;
        }
        long[] own = rowHashes(s, null, in);
        long[] pairOf = new long[(int) vr];
        Arrays.fill(pairOf, -1);
        int count = 0;
        for (int j = 0; j < vs; j++) {
            int i = partner(where, all, own, j);
            if (i >= 0 && pairOf[i] < 0) {
                pairOf[i] = j;
                count++;
            }
        }
        long[][] out = new long[2][count];
        for (int i = 0, k = 0; i < vr; i++) {
            if (pairOf[i] >= 0) {
                out[0][k] = i;
                out[1][k++] = pairOf[i];
            }
        }
        return out;
    }

    /** The reference row alone in holding the values hashed as row {@code j} of {@code hashes}, or -1. */
    private static int partner(Map<Long, Integer> where, long[] reference, long[] hashes, int j) {
        Integer i = where.get(hashes[2 * j]);
        return i != null && i >= 0 && reference[2 * i + 1] == hashes[2 * j + 1] ? i : -1;
    }

    /**
     * The storage format both tensors' values are compared in: the coarser of the two (a bfloat16 or half-precision
     * release of a float32 model rounds each value to the nearest), null when they are stored alike.
     */
    private static DType comparedIn(DType a, DType b) {
        if (a == b) {
            return null;
        }
        return a == DType.BFLOAT16 || b == DType.BFLOAT16 ? DType.BFLOAT16
                : a == DType.FLOAT16 || b == DType.FLOAT16 ? DType.FLOAT16 : null;
    }

    /**
     * Per row of {@code t} ({@code rows}; null: all), two 64-bit hashes of the multiset of its values read as float32,
     * rounded to {@code in} first (null: as they are): the same in any column order (the sums of each value's bits
     * mixed, and of their squares).
     */
    static long[] rowHashes(HostTensor t, long[] rows, DType in) {
        long n = rows == null ? t.size(0) : rows.length;
        int width = (int) (t.numel() / t.size(0));
        long[] out = new long[(int) (2 * n)];
        int parts = (int) Math.min(n, 4L * Parallel.threads());
        Parallel.forParts(n, Math.max(parts, 1), (p, from, to) -> {
            HostTensor.ValueReader reader = t.valueReader();
            float[] row = new float[width];
            for (long i = from; i < to; i++) {
                reader.read((rows == null ? i : rows[(int) i]) * width, row, 0, width);
                long a = 0;
                long b = 0;
                for (float v : row) {
                    float w = in == DType.BFLOAT16 ? HostTensor.bfloat16ToFloat(HostTensor.floatToBfloat16(v))
                            : in == DType.FLOAT16 ? HostTensor.float16ToFloat(HostTensor.floatToFloat16(v)) : v;
                    long h = Seeds.mix64(Float.floatToRawIntBits(w));
                    a += h;
                    b += h * h;
                }
                out[(int) (2 * i)] = a;
                out[(int) (2 * i + 1)] = b;
            }
        });
        java.lang.ref.Reference.reachabilityFence(t);
        return out;
    }

    /**
     * The views of the first {@code rows} rows of the suspect's {@code vocabulary} tensors that have more (a suspect
     * ranked against a canonical order made on a model of {@code rows} tokens), or null when none has; a suspect with
     * fewer rows is refused: the order's scores sum rows it does not have.
     */
    public static VocabularyViews narrow(long rows, StateDict suspect, List<String> vocabulary, String against) {
        List<String> longer = new ArrayList<>();
        long sus = -1;
        for (String name : vocabulary) {
            if (!suspect.contains(name) || suspect.shape(name).length == 0) {
                continue;
            }
            long have = suspect.shape(name)[0];
            if (have < rows) {
                throw LadyException.invalidInput(String.format("the suspect has %d tokens ('%s'), fewer than the %d of %s: "
                        + "its residual stream's scores would sum other rows; resync it against the reference model "
                        + "instead (lady resync compares the tokens both have)", have, name, rows, against));
            }
            if (have > rows) {
                longer.add(name);
                sus = have;
            }
        }
        if (longer.isEmpty()) {
            return null;
        }
        VocabularyViews v = new VocabularyViews(null, longer, null, rows, sus, Alignment.POSITION, null, null);
        v.narrowSuspect(suspect, longer, rows);
        return v;
    }

    /**
     * Replaces the suspect's tensors {@code names} by their compared rows (views of the first {@code rows}, or its
     * paired rows gathered), until {@link #restore}.
     */
    private void narrowSuspect(StateDict suspect, java.util.Collection<String> names, long rows) {
        suspectConfig = suspect.config();
        narrowed = true;
        suspect.setConfig(withVocabulary(suspect.config(), rows));
        for (String name : names) {
            HostTensor own = suspect.get(name); // read as it is (a fresh read holds no index map: nothing gathered)
            HostTensor view = rowsOf(own, suspectIndex, rows);
            whole.put(name, own);
            views.put(name, view);
            suspect.put(name, view);
        }
    }

    /** {@code config} (null: none) with the vocabulary size the views have, where it gives one. */
    private static Map<String, Object> withVocabulary(Map<String, Object> config, long size) {
        if (config == null) {
            return null;
        }
        Map<String, Object> out = new LinkedHashMap<>(config);
        out.computeIfPresent(VOCABULARY_SIZE, (k, was) -> size);
        return out;
    }

    /** The configuration's key of the vocabulary size (Hugging Face's config.json). */
    public static final String VOCABULARY_SIZE = "vocab_size";

    /**
     * Rows {@code index} of {@code t} gathered, or its first {@code rows} (its first bytes, shared) when {@code index}
     * is null or those.
     */
    private static HostTensor rowsOf(HostTensor t, long[] index, long rows) {
        boolean first = true;
        for (int k = 0; index != null && k < index.length && first; k++) {
            first = index[k] == k;
        }
        if (!first) {
            return t.selectRows(index);
        }
        long[] shape = t.shape().clone();
        shape[0] = rows;
        return HostTensor.view(t.memory(), t.offset(), t.dtype(), shape);
    }

    /** The reference as the resync reads it: its vocabulary tensors' compared rows (null: narrowed to a row count). */
    public StateDict reference() {
        return reference;
    }

    /**
     * Gives the suspect back its whole vocabulary tensors, each permuted along its other axis as the resync permuted
     * its view; a view the resync rewrote otherwise (gathered with duplicate matches, resized by the structural undo)
     * is refused, naming it.
     */
    public void restore(StateDict suspect) {
        for (Map.Entry<String, HostTensor> e : whole.entrySet()) {
            String name = e.getKey();
            IndexedTensor now = suspect.streamed(name);
            if (now.base() != views.get(name) || now.rowMap() != null || now.valueMap() != null) {
                throw LadyException.invalidInput("the suspect's vocabulary (" + suspectRows + " tokens against the "
                        + "reference's " + referenceRows + ") was compared on the " + compared() + " tokens both have, and "
                        + Text.quote(name) + " came out of the resync changed beyond a permutation of its columns (an "
                        + "argmax match with duplicates, or a structural undo of the stream); run --method assignment, "
                        + "or compare a suspect with the reference's vocabulary");
            }
            long[] columns = now.columnMap();
            suspect.put(name, e.getValue());
            if (columns != null) {
                suspect.permuteLazily(name, 1, columns);
            }
        }
        if (narrowed) {
            suspect.setConfig(suspectConfig);
        }
    }

    /** How many rows were compared. */
    private long compared() {
        return suspectIndex != null ? suspectIndex.length : Math.min(referenceRows, suspectRows);
    }

    /** Common rows sampled by {@link #checkRows}. */
    static final int SAMPLED_ROWS = 256;
    /** The z-score past which the sampled rows are taken to correspond ({@link #checkRows}). */
    static final double CORRESPOND_Z = 5;
    /** The sampled rows' seed (fixed: the same figure on every run). */
    private static final long ROWS_SEED = 0x70cab1eL;

    /** Null until {@link #checkRows}: the z-score of the common rows' correspondence. */
    private Double rowsZ;

    /**
     * Whether the compared rows are the same tokens in both models, once the resync has put the suspect in the
     * reference's order (after {@link #restore}): pairing by position holds for tokens appended at the end, not for a
     * vocabulary trimmed or reordered. On up to {@link #SAMPLED_ROWS} compared pairs (seeded) of the key vocabulary
     * tensor, the cosine of the two models' paired rows against that of the reference row and the suspect row of
     * another sampled pair (a random pairing: a trained embedding's rows share a direction, so unrelated rows are not
     * at zero); the paired differences' z-score.
     */
    public void checkRows(StateDict reference, StateDict suspect) {
        long common = compared();
        int m = (int) Math.min(SAMPLED_ROWS, common);
        if (key == null || m < 3) {
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(ROWS_SEED);
        long[] pairs = rnd.longs(m, 0, common).toArray();
        IndexedTensor a = reference.indexed(key);
        IndexedTensor b = suspect.indexed(key);
        float[][] y = new float[m][];
        for (int i = 0; i < m; i++) {
            long row = suspectIndex == null ? pairs[i] : suspectIndex[(int) pairs[i]];
            y[i] = b.rows(row, row + 1).readFloats();
        }
        double[] diff = new double[m];
        for (int i = 0; i < m; i++) {
            long row = referenceIndex == null ? pairs[i] : referenceIndex[(int) pairs[i]];
            float[] x = a.rows(row, row + 1).readFloats();
            diff[i] = cosine(x, y[i]) - cosine(x, y[(i + 1) % m]); // against another sampled row of the suspect
        }
        double mean = Arrays.stream(diff).average().orElse(0);
        double var = Arrays.stream(diff).map(v -> (v - mean) * (v - mean)).sum() / (m - 1);
        rowsZ = var > 0 ? mean / Math.sqrt(var / m) : mean > 0 ? Double.POSITIVE_INFINITY : 0.0;
    }

    /** Whether {@link #checkRows} found the common rows corresponding (true when it was not asked). */
    public boolean rowsCorrespond() {
        return rowsZ == null || rowsZ >= CORRESPOND_Z;
    }

    private static double cosine(float[] x, float[] y) {
        double dot = 0;
        double nx = 0;
        double ny = 0;
        for (int t = 0; t < x.length; t++) {
            dot += (double) x[t] * y[t];
            nx += (double) x[t] * x[t];
            ny += (double) y[t] * y[t];
        }
        return dot / Math.max(Math.sqrt(nx * ny), PrefilteredMatch.NORM_EPS);
    }

    /**
     * Whether the report has something to say: the vocabularies differ in size or order, or their rows did not
     * correspond ({@link #checkRows}); not for the same vocabulary compared as it is.
     */
    public boolean notable() {
        return referenceRows != suspectRows || alignment == Alignment.CONTENT || !rowsCorrespond();
    }

    /**
     * What the report says: the row counts, how the rows were paired and how many, the tensors read on them, whether
     * those rows correspond.
     */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("reference_tokens", referenceRows);
        out.put("suspect_tokens", suspectRows);
        out.put("compared_tokens", compared());
        out.put("paired_by", alignment.name().toLowerCase(java.util.Locale.ROOT));
        if (alignment == Alignment.CONTENT) {
            out.put("unpaired_reference_tokens", referenceRows - compared());
            out.put("unpaired_suspect_tokens", suspectRows - compared());
            if (roundedTo != null) {
                out.put("values_rounded_to", roundedTo.name().toLowerCase(java.util.Locale.ROOT));
            }
        }
        out.put("tensors", tensors);
        if (rowsZ != null) {
            out.put("rows_correspond_z", Double.isInfinite(rowsZ) ? null : rowsZ);
            out.put("rows_correspond", rowsCorrespond());
        }
        return out;
    }

    /**
     * The human line ("the suspect has N tokens, {@code other} M: {@code verb} on ..."), or null when there is nothing
     * to say ({@link #notable}).
     */
    public String describe(String other, String verb) {
        if (!notable()) {
            return null;
        }
        long common = compared();
        String names = Text.list(tensors, Text.NAMES_SHOWN);
        String line = alignment == Alignment.CONTENT
                ? String.format("the suspect has %d tokens, %s %d: %s on the %d rows both hold with the same values%s "
                        + "(paired by content: the vocabulary was trimmed, reordered or had tokens inserted; %d of the "
                        + "suspect's rows and %d of the other's unpaired) of %s; the suspect keeps its own %d, in its order",
                        suspectRows, other, referenceRows, verb, common, roundedTo == null ? ""
                                : " (rounded to " + roundedTo.name().toLowerCase(java.util.Locale.ROOT) + ")",
                        suspectRows - common, referenceRows - common, names, suspectRows)
                : referenceRows == suspectRows
                ? String.format("the suspect has %d tokens, as %s: %s row by row (of %s)", suspectRows, other, verb, names)
                : String.format("the suspect has %d tokens, %s %d: %s on the first %d (rows of %s); the suspect keeps its "
                        + "own %d", suspectRows, other, referenceRows, verb, common, names, suspectRows);
        return rowsCorrespond() ? line : line + String.format(java.util.Locale.ROOT, "; those rows did not correspond "
                + "after the resync (z %.1f < %.0f on %d sampled rows): either the models are unrelated, or the suspect's "
                + "vocabulary was trimmed or reordered and its rows retrained (not found by their values), and its "
                + "embedding and head gave no evidence here (the verdict may then miss a derived copy)", rowsZ,
                CORRESPOND_Z, (int) Math.min(SAMPLED_ROWS, common));
    }
}
