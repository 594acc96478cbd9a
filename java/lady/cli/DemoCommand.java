package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import lady.demo.Demo;
import lady.demo.DemoConfig;
import lady.demo.DemoReport;
import lady.demo.HtmlReport;
import lady.demo.ModelCache;
import lady.io.AtomicFiles;
import lady.io.OutputSet;
import lady.report.Json;

/** {@code lady demo}: the whole story on the built-in digits, with an HTML report. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole story on the built-in digits: train a watermarked narrow VGG16 (cached), permute it",
                "(the watermark is erased, accuracy intact), resync it (the watermark is back, the model restored",
                "bit for bit), a reduced Table 1, and the blind canonical ranking under quantization.",
                "Writes report.html (with PNG plots beside it) and the JSON of every step into --out."})
final class DemoCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", defaultValue = "demo", paramLabel = "DIR", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A smaller model and grid: under a minute, even with a cold cache.")
    boolean quick;

    @Option(names = "--fresh", description = "Retrain the model even when the cache holds it.")
    boolean fresh;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Master seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--cache", paramLabel = "DIR",
            description = "Model cache (default: $LADY_CACHE_DIR, else $XDG_CACHE_HOME/lady, else ~/.cache/lady).")
    Path cache;

    @Option(names = "--format", defaultValue = "text", description = "Summary on stdout: ${COMPLETION-CANDIDATES}.")
    OutputFormat format;

    @CommandLine.Mixin
    RunOptions run;

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        DemoConfig config = (quick ? DemoConfig.quick() : DemoConfig.full()).withSeed(seed);
        ModelCache models = cache != null ? new ModelCache(cache) : ModelCache.user();
        boolean text = format == OutputFormat.text;
        DemoReport report;
        Path html;
        try (OutputSet outs = new OutputSet()) {
            Path dir = outs.directory("--out", out);
            report = Demo.run(config, dir, fresh, models, run.progress(), line -> {
                if (text) {
                    w.println(line);
                    w.flush();
                }
            });
            AtomicFiles.writeString(dir.resolve("demo.json"), Json.write(report.toJson()) + "\n");
            html = outs.published(HtmlReport.write(dir, report));
            outs.commit();
        }
        if (text) {
            for (Map.Entry<String, Boolean> v : report.verdicts().entrySet()) {
                w.printf(Locale.ROOT, "%s %s%n", v.getValue() ? "[ok]  " : "[FAIL]", v.getKey());
            }
            w.printf(Locale.ROOT, "demo finished in %.1f s; report: %s%n", report.seconds(), html.toAbsolutePath());
        } else {
            w.println(Json.write(report.toJson()));
        }
        return report.ok() ? 0 : 1;
    }
}
