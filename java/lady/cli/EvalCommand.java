package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.data.DataSource;
import lady.data.Dataset;
import lady.model.Model;
import lady.model.Models;
import lady.onnx.Onnx;
import lady.onnx.OrtRunner;
import lady.paper.Paper;
import lady.report.Json;
import lady.train.EvalResult;
import lady.train.Evaluator;

/** {@code lady eval}: top-1 error of a checkpoint, or of an ONNX classifier (run by ONNX Runtime), on a dataset. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Top-1 error (%%) of a model checkpoint, or of an ONNX classifier (run by ONNX Runtime), on the "
                + "test (or training) split of a dataset.")
final class EvalCommand implements Callable<Integer> {

    /** Which split to evaluate. */
    enum Split { test, train }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint (PyTorch zip state_dict or safetensors), or an "
            + "ONNX model taking N x 3 x 32 x 32 images normalized as for training and giving N x classes logits.")
    Path model;

    @Option(names = "--data", defaultValue = "digits", description = "Data: " + DataSource.SYNTAX + " (default: ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--arch", description = "Architecture (default: inferred from the checkpoint; not for ONNX models).")
    String arch;

    @Option(names = "--split", defaultValue = "test", description = "Split: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Split split;

    @Option(names = "--batch-size", description = "Batch size (default: " + Paper.TRAIN_BATCH_SIZE + ").")
    Integer batchSize;

    @Option(names = "--limit", description = "Evaluate the first N images only.")
    Integer limit;


    @CommandLine.Mixin
    RunOptions run;

    @Option(names = "--format", defaultValue = "text", description = "Output format: ${COMPLETION-CANDIDATES}.")
    OutputFormat format;

    @Override
    public Integer call() {
        DataSource source = DataSource.parse(data);
        boolean onnx = Checkpoints.formatOf(model) == Checkpoints.Format.ONNX;
        if (onnx && arch != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--arch does not apply to an ONNX model (its graph is in the file)");
        }
        Dataset set = split == Split.test ? source.test() : source.train();
        Evaluator evaluator = new Evaluator(batchSize != null ? batchSize : Paper.TRAIN_BATCH_SIZE)
                .progress(run.progress());
        if (limit != null) {
            evaluator.limit(limit);
        }
        long start = System.nanoTime();
        EvalResult r;
        String architecture;
        if (onnx) {
            try (OrtRunner ort = OrtRunner.open(Onnx.read(model))) {
                r = evaluator.evaluate(ort::logits, set);
            }
            architecture = "onnx";
        } else {
            Model m = Models.fromStateDict(Checkpoints.read(model), arch);
            r = evaluator.evaluate(m, set);
            architecture = m.architecture();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        PrintWriter w = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
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
