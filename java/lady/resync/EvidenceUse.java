package lady.resync;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One contribution a group's last solve used, for reports.
 *
 * @param source    the evidence source, e.g. "producer_rows", "consumer_columns"
 * @param tensor    the tensor it was read from
 * @param dimension values per neuron (0 for a ready similarity such as the activation signal's)
 * @param weight    its normalized weight in the group's combined similarity (the weights sum to 1)
 */
public record EvidenceUse(String source, String tensor, long dimension, double weight) {
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", source);
        m.put("tensor", tensor);
        m.put("dimension", dimension);
        m.put("weight", weight);
        return m;
    }
}
