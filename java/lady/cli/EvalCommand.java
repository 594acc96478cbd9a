package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.app.EvalJob;
import lady.data.DataSource;
import lady.paper.Paper;
import lady.report.Json;
import lady.train.EvalResult;

/** {@code lady eval}: top-1 error of a checkpoint, or of an ONNX classifier (run by ONNX Runtime), on a dataset. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Top-1 error (%%) of a model checkpoint, or of an ONNX classifier (run by ONNX",
                "Runtime), on the test (or training) split of a dataset.",
                "An ONNX --model takes N x 3 x 32 x 32 images normalized as for training and",
                "gives N x classes logits; --arch does not apply to it."})
final class EvalCommand implements Callable<Integer> {

    /** Which split to evaluate. */
    enum Split { test, train }

    @Spec CommandSpec spec;

    @Mixin ModelInput input;

    @Mixin DataOption data;

    @Option(names = "--split", defaultValue = "test", description = "Split: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Split split;

    @Option(names = "--batch-size", description = "Batch size (default: " + Paper.TRAIN_BATCH_SIZE + ").")
    Integer batchSize;

    @Option(names = "--limit", description = "Evaluate the first N images only.")
    Integer limit;


    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        Path model = input.model;
        DataSource source = data.source();
        EvalJob.Result job = EvalJob.run(new EvalJob.Request(model, input.arch, source, split == Split.train,
                batchSize != null ? batchSize : Paper.TRAIN_BATCH_SIZE, limit), run.progress());
        EvalResult r = job.eval();
        String architecture = job.architecture();
        double seconds = job.seconds();
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.toString());
            o.put("architecture", architecture);
            o.put("data", source.spec());
            o.put("split", split.name());
            o.put("images", r.images());
            o.put("errors", r.errors());
            o.put("error_pct", r.errorPct());
            o.put("accuracy_pct", r.accuracyPct());
            o.put("loss", r.loss());
            o.put("seconds", seconds);
            w.println(Json.write(o));
        } else {
            w.printf("%s (%s) on %s %s: %d images, error %.2f %% (accuracy %.2f %%), loss %.4f, %.1f s%n", model,
                    architecture, source.spec(), split, r.images(), r.errorPct(), r.accuracyPct(), r.loss(), seconds);
        }
        return 0;
    }
}
