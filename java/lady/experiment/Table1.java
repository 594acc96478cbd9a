package lady.experiment;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

import lady.LadyException;
import lady.attack.Attack;
import lady.attack.AttackContext;
import lady.attack.AttackResult;
import lady.attack.Attacks;
import lady.attack.FinetuneAttack;
import lady.attack.NoiseAttack;
import lady.attack.PruneAttack;
import lady.attack.QuantAttack;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.kernels.Backend;
import lady.model.Architecture;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.resync.GroupResult;
import lady.resync.Method;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.train.EvalResult;
import lady.train.Evaluator;
import lady.train.TrainConfig;
import lady.train.BatchNormRecalibration;
import lady.train.Trainer;
import lady.util.Seeds;

/**
 * The experiment of the paper's Table 1 (method.md 7 and 9): for every cell of the attack grid and
 * every run, attack the reference model (noise and pruning on the attacked layer, quantization of
 * every Conv2d/Linear weight, fine-tuning of the whole network), permute it with a new secret,
 * resync it with the reference by argmax (the paper) and by exact assignment, and record Psi and
 * the test errors. Configuration in, records out; nothing is printed.
 *
 * <p>Checks: the model resynced by assignment is a permutation of the attacked model, so its test
 * error must equal the attacked-but-unpermuted model's (same number of wrong images); each record
 * says whether it did ({@link Run#errorCheck()}), and {@link Result#failures()} lists the cells
 * where it did not.
 *
 * <p>The argmax-resynced model is evaluated only when its matches differ from the assignment's
 * (otherwise it is the same model, with the same error).
 *
 * <p>Fine-tuning dominates the cost: each run fine-tunes once up to the largest Theta and takes the
 * intermediate epochs as the smaller cells (the same trajectory, as if each cell had stopped there).
 *
 * <p>Seeds: every random choice derives from {@link Config#seed()}, the run index and the cell
 * (attack draw, permutation, fine-tuning order); same configuration and seed give the same numbers
 * (when {@link Config#deterministic()}: see {@link lady.train.Trainer#deterministic}).
 */
public final class Table1 {
    private Table1() {}

    /** The attack kinds, in the paper's order. */
    public static final List<String> ATTACKS = List.of("noise", "finetune", "quant", "prune");

