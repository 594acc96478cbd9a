package lady.app;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.BuildInfo;

/**
 * What a job ran on and how, returned with every runner's result: the tool and its version, the job, its
 * inputs (option -> path, in the order given), its options (name -> value as the job used it) and the seconds
 * each stage took (in order, with the total).
 *
 * @param tool    always "lady"
 * @param version the build's version ({@link BuildInfo#version()})
 * @param job     the job's name, e.g. "permute"
 * @param inputs  option -> file it read (absent options are left out)
 * @param options option -> value used
 * @param seconds stage -> seconds, and "total"
 */
public record Manifest(String tool, String version, String job, Map<String, String> inputs,
        Map<String, Object> options, Map<String, Double> seconds) {

    public Manifest {
        inputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        options = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(options));
        seconds = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(seconds));
    }

    /** The manifest as a JSON object (for lady.report.Json). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", tool);
        m.put("version", version);
        m.put("job", job);
        m.put("inputs", inputs);
        m.put("options", options);
        m.put("seconds", seconds);
        return m;
    }
}
