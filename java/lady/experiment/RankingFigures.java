package lady.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import lady.BuildInfo;
import lady.LadyException;
import lady.attack.Attack;
import lady.attack.AttackContext;
import lady.attack.Attacks;
import lady.attack.FinetuneAttack;
import lady.attack.NoiseAttack;
import lady.attack.QuantAttack;
import lady.canon.ActiveConfig;
import lady.canon.Canon;
import lady.canon.CanonicalOrder;
import lady.canon.LayerOrder;
import lady.canon.RankingMethod;
import lady.checkpoint.StateDict;
import lady.data.Dataset;
import lady.io.AtomicFiles;
import lady.kernels.Backend;
import lady.model.Architecture;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.train.DatasetFineTuner;
import lady.train.Evaluator;
import lady.util.Seeds;

/**
 * The robustness figures of reference-free resync by canonical order (method.md 5; paper figures 4-5):
 * attack the reference, permute the ranked groups with a new secret, re-rank the suspect the way the
 * owner would (basic: weight sums; active: the input learned once on the reference), and measure
 * Psi_rank against the secret, with the attacked model's test error beside it.
 *
 * <ul>
 *   <li>{@link #quant}: basic ranking vs quantization bits B (every Conv2d / Linear weight);</li>
 *   <li>{@link #activeRobustness}: active ranking vs Gaussian noise Omega on the ranked layer's weight
 *       and vs fine-tuning epochs Theta (method.md 7; real fine-tuning, unlike the authors' plot labelled
 *       fine-tuning that adds noise, method.md 10 item 6).</li>
 * </ul>
 * {@link #write} saves a PNG (Psi on the left axis, error on the right) and a CSV per attack, plus one
 * JSON with every point. Same inputs and seed, same numbers.
 */
public final class RankingFigures {
    private RankingFigures() {}

