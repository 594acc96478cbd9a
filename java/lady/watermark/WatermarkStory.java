package lady.watermark;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import lady.BuildInfo;
import lady.LadyException;
import lady.attack.Attack;
import lady.attack.AttackContext;
import lady.attack.Attacks;
import lady.attack.NoiseAttack;
import lady.attack.NsoAttack;
import lady.attack.QuantAttack;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
import lady.kernels.Backend;
import lady.model.Architecture;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.resync.Method;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.resync.StructuralUndo;
import lady.structure.StateDiff;
import lady.torch.Torch;
import lady.train.BatchNormRecalibration;
import lady.train.EpochStats;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.train.Trainer;
import lady.util.Parallel;
import lady.util.Seeds;

/**
 * The attack-and-recover story of the paper (method.md 1 and 8), end to end on the built-in digits:
 * the README's recipe (VGG16 with batch norm, {@link Paper#DIGITS_RECIPE_ARCH}, half width, lr 0.02)
 * is trained with an Uchida watermark in the paper's conv (VGG16's features.19, the 9th conv: features.27
 * with batch norm, {@link Uchida#vgg16Layer}); then
 * <ol>
 * <li>permuting the group that feeds it (VGG16's features.17, here features.24: {@link Uchida#producerGroup};
 * it permutes the watermarked conv's input channels, hence w_bar) drives the BER to chance while the test
 * error does not move;</li>
 * <li>permuting the whole network does the same;</li>
 * <li>resync with the reference (whole network) brings the BER back to its pre-attack value exactly
 * and restores the model tensor for tensor;</li>
 * <li>with Gaussian noise (Omega = 2) or 8-bit quantization applied before the permutation (the
 * authors' order: attack, permute, resync), the watermark survives the attack alone, dies with the
 * permutation, and comes back after resync;</li>
 * <li>neural structural obfuscation ({@code nso}: dummy neurons, splits, rescaling and a permutation of every
 * group, Yan et al. 2023) leaves the logits as they were and the watermark at chance (read as an owner without
 * Lady would: the first L entries of the widened layer's w_bar); Lady's structural undo and resync give the
 * reference's shapes and tensors back (up to float rounding) and the watermark reads again.</li>
 * </ol>
 * Noise is applied twice, on the feeding group's conv and on the watermarked conv. The feeding conv is the
 * row that shows the point best: its rows are what the resync of the group that scrambles the watermark
 * must match, and the watermarked conv is untouched, so a right resync gives the pre-attack BER exactly.
 * Noise on the watermarked conv shows instead that the watermark itself shrugs off noise: there the BER
 * after resync is that of the noisy, unpermuted model.
 *
 * <p>Library code: no printing; progress through the listener; the result is a {@link Report}.
 */
public final class WatermarkStory {
    private WatermarkStory() {}

    /** The architecture of the story (the README's recipe). */
    public static final String ARCH = Paper.DIGITS_RECIPE_ARCH;
    /** Test images evaluated by default (of the 1,505 digits: each scenario evaluates twice). */
    public static final int DEFAULT_TEST_IMAGES = 500;
    /** Embedding-only steps after training by default ({@link Uchida#embedOnly}). */
    public static final int DEFAULT_EMBED_STEPS = 1000;

