package lady.resync;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;
import lady.util.Text;

/**
 * A language model compared with one whose vocabulary has another size: a fine-tune that added tokens (a chat
 * template's, a padding token) keeps its base's rows and appends its own, so its embedding and output layer have
 * more rows ({@code Architecture.vocabularyTensors()}). No permutation moves a vocabulary axis, so the evidence is the
 * rows both models have, the first {@code min(V_ref, V_sus)}: the resync reads both models through views of those
 * rows (the tensors' first bytes: nothing copied), and the suspect gets back its whole tensors afterwards, each with
 * the column order the resync gave its view ({@link #restore}). The suspect keeps its vocabulary. A suspect ranked
 * against a canonical order ({@code lady canon --from}) is read the same way on the order's token count.
 */
public final class VocabularyViews {
    private final StateDict reference;
    private final Map<String, HostTensor> whole = new LinkedHashMap<>(); // the suspect's own tensors, by name
    private final Map<String, HostTensor> views = new LinkedHashMap<>(); // what the suspect holds instead, meanwhile
    private final long referenceRows;
    private final long suspectRows;
    private Map<String, Object> suspectConfig; // the suspect's own configuration, given back by restore

    private VocabularyViews(StateDict reference, long referenceRows, long suspectRows) {
        this.reference = reference;
        this.referenceRows = referenceRows;
        this.suspectRows = suspectRows;
    }

    /**
     * The views of {@code vocabulary} (tensors with a row per vocabulary entry) when the suspect's differ from the
     * reference's in their row count only, or null when none does. The suspect's tensors are replaced by their views
     * here, in place, until {@link #restore}.
     */
    public static VocabularyViews narrow(StateDict reference, StateDict suspect, List<String> vocabulary) {
        Map<String, Long> rows = new LinkedHashMap<>();
        long ref = -1;
        long sus = -1;
        for (String name : vocabulary) {
            if (!reference.contains(name) || !suspect.contains(name)) {
                continue;
            }
            long[] a = reference.shape(name);
            long[] b = suspect.shape(name);
            if (Arrays.equals(a, b) || a.length != b.length || a.length == 0
                    || !Arrays.equals(Arrays.copyOfRange(a, 1, a.length), Arrays.copyOfRange(b, 1, b.length))) {
                continue; // the same, or not a row count alone: the shape check names it
            }
            if ((ref >= 0 && ref != a[0]) || (sus >= 0 && sus != b[0])) {
                throw LadyException.invalidInput(String.format("the vocabulary tensors disagree on their row count: "
                        + "'%s' has %d rows in the reference and %d in the suspect, others %d and %d", name, a[0], b[0],
                        ref, sus));
            }
            ref = a[0];
            sus = b[0];
            rows.put(name, Math.min(a[0], b[0]));
        }
        if (rows.isEmpty()) {
            return null;
        }
        VocabularyViews v = new VocabularyViews(reference.select(reference.names()), ref, sus);
        long common = Math.min(ref, sus);
        v.reference.setConfig(withVocabulary(reference.config(), common));
        rows.forEach((name, m) -> v.reference.put(name, prefix(reference.get(name), m)));
        v.narrowSuspect(suspect, rows.keySet(), common);
        return v;
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
        VocabularyViews v = new VocabularyViews(null, rows, sus);
        v.narrowSuspect(suspect, longer, rows);
        return v;
    }

    /** Replaces the suspect's tensors {@code names} by views of their first {@code rows} rows, until {@link #restore}. */
    private void narrowSuspect(StateDict suspect, java.util.Collection<String> names, long rows) {
        suspectConfig = suspect.config();
        suspect.setConfig(withVocabulary(suspect.config(), rows));
        for (String name : names) {
            HostTensor own = suspect.get(name); // read as it is (a fresh read holds no index map: nothing gathered)
            HostTensor view = prefix(own, rows);
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

    /** The first {@code rows} rows of {@code t} (its first bytes, shared). */
    private static HostTensor prefix(HostTensor t, long rows) {
        long[] shape = t.shape().clone();
        shape[0] = rows;
        return HostTensor.view(t.memory(), t.offset(), t.dtype(), shape);
    }

    /** The reference as the resync reads it: its vocabulary tensors' common rows (null: narrowed to a row count). */
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
                        + "reference's " + referenceRows + ") was compared on the tokens both have, and "
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
        suspect.setConfig(suspectConfig);
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
     * Whether the common rows are the same tokens in both models, once the resync has put the suspect in the
     * reference's order (after {@link #restore}): the assumption of comparing the first rows holds for tokens appended
     * at the end, not for a vocabulary trimmed or reordered. On up to {@link #SAMPLED_ROWS} common rows t of the first
     * vocabulary tensor (seeded), the cosine of the two models' rows t against that of row t and another sampled row
     * of the suspect (a random pairing: a trained embedding's rows share a direction, so unrelated rows are not at
     * zero); the paired differences' z-score.
     */
    public void checkRows(StateDict reference, StateDict suspect) {
        String name = whole.keySet().iterator().next();
        long common = Math.min(referenceRows, suspectRows);
        int m = (int) Math.min(SAMPLED_ROWS, common);
        if (m < 3) {
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(ROWS_SEED);
        long[] rows = rnd.longs(m, 0, common).toArray();
        IndexedTensor a = reference.indexed(name);
        IndexedTensor b = suspect.indexed(name);
        float[][] y = new float[m][];
        for (int i = 0; i < m; i++) {
            y[i] = b.rows(rows[i], rows[i] + 1).readFloats();
        }
        double[] diff = new double[m];
        for (int i = 0; i < m; i++) {
            float[] x = a.rows(rows[i], rows[i] + 1).readFloats();
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

    /** What the report says: the row counts, the tensors read on their common rows, whether those rows correspond. */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("reference_tokens", referenceRows);
        out.put("suspect_tokens", suspectRows);
        out.put("compared_tokens", Math.min(referenceRows, suspectRows));
        out.put("tensors", new ArrayList<>(whole.keySet()));
        if (rowsZ != null) {
            out.put("rows_correspond_z", Double.isInfinite(rowsZ) ? null : rowsZ);
            out.put("rows_correspond", rowsCorrespond());
        }
        return out;
    }

    /** The human line: "the suspect has N tokens, {@code other} M: {@code verb} on the first ...". */
    public String describe(String other, String verb) {
        long common = Math.min(referenceRows, suspectRows);
        String line = String.format("the suspect has %d tokens, %s %d: %s on the first %d (rows of %s); the suspect "
                + "keeps its own %d", suspectRows, other, referenceRows, verb, common,
                Text.list(new ArrayList<>(whole.keySet()), Text.NAMES_SHOWN), suspectRows);
        return rowsCorrespond() ? line : line + String.format(java.util.Locale.ROOT, "; those rows did not correspond "
                + "after the resync (z %.1f < %.0f on %d sampled rows): either the models are unrelated, or the suspect's "
                + "vocabulary was trimmed or reordered rather than extended at its end, and its embedding and head gave "
                + "no evidence here (the verdict may then miss a derived copy)", rowsZ, CORRESPOND_Z,
                (int) Math.min(SAMPLED_ROWS, common));
    }
}
