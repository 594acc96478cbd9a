package lady.demo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.BuildInfo;

/**
 * What {@code lady demo} did, step by step: the source of its stdout narrative, of {@code demo.json} and of
 * {@code report.html}.
 *
 * @param config   the settings
 * @param steps    the steps in order
 * @param verdicts the claims the demo checks, each with whether it held (e.g. "BER restored exactly")
 * @param seconds  wall time of the whole demo
 * @param threads  libtorch threads
 */
public record DemoReport(DemoConfig config, List<Step> steps, Map<String, Boolean> verdicts, double seconds,
        int threads) {

    public DemoReport {
        steps = List.copyOf(steps);
        verdicts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(verdicts));
    }

    /** Whether every checked claim held. */
    public boolean ok() {
        return verdicts.values().stream().allMatch(Boolean::booleanValue);
    }

    /**
     * One step.
     *
     * @param id        short name; its JSON is {@code <id>.json} in the output folder
     * @param title     heading
     * @param story     what happened, in a few sentences
     * @param numbers   the headline figures (label to value, in display order)
     * @param commands  the CLI commands that reproduce the step
     * @param images    PNG files, relative to the output folder
     * @param files     other files the step wrote, relative to the output folder
     * @param table     optional rows of a small table (first row: header); empty for none
     * @param seconds   wall time of the step
     */
    public record Step(String id, String title, String story, Map<String, String> numbers, List<String> commands,
            List<String> images, List<String> files, List<List<String>> table, double seconds) {
        public Step {
            numbers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(numbers));
            commands = List.copyOf(commands);
            images = List.copyOf(images);
            files = List.copyOf(files);
            table = table.stream().map(List::copyOf).toList();
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("title", title);
            m.put("story", story);
            m.put("numbers", numbers);
            m.put("commands", commands);
            m.put("images", images);
            m.put("files", files);
            m.put("seconds", seconds);
            return m;
        }
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "lady-demo");
        m.put("format_version", 1);
        m.put("tool", BuildInfo.describe());
        m.put("config", config.toJson());
        List<Object> s = new ArrayList<>();
        steps.forEach(st -> s.add(st.toJson()));
        m.put("steps", s);
        m.put("verdicts", verdicts);
        m.put("ok", ok());
        m.put("threads", threads);
        m.put("seconds", seconds);
        return m;
    }
}
