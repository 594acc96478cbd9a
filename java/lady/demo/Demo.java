package lady.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import lady.BuildInfo;
import lady.kernels.Tolerances;
import lady.resync.StructuralUndo;
import lady.structure.StateDiff;
import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.data.Digits;
import lady.experiment.RankingFigures;
import lady.experiment.Table1;
import lady.experiment.Table1Files;
import lady.io.AtomicFiles;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.model.PermutationCheck;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.resync.Method;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.torch.Torch;
import lady.train.BatchNormRecalibration;
import lady.train.EpochStats;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.train.Trainer;
import lady.util.Parallel;
import lady.util.Seeds;
import lady.watermark.Detection;
import lady.watermark.Uchida;
import lady.watermark.WatermarkKey;
import lady.watermark.WatermarkStory;

/**
 * The whole story of the paper on the built-in digits, as {@code lady demo} tells it: a watermarked narrow
 * VGG16 (trained once and cached), the permutation attack that erases the watermark without touching
 * accuracy, the resync that brings it back, a reduced Table 1, and the blind canonical ranking under
 * quantization. Every step writes its JSON (and plots) into the output folder, and {@link HtmlReport} turns
 * the {@link DemoReport} into {@code report.html}.
 *
 * <p>Library code: it narrates through {@code say} (one line per call) and reports progress through the
 * listener; it prints nothing itself.
 */
public final class Demo {
    private Demo() {}

    /** Images of the random probe that checks the permuted model computes the same function. */
    private static final int PROBE_IMAGES = 8;

    /**
     * Runs the demo.
     *
     * @param c        settings
     * @param out      output folder (created)
     * @param fresh    retrain even when the cache holds the model
     * @param cache    where trained models are kept
     * @param progress progress of the long steps
     * @param say      the narrative, one line per call
     */
    public static DemoReport run(DemoConfig c, Path out, boolean fresh, ModelCache cache, ProgressListener progress,
            Consumer<String> say) {
        Torch.init();
        long start = System.nanoTime();
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create " + out + ": " + e.getMessage(), e);
        }
        Dataset train = Digits.train();
        Dataset test = c.testLimit() > 0 ? Digits.test().limit(c.testLimit()) : Digits.test();
        Evaluator evaluator = new Evaluator(Paper.TRAIN_BATCH_SIZE);
        List<DemoReport.Step> steps = new ArrayList<>();
        Map<String, Boolean> verdicts = new LinkedHashMap<>();

        // 1. the owner's model, watermarked
        long t = System.nanoTime();
        Trained trained = trainOrLoad(c, train, fresh, cache, progress, say);
        copy(trained.dir().resolve("model.pt"), out.resolve("model.pt"));
        copy(trained.dir().resolve("key.json"), out.resolve("key.json"));
        StateDict reference = Checkpoints.read(out.resolve("model.pt"));
        WatermarkKey key = WatermarkKey.read(out.resolve("key.json"), reference);
        Model model = Models.fromStateDict(reference, c.arch());
        double error = evaluator.evaluate(model, test).errorPct();
        Detection ber = Uchida.detect(reference, key);
        say.accept(String.format(Locale.ROOT, "1. The owner's model: %s x%s trained on %d digits%s; test error %.2f %% "
                + "on %d images; watermark (%d bits in %s): BER %.2f %%.", c.arch(), num(c.width()), trained.images(),
                trained.cached() ? " (from the cache: " + trained.dir() + ")" : " in " + secs(trained.seconds()),
                error, test.size(), key.size(), key.layer(), ber.berPct()));
        Map<String, Object> trainJson = new LinkedHashMap<>(trained.manifest());
        trainJson.put("cached", trained.cached());
        trainJson.put("test_images", test.size());
        trainJson.put("error_pct", error);
        trainJson.put("watermark", ber.toJson());
        AtomicFiles.writeString(out.resolve("train.json"), Json.write(trainJson) + "\n");
        Map<String, String> n1 = new LinkedHashMap<>();
        n1.put("test error", pct(error));
        n1.put("watermark BER", pct(ber.berPct()));
        n1.put("training", trained.cached() ? "cached" : secs(trained.seconds()));
        steps.add(new DemoReport.Step("train", "1. The owner trains a model with a watermark",
                "A narrow VGG16 (" + c.arch() + ", width " + num(c.width()) + ") learns the digits while an Uchida "
                        + "watermark of " + key.size() + " bits is embedded in the weights of " + key.layer()
                        + " (the layer the paper calls features.19): the owner can read it back with a secret key.",
                n1, List.of(trainCommand(c)), List.of(), List.of("model.pt", "key.json", "train.json"), List.of(),
                seconds(t)));
        verdicts.put("watermark embedded (BER 0)", ber.errors() == 0);

