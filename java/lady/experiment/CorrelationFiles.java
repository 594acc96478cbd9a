package lady.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import lady.BuildInfo;
import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;

/**
 * Writes an {@link OutputCorrelation.Result} (paper figure 3) to a folder, each file atomically:
 * {@code correlate.csv} (one row per point of the curve), {@code correlate.png} (the curve without and
 * with the activation) and {@code correlate.json} (the pair, its output correlation and weight cosine,
 * curve statistics, provenance).
 */
public final class CorrelationFiles {
    private CorrelationFiles() {}

    public static final String CSV = "correlate.csv";
    public static final String PNG = "correlate.png";
    public static final String JSON = "correlate.json";
    /** Value axis of the plot: cosine similarity, with a little room. */
    private static final double[] COSINE_RANGE = {-1.05, 1.05};

    /** Writes the three files into {@code dir} (created if needed); returns the summary written as JSON. */
    public static Map<String, Object> write(Path dir, OutputCorrelation.Result r, Map<String, Object> provenance) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create " + dir + ": " + e.getMessage(), e);
        }
        AtomicFiles.writeString(dir.resolve(CSV), csv(r.curve()));
        AtomicFiles.writeBytes(dir.resolve(PNG), plot(r, String.valueOf(provenance.getOrDefault("architecture", ""))));
        Map<String, Object> json = summary(r, provenance);
        AtomicFiles.writeString(dir.resolve(JSON), Json.write(json) + "\n");
        return json;
    }

    static String csv(List<OutputCorrelation.Point> curve) {
        StringBuilder sb = new StringBuilder("segment,step,t,position,cosine_pre,cosine_post\n");
        for (OutputCorrelation.Point p : curve) {
            sb.append(String.format(Locale.ROOT, "%d,%d,%.6f,%.6f,%.7f,%.7f%n", p.segment(), p.step(), p.t(),
                    p.position(), p.cosinePre(), p.cosinePost()));
        }
        return sb.toString();
    }

    static Map<String, Object> summary(OutputCorrelation.Result r, Map<String, Object> provenance) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tool", BuildInfo.describe());
        m.putAll(provenance);
        m.put("layer", r.layer());
        m.put("neurons", r.neurons());
        m.put("images", r.images());
        m.put("pair", List.of(r.first(), r.second()));
        m.put("output_correlation", r.correlation());
        m.put("weight_cosine", r.weightCosine());
        m.put("points", r.curve().size());
        m.put("cosine_pre", stats(r.curve().stream().mapToDouble(OutputCorrelation.Point::cosinePre).toArray()));
        m.put("cosine_post", stats(r.curve().stream().mapToDouble(OutputCorrelation.Point::cosinePost).toArray()));
        m.put("files", List.of(CSV, PNG));
        return m;
    }

    private static Map<String, Object> stats(double[] v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("min", java.util.Arrays.stream(v).min().orElse(Double.NaN));
        m.put("mean", java.util.Arrays.stream(v).average().orElse(Double.NaN));
        m.put("max", java.util.Arrays.stream(v).max().orElse(Double.NaN));
        return m;
    }

    static byte[] plot(OutputCorrelation.Result r, String architecture) {
        List<OutputCorrelation.Point> c = r.curve();
        double[] x = c.stream().mapToDouble(OutputCorrelation.Point::position).toArray();
        double[] pre = c.stream().mapToDouble(OutputCorrelation.Point::cosinePre).toArray();
        double[] post = c.stream().mapToDouble(OutputCorrelation.Point::cosinePost).toArray();
        String title = String.format(Locale.ROOT, "Neurons %d and %d of %s%s: output correlation %.3f, weight cosine %.3f",
                r.first(), r.second(), r.layer(), architecture.isEmpty() ? "" : " (" + architecture + ")",
                r.correlation(), r.weightCosine());
        return LinePlot.png(title, "position between consecutive images (image k at k)", "cosine similarity of the outputs",
                List.of(new LinePlot.Series("without activation", x, pre),
                        new LinePlot.Series("with activation (ReLU)", x, post)), COSINE_RANGE, false);
    }
}
