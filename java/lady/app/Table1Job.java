package lady.app;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.DataSource;
import lady.data.Dataset;
import lady.experiment.Table1;
import lady.experiment.Table1Files;
import lady.io.OutputSet;
import lady.model.Models;
import lady.onnx.Onnx;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.util.Parallel;

/**
 * {@code lady table1}: the paper's Table 1 on a reference checkpoint (or an ONNX classifier: groups from its
 * graph, errors measured with ONNX Runtime, no fine-tuning, no batch-norm recalibration), its files written into a
 * folder all or nothing.
 */
public final class Table1Job {
    private Table1Job() {}

    /**
     * A Table 1 to make; null levels are the paper's.
     *
     * @param model         reference checkpoint
     * @param arch          architecture, or null to infer it (with an ONNX model: null, its graph is used)
     * @param data          dataset
     * @param layer         attacked layer and resynced group, or {@link Models#PAPER_LAYER}
     * @param runs          runs per cell
     * @param out           output folder
     * @param attacks       attacks to run
     * @param wholeNetwork  permute and resync every group
     * @param seed          master seed
     * @param noise         Omega levels, or null
     * @param finetune      Theta levels, or null
     * @param quant         B levels, or null
     * @param prune         T levels, or null
     * @param evalLimit     test images (-1: all)
     * @param trainLimit    training images for fine-tuning (-1: all)
     * @param recalibrateBn training batches of the batch-norm recalibration after an attack (0: none)
     * @param deterministic fine-tune on one thread, bit-reproducibly
     */
    public record Request(Path model, String arch, DataSource data, String layer, int runs, Path out,
            List<String> attacks, boolean wholeNetwork, long seed, List<Double> noise, List<Integer> finetune,
            List<Integer> quant, List<Double> prune, int evalLimit, int trainLimit, int recalibrateBn,
            boolean deterministic) {}

    /**
     * A Table 1 made.
     *
     * @param table        the rows, runs and timings (its config: what ran)
     * @param recalibrated batch-norm recalibration batches used (0 for an ONNX model)
     * @param files        the files written into the folder
     * @param manifest     inputs, options, timings
     */
    public record Result(Table1.Result table, int recalibrated, List<Path> files, Manifest manifest) {}

    /** Runs the request; progress goes to {@code progress}. */
    public static Result run(Request r, ProgressListener progress) {
        JobLog log = new JobLog("table1", progress).input("--model", r.model()).option("arch", r.arch())
                .option("data", r.data().spec()).option("layer", r.layer()).option("runs", r.runs())
                .option("attacks", r.attacks()).option("whole_network", r.wholeNetwork()).option("seed", r.seed())
                .option("recalibrate_bn", r.recalibrateBn()).option("deterministic", r.deterministic());
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", r.model());
            Path dir = outs.directory("--out", r.out());
            Path model = r.model();
            StateDict reference = Checkpoints.read(model);
            boolean onnx = Checkpoints.formatOf(model) == Checkpoints.Format.ONNX && r.arch() == null;
            if (onnx && Models.PAPER_LAYER.equals(r.layer())) {
                throw new LadyException(LadyException.Kind.USAGE, "--layer paper is a position in VGG16; for an ONNX "
                        + "model name the attacked layer: a group or a weight ('lady spec --model " + model
                        + "' lists the groups)");
            }
            String attacked = onnx ? r.layer()
                    : Models.layerFor(r.layer(), Paper.TABLE1_LAYER_VGG16, Models.infer(reference, r.arch()).architecture());
            int recalibrate = onnx ? 0 : r.recalibrateBn(); // ONNX models are only evaluated (ONNX Runtime)
            Table1.Config base = Table1.Config.paper(attacked);
            Table1.Config config = base.withRuns(r.runs()).withSeed(r.seed()).withAttacks(r.attacks())
                    .withWholeNetwork(r.wholeNetwork())
                    .withLevels(r.noise() != null ? r.noise() : base.noise(),
                            r.finetune() != null ? r.finetune() : base.finetune(),
                            r.quant() != null ? r.quant() : base.quant(), r.prune() != null ? r.prune() : base.prune())
                    .withLimits(r.evalLimit(), r.trainLimit()).withDeterministic(r.deterministic())
                    .withRecalibrateBn(recalibrate);
            Dataset test = r.data().test();
            Dataset train = config.attacks().contains("finetune") || recalibrate > 0 ? r.data().train() : null;
            long t0 = JobLog.now();
            Table1.Result result = onnx ? Table1.runOnnx(config, Onnx.read(model), reference, test, progress)
                    : Table1.run(config, reference, r.arch(), train, test, progress);
            log.stage("table", t0, "table1: " + result.rows().size() + " cells");

            Map<String, Object> provenance = new LinkedHashMap<>();
            provenance.put("model", model.toString());
            provenance.put("data", r.data().spec());
            provenance.put("threads", Parallel.threads());
            t0 = JobLog.now();
            List<Path> files = Table1Files.write(dir, result, provenance);
            outs.commit();
            log.stage("write", t0, "wrote " + files.size() + " files to " + r.out());
            return new Result(result, recalibrate, files, log.manifest());
        }
    }
}
