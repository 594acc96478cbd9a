package lady.app;

import java.nio.file.Path;
import java.util.function.Consumer;

import lady.demo.Demo;
import lady.demo.DemoConfig;
import lady.demo.DemoReport;
import lady.demo.HtmlReport;
import lady.demo.ModelCache;
import lady.io.AtomicFiles;
import lady.io.OutputSet;
import lady.progress.ProgressListener;
import lady.report.Json;

/**
 * {@code lady demo}: the whole story on the built-in digits, into a folder (report.html with its plots, demo.json
 * and the JSON of every step), all or nothing.
 */
public final class DemoJob {
    private DemoJob() {}

    /**
     * A demo to run.
     *
     * @param quick a smaller model and grid
     * @param seed  master seed
     * @param out   output folder
     * @param fresh retrain the model even when the cache holds it
     * @param cache model cache folder, or null for the user's ({@link ModelCache#user()})
     */
    public record Request(boolean quick, long seed, Path out, boolean fresh, Path cache) {}

    /**
     * A demo run.
     *
     * @param report   every step's figures and verdicts
     * @param html     the HTML report written
     * @param manifest inputs, options, timings
     */
    public record Result(DemoReport report, Path html, Manifest manifest) {}

    /** Runs the request; progress goes to {@code progress}, the story's lines to {@code narrative} as they come. */
    public static Result run(Request r, ProgressListener progress, Consumer<String> narrative) {
        JobLog log = new JobLog("demo", progress).option("quick", r.quick()).option("seed", r.seed())
                .option("fresh", r.fresh()).option("cache", r.cache() == null ? null : r.cache().toString());
        DemoConfig config = (r.quick() ? DemoConfig.quick() : DemoConfig.full()).withSeed(r.seed());
        ModelCache models = r.cache() != null ? new ModelCache(r.cache()) : ModelCache.user();
        try (OutputSet outs = new OutputSet()) {
            Path dir = outs.directory("--out", r.out());
            long t0 = JobLog.now();
            DemoReport report = Demo.run(config, dir, r.fresh(), models, progress, narrative);
            log.stage("demo", t0, "demo finished");
            AtomicFiles.writeString(dir.resolve("demo.json"), Json.write(report.toJson()) + "\n");
            Path html = outs.published(HtmlReport.write(dir, report));
            outs.commit();
            return new Result(report, html, log.manifest());
        }
    }
}
