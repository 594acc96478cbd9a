package lady.canon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.BuildInfo;
import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;

/**
 * The canonical order of one or more groups of a model (method.md section 5), as the owner saves it
 * at embedding time to re-rank a suspect later. JSON (written atomically):
 *
 * <pre>
 * {"format": "lady-canon", "format_version": 1, "tool_version": "0.1.0", "architecture": "vgg16_cifar",
 *  "method": "active", "seed": 7, "active_config": {"steps": 30000, "lr": 1.0, ...},   (active only)
 *  "convention": "...",
 *  "layers": [{"layer": "features.17", "size": 512, "ties": 0, "min_gap": 0.0012,
 *              "order": [311, 4, ...], "scores": [0.83, -1.2, ...],
 *              "active": {"module": "features.17", "loss_first": ..., "loss_last": ...,
 *                         "input_shape": [1, 3, 32, 32], "input": [...]}}]}        (active only)
 * </pre>
 *
 * A Hugging Face model's configuration (its config.json) is saved too, as {@code "config"}: a suspect's weights file
 * found without its folder is read with it (the heads, which no shape tells).
 * No timing or other run-dependent value is stored: the same model, method and seed give the same bytes.
 *
 * @param architecture the model's architecture name
 * @param method       basic or active ranking
 * @param active       active ranking's settings (seed included); null for basic
 * @param layers       one entry per group, in the spec's (topological) order
 * @param config       the ranked model's configuration (config.json); empty for a checkpoint without one
 */
public record CanonicalOrder(String architecture, RankingMethod method, ActiveConfig active, List<LayerOrder> layers,
        Map<String, Object> config) {

    public static final String FORMAT = "lady-canon";
    public static final int FORMAT_VERSION = 1;
    static final String CONVENTION = "order[k] is the neuron ranked k-th (score descending, ties by lower index); "
            + "applying order to the group (new neuron k = old neuron order[k]) puts it in canonical order";

    public CanonicalOrder {
        layers = List.copyOf(layers);
        config = config == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(config));
        if ((method == RankingMethod.ACTIVE) != (active != null)) {
            throw new LadyException(LadyException.Kind.INTERNAL, "active settings must be given exactly for active ranking");
        }
    }

    /** An order of a model without a configuration. */
    public CanonicalOrder(String architecture, RankingMethod method, ActiveConfig active, List<LayerOrder> layers) {
        this(architecture, method, active, layers, null);
    }

    /** The entry of group {@code name}; a clear error listing the saved groups otherwise. */
    public LayerOrder layer(String name) {
        for (LayerOrder l : layers) {
            if (l.layer().equals(name)) {
                return l;
            }
        }
        throw new LadyException(LadyException.Kind.USAGE, "the canonical order has no layer '" + name + "'; it has: "
                + String.join(", ", layerNames()));
    }

    public List<String> layerNames() {
        return layers.stream().map(LayerOrder::layer).toList();
    }

    /** The seed of active ranking, null for basic. */
    public Long seed() {
        return active == null ? null : active.seed();
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("format_version", FORMAT_VERSION);
        m.put("tool_version", BuildInfo.version());
        m.put("architecture", architecture);
        m.put("method", method.id());
        m.put("seed", seed());
        if (active != null) {
            m.put("active_config", active.toJson());
        }
        m.put("convention", CONVENTION);
        if (!config.isEmpty()) {
            m.put("config", config);
        }
        List<Object> ls = new ArrayList<>();
        layers.forEach(l -> ls.add(l.toJson()));
        m.put("layers", ls);
        return m;
    }

    /** Writes the JSON form atomically. */
    public void write(Path path) {
        AtomicFiles.writeString(path, Json.write(toJson()) + "\n");
    }

    /** Reads a file written by {@link #write}; clear errors for missing, malformed or edited files. */
    public static CanonicalOrder read(Path path) {
        Map<?, ?> m = Json.readVersionedFile(path, "canonical order", FORMAT, FORMAT_VERSION);
        String what = path.toString();
        RankingMethod method;
        try {
            method = RankingMethod.parse(Json.stringField(m, "method", what));
        } catch (LadyException e) {
            throw LadyException.invalidInput(what + ": " + e.getMessage());
        }
        ActiveConfig active = method == RankingMethod.ACTIVE
                ? ActiveConfig.fromJson(m.get("active_config"), what + ": \"active_config\"") : null;
        if (!(m.get("layers") instanceof List<?> ls) || ls.isEmpty()) {
            throw LadyException.invalidInput(what + ": \"layers\" must be a non-empty list");
        }
        List<LayerOrder> layers = new ArrayList<>();
        for (Object l : ls) {
            LayerOrder lo = LayerOrder.fromJson(l, what);
            if ((lo.active() != null) != (method == RankingMethod.ACTIVE)) {
                throw LadyException.invalidInput(what + ": layer '" + lo.layer() + "' "
                        + (lo.active() == null ? "has no learned input (active ranking needs one)"
                                : "has a learned input but the method is basic"));
            }
            layers.add(lo);
        }
        Object config = m.get("config");
        if (config != null && !(config instanceof Map<?, ?>)) {
            throw LadyException.invalidInput(what + ": \"config\" must be a JSON object (the model's config.json)");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> c = (Map<String, Object>) config;
        return new CanonicalOrder(Json.stringField(m, "architecture", what), method, active, layers, c);
    }
}
