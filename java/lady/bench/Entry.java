package lady.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One benchmark result: Lady's operation and the baseline measured in the same run on the same data.
 *
 * @param name     stable identifier, e.g. "resync.vgg16"
 * @param what     what Lady's side does
 * @param lady     Lady's timing
 * @param baseline what the baseline does
 * @param base     the baseline's timing
 * @param ratio    baseline wall time / Lady's wall time (above 1: Lady is faster)
 * @param details  sizes, rates (GFLOP/s, GB/s), checks (Psi, same result), targets
 */
public record Entry(String name, String what, Measure lady, String baseline, Measure base, double ratio,
        Map<String, Object> details) {

    public Entry {
        details = new LinkedHashMap<>(details);
    }

    /** An entry whose ratio is base / lady (wall). */
    public static Entry of(String name, String what, Measure lady, String baseline, Measure base,
            Map<String, Object> details) {
        return new Entry(name, what, lady, baseline, base, base.wallSeconds() / lady.wallSeconds(), details);
    }

    /** The JSON form (stable field names). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("what", what);
        m.put("seconds", lady.wallSeconds());
        m.put("cpu_seconds", lady.cpuSeconds());
        m.put("reps", lady.reps());
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("what", baseline);
        b.put("seconds", base.wallSeconds());
        b.put("cpu_seconds", base.cpuSeconds());
        b.put("reps", base.reps());
        m.put("baseline", b);
        m.put("ratio", ratio);
        m.put("details", details);
        return m;
    }
}
