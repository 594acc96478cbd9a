package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.LadyException;
import lady.app.Table1Job;
import lady.model.Models;
import lady.experiment.Table1;
import lady.train.BatchNormRecalibration;

/** {@code lady table1}: the paper's Table 1 (attacks x levels x runs, Psi and error) and its plots. */
@Command(name = "table1", mixinStandardHelpOptions = true,
        description = {"Regenerate the paper's Table 1 (method.md 7, 9): for every attack level and",
                "run, attack, permute with a new secret, resync by argmax and by assignment; Psi",
                "and test error, mean +- std.",
                "An ONNX classifier as --model: groups from its graph, errors measured with ONNX",
                "Runtime, no fine-tuning.",
                "Writes runs.jsonl, table1.csv, table1.md and one PNG (+ CSV) per attack into",
                "--out."})
final class Table1Command implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin ModelInput input;

    @Mixin DataOption data;

    /** What {@code --layer paper} means, for the help of the commands that default to the paper's Table 1 layer. */
    static final String PAPER_LAYER_HELP = "or 'paper' for the conv at the paper's position (features.17 in VGG16, "
            + "features.24 with batch norm)";

    @Option(names = "--layer", defaultValue = Models.PAPER_LAYER, paramLabel = "NAME",
            description = "Attacked layer (noise, prune) and resynced group: a layer name, " + PAPER_LAYER_HELP
                    + " (default: ${DEFAULT-VALUE}).")
    String layer;

    @Option(names = "--runs", defaultValue = "5", paramLabel = "N", description = "Runs per cell (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Option(names = "--attacks", defaultValue = "noise,finetune,quant,prune", paramLabel = "LIST",
            description = "Attacks to run (default: ${DEFAULT-VALUE}).")
    String attacks;

    @Option(names = "--whole-network", description = "Permute and resync every group (default: the layer's group only).")
    boolean wholeNetwork;

    @Mixin SeedOption seed;

    @Option(names = "--noise", paramLabel = "LIST", split = ",", description = "Omega levels (default: the paper's 0,1,2,7,10).")
    List<Double> noise;

    @Option(names = "--finetune", paramLabel = "LIST", split = ",", description = "Theta levels (default: 2,6,8,10).")
    List<Integer> finetune;

    @Option(names = "--quant", paramLabel = "LIST", split = ",", description = "B levels (default: 16,8,6,4,2).")
    List<Integer> quant;

    @Option(names = "--prune", paramLabel = "LIST", split = ",", description = "T levels in %% (default: 0,91,95,98,99).")
    List<Double> prune;

    @Option(names = "--eval-limit", paramLabel = "N", description = "Evaluate on the first N test images only.")
    Integer evalLimit;

    @Option(names = "--train-limit", paramLabel = "N", description = "Fine-tune on the first N training images only.")
    Integer trainLimit;


    @Option(names = "--recalibrate-bn", paramLabel = "N", defaultValue = "" + BatchNormRecalibration.DEFAULT_BATCHES,
            description = "After each noise, quantization or pruning attack on a model with batch norm, re-estimate the "
                    + "batch-norm statistics over N training batches (train mode, no labels, no gradient), as a real "
                    + "attacker does; 0: keep the unattacked model's statistics (the paper's protocol). Not for ONNX "
                    + "models (Lady does not run them in training mode). Default: ${DEFAULT-VALUE}.")
    int recalibrateBn;


    @Option(names = "--no-deterministic", negatable = false,
            description = "Fine-tune on every thread (faster; the results may then differ in the last bits from run to "
                    + "run). By default fine-tuning runs on one thread and is bit-reproducible for a seed.")
    boolean nonDeterministic;

    @Mixin RunOptions run;

    @Override
    public Integer call() {
        Table1Job.Result job = Table1Job.run(new Table1Job.Request(input.model, input.arch, data.source(), layer, runs,
                out, Arrays.stream(attacks.split(",")).map(String::trim).toList(), wholeNetwork, seed.seed, noise,
                finetune, quant, prune, evalLimit != null ? evalLimit : -1, trainLimit != null ? trainLimit : -1,
                recalibrateBn, !nonDeterministic), run.progress());
        Table1.Result result = job.table();
        int recalibrate = job.recalibrated();

        PrintWriter w = spec.commandLine().getOut();
        w.printf(Locale.ROOT, "table1: %s, %d cells x %d runs in %.1f s; reference error %.2f %%%s%n",
                result.architecture(), result.rows().size(), result.config().runs(), result.totalSeconds(),
                result.baseError(), recalibrate > 0 ? String.format(Locale.ROOT, "; batch-norm statistics re-estimated "
                        + "over %d batches after each attack (models with batch norm)", recalibrate) : "");
        for (Table1.Row r : result.rows()) {
            w.printf(Locale.ROOT, "  %-12s Psi argmax %-16s Psi assignment %-16s error %-16s %s%n", r.spec(),
                    r.psiArgmax().format(), r.psiAssignment().format(), r.error().format(),
                    r.errorCheck() ? "" : "ERROR CHECK FAILED");
        }
        Map<String, Double> s = result.seconds();
        double total = result.totalSeconds();
        w.printf(Locale.ROOT, "time: attack %.1f s (%.0f %%), permute %.1f s (%.0f %%), resync %.1f s (%.0f %%), "
                + "eval %.1f s (%.0f %%), total %.1f s%n", s.get("attack"), 100 * s.get("attack") / total,
                s.get("permute"), 100 * s.get("permute") / total, s.get("resync"), 100 * s.get("resync") / total,
                s.get("eval"), 100 * s.get("eval") / total, total);
        w.printf(Locale.ROOT, "wrote %d files to %s%n", job.files().size(), out);
        w.flush();
        List<String> failures = result.failures();
        if (!failures.isEmpty()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "error check FAILED in " + failures.size()
                    + " cell run(s): after the assignment resync the test error differs from the attacked model's: "
                    + String.join("; ", failures) + " (results written to " + out + ")");
        }
        return 0;
    }
}
