package lady.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import lady.data.DataSource;
import lady.util.Parallel;

/**
 * Options every {@code lady figure} subcommand shares (a picocli mixin), with {@link ModelInput}, {@link DataOption}
 * ({@code --data none}: no error axis), {@link SeedOption} and {@link RunOptions} inside.
 */
final class FigureOptions {

    /** The trained reference checkpoint. */
    @Mixin ModelInput input;

    /** The data of the error axis; {@code none} for no error axis. */
    @Mixin DataOption data;

    @Option(names = "--eval-limit", paramLabel = "N", description = "Evaluate on the first N test images only.")
    Integer evalLimit;

    @Mixin SeedOption seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Mixin RunOptions run;

    /** The reference checkpoint. */
    Path model() {
        return input.model;
    }

    /** Its architecture, or null to infer it. */
    String arch() {
        return input.arch;
    }

    /** The master seed. */
    long seed() {
        return seed.seed;
    }

    /** The data source, or null for {@code --data none}. */
    DataSource source() {
        return data.data.equalsIgnoreCase("none") ? null : data.source();
    }

    int evalLimit() {
        return evalLimit == null ? -1 : evalLimit;
    }

    /** Where the figure came from, for its JSON. */
    Map<String, Object> provenance() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("model", input.model.toString());
        p.put("data", data.data);
        p.put("threads", Parallel.threads());
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