    /**
     * One measurement.
     *
     * @param attack          "quant", "noise" or "finetune"
     * @param level           B, Omega or Theta
     * @param run             run index, 0-based
     * @param attackSeed      seed of the attack's draw (noise) or fine-tuning
     * @param permutationSeed seed of the secret permutation
     * @param psi             Psi_rank per ranked group, %
     * @param psiAll          Psi_rank over the ranked groups, weighted by neurons
     * @param errorPct        top-1 test error of the attacked model, % (NaN without test data)
     */
    public record Point(String attack, double level, int run, long attackSeed, long permutationSeed,
            Map<String, Double> psi, double psiAll, double errorPct) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("attack", attack);
            m.put("level", level);
            m.put("run", run);
            Map<String, Object> seeds = new LinkedHashMap<>();
            seeds.put("attack", attackSeed);
            seeds.put("permutation", permutationSeed);
            m.put("seeds", seeds);
            m.put("psi", psiAll);
            m.put("psi_by_layer", psi);
            m.put("error_pct", errorPct);
            return m;
        }
    }

    /** Mean and population std over the runs of one (attack, level). */
    public record Row(String attack, double level, int runs, Table1.Stat psi, Table1.Stat error) {}

    /**
     * A figure's measurements.
     *
     * @param figure       "ranking-quant" or "ranking-noise"
     * @param architecture the model's architecture
     * @param reference    the reference's canonical order (for active ranking, with the learned inputs)
     * @param baseError    test error of the reference, % (NaN without test data)
     * @param config       the settings, for the JSON
     * @param points       every measurement, in order
     * @param seconds      wall time (ranking the reference included)
     */
    public record Result(String figure, String architecture, CanonicalOrder reference, double baseError,
            Map<String, Object> config, List<Point> points, double seconds) {

        /** One row per (attack, level), in measurement order. */
        public List<Row> rows() {
            Map<String, List<Point>> cells = new LinkedHashMap<>();
            points.forEach(p -> cells.computeIfAbsent(p.attack() + ":" + p.level(), k -> new ArrayList<>()).add(p));
            List<Row> rows = new ArrayList<>();
            for (List<Point> c : cells.values()) {
                rows.add(new Row(c.get(0).attack(), c.get(0).level(), c.size(),
                        Table1.Stat.of(c.stream().map(Point::psiAll).toList()),
                        Table1.Stat.of(c.stream().map(Point::errorPct).toList())));
            }
            return rows;
        }

        /** The attacks measured, in order. */
        public List<String> attacks() {
            return List.copyOf(new LinkedHashSet<>(points.stream().map(Point::attack).toList()));
        }
    }

    /** Bits B = {@link Paper#RANKING_QUANT_MIN_BITS} .. {@link Paper#RANKING_QUANT_MAX_BITS}. */
    public static List<Integer> paperBits() {
        List<Integer> bits = new ArrayList<>();
        for (int b = Paper.RANKING_QUANT_MIN_BITS; b <= Paper.RANKING_QUANT_MAX_BITS; b++) {
            bits.add(b);
        }
        return bits;
    }

    /**
     * Basic ranking under quantization (paper figures 4-5).
     *
     * @param arch      architecture, or null to infer it from the checkpoint
     * @param layers    ranked groups (e.g. "features.17")
     * @param test      test data for the error axis, or null
     * @param evalLimit evaluate on the first N test images only (N <= 0: all)
     */
    public static Result quant(StateDict reference, String arch, List<String> layers, List<Integer> bits, Dataset test,
            int evalLimit, long seed, ProgressListener progress) {
        long start = System.nanoTime();
        Setup s = new Setup(reference, arch, test, evalLimit);
        CanonicalOrder ref = Canon.basic(reference, s.mc.architecture(), layers);
        List<Attack> cells = new ArrayList<>();
        bits.forEach(b -> cells.add(new QuantAttack(b)));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("layers", ref.layerNames());
        config.put("method", RankingMethod.BASIC.id());
        config.put("bits", bits);
        config.put("seed", seed);
        config.put("eval_limit", evalLimit);
        List<Point> points = measure(s, ref, cells, 1, seed, null, progress);
        return new Result("ranking-quant", s.mc.architecture(), ref, s.baseError, config, points,
                (System.nanoTime() - start) / 1e9);
    }

    /**
     * Active ranking under Gaussian noise on the ranked layer's weight (its group's first producer) and
     * under fine-tuning: the input is learned once on the reference ({@code active}), each suspect is
     * re-ranked with it.
     *
     * @param omegas     noise levels Omega (empty: none)
     * @param thetas     fine-tuning epochs Theta (empty: none); each level fine-tunes the reference anew
     * @param runs       runs per level (new noise draw, fine-tuning order and permutation per run)
     * @param train      training data for fine-tuning (null when {@code thetas} has no positive level)
     * @param trainLimit fine-tune on the first N training images only (N <= 0: all)
     */
    public static Result activeRobustness(StateDict reference, String arch, String layer, ActiveConfig active,
            List<Double> omegas, List<Integer> thetas, int runs, Dataset train, Dataset test, int evalLimit,
            int trainLimit, long seed, ProgressListener progress) {
        long start = System.nanoTime();
        if (runs < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "runs must be >= 1, got " + runs);
        }
        if (thetas.stream().anyMatch(t -> t > 0) && train == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the fine-tuning levels need training data");
        }
        Setup s = new Setup(reference, arch, test, evalLimit);
        Dataset ft = train == null ? null : trainLimit > 0 ? train.limit(trainLimit) : train;
        CanonicalOrder ref = Canon.rank(reference, s.mc.architecture(), List.of(layer), RankingMethod.ACTIVE, active,
                progress);
        List<Attack> cells = new ArrayList<>();
        omegas.forEach(o -> cells.add(new NoiseAttack(o)));
        thetas.forEach(t -> cells.add(FinetuneAttack.of(t)));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("layers", ref.layerNames());
        config.put("method", RankingMethod.ACTIVE.id());
        config.put("active", active.toJson());
        config.put("noise_omegas", omegas);
        config.put("finetune_epochs", thetas);
        config.put("runs", runs);
        config.put("seed", seed);
        config.put("eval_limit", evalLimit);
        config.put("train_limit", trainLimit);
        List<Point> points = measure(s, ref, cells, runs, seed,
                ft == null ? null : new DatasetFineTuner(ft, s.mc.architecture()), progress);
        return new Result("ranking-noise", s.mc.architecture(), ref, s.baseError, config, points,
                (System.nanoTime() - start) / 1e9);
    }

    /** The reference, its architecture, the evaluation model and the reference's error. */
    private static final class Setup {
        final StateDict reference;
        final ModelConfig mc;
        final Architecture description;
        final PermutationSpec spec;
        final Dataset test;
        final Evaluator evaluator;
        final Model model;
        final double baseError;

        Setup(StateDict reference, String arch, Dataset test, int evalLimit) {
            this.reference = Objects.requireNonNull(reference, "reference");
            this.mc = Models.infer(reference, arch);
            this.description = mc.description();
            this.spec = description.permutationSpec();
            this.test = test;
            this.evaluator = new Evaluator(Paper.TRAIN_BATCH_SIZE);
            if (evalLimit > 0) {
                evaluator.limit(evalLimit);
            }
            this.model = test == null ? null : mc.create();
            this.baseError = error(reference);
        }

        double error(StateDict state) {
            if (test == null) {
                return Double.NaN;
            }
            model.load(state);
            return evaluator.evaluate(model, test).errorPct();
        }
    }

    private static List<Point> measure(Setup s, CanonicalOrder ref, List<Attack> cells, int runs, long seed,
            DatasetFineTuner fineTuner, ProgressListener progress) {
        List<String> layers = ref.layerNames();
        // noise attacks the ranked layer's weight (its group's first producer)
        Group first = Permuter.group(s.spec, layers.get(0));
        String weight = first.members(Role.PRODUCER_WEIGHT).get(0).tensor();
        List<String> weights = AttackTargets.weights(s.description);
        List<Point> points = new ArrayList<>();
        progress.start("figure", (long) cells.size() * runs, "cells");
        try {
            for (Attack cell : cells) {
                for (int run = 0; run < runs; run++) {
                    long attackSeed = Seeds.derive(seed, "ranking.attack." + cell.spec(), run);
                    long permutationSeed = Seeds.derive(seed, "ranking.permute." + cell.spec(), run);
                    StateDict attacked = s.reference.copy();
                    Attacks.apply(List.of(cell), attacked,
                            new AttackContext(weight, weights, attackSeed, fineTuner, ProgressListener.NONE));
                    Map<String, Permutation> perms = Permuter.random(s.spec, layers, permutationSeed);
                    StateDict suspect = Permuter.apply(attacked, s.spec, perms, Backend.CPU);
                    CanonicalOrder sus = Canon.rerank(suspect, s.mc.architecture(), ref);
                    Map<String, Double> psi = Canon.psi(ref, sus, perms, s.spec);
                    double psiAll = Canon.psiOverall(ref, psi);
                    points.add(new Point(cell.kind(), cell.level(), run, attackSeed, permutationSeed, psi, psiAll,
                            s.error(attacked)));
                    Map<String, Object> live = new LinkedHashMap<>();
                    live.put("cell", cell.spec());
                    live.put("psi", psiAll);
                    progress.advance(1, live);
                }
            }
        } finally {
            progress.finish();
        }
        return points;
    }

    // ---- files ---------------------------------------------------------------------------------

    /** The CSV of one attack's rows: one line per level. */
    static String csv(Result r, String attack) {
        List<String> layers = r.reference().layerNames();
        StringBuilder sb = new StringBuilder("attack,level,runs,psi_mean,psi_std,error_mean,error_std");
        layers.forEach(l -> sb.append(",psi_").append(l));
        sb.append('\n');
        Map<String, Map<String, List<Double>>> byLayer = new LinkedHashMap<>();
        for (Point p : r.points()) {
            if (p.attack().equals(attack)) {
                p.psi().forEach((l, v) -> byLayer.computeIfAbsent(Table1Files.num(p.level()), k -> new LinkedHashMap<>())
                        .computeIfAbsent(l, k -> new ArrayList<>()).add(v));
            }
        }
        for (Row row : r.rows()) {
            if (!row.attack().equals(attack)) {
                continue;
            }
            String level = Table1Files.num(row.level());
            sb.append(String.join(",", attack, level, Integer.toString(row.runs()), Table1Files.num(row.psi().mean()),
                    Table1Files.num(row.psi().std()), Table1Files.num(row.error().mean()),
                    Table1Files.num(row.error().std())));
            for (String l : layers) {
                sb.append(',').append(Table1Files.num(Table1.Stat.of(byLayer.get(level).get(l)).mean()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The PNG of one attack: Psi_rank per ranked layer on the left axis, test error on the right. */
    static byte[] png(Result r, String attack) {
        List<Row> rows = r.rows().stream().filter(x -> x.attack().equals(attack)).toList();
        double[] x = rows.stream().mapToDouble(Row::level).toArray();
        List<LinePlot.Series> left = new ArrayList<>();
        left.add(new LinePlot.Series("Ψ_rank " + String.join(", ", r.reference().layerNames()) + " (%)", x,
                rows.stream().mapToDouble(row -> row.psi().mean()).toArray()));
        List<LinePlot.Series> right = new ArrayList<>();
        if (!Double.isNaN(r.baseError())) {
            right.add(new LinePlot.Series("test error (%)", x, rows.stream().mapToDouble(row -> row.error().mean())
                    .toArray()));
        }
        String title = String.format(java.util.Locale.ROOT, "%s ranking vs %s (%s)",
                r.reference().method().id(), Table1Files.label(attack), r.architecture());
        return LinePlot.png(title, Table1Files.STRENGTH.getOrDefault(attack, attack), "Ψ_rank (%)", left,
                PERCENT_RANGE, true, right.isEmpty() ? null : "test error (%)", right, PERCENT_RANGE);
    }

    /** Both value axes show percentages, with a little room above 100. */
    private static final double[] PERCENT_RANGE = {0, 105};

    /** The JSON of a figure: settings, the reference's ranking summary, every point and the rows. */
    static Map<String, Object> json(Result r, Map<String, Object> provenance) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("figure", r.figure());
        m.put("tool", BuildInfo.version());
        m.put("commit", BuildInfo.commit());
        m.putAll(provenance);
        m.put("architecture", r.architecture());
        m.put("config", r.config());
        m.put("base_error_pct", r.baseError());
        List<Object> layers = new ArrayList<>();
        for (LayerOrder l : r.reference().layers()) {
            Map<String, Object> lm = new LinkedHashMap<>();
            lm.put("layer", l.layer());
            lm.put("size", l.size());
            lm.put("ties", l.ties());
            lm.put("min_gap", l.size() < 2 ? null : l.minGap());
            if (l.active() != null) {
                lm.put("module", l.active().module());
                lm.put("loss_first", l.active().lossFirst());
                lm.put("loss_last", l.active().lossLast());
            }
            layers.add(lm);
        }
        m.put("reference_ranking", layers);
        List<Object> rows = new ArrayList<>();
        for (Row row : r.rows()) {
            Map<String, Object> rm = new LinkedHashMap<>();
            rm.put("attack", row.attack());
            rm.put("level", row.level());
            rm.put("runs", row.runs());
            rm.put("psi_mean", row.psi().mean());
            rm.put("psi_std", row.psi().std());
            rm.put("error_mean", row.error().mean());
            rm.put("error_std", row.error().std());
            rows.add(rm);
        }
        m.put("rows", rows);
        List<Object> points = new ArrayList<>();
        r.points().forEach(p -> points.add(p.toJson()));
        m.put("points", points);
        m.put("seconds", r.seconds());
        return m;
    }

    /**
     * Writes {@code <name>.json} and, per attack, {@code <name>.png} and {@code <name>.csv} (one attack)
     * or {@code <name>_<attack>.png / .csv} (several) into {@code dir} (created if needed), atomically.
     */
    public static List<Path> write(Path dir, String name, Result r, Map<String, Object> provenance) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create " + dir + ": " + e.getMessage(), e);
        }
        List<Path> written = new ArrayList<>();
        List<String> attacks = r.attacks();
        for (String attack : attacks) {
            String base = attacks.size() == 1 ? name : name + "_" + attack;
            Path png = dir.resolve(base + ".png");
            AtomicFiles.writeBytes(png, png(r, attack));
            written.add(png);
            Path csv = dir.resolve(base + ".csv");
            AtomicFiles.writeString(csv, csv(r, attack));
            written.add(csv);
        }
        Path json = dir.resolve(name + ".json");
        AtomicFiles.writeString(json, Json.write(json(r, provenance)) + "\n");
        written.add(json);
        return written;
    }
}
