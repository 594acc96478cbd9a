package lady.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import lady.data.DataSource;
import lady.torch.Torch;

/** Options every {@code lady figure} subcommand shares (a picocli mixin), with {@link RunOptions} inside. */
final class FigureOptions {

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "Trained reference checkpoint.")
    Path model;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Architecture (default: inferred from the checkpoint).")
    String arch;

    @Option(names = "--data", defaultValue = "digits", paramLabel = "SPEC",
            description = "Data: " + DataSource.SYNTAX + ", or none for no error axis (default: ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--eval-limit", paramLabel = "N", description = "Evaluate on the first N test images only.")
    Integer evalLimit;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Master seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Mixin
    RunOptions run;

    /** The data source, or null for {@code --data none}. */
    DataSource source() {
        return data.equalsIgnoreCase("none") ? null : DataSource.parse(data);
    }

    int evalLimit() {
        return evalLimit == null ? -1 : evalLimit;
    }

    /** Where the figure came from, for its JSON. */
    Map<String, Object> provenance() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("model", model.toString());
        p.put("data", data);
        p.put("threads", Torch.threads());
        return p;
    }

    /** A percentage for the printed summaries, "-" when not measured (--data none). */
    static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f %%", v);
    }

    /** The one-line summary every figure prints after writing. */
    static String wrote(List<Path> files, Path dir, double seconds) {
        return String.format(Locale.ROOT, "wrote %d files to %s (%.1f s)", files.size(), dir, seconds);
    }
}