        // 2. the attack: permute every group
        t = System.nanoTime();
        PermutationSpec spec = model.permutationSpec();
        List<String> all = spec.groups().stream().map(Group::name).toList();
        long permSeed = Seeds.derive(c.seed(), "demo.permute");
        Map<String, Permutation> perms = Permuter.random(spec, all, permSeed);
        StateDict suspect = Permuter.apply(reference, spec, perms, Backend.CPU);
        double logitDiff = PermutationCheck.maxLogitDiff(model, suspect, model.probe(PROBE_IMAGES, Seeds.derive(permSeed, "probe")));
        new Secret(BuildInfo.version(), c.arch(), permSeed, perms, Map.of()).write(out.resolve("secret.json"));
        Checkpoints.write(out.resolve("permuted.pt"), suspect, Checkpoints.Format.TORCH_ZIP);
        model.load(suspect);
        double errorPermuted = evaluator.evaluate(model, test).errorPct();
        Detection berPermuted = Uchida.detect(suspect, key);
        say.accept(String.format(Locale.ROOT, "2. The attack: every neuron group permuted (%d groups). Test error %.2f %% "
                + "(unchanged), largest logit change %.2g; the watermark reads as noise: BER %.2f %%.", all.size(),
                errorPermuted, logitDiff, berPermuted.berPct()));
        Map<String, Object> permJson = new LinkedHashMap<>();
        permJson.put("groups", all);
        permJson.put("seed", permSeed);
        permJson.put("max_logit_diff", logitDiff);
        permJson.put("error_pct", errorPermuted);
        permJson.put("watermark", berPermuted.toJson());
        AtomicFiles.writeString(out.resolve("permute.json"), Json.write(permJson) + "\n");
        Map<String, String> n2 = new LinkedHashMap<>();
        n2.put("test error", pct(errorPermuted));
        n2.put("watermark BER", pct(berPermuted.berPct()));
        n2.put("max logit change", String.format(Locale.ROOT, "%.2g", logitDiff));
        steps.add(new DemoReport.Step("permute", "2. An attacker permutes the neurons",
                "The attacker shuffles the neurons of all " + all.size() + " groups with a secret permutation (and "
                        + "moves every dependent weight, bias and BatchNorm statistic with them). The network computes "
                        + "the same function, so accuracy is intact, but the watermark, read in the old order, is gone.",
                n2, List.of("lady permute --model model.pt --groups all --seed " + permSeed
                        + " --out permuted.pt --secret secret.json --verify",
                        "lady watermark detect --model permuted.pt --key key.json"),
                List.of(), List.of("permuted.pt", "secret.json", "permute.json"), List.of(), seconds(t)));
        verdicts.put("accuracy unchanged by the permutation", Math.abs(errorPermuted - error) < 0.005);
        verdicts.put("watermark erased by the permutation", berPermuted.errors() > 0);

