package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.app.DemoJob;
import lady.report.Json;

/** {@code lady demo}: the whole story on the built-in digits, with an HTML report. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole story on the built-in digits: train a watermarked narrow VGG16",
                "(cached), permute it (the watermark is erased, accuracy intact), resync it (the",
                "watermark is back, the model restored bit for bit), a reduced Table 1, and the",
                "blind canonical ranking under quantization.",
                "Writes report.html (with PNG plots beside it) and the JSON of every step into",
                "--out."})
final class DemoCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--out", defaultValue = "demo", paramLabel = "DIR", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A smaller model and grid: under a minute, even with a cold cache.")
    boolean quick;

    @Option(names = "--fresh", description = "Retrain the model even when the cache holds it.")
    boolean fresh;

    @Mixin SeedOption seed;

    @Option(names = "--cache", paramLabel = "DIR",
            description = "Model cache (default: $LADY_CACHE_DIR, else $XDG_CACHE_HOME/lady, else ~/.cache/lady).")
    Path cache;

    @Mixin FormatOption format;

    @Mixin RunOptions run;

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        boolean text = !format.json();
        DemoJob.Result job = DemoJob.run(new DemoJob.Request(quick, seed.seed, out, fresh, cache), run.progress(),
                line -> {
                    if (text) {
                        w.println(line);
                        w.flush();
                    }
                });
        if (text) {
            for (Map.Entry<String, Boolean> v : job.report().verdicts().entrySet()) {
                w.printf(Locale.ROOT, "%s %s%n", v.getValue() ? "[ok]  " : "[FAIL]", v.getKey());
            }
            w.printf(Locale.ROOT, "demo finished in %.1f s; report: %s%n", job.report().seconds(),
                    job.html().toAbsolutePath());
        } else {
            w.println(Json.write(job.report().toJson()));
        }
        return job.report().ok() ? 0 : 1;
    }
}
