package lady.app;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import lady.BuildInfo;
import lady.progress.ProgressListener;

/**
 * What a runner gathers for its {@link Manifest} while it works: inputs, options, and its stages, each timed and
 * reported to the listener ({@link ProgressListener#stage}) as it ends.
 */
final class JobLog {
    private final String job;
    private final ProgressListener progress;
    private final Map<String, String> inputs = new LinkedHashMap<>();
    private final Map<String, Object> options = new LinkedHashMap<>();
    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private final long begin = System.nanoTime();

    JobLog(String job, ProgressListener progress) {
        this.job = job;
        this.progress = progress == null ? ProgressListener.NONE : progress;
    }

    /** Records an input file (nothing when {@code path} is null). */
    JobLog input(String option, Path path) {
        if (path != null) {
            inputs.put(option, path.toString());
        }
        return this;
    }

    /** Records an option's value (null values too: "not given"). */
    JobLog option(String name, Object value) {
        options.put(name, value);
        return this;
    }

    /** The time now, to pass to {@link #stage}. */
    static long now() {
        return System.nanoTime();
    }

    /** Stage {@code name} began at {@code start} and has ended: recorded, and reported as {@code what}. */
    void stage(String name, long start, String what) {
        double s = (System.nanoTime() - start) / 1e9;
        seconds.merge(name, s, Double::sum);
        progress.stage(what, s);
    }

    /** The manifest of the job so far (its total: the time since the log was made). */
    Manifest manifest() {
        Map<String, Double> all = new LinkedHashMap<>(seconds);
        all.put("total", (System.nanoTime() - begin) / 1e9);
        return new Manifest("lady", BuildInfo.version(), job, inputs, options, all);
    }
}
