package lady.app;

import java.nio.file.Path;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.data.DataSource;
import lady.data.Dataset;
import lady.model.Model;
import lady.model.Models;
import lady.onnx.Onnx;
import lady.onnx.OrtRunner;
import lady.progress.ProgressListener;
import lady.train.EvalResult;
import lady.train.Evaluator;

/** {@code lady eval}: top-1 error of a checkpoint, or of an ONNX classifier (run by ONNX Runtime), on a dataset. */
public final class EvalJob {
    private EvalJob() {}

    /**
     * An evaluation to make.
     *
     * @param model     checkpoint, or an ONNX classifier (N x 3 x 32 x 32 images in, N x classes logits out)
     * @param arch      architecture, or null to infer it (not for an ONNX model)
     * @param data      dataset
     * @param train     evaluate the training split instead of the test split
     * @param batchSize batch size
     * @param limit     the first images only, or null for all
     */
    public record Request(Path model, String arch, DataSource data, boolean train, int batchSize, Integer limit) {}

    /**
     * An evaluation made.
     *
     * @param eval         images, errors, loss
     * @param architecture the model's architecture ("onnx" for an ONNX model)
     * @param seconds      time of the evaluation
     * @param manifest     inputs, options, timings
     */
    public record Result(EvalResult eval, String architecture, double seconds, Manifest manifest) {}

    /** Runs the request; progress goes to {@code progress}. */
    public static Result run(Request r, ProgressListener progress) {
        JobLog log = new JobLog("eval", progress).input("--model", r.model()).option("arch", r.arch())
                .option("data", r.data().spec()).option("split", r.train() ? "train" : "test")
                .option("batch_size", r.batchSize()).option("limit", r.limit());
        Path model = r.model();
        boolean onnx = Checkpoints.formatOf(model) == Checkpoints.Format.ONNX;
        if (onnx && r.arch() != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--arch does not apply to an ONNX model (its graph is in the file)");
        }
        Dataset set = r.train() ? r.data().train() : r.data().test();
        Evaluator evaluator = new Evaluator(r.batchSize()).progress(progress);
        if (r.limit() != null) {
            evaluator.limit(r.limit());
        }
        long start = JobLog.now();
        EvalResult e;
        String architecture;
        if (onnx) {
            try (OrtRunner ort = OrtRunner.open(Onnx.read(model))) {
                e = evaluator.evaluate(ort::logits, set);
            }
            architecture = "onnx";
        } else {
            Model m = Models.fromStateDict(Checkpoints.read(model), r.arch());
            e = evaluator.evaluate(m, set);
            architecture = m.architecture();
        }
        double seconds = (JobLog.now() - start) / 1e9;
        log.stage("eval", start, String.format(java.util.Locale.ROOT, "evaluated %d images", e.images()));
        return new Result(e, architecture, seconds, log.manifest());
    }
}
