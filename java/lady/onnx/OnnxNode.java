package lady.onnx;

import java.util.List;
import java.util.Map;

/**
 * One node of an ONNX graph, in the file's order. An empty input name is an omitted optional input.
 *
 * @param name       the node's name (may be empty: ONNX does not require one)
 * @param opType     the operator, e.g. "Conv"
 * @param domain     the operator set's domain ("" for the default ONNX domain)
 * @param inputs     input value names
 * @param outputs    output value names
 * @param attributes attributes by name, in the file's order
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs,
        Map<String, OnnxAttribute> attributes) {
    public OnnxNode {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        attributes = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(attributes));
    }

    /** The attribute called {@code name}, or null. */
    public OnnxAttribute attribute(String name) {
        return attributes.get(name);
    }

    /** A short label for messages: the name if any, else the operator and first output. */
    public String label() {
        return name.isEmpty() ? opType + " -> " + (outputs.isEmpty() ? "?" : outputs.get(0)) : name + " (" + opType + ")";
    }
}
