package lady.permutation;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;

/**
 * The owner's secret of a {@code lady permute} run: per group the applied permutation {@code p}
 * (method.md 2: new neuron j is old neuron p[j]) and, when the scaling attack was applied, the
 * per-neuron factors. Saved as JSON:
 *
 * <pre>
 * {"format": "lady-secret", "format_version": 1, "tool_version": "0.1.0", "architecture": "vgg16",
 *  "seed": 7, "convention": "...", "permutations": {"features.0": [3, 0, ...], ...},
 *  "scales": {"features.0": [1.37, 0.62, ...], ...},      (scales: optional)
 *  "structure": {"features.0": {"original_size": 64, "origin": [...], "factor": [...], "kind": [...]}}}
 * </pre>
 *
 * {@code structure} (optional; written by {@code lady attack} for its structural attacks) gives per group
 * the {@link Lineage} of every attacked neuron: the original it descends from, its factor, whether it is an
 * original, a split copy or a dummy. Such groups may have another size than the original's; their
 * permutation is part of the lineage, not of {@code permutations}.
 *
 * {@code scales[g][i]} is the factor applied to ORIGINAL neuron {@code i} of group {@code g}
 * (before the permutation; see lady.structure.NeuronScaling). The correct re-synchronization of the
 * permuted model is {@code inv(p)} per group; a nested group's p is relative to the positions after its
 * outer group's permutation ({@link Nesting}).
 *
 * @param toolVersion  Lady's version that wrote it
 * @param architecture the model's architecture name
 * @param seed         the seed the permutations were drawn from (null when given explicitly)
 * @param permutations group name -> applied permutation, in topological order
 * @param scales       group name -> per-neuron factors (empty when no scaling)
 * @param structure    group name -> lineage of the structurally attacked groups (empty when none)
 */
public record Secret(String toolVersion, String architecture, Long seed, Map<String, Permutation> permutations,
        Map<String, double[]> scales, Map<String, Lineage> structure) {

    public static final String FORMAT = "lady-secret";
    public static final int FORMAT_VERSION = 1;
    static final String CONVENTION = "applying p to a group: new neuron j is old neuron p[j]; "
            + "scales[i] multiplied original neuron i before the permutation; structure: attacked neuron j descends "
            + "from original neuron origin[j] (-1: dummy), its incoming weights times factor[j]";

    public Secret {
        permutations = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(permutations));
        scales = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(scales));
        structure = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(structure));
    }

    /** A secret without structural attacks (what {@code lady permute} writes). */
    public Secret(String toolVersion, String architecture, Long seed, Map<String, Permutation> permutations,
            Map<String, double[]> scales) {
        this(toolVersion, architecture, seed, permutations, scales, Map.of());
    }

    /** Writes the secret as JSON, atomically. */
    public void write(Path path) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("format", FORMAT);
        json.put("format_version", FORMAT_VERSION);
        json.put("tool_version", toolVersion);
        json.put("architecture", architecture);
        json.put("seed", seed);
        json.put("convention", CONVENTION);
        Map<String, Object> perms = new LinkedHashMap<>();
        permutations.forEach((g, p) -> perms.put(g, p.toJson()));
        json.put("permutations", perms);
        if (!scales.isEmpty()) {
            json.put("scales", new LinkedHashMap<>(scales));
        }
        if (!structure.isEmpty()) {
            Map<String, Object> st = new LinkedHashMap<>();
            structure.forEach((g, l) -> st.put(g, l.toJson()));
            json.put("structure", st);
        }
        AtomicFiles.writeString(path, Json.write(json) + "\n");
    }

    /** Reads a secret written by {@link #write(Path)}; clear errors for missing or malformed files. */
    public static Secret read(Path path) {
        Map<?, ?> m = Json.readVersionedFile(path, "secret file", FORMAT, FORMAT_VERSION);
        if (!(m.get("permutations") instanceof Map<?, ?> pm)) {
            throw LadyException.invalidInput(path + ": missing \"permutations\"");
        }
        Map<String, Permutation> perms = new LinkedHashMap<>();
        pm.forEach((g, v) -> perms.put(String.valueOf(g), Permutation.fromJson(v, path + ": group '" + g + "'")));
        Map<String, double[]> scales = new LinkedHashMap<>();
        if (m.get("scales") instanceof Map<?, ?> sm) {
            sm.forEach((g, v) -> scales.put(String.valueOf(g), doubles(v, path + ": scales of group '" + g + "'")));
        }
        Map<String, Lineage> structure = new LinkedHashMap<>();
        if (m.get("structure") instanceof Map<?, ?> st) {
            st.forEach((g, v) -> structure.put(String.valueOf(g), Lineage.fromJson(v, path + ": structure of group '" + g + "'")));
        }
        Object seed = m.get("seed");
        return new Secret(String.valueOf(m.get("tool_version")), String.valueOf(m.get("architecture")),
                seed instanceof Number n2 ? n2.longValue() : null, perms, scales, structure);
    }

    /** The permutations that undo this secret on a model of {@code spec}: the correct resync ({@code inv(p)} per
     * group; nested groups in the resync's frame, {@link Permuter#inverse}). */
    public Map<String, Permutation> inverses(PermutationSpec spec) {
        return Permuter.inverse(spec, permutations);
    }

    private static double[] doubles(Object v, String what) {
        if (!(v instanceof List<?> list)) {
            throw LadyException.invalidInput(what + ": expected a list of numbers");
        }
        double[] d = new double[list.size()];
        for (int i = 0; i < d.length; i++) {
            if (!(list.get(i) instanceof Number n) || !(n.doubleValue() > 0) || Double.isInfinite(n.doubleValue())) {
                throw LadyException.invalidInput(what + ": entry " + i + " is not a positive number: " + list.get(i));
            }
            d[i] = n.doubleValue();
        }
        return d;
    }
}