        // 3. the resync with the reference
        t = System.nanoTime();
        ResyncReport resync = ReferenceResync.run(reference, suspect, spec, ResyncOptions.defaults(),
                Permuter.indices(perms), progress);
        Checkpoints.write(out.resolve("restored.pt"), suspect, Checkpoints.Format.TORCH_ZIP);
        boolean restored = reference.sameTensors(suspect);
        model.load(suspect);
        double errorRestored = evaluator.evaluate(model, test).errorPct();
        Detection berRestored = Uchida.detect(suspect, key);
        Map<String, Object> resyncJson = new LinkedHashMap<>(resync.toJson());
        resyncJson.put("restored_exactly", restored);
        resyncJson.put("error_pct", errorRestored);
        resyncJson.put("watermark", berRestored.toJson());
        AtomicFiles.writeString(out.resolve("resync.json"), Json.write(resyncJson) + "\n");
        say.accept(String.format(Locale.ROOT, "3. Lady re-synchronizes the suspect with the owner's model: Psi %.2f %%, "
                + "%s, BER %.2f %% (the watermark reads again), test error %.2f %%, in %s.", resync.psi(),
                restored ? "every tensor restored bit for bit" : "NOT restored exactly", berRestored.berPct(),
                errorRestored, secs(resync.seconds())));
        Map<String, String> n3 = new LinkedHashMap<>();
        n3.put("Psi (neurons back in place)", pct(resync.psi()));
        n3.put("watermark BER", pct(berRestored.berPct()));
        n3.put("test error", pct(errorRestored));
        n3.put("restored bit for bit", restored ? "yes" : "no");
        n3.put("resync time", secs(resync.seconds()));
        steps.add(new DemoReport.Step("resync", "3. Lady puts the neurons back in order",
                "Group by group in topological order, Lady compares the suspect's neurons with the owner's (cosine "
                        + "similarity of their weights), solves an exact assignment, and applies it; the watermark "
                        + "reads again and the model is the owner's, tensor for tensor.",
                n3, List.of("lady resync --reference model.pt --suspect permuted.pt --secret secret.json "
                        + "--out restored.pt --report resync.json",
                        "lady watermark detect --model restored.pt --key key.json"),
                List.of(), List.of("restored.pt", "resync.json"), List.of(), seconds(t)));
        verdicts.put("watermark restored (BER as before the attack)", berRestored.errors() == ber.errors());
        verdicts.put("model restored tensor for tensor", restored);

        // 3b. structural obfuscation, and Lady's undo
        obfuscate(c, out, reference, model, key, ber, test, evaluator, steps, verdicts, progress, say);

