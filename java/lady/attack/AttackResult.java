package lady.attack;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an attack did, for reports.
 *
 * @param spec    the attack's canonical spec, e.g. "prune:95"
 * @param tensors names of the tensors it changed (or that the fine-tuner could change)
 * @param details attack-specific numbers in insertion order (e.g. "sigma", "zeroed", "zero_rows"),
 *                ready for {@link lady.report.Json}
 */
public record AttackResult(String spec, List<String> tensors, Map<String, Object> details) {
    public AttackResult {
        tensors = List.copyOf(tensors);
        details = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    /** spec, tensors and details as one map (for JSON). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("spec", spec);
        m.put("tensors", tensors);
        m.putAll(details);
        return m;
    }
}