    /**
     * @param layer         attacked layer (module path or weight name), e.g. "features.17"
     * @param runs          runs per cell (new permutation and new attack draw per run)
     * @param seed          master seed
     * @param attacks       attack kinds to run, a subset of {@link #ATTACKS}
     * @param wholeNetwork  permute and resync every group (default: only the attacked layer's group)
     * @param noise         Omega levels
     * @param finetune      Theta levels (epochs)
     * @param quant         B levels (bits)
     * @param prune         T levels (%)
     * @param evalLimit     evaluate on the first N test images only (N <= 0: all)
     * @param trainLimit    fine-tune on the first N training images only (N <= 0: all)
     * @param deterministic bit-reproducible fine-tuning ({@link lady.train.Trainer#deterministic}: on one
     *                      thread)
     * @param recalibrateBn after each attack that changes weights without training (noise, quantization,
     *                      pruning), re-estimate a batch-norm network's statistics over this many training
     *                      batches, as a real attacker does ({@link BatchNormRecalibration}); 0: never (the
     *                      paper's protocol); needs the training data and a network Lady runs (not ONNX)
     */
    public record Config(String layer, int runs, long seed, List<String> attacks, boolean wholeNetwork,
            List<Double> noise, List<Integer> finetune, List<Integer> quant, List<Double> prune, int evalLimit,
            int trainLimit, boolean deterministic, int recalibrateBn) {
        public Config {
            Objects.requireNonNull(layer, "layer");
            if (runs < 1) {
                throw new LadyException(LadyException.Kind.USAGE, "runs must be >= 1, got " + runs);
            }
            attacks = List.copyOf(new LinkedHashSet<>(attacks));
            if (attacks.isEmpty()) {
                throw new LadyException(LadyException.Kind.USAGE, "no attack selected; choose from " + ATTACKS);
            }
            for (String a : attacks) {
                if (!ATTACKS.contains(a)) {
                    throw new LadyException(LadyException.Kind.USAGE, "unknown attack '" + a + "'; choose from "
                            + String.join(",", ATTACKS));
                }
            }
            noise = List.copyOf(noise);
            finetune = List.copyOf(new TreeSet<>(finetune));
            quant = List.copyOf(quant);
            prune = List.copyOf(prune);
            if (!finetune.isEmpty() && finetune.get(0) < 0) {
                throw new LadyException(LadyException.Kind.USAGE, "fine-tuning epochs must be >= 0");
            }
            if (recalibrateBn < 0) {
                throw new LadyException(LadyException.Kind.USAGE, "batch-norm recalibration batches must be >= 0, got "
                        + recalibrateBn);
            }
        }

        /** The paper's grid (Table 1 levels from {@link Paper}), 5 runs, every attack, seed 0, full data. */
        public static Config paper(String layer) {
            return new Config(layer, 5, 0L, ATTACKS, false, Paper.NOISE_OMEGAS, Paper.FINETUNE_EPOCHS,
                    Paper.QUANT_BITS, Paper.PRUNE_PERCENTS, -1, -1, true, 0);
        }

        public Config withLayer(String l) {
            return new Config(l, runs, seed, attacks, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, deterministic, recalibrateBn);
        }

        public Config withRuns(int r) {
            return new Config(layer, r, seed, attacks, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, deterministic, recalibrateBn);
        }

        public Config withSeed(long s) {
            return new Config(layer, runs, s, attacks, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, deterministic, recalibrateBn);
        }

        public Config withAttacks(List<String> a) {
            return new Config(layer, runs, seed, a, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, deterministic, recalibrateBn);
        }

        public Config withWholeNetwork(boolean w) {
            return new Config(layer, runs, seed, attacks, w, noise, finetune, quant, prune, evalLimit, trainLimit,
                    deterministic, recalibrateBn);
        }

        public Config withLevels(List<Double> n, List<Integer> f, List<Integer> q, List<Double> p) {
            return new Config(layer, runs, seed, attacks, wholeNetwork, n, f, q, p, evalLimit, trainLimit,
                    deterministic, recalibrateBn);
        }

        public Config withLimits(int eval, int train) {
            return new Config(layer, runs, seed, attacks, wholeNetwork, noise, finetune, quant, prune, eval, train,
                    deterministic, recalibrateBn);
        }

        /** Re-estimate batch-norm statistics over {@code batches} training batches after each attack (0: never). */
        public Config withRecalibrateBn(int batches) {
            return new Config(layer, runs, seed, attacks, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, deterministic, batches);
        }

        public Config withDeterministic(boolean d) {
            return new Config(layer, runs, seed, attacks, wholeNetwork, noise, finetune, quant, prune, evalLimit,
                    trainLimit, d, recalibrateBn);
        }

        /** The cells of the grid, attack by attack in {@link #attacks()} order. */
        public List<Attack> cells() {
            List<Attack> cells = new ArrayList<>();
            for (String a : attacks) {
                switch (a) {
                    case "noise" -> noise.forEach(o -> cells.add(new NoiseAttack(o)));
                    case "finetune" -> finetune.forEach(t -> cells.add(FinetuneAttack.of(t)));
                    case "quant" -> quant.forEach(b -> cells.add(new QuantAttack(b)));
                    default -> prune.forEach(t -> cells.add(new PruneAttack(t)));
                }
            }
            return cells;
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("layer", layer);
            m.put("runs", runs);
            m.put("seed", seed);
            m.put("attacks", attacks);
            m.put("whole_network", wholeNetwork);
            m.put("noise_omegas", noise);
            m.put("finetune_epochs", finetune);
            m.put("quant_bits", quant);
            m.put("prune_percents", prune);
            m.put("eval_limit", evalLimit);
            m.put("train_limit", trainLimit);
            m.put("deterministic", deterministic);
            m.put("recalibrate_bn_batches", recalibrateBn);
            return m;
        }
    }

