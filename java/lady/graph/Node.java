package lady.graph;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;

/**
 * One operation of a {@link Graph}.
 *
 * @param name    unique name; for built-in families the module path of PyTorch's module tree
 *                ("features.0", "layer1.0.conv1", "encoder.layers.encoder_layer_0.self_attention")
 * @param op      what it computes ({@link Op} documents inputs, params and attrs of each)
 * @param inputs  names of the values it reads, in order
 * @param output  name of the value it writes
 * @param params  parameter role (e.g. "weight", "bias", "running_mean") to state-dict tensor name
 * @param attrs   attributes: {@code Long}, {@code long[]}, {@code Double} or {@code String} values
 */
public record Node(String name, Op op, List<String> inputs, String output, Map<String, String> params,
        Map<String, Object> attrs) {
    public Node {
        inputs = List.copyOf(inputs);
        params = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
        attrs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(attrs));
        for (Object v : attrs.values()) {
            if (!(v instanceof Long || v instanceof long[] || v instanceof Double || v instanceof String)) {
                throw new IllegalArgumentException(name + ": attribute values are Long, long[], Double or String, got " + v);
            }
        }
    }

    /** The state-dict name of parameter {@code role}, or null when the node has none. */
    public String param(String role) {
        return params.get(role);
    }

    /** Whether the node has parameter {@code role}. */
    public boolean has(String role) {
        return params.containsKey(role);
    }

    /** Integer attribute {@code key}, or {@code fallback} when absent. */
    public long longAttr(String key, long fallback) {
        Object v = attrs.get(key);
        return v == null ? fallback : (Long) v;
    }

    /** Integer-pair (or list) attribute {@code key}, or {@code fallback} when absent. */
    public long[] longsAttr(String key, long... fallback) {
        Object v = attrs.get(key);
        return v == null ? fallback.clone() : ((long[]) v).clone();
    }

    /** Floating attribute {@code key}, or {@code fallback} when absent. */
    public double doubleAttr(String key, double fallback) {
        Object v = attrs.get(key);
        return v == null ? fallback : (Double) v;
    }

    /** String attribute {@code key}, or {@code fallback} when absent. */
    public String stringAttr(String key, String fallback) {
        Object v = attrs.get(key);
        return v == null ? fallback : (String) v;
    }

    /** The activation of an {@link Op#ACT}, {@link Op#GATED_LINEAR} or {@link Op#MOE} node. */
    public Op.Activation activation() {
        if (op != Op.ACT && op != Op.GATED_LINEAR && op != Op.MOE) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + " is a " + op + ", not an activation");
        }
        return Op.Activation.valueOf(stringAttr("fn", "RELU"));
    }

    @Override
    public String toString() {
        StringBuilder a = new StringBuilder();
        attrs.forEach((k, v) -> a.append(' ').append(k).append('=').append(v instanceof long[] l ? Arrays.toString(l) : v));
        return name + " = " + op + inputs + " -> " + output + (params.isEmpty() ? "" : " " + params) + a;
    }
}