    /**
     * Options.
     *
     * @param width      channel-width multiplier of VGG16 (0.5: the watermarked conv is 256 x 256 x 3 x 3, L = 2304)
     * @param epochs     training epochs (from scratch, watermark embedded throughout)
     * @param lr         training learning rate (momentum, weight decay and StepLR as the authors')
     * @param limit      training images (first N of the digits; negative: all 8,495)
     * @param seed       the seed of everything (initialization, data order, key, permutations, noise)
     * @param method     resync matching method
     * @param noiseOmega Omega of the noise rows
     * @param quantBits  B of the quantization row
     * @param testLimit  test images (negative: all 1,505)
     * @param batchSize  training batch size (smaller than the paper's 128 so that a short run makes enough steps)
     * @param embedSteps steps of the embedding-only fine-tune after training ({@link Uchida#embedOnly}; 0: none)
     */
    public record Options(double width, int epochs, double lr, int limit, long seed, Method method, double noiseOmega,
            int quantBits, int testLimit, int batchSize, int embedSteps) {
        public Options {
            if (!(lr > 0) || Double.isInfinite(lr)) {
                throw new LadyException(LadyException.Kind.USAGE, "learning rate must be > 0, got " + lr);
            }
            if (epochs < 1) {
                throw new LadyException(LadyException.Kind.USAGE, "the story needs at least one training epoch, got "
                        + epochs);
            }
            if (batchSize < 1 || embedSteps < 0) {
                throw new LadyException(LadyException.Kind.USAGE, "batch size must be >= 1 and embedding steps >= 0");
            }
            if (limit == 0 || testLimit == 0) {
                throw new LadyException(LadyException.Kind.USAGE, "limits must be positive (or absent), got 0");
            }
        }

        /**
         * The README's training recipe (vgg16_bn_cifar, width 0.5, 3 epochs at lr 0.02 on all 8,495 digits, batch
         * 128; the plain VGG16 stayed at chance on digits), then 1,000 embedding-only steps (the watermark loss alone
         * at lambda = 0.1 needs hundreds of steps; 3 epochs are 200); seed 0, argmax (the paper's matching), Omega 2,
         * B = 8, 500 test images.
         */
        public static Options defaults() {
            return new Options(Paper.DIGITS_RECIPE_WIDTH, Paper.DIGITS_RECIPE_EPOCHS, Paper.DIGITS_RECIPE_LR, -1, 0L,
                    Method.ARGMAX, Paper.NOISE_OMEGAS.get(2), Paper.QUANT_BITS.get(1),
                    DEFAULT_TEST_IMAGES, Paper.TRAIN_BATCH_SIZE, DEFAULT_EMBED_STEPS);
        }

        public Options withLr(double v) {
            return new Options(width, epochs, v, limit, seed, method, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withWidth(double w) {
            return new Options(w, epochs, lr, limit, seed, method, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withEpochs(int e) {
            return new Options(width, e, lr, limit, seed, method, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withLimit(int n) {
            return new Options(width, epochs, lr, n, seed, method, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withSeed(long s) {
            return new Options(width, epochs, lr, limit, s, method, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withMethod(Method m) {
            return new Options(width, epochs, lr, limit, seed, m, noiseOmega, quantBits, testLimit, batchSize, embedSteps);
        }

        public Options withTestLimit(int n) {
            return new Options(width, epochs, lr, limit, seed, method, noiseOmega, quantBits, n, batchSize, embedSteps);
        }

        public Options withBatchSize(int b) {
            return new Options(width, epochs, lr, limit, seed, method, noiseOmega, quantBits, testLimit, b, embedSteps);
        }

        public Options withEmbedSteps(int n) {
            return new Options(width, epochs, lr, limit, seed, method, noiseOmega, quantBits, testLimit, batchSize, n);
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("architecture", ARCH);
            m.put("width", width);
            m.put("epochs", epochs);
            m.put("lr", lr);
            m.put("limit", limit);
            m.put("seed", seed);
            m.put("method", method);
            m.put("noise_omega", noiseOmega);
            m.put("quant_bits", quantBits);
            m.put("test_limit", testLimit);
            m.put("batch_size", batchSize);
            m.put("embed_steps", embedSteps);
            return m;
        }
    }

    /**
     * One attack scenario.
     *
     * @param scenario      short name
     * @param attack        attack spec applied before the permutation ("none", "noise:2", "quant:8")
     * @param attackedLayer tensor the attack targets (null for none / whole-network attacks)
     * @param permuted      permuted groups ("features.17" or "all")
     * @param berAttackOnly BER of the attacked, unpermuted model
     * @param berAttacked   BER of the attacked and permuted model (what the attacker publishes)
     * @param errorAttacked its test error in %
     * @param psi           Psi of the resync over the whole network (vs. the permutation actually applied)
     * @param duplicates    argmax duplicates
     * @param berResynced   BER after resync
     * @param errorResynced test error after resync in %
     * @param restored      every tensor after resync equals the attacked, unpermuted model's exactly
     * @param recalibratedBn batches over which the attacker re-estimated the batch-norm statistics after the attack
     *                      (0: not, e.g. a permutation alone; {@link BatchNormRecalibration})
     */
    public record Row(String scenario, String attack, String attackedLayer, String permuted, double berAttackOnly,
            double berAttacked, double errorAttacked, double psi, int duplicates, double berResynced,
            double errorResynced, boolean restored, int recalibratedBn) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("scenario", scenario);
            m.put("attack", attack);
            m.put("attacked_layer", attackedLayer);
            m.put("permuted", permuted);
            m.put("ber_attack_only_pct", berAttackOnly);
            m.put("ber_attacked_pct", berAttacked);
            m.put("error_attacked_pct", errorAttacked);
            m.put("psi", psi);
            m.put("duplicates", duplicates);
            m.put("ber_resynced_pct", berResynced);
            m.put("error_resynced_pct", errorResynced);
            m.put("restored", restored);
            m.put("recalibrated_bn_batches", recalibratedBn);
            return m;
        }
    }

    /**
     * The structural-obfuscation scenario.
     *
     * @param attack              the attack spec ("nso")
     * @param neuronsBefore       neurons of the groups before the attack
     * @param neuronsAfter        after it (dummy pairs and splits)
     * @param berAttacked         BER of the obfuscated model, read as it is ({@link Uchida#detectAsIs})
     * @param errorAttacked       its test error in %
     * @param logitDiffAttacked   max |logit - the reference's logit| on a probe batch
     * @param groupsUndone        groups the structural undo changed
     * @param psi                 Psi against the attack's lineage (undo, then resync)
     * @param berResynced         BER after Lady's undo and resync
     * @param errorResynced       test error after them in %
     * @param logitDiffResynced   max |logit - the reference's logit| on the probe batch after them
     * @param maxRelativeDiff     the largest relative difference of a restored tensor from the reference's
     * @param seconds             time of the undo and the resync
     */
    public record StructuralRow(String attack, long neuronsBefore, long neuronsAfter, double berAttacked,
            double errorAttacked, double logitDiffAttacked, long groupsUndone, double psi, double berResynced,
            double errorResynced, double logitDiffResynced, double maxRelativeDiff, double seconds) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("attack", attack);
            m.put("neurons_before", neuronsBefore);
            m.put("neurons_after", neuronsAfter);
            m.put("ber_attacked_pct", berAttacked);
            m.put("error_attacked_pct", errorAttacked);
            m.put("logit_diff_attacked", logitDiffAttacked);
            m.put("groups_undone", groupsUndone);
            m.put("psi", psi);
            m.put("ber_resynced_pct", berResynced);
            m.put("error_resynced_pct", errorResynced);
            m.put("logit_diff_resynced", logitDiffResynced);
            m.put("max_relative_diff", maxRelativeDiff);
            m.put("seconds", seconds);
            return m;
        }
    }

    /**
     * The story's result.
     *
     * @param options      what was run
     * @param key          the watermark key (generated from the seed)
     * @param trainImages  images per epoch
     * @param epochs       per-epoch statistics (the "wm" term is the embedding loss)
     * @param trainSeconds training time
     * @param berTrained   BER after training with the watermark loss, before the embedding-only fine-tune, in %
     * @param errorTrained test error at that point, in %
     * @param embedSeconds time of the embedding-only fine-tune
     * @param ber          BER after embedding (the reference model's), in %
     * @param errorPct     test error of the reference model, in %
     * @param testImages   test images evaluated
     * @param rows         the scenarios
     * @param structural   the structural-obfuscation scenario
     * @param seconds      total time
     * @param threads      libtorch threads
     */
    public record Report(Options options, WatermarkKey key, int trainImages, List<EpochStats> epochs,
            double trainSeconds, double berTrained, double errorTrained, double embedSeconds, double ber,
            double errorPct, int testImages, List<Row> rows, StructuralRow structural, double seconds,
            int threads) {
        public Report {
            epochs = List.copyOf(epochs);
            rows = List.copyOf(rows);
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("format", "lady-watermark-story");
            m.put("format_version", 1);
            m.put("tool", BuildInfo.describe());
            m.put("options", options.toJson());
            Map<String, Object> k = key.toJson(false);
            k.remove("format");
            k.remove("format_version");
            m.put("key", k);
            m.put("data", "digits");
            m.put("train_images", trainImages);
            m.put("epochs", epochs.stream().map(EpochStats::toJson).toList());
            m.put("train_seconds", trainSeconds);
            m.put("ber_trained_pct", berTrained);
            m.put("error_trained_pct", errorTrained);
            m.put("embed_seconds", embedSeconds);
            m.put("test_images", testImages);
            m.put("ber_pct", ber);
            m.put("error_pct", errorPct);
            List<Object> rs = new ArrayList<>();
            rows.forEach(r -> rs.add(r.toJson()));
            m.put("rows", rs);
            m.put("structural", structural.toJson());
            m.put("threads", threads);
            m.put("seconds", seconds);
            return m;
        }
    }

    /** Runs the story (training dominates the time). */
    public static Report run(Options o, ProgressListener progress) {
        Torch.init();
        long start = System.nanoTime();
        Dataset train = Digits.train();
        Dataset test = o.testLimit() > 0 ? Digits.test().limit(o.testLimit()) : Digits.test();
        ModelOptions mo = ModelOptions.defaults().withWidth(o.width()).withClasses(train.classes());
        Architecture arch = Models.describe(ARCH, mo);
        Trainer.seedLibtorch(o.seed());
        Model model = Models.create(ARCH, mo);
        StateDict init = model.stateDict();
        String watermarked = Uchida.vgg16Layer(arch);
        String layer = Uchida.weightName(init, watermarked);
        WatermarkKey key = WatermarkKey.forModel(init, layer, Seeds.derive(o.seed(), "watermark"));

        // 1. train with the watermark embedded
        TrainConfig config = TrainConfig.paper(o.epochs()).withLr(o.lr()).withSeed(o.seed()).withLimit(o.limit())
                .withBatchSize(o.batchSize());
        long t0 = System.nanoTime();
        Trainer trainer = new Trainer(config).progress(progress);
        Uchida.Training training = Uchida.train(model, train, key, trainer, 0);
        List<EpochStats> history = training.history();
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        Evaluator evaluator = new Evaluator(Paper.TRAIN_BATCH_SIZE);
        double berTrained = training.trained().berPct();
        double errorTrained = evaluator.evaluate(model, test).errorPct();
        // the embedding-only fine-tune (training recipe's lr and momentum, watermark term alone)
        long t1 = System.nanoTime();
        // (measured apart from training: the story reports the error in between)
        Uchida.embedOnly(model, key, o.embedSteps(), config.lr(), config.momentum());
        double embedSeconds = (System.nanoTime() - t1) / 1e9;
        StateDict reference = model.stateDict();
        double ber = Uchida.detect(reference, key).berPct();
        double error = o.embedSteps() == 0 ? errorTrained : evaluator.evaluate(model, test).errorPct();

        // 2. attacks, each followed by a resync with the reference
        PermutationSpec spec = model.permutationSpec();
        List<String> all = spec.groups().stream().map(Group::name).toList();
        List<String> weights = arch.weights();
        // a real attacker re-estimates the batch-norm statistics after changing weights (no labels, no cost)
        BatchNormRecalibration recalibration = new BatchNormRecalibration(o.limit() > 0 ? train.limit(o.limit()) : train,
                ARCH, BatchNormRecalibration.DEFAULT_BATCHES);
        String before = Uchida.producerGroup(spec, layer);
        String beforeWeight = Uchida.weightName(reference, before);
        List<Row> rows = new ArrayList<>();
        progress.start("watermark story: attacks and resyncs", 6, "scenarios");
        StructuralRow structural;
        try {
            rows.add(scenario("permute " + before, null, null, List.of(before), "permute:" + before, o, model, reference,
                    key, spec, weights, test, evaluator, recalibration));
            progress.advance(1);
            rows.add(scenario("permute all", null, null, all, "permute:all", o, model, reference, key, spec, weights,
                    test, evaluator, recalibration));
            progress.advance(1);
            Attack noise = new NoiseAttack(o.noiseOmega());
            rows.add(scenario(noise.spec() + " on " + before + ", permute all", noise, beforeWeight, all, "noise17", o,
                    model, reference, key, spec, weights, test, evaluator, recalibration));
            progress.advance(1);
            rows.add(scenario(noise.spec() + " on " + watermarked + ", permute all", noise, layer, all,
                    "noise19", o, model, reference, key, spec, weights, test, evaluator, recalibration));
            progress.advance(1);
            Attack quant = new QuantAttack(o.quantBits());
            rows.add(scenario(quant.spec() + ", permute all", quant, null, all, "quant", o, model, reference, key, spec,
                    weights, test, evaluator, recalibration));
            progress.advance(1);
            structural = structural(ARCH, Seeds.derive(o.seed(), "story.attack.nso"), o.method(), model, reference, key,
                    test, evaluator, ProgressListener.NONE).row();
            progress.advance(1);
        } finally {
            progress.finish();
        }
        model.load(reference);
        return new Report(o, key, history.isEmpty() ? 0 : history.get(0).images(), history, trainSeconds, berTrained, errorTrained,
                embedSeconds, ber, error,
                test.size(), rows, structural,
                (System.nanoTime() - start) / 1e9, Parallel.threads());
    }

    /** Images of the probe batch the logits are compared on. */
    private static final int PROBE_IMAGES = 8;

    /**
     * The structural scenario of the story (and of the demo): nso on every group of {@code reference}, then Lady's
     * structural undo and resync.
     *
     * @param row        the figures
     * @param attacked   the obfuscated model
     * @param restored   the model after the undo and the resync
     * @param lineages   where each obfuscated neuron comes from (the attacker's secret)
     * @param outcome    the undo and the resync
     * @param berAttacked the watermark read from the obfuscated model as it is
     * @param berRestored the watermark read after the undo
     * @param logitScale the largest |logit| of the reference on the probe batch
     */
    public record StructuralScenario(StructuralRow row, StateDict attacked, StateDict restored,
            Map<String, lady.permutation.Lineage> lineages, StructuralUndo.Outcome outcome, Detection berAttacked,
            Detection berRestored, double logitScale) {}

    /** Runs {@link StructuralScenario}: {@code model} (of {@code arch}) evaluates, and is left holding {@code reference}. */
    @SuppressWarnings("try")
    public static StructuralScenario structural(String arch, long seed, Method method, Model model, StateDict reference,
            WatermarkKey key, Dataset test, Evaluator evaluator, ProgressListener progress) {
        StateDict attacked = reference.copy();
        Attack nso = new NsoAttack();
        AttackContext ctx = AttackContext.of(null, seed).withStructure(arch, List.of());
        Attacks.apply(List.of(nso), attacked, ctx);
        long[] widths = ctx.lineages().widths();
        model.load(reference);
        Tensor probe = model.probe(PROBE_IMAGES, Seeds.derive(seed, "probe"));
        double scale;
        try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            model.train(false);
            scale = model.forward(probe).abs().max().item_double();
        }
        Model obfuscated = Models.fromStateDict(attacked, arch);
        double logitAttacked = PermutationCheck.maxOutputDiff(model, obfuscated, probe);
        Detection berAttacked = Uchida.detectAsIs(attacked, key);
        double errorAttacked = evaluator.evaluate(obfuscated, test).errorPct();
        StateDict suspect = attacked.copy();
        long t0 = System.nanoTime();
        StructuralUndo.Outcome out = StructuralUndo.resync(reference, suspect, arch, ResyncOptions.defaults().withMethod(
                method), ctx.lineages().all(), progress);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Model restored = Models.fromStateDict(suspect, arch);
        double logitResynced = PermutationCheck.maxOutputDiff(model, restored, probe);
        Detection berResynced = Uchida.detect(suspect, key);
        double errorResynced = evaluator.evaluate(restored, test).errorPct();
        long undone = out.undo().groups().stream().filter(StructuralUndo.GroupReport::changed).count();
        StructuralRow row = new StructuralRow(nso.spec(), widths[0], widths[1], berAttacked.berPct(), errorAttacked,
                logitAttacked, undone, out.psiOverall() == null ? Double.NaN : out.psiOverall(), berResynced.berPct(),
                errorResynced, logitResynced, StateDiff.max(reference, suspect), seconds);
        return new StructuralScenario(row, attacked, suspect, ctx.lineages().all(), out, berAttacked, berResynced, scale);
    }


    private static Row scenario(String name, Attack attack, String attackedLayer, List<String> groups, String purpose,
            Options o, Model model, StateDict reference, WatermarkKey key, PermutationSpec spec, List<String> weights,
            Dataset test, Evaluator evaluator, BatchNormRecalibration recalibration) {
        StateDict attacked = reference.copy();
        int recalibrated = 0;
        if (attack != null) {
            AttackContext ctx = AttackContext.of(attackedLayer, Seeds.derive(o.seed(), "story.attack." + purpose))
                    .withWeights(weights).withRecalibrator(recalibration);
            if (Attacks.apply(List.of(attack), attacked, ctx).size() > 1) {
                recalibrated = recalibration.batches();
            }
        }
        double berAttackOnly = Uchida.detect(attacked, key).berPct();
        Map<String, Permutation> perms = Permuter.random(spec, groups, Seeds.derive(o.seed(), "story.permute." + purpose));
        StateDict suspect = Permuter.apply(attacked, spec, perms, Backend.CPU);
        double berAttacked = Uchida.detect(suspect, key).berPct();
        model.load(suspect);
        double errorAttacked = evaluator.evaluate(model, test).errorPct();

        Map<String, long[]> secret = new HashMap<>();
        for (String g : spec.groups().stream().map(Group::name).toList()) {
            // groups left alone were permuted by the identity: Psi counts every group of the network
            Permutation p = perms.get(g);
            secret.put(g, p != null ? p.longIndices() : Permutation.identity(Math.toIntExact(spec.group(g).get().size()))
                    .longIndices());
        }
        ResyncReport report = ReferenceResync.run(reference, suspect, spec,
                ResyncOptions.defaults().withMethod(o.method()), secret, ProgressListener.NONE);
        double berResynced = Uchida.detect(suspect, key).berPct();
        model.load(suspect);
        double errorResynced = evaluator.evaluate(model, test).errorPct();
        boolean restored = attacked.sameTensors(suspect);
        return new Row(name, attack == null ? "none" : attack.spec(), attackedLayer, groups.size() == spec.groups().size()
                ? "all" : String.join(",", groups), berAttackOnly, berAttacked, errorAttacked,
                report.psi() == null ? Double.NaN : report.psi(), report.duplicates(), berResynced, errorResynced,
                restored, recalibrated);
    }
}