        // 4. a reduced Table 1
        t = System.nanoTime();
        Table1.Config tc = table1Config(c);
        Table1.Result table = Table1.run(tc, reference, c.arch(), c.finetuneLimit() > 0 ? train.limit(c.finetuneLimit())
                : train, Digits.test(), progress);
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("model", "model.pt");
        provenance.put("data", "digits");
        Table1Files.write(out.resolve("table1"), table, provenance);
        Map<String, Object> tableJson = new LinkedHashMap<>();
        tableJson.put("config", tc.toJson());
        tableJson.put("base_error_pct", table.baseError());
        List<Object> tableRows = new ArrayList<>();
        for (Table1.Row r : table.rows()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("attack", r.spec());
            row.put("psi_argmax", r.psiArgmax().mean());
            row.put("psi_assignment", r.psiAssignment().mean());
            row.put("error_pct", r.error().mean());
            row.put("error_check", r.errorCheck());
            tableRows.add(row);
        }
        tableJson.put("rows", tableRows);
        tableJson.put("seconds", table.totalSeconds());
        AtomicFiles.writeString(out.resolve("table1.json"), Json.write(tableJson) + "\n");
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("attack", "Psi argmax (%)", "Psi assignment (%)", "test error (%)", "paper VGG16 Psi / error"));
        List<String> images = new ArrayList<>();
        boolean errorsOk = true;
        for (Table1.Row r : table.rows()) {
            rows.add(List.of(r.spec(), fixed(r.psiArgmax().mean()), fixed(r.psiAssignment().mean()), fixed(r.error().mean()),
                    r.paperVgg16() == null ? "-" : String.format(Locale.ROOT, "%.2f / %.2f", r.paperVgg16().get(0),
                            r.paperVgg16().get(1))));
            errorsOk &= r.errorCheck();
            String png = "table1/table1_" + r.attack() + ".png";
            if (!images.contains(png)) {
                images.add(png);
            }
        }
        say.accept(String.format(Locale.ROOT, "4. Robustness (a reduced Table 1, one run per cell, attacks on %s, "
                + "then a permutation, then the resync):", c.attackedLayer()));
        for (Table1.Row r : table.rows()) {
            say.accept(String.format(Locale.ROOT, "   %-12s Psi argmax %6.2f %%   Psi assignment %6.2f %%   test error %6.2f %%",
                    r.spec(), r.psiArgmax().mean(), r.psiAssignment().mean(), r.error().mean()));
        }
        Map<String, String> n4 = new LinkedHashMap<>();
        n4.put("cells", Integer.toString(table.rows().size()));
        n4.put("error after resync = error of the attacked model", errorsOk ? "in every cell" : "NO");
        n4.put("batch-norm statistics re-estimated after each attack", BatchNormRecalibration.DEFAULT_BATCHES
                + " batches");
        n4.put("time", secs(table.totalSeconds()));
        steps.add(new DemoReport.Step("table1", "4. How robust is the recovery? (the paper's Table 1, reduced)",
                "The attacker may also add noise to, fine-tune, quantize or prune the model before permuting it. "
                        + "For each attack Lady resyncs the layer " + c.attackedLayer() + " (the paper's features.17) "
                        + "with the paper's argmax and with the exact assignment; Psi is the percentage of neurons put "
                        + "back in their place. After noise, quantization and pruning the attacker re-estimates the "
                        + "batch-norm statistics over " + BatchNormRecalibration.DEFAULT_BATCHES + " unlabeled training "
                        + "batches (no cost, no labels), as a real attacker would. One run per cell: the full table is "
                        + "`lady table1`.",
                n4, List.of(table1Command(c)), images,
                List.of("table1/table1.md", "table1/table1.csv", "table1/runs.jsonl"), rows, seconds(t)));
        verdicts.put("error after resync equals the attacked model's", errorsOk);

        // 5. without the reference: the blind canonical ranking under quantization
        t = System.nanoTime();
        RankingFigures.Result ranking = RankingFigures.quant(reference, c.arch(), List.of(c.attackedLayer()),
                c.rankingBits(), Digits.test(), c.table1EvalLimit(), c.seed(), progress);
        RankingFigures.write(out.resolve("ranking"), RANKING_NAME, ranking, provenance);
        List<List<String>> rankRows = new ArrayList<>();
        rankRows.add(List.of("quantization bits B", "Psi_rank (%)", "test error (%)"));
        say.accept(String.format(Locale.ROOT, "5. Without the reference: basic canonical ranking of %s (sort the neurons "
                + "by the sum of their weights) after B-bit quantization and a permutation:", c.attackedLayer()));
        StringBuilder line = new StringBuilder("  ");
        Double exactFrom = null;
        for (RankingFigures.Row r : ranking.rows()) {
            rankRows.add(List.of(Integer.toString((int) r.level()), fixed(r.psi().mean()), fixed(r.error().mean())));
            line.append(String.format(Locale.ROOT, " B=%d: %.1f %%", (int) r.level(), r.psi().mean()));
            if (r.psi().mean() == 100.0 && (exactFrom == null || r.level() < exactFrom)) {
                exactFrom = r.level();
            }
        }
        say.accept(line.toString());
        Map<String, String> n5 = new LinkedHashMap<>();
        n5.put("layer ranked", c.attackedLayer());
        n5.put("exact order (Psi_rank 100) from", exactFrom == null ? "never" : (int) exactFrom.doubleValue() + " bits");
        n5.put("time", secs(ranking.seconds()));
        steps.add(new DemoReport.Step("ranking", "5. Without the reference: the canonical order",
                "When the owner cannot use the reference model, each neuron can be given a canonical place: sort the "
                        + "neurons of a layer by the signed sum of their weights. A permuted copy sorts to the same "
                        + "order, so the owner reads it in canonical order. Quantization perturbs the sums: Psi_rank "
                        + "is the share of neurons that still land exactly in their place (the paper's figures 4-5). "
                        + "Compare with step 4: with the reference, resync stays at 100 % under the same attack.",
                n5, List.of("lady figure ranking-quant --model model.pt --layer " + c.attackedLayer() + " --bits "
                        + join(c.rankingBits()) + (c.table1EvalLimit() > 0 ? " --eval-limit " + c.table1EvalLimit() : "")
                        + " --seed " + c.seed() + " --out ranking",
                        "lady canon --model model.pt --layer " + c.attackedLayer() + " --method basic --out canon.json"),
                List.of("ranking/" + RANKING_NAME + ".png"),
                List.of("ranking/" + RANKING_NAME + ".csv", "ranking/" + RANKING_NAME + ".json"), rankRows, seconds(t)));
        copy(out.resolve("ranking").resolve(RANKING_NAME + ".json"), out.resolve("ranking.json"));

        return new DemoReport(c, steps, verdicts, seconds(start), Parallel.threads());
    }

    /**
     * Step 3b: the attack that removed nine white-box watermarks (neural structural obfuscation: dummy neurons, splits,
     * rescaling and a permutation of every group) and Lady's structural undo against the owner's model.
     */
    private static void obfuscate(DemoConfig c, Path out, StateDict reference, Model model, WatermarkKey key, Detection ber,
            Dataset test, Evaluator evaluator, List<DemoReport.Step> steps, Map<String, Boolean> verdicts,
            ProgressListener progress, Consumer<String> say) {
        long t = System.nanoTime();
        long seed = Seeds.derive(c.seed(), "demo.nso");
        WatermarkStory.StructuralScenario sc = WatermarkStory.structural(c.arch(), seed, Method.ASSIGNMENT, model, reference,
                key, test, evaluator, progress);
        new Secret(BuildInfo.version(), c.arch(), seed, Map.of(), Map.of(), sc.lineages()).write(out.resolve("nso.secret.json"));
        Checkpoints.write(out.resolve("nso.pt"), sc.attacked(), Checkpoints.Format.TORCH_ZIP);
        Checkpoints.write(out.resolve("nso.restored.pt"), sc.restored(), Checkpoints.Format.TORCH_ZIP);
        WatermarkStory.StructuralRow r = sc.row();
        long before = r.neuronsBefore();
        long after = r.neuronsAfter();
        double logitAttacked = r.logitDiffAttacked();
        double errorAttacked = r.errorAttacked();
        Detection berAttacked = sc.berAttacked();
        StructuralUndo.Outcome o = sc.outcome();
        double logitRestored = r.logitDiffResynced();
        double errorRestored = r.errorResynced();
        Detection berRestored = sc.berRestored();
        double diff = r.maxRelativeDiff();
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("attack", "nso");
        json.put("seed", seed);
        json.put("neurons_before", before);
        json.put("neurons_after", after);
        json.put("max_logit_diff_attacked", logitAttacked);
        json.put("error_attacked_pct", errorAttacked);
        json.put("watermark_attacked", berAttacked.toJson());
        json.put("structural", o.undo().toJson());
        json.put("psi", o.psiOverall());
        json.put("max_logit_diff_restored", logitRestored);
        json.put("error_restored_pct", errorRestored);
        json.put("watermark_restored", berRestored.toJson());
        json.put("max_relative_diff", diff);
        AtomicFiles.writeString(out.resolve("obfuscate.json"), Json.write(json) + "\n");
        say.accept(String.format(Locale.ROOT, "3b. Structural obfuscation (dummy neurons, splits, rescaling, permutation; "
                + "%d -> %d neurons): logits within %.2g, test error %.2f %%, BER %.2f %%. Lady's structural undo and "
                + "resync: Psi %.2f %%, every tensor within %.2g of the owner's, logits within %.2g, BER %.2f %%.", before,
                after, logitAttacked, errorAttacked, berAttacked.berPct(), o.psiOverall(), diff, logitRestored,
                berRestored.berPct()));
        Map<String, String> n = new LinkedHashMap<>();
        n.put("neurons", before + " -> " + after);
        n.put("watermark BER after the attack", pct(berAttacked.berPct()));
        n.put("watermark BER after Lady's undo", pct(berRestored.berPct()));
        n.put("Psi", pct(o.psiOverall()));
        n.put("largest tensor difference (relative)", String.format(Locale.ROOT, "%.2g", diff));
        n.put("largest logit change", String.format(Locale.ROOT, "%.2g / %.2g", logitAttacked, logitRestored));
        steps.add(new DemoReport.Step("obfuscate", "3b. A stronger attack: structural obfuscation",
                "Permutations are not the only change that keeps a network's function. The attacker also adds dummy "
                        + "neurons in cancelling pairs, splits neurons in two, and rescales every neuron (ReLU does not "
                        + "mind; batch norm absorbs it), then permutes (the attack of Yan et al., USENIX Security 2023, "
                        + "that removed nine white-box watermarks). The layers are wider, the logits the same, the "
                        + "watermark noise. Lady merges the neurons that compute the same thing, drops those that cancel, "
                        + "matches the rest to the owner's and rescales them to the owner's norms: the owner's model "
                        + "comes back up to float rounding, and the watermark reads again.",
                n, List.of("lady attack --model model.pt --attack nso --seed " + seed
                        + " --out nso.pt --secret nso.secret.json --verify",
                        "lady resync --reference model.pt --suspect nso.pt --secret nso.secret.json --out nso.restored.pt",
                        "lady canon --model nso.pt --normal-form --out nso.nf.pt"),
                List.of(), List.of("nso.pt", "nso.secret.json", "nso.restored.pt", "obfuscate.json"), List.of(), seconds(t)));
        verdicts.put("logits unchanged by the structural obfuscation", logitAttacked <= Tolerances.LOGITS_MAX_ABS_DIFF
                * Math.max(1, sc.logitScale()));
        verdicts.put("watermark erased by the structural obfuscation", berAttacked.errors() > 0);
        verdicts.put("watermark restored after Lady's structural undo", berRestored.errors() == ber.errors());
        verdicts.put("owner's model restored within 1e-4 after the structural undo", diff <= StateDiff.SAME_REL);
    }


    /** The reduced grid of the demo's Table 1. */
    static Table1.Config table1Config(DemoConfig c) {
        List<String> attacks = new ArrayList<>();
        if (!c.noise().isEmpty()) {
            attacks.add("noise");
        }
        if (!c.finetune().isEmpty()) {
            attacks.add("finetune");
        }
        if (!c.quant().isEmpty()) {
            attacks.add("quant");
        }
        if (!c.prune().isEmpty()) {
            attacks.add("prune");
        }
        return Table1.Config.paper(c.attackedLayer()).withRuns(1).withSeed(c.seed()).withAttacks(attacks)
                .withLevels(c.noise(), c.finetune(), c.quant(), c.prune())
                .withLimits(c.table1EvalLimit(), c.finetuneLimit())
                .withRecalibrateBn(BatchNormRecalibration.DEFAULT_BATCHES);
    }

    /** The model of step 1: from the cache, or trained now and cached. */
    record Trained(Path dir, boolean cached, Map<String, Object> manifest, int images, double seconds,
            ModelOptions options) {}

    private static Trained trainOrLoad(DemoConfig c, Dataset train, boolean fresh, ModelCache cache,
            ProgressListener progress, Consumer<String> say) {
        Map<String, Object> settings = c.trainingKey();
        ModelOptions options = ModelOptions.defaults().withWidth(c.width()).withClasses(train.classes());
        var hit = fresh ? java.util.Optional.<Path>empty() : cache.lookup(settings);
        if (hit.isPresent()) {
            Map<?, ?> m = Json.readVersionedFile(hit.get().resolve(ModelCache.MANIFEST), "demo model manifest",
                    MANIFEST_FORMAT, 1);
            Map<String, Object> manifest = new LinkedHashMap<>();
            m.forEach((k, v) -> manifest.put(String.valueOf(k), v));
            int images = manifest.get("train_images") instanceof Number n ? n.intValue() : 0;
            double seconds = manifest.get("seconds") instanceof Number n ? n.doubleValue() : 0;
            return new Trained(hit.get(), true, manifest, images, seconds, options);
        }
        say.accept("Training the demo model once (it is cached for the next runs; --fresh retrains) ...");
        long t = System.nanoTime();
        Path dir = cache.create(settings);
        Trainer.seedLibtorch(c.seed());
        Model model = Models.create(c.arch(), options);
        WatermarkKey key = Uchida.createKey(model.stateDict(), c.watermarkLayer(), c.watermarkBits(),
                Seeds.derive(c.seed(), "watermark"), dir.resolve("key.json"));
        TrainConfig tc = TrainConfig.paper(c.epochs()).withLr(c.lr()).withBatchSize(c.batchSize()).withSeed(c.seed()).withLimit(c.trainLimit());
        Uchida.Training training = Uchida.train(model, train, key, new Trainer(tc).progress(progress), c.embedSteps());
        List<EpochStats> history = training.history();
        double berTrained = training.trained().berPct();
        Checkpoints.write(dir.resolve("model.pt"), model.stateDict(), Checkpoints.Format.TORCH_ZIP);
        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("format", MANIFEST_FORMAT);
        manifest.put("format_version", 1);
        manifest.put("tool", BuildInfo.describe());
        manifest.put("settings", settings);
        int images = history.isEmpty() ? 0 : history.get(0).images();
        manifest.put("train_images", images);
        manifest.put("epochs", history.stream().map(EpochStats::toJson).toList());
        manifest.put("ber_after_training_pct", berTrained);
        manifest.put("threads", Parallel.threads());
        double seconds = seconds(t);
        manifest.put("seconds", seconds);
        AtomicFiles.writeString(dir.resolve(ModelCache.MANIFEST), Json.write(manifest) + "\n");
        return new Trained(dir, false, manifest, images, seconds, options);
    }

    /** File name (without extension) of the ranking figure, as {@code lady figure ranking-quant} names it. */
    static final String RANKING_NAME = "ranking_quant";

    /** The format name of a cache entry's manifest. */
    static final String MANIFEST_FORMAT = "lady-demo-model";

    static String trainCommand(DemoConfig c) {
        return "lady train --arch " + c.arch() + " --width " + num(c.width()) + " --data digits --epochs " + c.epochs()
                + " --lr " + num(c.lr()) + " --batch-size " + c.batchSize() + (c.trainLimit() > 0 ? " --limit " + c.trainLimit() : "") + " --seed "
                + c.seed() + " --watermark " + c.watermarkLayer() + " --watermark-bits " + c.watermarkBits()
                + " --watermark-steps " + c.embedSteps() + " --key key.json --out model.pt";
    }

    static String table1Command(DemoConfig c) {
        Table1.Config tc = table1Config(c);
        StringBuilder sb = new StringBuilder("lady table1 --model model.pt --data digits --layer " + c.attackedLayer()
                + " --runs 1 --seed " + c.seed() + " --attacks " + String.join(",", tc.attacks()));
        if (!c.noise().isEmpty()) {
            sb.append(" --noise ").append(join(c.noise()));
        }
        if (!c.finetune().isEmpty()) {
            sb.append(" --finetune ").append(join(c.finetune()));
        }
        if (c.finetuneLimit() > 0) { // fine-tuning and the batch-norm recalibration read the same training images
            sb.append(" --train-limit ").append(c.finetuneLimit());
        }
        if (!c.quant().isEmpty()) {
            sb.append(" --quant ").append(join(c.quant()));
        }
        if (!c.prune().isEmpty()) {
            sb.append(" --prune ").append(join(c.prune()));
        }
        if (c.table1EvalLimit() > 0) {
            sb.append(" --eval-limit ").append(c.table1EvalLimit());
        }
        return sb.append(" --out table1").toString();
    }

    private static String join(List<? extends Number> values) {
        return String.join(",", values.stream().map(v -> num(v.doubleValue())).toList());
    }

    private static void copy(Path from, Path to) {
        AtomicFiles.writeStream(to, stream -> Files.copy(from, stream));
    }

    static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    static String pct(Double v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.2f %%", v);
    }

    static String fixed(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    static String secs(double s) {
        return String.format(Locale.ROOT, "%.1f s", s);
    }
}