    /**
     * One run of one cell.
     *
     * @param attack                 kind ("noise", "finetune", "quant", "prune")
     * @param level                  Omega, Theta, B or T
     * @param spec                   the attack's spec, e.g. "noise:7"
     * @param run                    run index, 0-based
     * @param attackSeed             seed of the attack draw (noise) or of the fine-tuning run
     * @param permutationSeed        seed of the secret permutation
     * @param groups                 groups permuted and resynced
     * @param neurons                neurons in those groups
     * @param psiArgmax              Psi % of the argmax resync (match vs inv(p))
     * @param psiPaper               the paper's argmax count (origin[j] vs p[j]), %
     * @param psiAssignment          Psi % of the exact-assignment resync
     * @param duplicates             argmax duplicates
     * @param zeroRows               suspect neurons with entirely zero rows (pruning)
     * @param integrityFlags         neurons flagged by the integrity check of the assignment resync, all groups
     * @param integrityMaxRatio      the largest relative norm ratio the check saw (max over groups; NaN: none)
     * @param images                 test images evaluated
     * @param errorAttacked          top-1 error % of the attacked, unpermuted model
     * @param errorResyncAssignment  top-1 error % after the assignment resync
     * @param errorResyncArgmax      top-1 error % after the argmax resync (not a permutation when there are duplicates)
     * @param errorCheck             wrong images after the assignment resync == wrong images of the attacked model
     * @param restoredExactly        the assignment resync gave back the attacked model's tensors bit for bit (its
     *                               error is then the attacked model's by construction and is not evaluated again)
     * @param attackDetails          what the attack did (sigma, zeroed entries, levels, epochs...)
     * @param seconds                time per phase: attack, permute, resync, eval
     */
    public record Run(String attack, double level, String spec, int run, long attackSeed, long permutationSeed,
            List<String> groups, long neurons, double psiArgmax, double psiPaper, double psiAssignment,
            int duplicates, int zeroRows, int integrityFlags, double integrityMaxRatio, int images,
            double errorAttacked, double errorResyncAssignment,
            double errorResyncArgmax, boolean errorCheck, boolean restoredExactly, Map<String, Object> attackDetails,
            Map<String, Double> seconds) {

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("attack", attack);
            m.put("level", level);
            m.put("spec", spec);
            m.put("run", run);
            Map<String, Object> seeds = new LinkedHashMap<>();
            seeds.put("attack", attackSeed);
            seeds.put("permutation", permutationSeed);
            m.put("seeds", seeds);
            m.put("groups", groups);
            m.put("neurons", neurons);
            m.put("psi_argmax", psiArgmax);
            m.put("psi_paper", psiPaper);
            m.put("psi_assignment", psiAssignment);
            m.put("duplicates", duplicates);
            m.put("zero_rows", zeroRows);
            m.put("integrity_flags", integrityFlags);
            m.put("integrity_max_ratio", Double.isNaN(integrityMaxRatio) ? null : integrityMaxRatio);
            m.put("images", images);
            m.put("error_attacked_pct", errorAttacked);
            m.put("error_resync_assignment_pct", errorResyncAssignment);
            m.put("error_resync_argmax_pct", errorResyncArgmax);
            m.put("error_check", errorCheck);
            m.put("restored_exactly", restoredExactly);
            m.put("attack_details", attackDetails);
            m.put("seconds", seconds);
            return m;
        }
    }

    /** Mean and population std over runs of one cell. */
    public record Stat(double mean, double std) {
        static Stat of(List<Double> values) {
            double mean = 0;
            for (double v : values) {
                mean += v;
            }
            mean /= values.size();
            double ss = 0;
            for (double v : values) {
                ss += (v - mean) * (v - mean);
            }
            return new Stat(mean, Math.sqrt(ss / values.size()));
        }

        public String format() {
            return String.format(Locale.ROOT, "%.2f ± %.2f", mean, std);
        }
    }

    /**
     * One row of Table 1: a cell's statistics over its runs, with the paper's values next to it.
     *
     * @param paperVgg16    {Psi, error %} of the paper for VGG16, or null where the paper has no cell
     * @param paperResnet18 the same for ResNet18
     */
    public record Row(String attack, double level, String spec, int runs, Stat psiArgmax, Stat psiPaper,
            Stat psiAssignment, Stat error, Stat errorResyncArgmax, int duplicates, int integrityFlags,
            double integrityMaxRatio, boolean errorCheck, List<Double> paperVgg16, List<Double> paperResnet18) {}

    /**
     * The records of a Table 1 run.
     *
     * @param config       what was run
     * @param architecture the model's architecture
     * @param groups       groups permuted and resynced
     * @param baseError    test error % of the reference model
     * @param runs         one record per run and cell
     * @param seconds      time per phase over the whole experiment: attack, permute, resync, eval
     * @param totalSeconds wall time
     */
    public record Result(Config config, String architecture, List<String> groups, double baseError, List<Run> runs,
            Map<String, Double> seconds, double totalSeconds) {

        /** Cells whose error check failed ("spec run r"). */
        public List<String> failures() {
            List<String> f = new ArrayList<>();
            for (Run r : runs) {
                if (!r.errorCheck()) {
                    f.add(r.spec() + " run " + r.run());
                }
            }
            return f;
        }

        /** One row per cell, in grid order. */
        public List<Row> rows() {
            Map<String, List<Run>> byCell = new LinkedHashMap<>();
            for (Run r : runs) {
                byCell.computeIfAbsent(r.spec(), k -> new ArrayList<>()).add(r);
            }
            List<Row> rows = new ArrayList<>();
            for (List<Run> cell : byCell.values()) {
                Run first = cell.get(0);
                String key = paperKey(first.spec());
                rows.add(new Row(first.attack(), first.level(), first.spec(), cell.size(),
                        Stat.of(cell.stream().map(Run::psiArgmax).toList()),
                        Stat.of(cell.stream().map(Run::psiPaper).toList()),
                        Stat.of(cell.stream().map(Run::psiAssignment).toList()),
                        Stat.of(cell.stream().map(Run::errorAttacked).toList()),
                        Stat.of(cell.stream().map(Run::errorResyncArgmax).toList()),
                        cell.stream().mapToInt(Run::duplicates).sum(),
                        cell.stream().mapToInt(Run::integrityFlags).sum(),
                        cell.stream().mapToDouble(Run::integrityMaxRatio).filter(v -> !Double.isNaN(v)).max()
                                .orElse(Double.NaN),
                        cell.stream().allMatch(Run::errorCheck),
                        Paper.TABLE1_VGG16.get(key), Paper.TABLE1_RESNET18.get(key)));
            }
            return rows;
        }
    }

    /** The key of {@link Paper#TABLE1_VGG16} for an attack spec: Omega 0 and T 0 are "none". */
    public static String paperKey(String spec) {
        return spec.equals("noise:0") || spec.equals("prune:0") || spec.equals("finetune:0") ? "none" : spec;
    }

    /**
     * Runs the experiment.
     *
     * @param reference the trained model (not modified)
     * @param arch      its architecture, or null to infer it
     * @param train     training data (fine-tuning); may be null when no finetune cell is selected
     * @param test      test data (errors)
     * @param progress  one task over every cell and fine-tuning epoch
     */
    public static Result run(Config config, StateDict reference, String arch, Dataset train, Dataset test,
            ProgressListener progress) {
        long start = System.nanoTime();
        Objects.requireNonNull(test, "test");
        ModelConfig mc = Models.infer(reference, arch);
        Architecture description = mc.description();
        Model model = mc.create();
        model.load(reference);
        Evaluator evaluator = evaluator(config);
        Subject subject = new Subject(mc.architecture(), description.permutationSpec(),
                AttackTargets.layerWeight(description, reference, config.layer()), AttackTargets.weights(description),
                weights -> {
                    model.load(weights);
                    return evaluator.evaluate(model, test);
                }, mc);
        return run(config, reference, subject, train, progress, start);
    }

    /**
     * Runs the experiment on an ONNX model (its spec from its graph, lady.onnx.OnnxGraph): every error is
     * measured with ONNX Runtime on the test images (the model must be a classifier of them); fine-tuning
     * is not available (Lady does not train ONNX models).
     *
     * @param reference the model's tensors ({@link lady.onnx.OnnxModel#stateDict()}; not modified)
     */
    public static Result runOnnx(Config config, lady.onnx.OnnxModel onnx, StateDict reference, Dataset test,
            ProgressListener progress) {
        long start = System.nanoTime();
        Objects.requireNonNull(test, "test");
        PermutationSpec spec = lady.onnx.OnnxGraph.of(onnx).spec(Models.shapes(reference));
        Evaluator evaluator = evaluator(config);
        Subject subject = new Subject(spec.architecture(), spec, AttackTargets.layerWeight(spec, reference, config.layer()),
                AttackTargets.weights(spec, reference), weights -> {
                    try (lady.onnx.OrtRunner ort = lady.onnx.OrtRunner.open(onnx, weights)) {
                        return evaluator.evaluate(ort::logits, test);
                    }
                }, null);
        return run(config, reference, subject, null, progress, start);
    }

    private static Evaluator evaluator(Config config) {
        Evaluator evaluator = new Evaluator(Paper.TRAIN_BATCH_SIZE);
        if (config.evalLimit() > 0) {
            evaluator.limit(config.evalLimit());
        }
        return evaluator;
    }

    /**
     * What the experiment needs of a network.
     *
     * @param architecture its name
     * @param spec         its groups
     * @param weight       the attacked weight (noise, pruning)
     * @param weights      the weights an attack on all layers works on (quantization)
     * @param error        the test error of the network with the given weights
     * @param trainable    the libtorch model to fine-tune, or null when fine-tuning is not available
     */
    private record Subject(String architecture, PermutationSpec spec, String weight, List<String> weights,
            java.util.function.Function<StateDict, EvalResult> error, ModelConfig trainable) {}

    private static Result run(Config config, StateDict reference, Subject subject, Dataset train,
            ProgressListener progress, long start) {
        String weight = subject.weight();
        List<String> weights = subject.weights();
        PermutationSpec spec = subject.spec();
        List<String> groups = config.wholeNetwork() ? spec.groups().stream().map(Group::name).toList()
                : List.of(groupOf(spec, weight));
        long neurons = groups.stream().mapToLong(g -> spec.group(g).get().size()).sum();
        List<Attack> cells = config.cells();
        List<Integer> thetas = new ArrayList<>();
        for (Attack a : cells) {
            if (a instanceof FinetuneAttack f) {
                thetas.add(f.epochs());
            }
        }
        int maxTheta = thetas.isEmpty() ? 0 : thetas.get(thetas.size() - 1);
        if (maxTheta > 0 && subject.trainable() == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the finetune attack trains the model, which Lady does for "
                    + "the networks it recognizes, not for ONNX models; choose other attacks (e.g. noise,quant,prune)");
        }
        if (maxTheta > 0 && train == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the finetune attack needs training data");
        }
        if (config.recalibrateBn() > 0 && subject.trainable() == null) {
            throw new LadyException(LadyException.Kind.USAGE, "batch-norm recalibration runs the model in training mode, "
                    + "which Lady does for the networks it recognizes, not for ONNX models; use 0 batches");
        }
        if (config.recalibrateBn() > 0 && train == null) {
            throw new LadyException(LadyException.Kind.USAGE, "batch-norm recalibration needs training data");
        }
        BatchNormRecalibration recalibration = config.recalibrateBn() > 0
                ? new BatchNormRecalibration(config.trainLimit() > 0 ? train.limit(config.trainLimit()) : train,
                        subject.architecture(), config.recalibrateBn()) : null;

        Map<String, Double> seconds = new LinkedHashMap<>();
        for (String phase : List.of("attack", "permute", "resync", "eval")) {
            seconds.put(phase, 0.0);
        }
        long t = System.nanoTime();
        double baseError = subject.error().apply(reference).errorPct();
        seconds.merge("eval", (System.nanoTime() - t) / 1e9, Double::sum);

        long units = (long) config.runs() * (cells.size() + maxTheta);
        progress.start("table1", units, "steps");
        List<Run> records = new ArrayList<>();
        try {
            for (int run = 0; run < config.runs(); run++) {
                Map<Integer, StateDict> finetuned = new LinkedHashMap<>();
                Map<Integer, Double> finetuneSeconds = new LinkedHashMap<>();
                long finetuneSeed = Seeds.derive(config.seed(), "table1.finetune", run);
                for (Attack cell : cells) {
                    String cellName = cell.spec();
                    long attackSeed = cell instanceof FinetuneAttack ? finetuneSeed
                            : Seeds.derive(config.seed(), "table1.attack." + cellName, run);
                    long permutationSeed = Seeds.derive(config.seed(), "table1.permute." + cellName, run);
                    Map<String, Double> cellSeconds = new LinkedHashMap<>();
                    StateDict attacked;
                    Map<String, Object> details;
                    t = System.nanoTime();
                    if (cell instanceof FinetuneAttack f) {
                        if (finetuned.isEmpty()) {
                            fineTune(config, reference, subject.trainable(), train, maxTheta, thetas, finetuneSeed, finetuned,
                                    finetuneSeconds, progress);
                            seconds.merge("attack", (System.nanoTime() - t) / 1e9, Double::sum);
                        }
                        attacked = f.epochs() == 0 ? reference.copy() : finetuned.get(f.epochs());
                        details = new LinkedHashMap<>();
                        details.put("epochs", f.epochs());
                        details.put("lr", f.lr());
                        details.put("momentum", f.momentum());
                        details.put("weight_decay", f.weightDecay());
                        details.put("batch_size", f.batchSize());
                        details.put("finetune_seed", finetuneSeed);
                        details.put("trajectory_epochs", maxTheta);
                        cellSeconds.put("attack", finetuneSeconds.getOrDefault(f.epochs(), 0.0));
                    } else {
                        attacked = reference.copy();
                        AttackContext ctx = new AttackContext(weight, weights, attackSeed, null, ProgressListener.NONE)
                                .withRecalibrator(recalibration);
                        List<AttackResult> rs = Attacks.apply(List.of(cell), attacked, ctx);
                        details = new LinkedHashMap<>(rs.get(0).details());
                        if (rs.size() > 1) { // the batch-norm statistics were re-estimated after the attack
                            details.put("recalibrate_bn", rs.get(1).details());
                        }
                        double dt = (System.nanoTime() - t) / 1e9;
                        seconds.merge("attack", dt, Double::sum);
                        cellSeconds.put("attack", dt);
                    }
                    Run rec = cell(config, cell, run, attackSeed, permutationSeed, reference, attacked, spec, groups,
                            neurons, subject.error(), details, cellSeconds, seconds);
                    records.add(rec);
                    Map<String, Object> live = new LinkedHashMap<>();
                    live.put("cell", cellName);
                    live.put("run", run + 1);
                    live.put("psi", rec.psiAssignment());
                    progress.advance(1, live);
                }
            }
        } finally {
            progress.finish();
        }
        return new Result(config, subject.architecture(), groups, baseError, records, seconds,
                (System.nanoTime() - start) / 1e9);
    }

    /** The group whose producer is {@code weight}. */
    static String groupOf(PermutationSpec spec, String weight) {
        for (Group g : spec.groups()) {
            for (Member m : g.members(Role.PRODUCER_WEIGHT)) {
                if (m.tensor().equals(weight)) {
                    return g.name();
                }
            }
        }
        throw new LadyException(LadyException.Kind.USAGE, "layer '" + weight
                + "' produces no permutable neurons (the output layer's neurons are never permuted); choose a hidden layer");
    }

    /** Fine-tunes once up to {@code maxTheta} epochs and keeps a copy of the weights after each epoch in {@code thetas}. */
    private static void fineTune(Config config, StateDict reference, ModelConfig mc, Dataset train, int maxTheta,
            List<Integer> thetas, long seed, Map<Integer, StateDict> snapshots, Map<Integer, Double> at,
            ProgressListener outer) {
        Set<Integer> wanted = new TreeSet<>(thetas);
        if (maxTheta == 0) {
            return;
        }
        Model ft = mc.create();
        ft.load(reference);
        FinetuneAttack how = FinetuneAttack.of(maxTheta);
        TrainConfig tc = TrainConfig.fineTuning(maxTheta).withLr(how.lr()).withMomentum(how.momentum())
                .withWeightDecay(how.weightDecay()).withBatchSize(how.batchSize()).withSeed(seed);
        if (config.trainLimit() > 0) {
            tc = tc.withLimit(config.trainLimit());
        }
        long start = System.nanoTime();
        int[] epochs = {0};
        // Trainer reports one task per epoch: its finish() marks the end of an epoch
        ProgressListener snapshot = new ProgressListener() {
            @Override
            public void start(String task, long total, String unit) {}

            @Override
            public void advance(long units, Map<String, ?> metrics) {}

            @Override
            public void finish() {
                epochs[0]++;
                if (wanted.contains(epochs[0])) {
                    snapshots.put(epochs[0], ft.stateDict());
                    at.put(epochs[0], (System.nanoTime() - start) / 1e9);
                }
                outer.advance(1, Map.of("finetune epoch", epochs[0]));
            }
        };
        new Trainer(tc).deterministic(config.deterministic()).progress(snapshot).train(ft, train);
        for (int theta : wanted) {
            if (theta > 0 && !snapshots.containsKey(theta)) {
                throw new LadyException(LadyException.Kind.INTERNAL, "fine-tuning ended after " + epochs[0]
                        + " epochs without a snapshot at epoch " + theta);
            }
        }
    }

    private static Run cell(Config config, Attack cell, int run, long attackSeed, long permutationSeed,
            StateDict reference, StateDict attacked, PermutationSpec spec, List<String> groups, long neurons,
            java.util.function.Function<StateDict, EvalResult> error, Map<String, Object> details,
            Map<String, Double> cellSeconds, Map<String, Double> seconds) {
        long t = System.nanoTime();
        EvalResult eAttacked = error.apply(attacked);
        double evalSeconds = (System.nanoTime() - t) / 1e9;

        t = System.nanoTime();
        Map<String, Permutation> perms = Permuter.random(spec, groups, permutationSeed);
        StateDict suspect = Permuter.apply(attacked, spec, perms, Backend.CPU);
        Map<String, long[]> secret = Permuter.indices(perms);
        double permuteSeconds = (System.nanoTime() - t) / 1e9;

        t = System.nanoTime();
        ResyncOptions options = ResyncOptions.defaults().withGroups(Set.copyOf(groups));
        StateDict byAssignment = suspect.copy();
        ResyncReport assignment = ReferenceResync.run(reference, byAssignment, spec,
                options.withMethod(Method.ASSIGNMENT), secret, ProgressListener.NONE);
        StateDict byArgmax = suspect;
        ResyncReport argmax = ReferenceResync.run(reference, byArgmax, spec, options.withMethod(Method.ARGMAX), secret,
                ProgressListener.NONE);
        double resyncSeconds = (System.nanoTime() - t) / 1e9;

        t = System.nanoTime();
        // restored bit for bit: the resynced model IS the attacked model, its error needs no second evaluation
        boolean restoredExactly = byAssignment.sameTensors(attacked);
        EvalResult eAssignment = eAttacked;
        if (!restoredExactly) {
            eAssignment = error.apply(byAssignment);
        }
        EvalResult eArgmax = eAssignment;
        if (!sameMatches(argmax, assignment)) { // same matches: the same model, the same error
            eArgmax = error.apply(byArgmax);
        }
        evalSeconds += (System.nanoTime() - t) / 1e9;

        double paperAcc = 0;
        long paperN = 0;
        int zeroRows = 0;
        for (GroupResult g : argmax.groups()) {
            if (g.psiPaper() != null) {
                paperAcc += g.psiPaper() * g.size();
                paperN += g.size();
            }
            zeroRows += g.zeroRows();
        }
        seconds.merge("permute", permuteSeconds, Double::sum);
        seconds.merge("resync", resyncSeconds, Double::sum);
        seconds.merge("eval", evalSeconds, Double::sum);
        Map<String, Double> s = new LinkedHashMap<>(cellSeconds);
        s.put("permute", permuteSeconds);
        s.put("resync", resyncSeconds);
        s.put("eval", evalSeconds);
        return new Run(cell.kind(), cell.level(), cell.spec(), run, attackSeed, permutationSeed, groups, neurons,
                nonNull(argmax.psi()), paperN == 0 ? Double.NaN : paperAcc / paperN, nonNull(assignment.psi()),
                argmax.duplicates(), zeroRows, assignment.integrityFlags(), assignment.integrityMaxRatio(),
                eAttacked.images(), eAttacked.errorPct(), eAssignment.errorPct(), eArgmax.errorPct(), eAssignment.errors() == eAttacked.errors(), restoredExactly, details, s);
    }

    /** Whether two resyncs of the same suspect chose the same match in every group. */
    static boolean sameMatches(ResyncReport a, ResyncReport b) {
        if (a.groups().size() != b.groups().size()) {
            return false;
        }
        for (int i = 0; i < a.groups().size(); i++) {
            GroupResult x = a.groups().get(i);
            GroupResult y = b.groups().get(i);
            if (!x.name().equals(y.name()) || !java.util.Arrays.equals(x.match(), y.match())) {
                return false;
            }
        }
        return true;
    }

    private static double nonNull(Double psi) {
        if (psi == null) {
            throw new LadyException(LadyException.Kind.INTERNAL, "resync reported no Psi although the secret was given");
        }
        return psi;
    }
}
