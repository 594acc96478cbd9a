package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.io.OutputSet;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.DataSource;
import lady.model.Model;
import lady.model.Models;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.train.EpochStats;
import lady.train.EvalResult;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.watermark.Detection;
import lady.watermark.Uchida;
import lady.watermark.WatermarkKey;

/** {@code lady watermark embed}: fine-tunes an existing model so that it carries a watermark. */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Fine-tune a trained model with the watermark loss added (lambda * mean BCE,",
                "log2) so that it carries the key's watermark; the key file is created (from",
                "--seed) when it does not exist."})
final class WatermarkEmbedCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    /** The checkpoint to fine-tune. */
    @Mixin ModelInput input;

    @Option(names = "--key", required = true, description = "Watermark key (JSON); created when missing.")
    Path key;

    @Option(names = "--out", required = true, description = "Watermarked checkpoint (written atomically).")
    Path out;

    @Option(names = "--epochs", defaultValue = "1", description = "Fine-tuning epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Mixin DataOption data;

    @Option(names = "--layer", defaultValue = Uchida.PAPER_LAYER, description = "Watermarked layer when the key is created: "
            + "a layer name, or 'paper' for the conv at the paper's position (features.19; features.27 with batch norm) "
            + "(default: ${DEFAULT-VALUE}).")
    String layer;

    @Option(names = "--bits", defaultValue = "" + Paper.UCHIDA_BITS, description = "Watermark bits T when the key is created (default: ${DEFAULT-VALUE}).")
    int bits;

    /** The seed of a new key and of the data order. */
    @Mixin SeedOption seed;

    @Option(names = "--lr", description = "Learning rate (default: " + Paper.FINETUNE_LR + ", the fine-tuning recipe).")
    Double lr;

    @Option(names = "--limit", description = "Fine-tune on the first N training images only.")
    Integer limit;


    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            return run(outs);
        }
    }

    private int run(OutputSet outs) {
        Path model = input.model;
        DataSource source = data.source();
        TrainConfig config = TrainConfig.fineTuning(epochs).withSeed(seed.seed).withLimit(limit != null ? limit : -1);
        if (lr != null) {
            config = config.withLr(lr);
        }
        boolean created = !Files.exists(key);
        outs.input("--model", model);
        Path keyTmp = created ? outs.file("--key", key) : null;
        if (!created) {
            outs.input("--key", key);
        }
        Path outTmp = outs.like("--out", out, model);
        StateDict state = Checkpoints.read(model);
        Model m = Models.fromStateDict(state, input.arch);
        WatermarkKey k;
        if (created) {
            k = Uchida.createKey(state, Uchida.layerFor(layer, m.architecture()), bits, seed.seed, keyTmp);
        } else {
            k = WatermarkKey.read(key, state);
        }
        k.checkFits(state);
        ProgressListener progress = run.progress();
        Detection before = Uchida.detect(state, k);
        long start = System.nanoTime();
        List<EpochStats> history = Uchida.embed(m, source.train(), k, config, progress);
        StateDict result = m.stateDict();
        Checkpoints.writeLike(outTmp, result, model);
        Detection after = Uchida.detect(result, k);
        EvalResult test = new Evaluator(config.batchSize()).progress(progress).evaluate(m, source.test());
        outs.commit();
        double seconds = (System.nanoTime() - start) / 1e9;
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.toString());
            o.put("out", out.toString());
            o.put("key", key.toString());
            o.put("key_created", created);
            o.put("epochs", epochs);
            o.put("wm_loss", history.isEmpty() ? null : history.get(history.size() - 1).terms().get("wm"));
            o.put("ber_before_pct", before.berPct());
            o.put("watermark", after.toJson());
            o.put("error_pct", test.errorPct());
            o.put("seconds", seconds);
            w.println(Json.write(o));
        } else {
            if (created) {
                w.printf("created key %s (layer %s, T = %d, seed %d)%n", key, k.layer(), k.size(), seed.seed);
            }
            for (EpochStats s : history) {
                w.printf("epoch %d/%d  loss %.4f  wm %.4f  train error %.2f %%  %.1f s%n", s.epoch(), epochs, s.loss(),
                        s.terms().getOrDefault("wm", Double.NaN), s.trainErrorPct(), s.seconds());
            }
            w.printf("BER %.2f %% -> %.2f %%; test error %.2f %%%n", before.berPct(), after.berPct(), test.errorPct());
            w.printf("wrote %s (%.1f s)%n", out, seconds);
        }
        return 0;
    }
}
