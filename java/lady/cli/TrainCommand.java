package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.LadyException;
import lady.data.DataSource;
import lady.io.OutputSet;
import lady.data.Dataset;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.paper.Paper;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.train.EpochStats;
import lady.train.EvalResult;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.train.Trainer;
import lady.util.Parallel;

/** {@code lady train}: trains a model from scratch with the authors' recipe, then evaluates it on the test split. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a model (SGD, momentum, weight decay, StepLR; defaults as the paper's",
                "authors), write a checkpoint after every epoch, and report the test error."})
final class TrainCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--arch", defaultValue = "vgg16_cifar", description = "Architecture (default: ${DEFAULT-VALUE}); one of vgg16, vgg16_bn, vgg16_cifar, vgg16_bn_cifar, resnet18, resnet18_cifar, lenet5, toynet, fc.")
    String arch;

    @Option(names = "--width", defaultValue = "1.0", description = "Channel width multiplier (VGG, ResNet; default: ${DEFAULT-VALUE}).")
    double width;

    @Mixin DataOption data;

    @Option(names = "--epochs", required = true, description = "Epochs.")
    int epochs;

    @Option(names = "--out", description = "Checkpoint written when training has finished (.pt: PyTorch zip; .safetensors).")
    Path out;

    @Option(names = "--lr", description = "Learning rate (default: " + Paper.TRAIN_LR + ").")
    Double lr;

    @Option(names = "--momentum", description = "SGD momentum (default: " + Paper.TRAIN_MOMENTUM + ").")
    Double momentum;

    @Option(names = "--weight-decay", description = "Weight decay (default: " + Paper.TRAIN_WEIGHT_DECAY + ").")
    Double weightDecay;

    @Option(names = "--batch-size", description = "Batch size (default: " + Paper.TRAIN_BATCH_SIZE + ").")
    Integer batchSize;

    @Option(names = "--lr-step", description = "StepLR step in epochs (default: " + Paper.TRAIN_LR_STEP + ").")
    Integer lrStep;

    @Option(names = "--lr-gamma", description = "StepLR factor (default: " + Paper.TRAIN_LR_GAMMA + ").")
    Double lrGamma;

    @Mixin SeedOption seed;

    @Option(names = "--limit", description = "Train on the first N training images only.")
    Integer limit;


    @Option(names = "--no-deterministic", negatable = false,
            description = "Train on every thread (faster; the weights may then differ in the last bits from run to run: "
                    + "oneDNN's multi-threaded backward pass is not bit-reproducible on every CPU). By default training "
                    + "runs on one thread and is bit-reproducible for a seed; evaluation uses every thread either way.")
    boolean noDeterministic;

    /** Accepted for scripts written before reproducibility became the default; it changes nothing. */
    @Option(names = "--deterministic", hidden = true)
    boolean deterministicLegacy;

    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Option(names = "--watermark", description = "Embed an Uchida watermark in this layer while training: a layer name, or "
            + "'paper' for the conv at the paper's position (" + Paper.UCHIDA_LAYER_VGG16 + "; features.27 with batch norm).")
    String watermark;

    @Option(names = "--watermark-bits", defaultValue = "" + Paper.UCHIDA_BITS, description = "Watermark bits T (default: ${DEFAULT-VALUE}).")
    int watermarkBits;

    @Option(names = "--watermark-steps", defaultValue = "0", paramLabel = "N",
            description = "After training, N embedding-only steps (the watermark loss alone, on the watermarked weight; "
                    + "a short run needs hundreds to reach BER 0; default: ${DEFAULT-VALUE}).")
    int watermarkSteps;

    @Option(names = "--key", description = "Watermark key file written (default: next to --out, m.pt -> m.key.json).")
    Path key;

    @Override
    public Integer call() {
        TrainConfig base = TrainConfig.paper(epochs);
        TrainConfig config = new TrainConfig(epochs,
                batchSize != null ? batchSize : base.batchSize(),
                lr != null ? lr : base.lr(),
                momentum != null ? momentum : base.momentum(),
                weightDecay != null ? weightDecay : base.weightDecay(),
                lrStep != null ? lrStep : base.lrStep(),
                lrGamma != null ? lrGamma : base.lrGamma(),
                seed.seed, limit != null ? limit : -1);
        ModelOptions options = ModelOptions.defaults().withWidth(width);
        DataSource source = data.source();
        Dataset trainSet = source.train();
        Dataset testSet = source.test();
        Models.describe(arch, options.withClasses(trainSet.classes())); // validates before any work
        if (watermarkSteps < 0 || (watermarkSteps > 0 && watermark == null)) {
            throw new LadyException(LadyException.Kind.USAGE, "--watermark-steps needs --watermark and must be >= 0");
        }
        ProgressListener progress = run.progress();

        try (OutputSet outs = new OutputSet()) {
            Path outTmp = outs.file("--out", out);
            Path keyTmp = outs.file("--key", watermark == null ? null : lady.watermark.Uchida.keyPath(key, out));
            train(config, options, source, trainSet, testSet, progress, outTmp, keyTmp);
            outs.commit();
        }
        return 0;
    }

    private void train(TrainConfig config, ModelOptions options, DataSource source, Dataset trainSet, Dataset testSet,
            ProgressListener progress, Path outTmp, Path keyTmp) {
        long start = System.nanoTime();
        Trainer.seedLibtorch(seed.seed);
        Model model = Models.create(arch, options.withClasses(trainSet.classes()));
        lady.watermark.WatermarkKey wmKey = watermark == null ? null : lady.watermark.Uchida.createKey(model.stateDict(),
                lady.watermark.Uchida.layerFor(watermark, arch), watermarkBits, lady.util.Seeds.derive(seed.seed, "watermark"),
                keyTmp);
        Trainer trainer = new Trainer(config);
        trainer.deterministic(!noDeterministic);
        if (trainer.oneThread() && !run.quiet) {
            spec.commandLine().getErr().println("lady: training on 1 thread, bit-reproducible for the seed "
                    + "(--no-deterministic uses every thread)");
        }
        trainer.progress(progress);
        List<EpochStats> history = wmKey == null ? trainer.train(model, trainSet)
                : lady.watermark.Uchida.train(model, trainSet, wmKey, trainer, watermarkSteps).history();
        if (outTmp != null) {
            lady.checkpoint.Checkpoints.write(outTmp, model.stateDict(), lady.checkpoint.Checkpoints.formatForName(out));
        }
        EvalResult test = new Evaluator(config.batchSize()).progress(progress).evaluate(model, testSet);
        double seconds = (System.nanoTime() - start) / 1e9;

        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("architecture", arch);
            r.put("width", width);
            r.put("data", source.spec());
            r.put("train_images", history.isEmpty() ? 0 : history.get(0).images());
            r.put("batch_size", config.batchSize());
            r.put("lr", config.lr());
            r.put("momentum", config.momentum());
            r.put("weight_decay", config.weightDecay());
            r.put("seed", seed.seed);
            r.put("threads", Parallel.threads());
            List<Object> epochsOut = new ArrayList<>();
            for (EpochStats s : history) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("epoch", s.epoch());
                m.put("lr", s.lr());
                m.put("loss", s.loss());
                m.put("train_error_pct", s.trainErrorPct());
                m.put("images_per_second", s.imagesPerSecond());
                m.put("seconds", s.seconds());
                epochsOut.add(m);
            }
            r.put("epochs", epochsOut);
            r.put("images", test.images());
            r.put("error_pct", test.errorPct());
            if (wmKey != null) {
                r.put("watermark", lady.watermark.Uchida.detect(model.stateDict(), wmKey).toJson());
                r.put("key", lady.watermark.Uchida.keyPath(key, out).toString());
            }
            r.put("out", out == null ? null : out.toString());
            r.put("seconds", seconds);
            w.println(Json.write(r));
        } else {
            for (EpochStats s : history) {
                w.printf("epoch %d/%d  lr %.4g  loss %.4f  train error %.2f %%  %.1f img/s  %.1f s%n", s.epoch(),
                        epochs, s.lr(), s.loss(), s.trainErrorPct(), s.imagesPerSecond(), s.seconds());
            }
            w.printf("test: %d images, error %.2f %%%n", test.images(), test.errorPct());
            if (wmKey != null) {
                w.printf("watermark in %s: BER %.2f %%, key %s%n", wmKey.layer(),
                        lady.watermark.Uchida.detect(model.stateDict(), wmKey).berPct(), lady.watermark.Uchida.keyPath(key, out));
            }
            if (out != null) {
                w.printf("wrote %s%n", out);
            }
            w.printf("total %.1f s%n", seconds);
        }
    }
}
