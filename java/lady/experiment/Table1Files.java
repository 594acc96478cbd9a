package lady.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;


import lady.BuildInfo;
import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;

/**
 * Writes a {@link Table1.Result} to a folder: {@code runs.jsonl} (one line per run and cell, with
 * the full configuration, seeds and tool version), {@code table1.csv}, {@code table1.md} (laid out
 * like the paper's Table 1, the paper's VGG16 / ResNet18 values alongside), and per attack a PNG
 * plot ({@code table1_<attack>.png}: Psi argmax, Psi assignment and error vs attack strength) with
 * the CSV behind it ({@code table1_<attack>.csv}). Every file is written atomically.
 */
public final class Table1Files {
    private Table1Files() {}

    /** Axis labels of the attack strengths. */
    static final Map<String, String> STRENGTH = Map.of(
            "noise", "noise Omega (noise std / weight std)",
            "finetune", "fine-tuning epochs Theta",
            "quant", "quantization bits B",
            "prune", "pruned weights T (%)");

    /** Writes every file into {@code dir} (created if needed) and returns the paths written. */
    public static List<Path> write(Path dir, Table1.Result result, Map<String, Object> provenance) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot create " + dir + ": " + e.getMessage(), e);
        }
        List<Path> written = new ArrayList<>();
        written.add(writeRuns(dir.resolve("runs.jsonl"), result, provenance));
        List<Table1.Row> rows = result.rows();
        Path csv = dir.resolve("table1.csv");
        AtomicFiles.writeString(csv, csv(rows));
        written.add(csv);
        Path md = dir.resolve("table1.md");
        AtomicFiles.writeString(md, markdown(result, rows));
        written.add(md);
        Map<String, List<Table1.Row>> byAttack = new LinkedHashMap<>();
        rows.forEach(r -> byAttack.computeIfAbsent(r.attack(), k -> new ArrayList<>()).add(r));
        for (Map.Entry<String, List<Table1.Row>> e : byAttack.entrySet()) {
            Path plotCsv = dir.resolve("table1_" + e.getKey() + ".csv");
            AtomicFiles.writeString(plotCsv, plotCsv(e.getValue()));
            written.add(plotCsv);
            Path png = dir.resolve("table1_" + e.getKey() + ".png");
            AtomicFiles.writeBytes(png, plot(e.getKey(), e.getValue(), result.architecture()));
            written.add(png);
        }
        return written;
    }

    private static Path writeRuns(Path file, Table1.Result result, Map<String, Object> provenance) {
        StringBuilder sb = new StringBuilder();
        for (Table1.Run r : result.runs()) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("tool", BuildInfo.version());
            line.put("commit", BuildInfo.commit());
            line.putAll(provenance);
            line.put("architecture", result.architecture());
            line.put("config", result.config().toJson());
            line.put("base_error_pct", result.baseError());
            line.putAll(r.toJson());
            sb.append(Json.write(line)).append('\n');
        }
        AtomicFiles.writeString(file, sb.toString());
        return file;
    }

    static String csv(List<Table1.Row> rows) {
        StringBuilder sb = new StringBuilder("attack,level,runs,psi_argmax_mean,psi_argmax_std,psi_paper_mean,"
                + "psi_paper_std,psi_assignment_mean,psi_assignment_std,error_mean,error_std,"
                + "error_resync_argmax_mean,error_resync_argmax_std,duplicates,integrity_flags,"
                + "integrity_max_ratio,error_check,"
                + "paper_vgg16_psi,paper_vgg16_error,paper_resnet18_psi,paper_resnet18_error\n");
        for (Table1.Row r : rows) {
            sb.append(String.join(",", r.attack(), num(r.level()), Integer.toString(r.runs()),
                    num(r.psiArgmax().mean()), num(r.psiArgmax().std()), num(r.psiPaper().mean()),
                    num(r.psiPaper().std()), num(r.psiAssignment().mean()), num(r.psiAssignment().std()),
                    num(r.error().mean()), num(r.error().std()), num(r.errorResyncArgmax().mean()),
                    num(r.errorResyncArgmax().std()), Integer.toString(r.duplicates()),
                    Integer.toString(r.integrityFlags()), num(r.integrityMaxRatio()),
                    Boolean.toString(r.errorCheck()), paper(r.paperVgg16(), 0), paper(r.paperVgg16(), 1),
                    paper(r.paperResnet18(), 0), paper(r.paperResnet18(), 1))).append('\n');
        }
        return sb.toString();
    }

    static String markdown(Table1.Result result, List<Table1.Row> rows) {
        Table1.Config c = result.config();
        StringBuilder sb = new StringBuilder();
        sb.append("# Table 1: robustness of the resync to attacks\n\n");
        sb.append(String.format(Locale.ROOT, "%s, attacked layer %s, groups resynced: %s; %d run(s) per cell, "
                + "seed %d; reference test error %.2f %%. Mean ± population std over runs. %s.%n%n",
                result.architecture(), c.layer(), c.wholeNetwork() ? "all (" + result.groups().size() + ")"
                        : String.join(", ", result.groups()), c.runs(), c.seed(), result.baseError(),
                BuildInfo.describe()));
        sb.append("| attack | level | Ψ argmax (%) | Ψ assignment (%) | error (%) | error check | integrity flags "
                + "(max ratio) | paper VGG16 Ψ / error | paper ResNet18 Ψ / error |\n");
        sb.append("|---|---:|---:|---:|---:|:---:|---:|---:|---:|\n");
        for (Table1.Row r : rows) {
            sb.append("| ").append(label(r.attack())).append(" | ").append(num(r.level())).append(" | ")
                    .append(r.psiArgmax().format()).append(" | ").append(r.psiAssignment().format()).append(" | ")
                    .append(r.error().format()).append(" | ").append(r.errorCheck() ? "ok" : "**FAILED**")
                    .append(" | ").append(r.integrityFlags()).append(Double.isNaN(r.integrityMaxRatio()) ? ""
                            : String.format(Locale.ROOT, " (%.3f)", r.integrityMaxRatio()))
                    .append(" | ").append(paperCell(r.paperVgg16())).append(" | ")
                    .append(paperCell(r.paperResnet18())).append(" |\n");
        }
        sb.append("\nΨ argmax: match vs the inverse secret (method.md 2); the paper's own argmax count "
                + "(origin vs secret) is in table1.csv (psi_paper). error: top-1 test error of the attacked model; "
                + "error check: the model resynced by assignment has exactly the attacked model's error (evaluated, "
                + "or, when the resync gave back the attacked model's tensors bit for bit, equal by construction: "
                + "restored_exactly in runs.jsonl). "
                + "integrity flags: neurons whose norm ratio (suspect / reference, over the group's median) lies "
                + "outside [1/r, r], r = " + num(lady.paper.Paper.RESYNC_INTEGRITY_RATIO)
                + " (all runs; max ratio: the largest seen). "
                + "Paper values: CIFAR-10, method.md 9 (Omega 0 and T 0 are the paper's \"none\" row).\n");
        sb.append(String.format(Locale.ROOT, "%nTime: %.1f s in all; attack %.1f s, permute %.1f s, resync %.1f s, "
                + "eval %.1f s.%n", result.totalSeconds(), result.seconds().get("attack"),
                result.seconds().get("permute"), result.seconds().get("resync"), result.seconds().get("eval")));
        return sb.toString();
    }

    static String plotCsv(List<Table1.Row> rows) {
        StringBuilder sb = new StringBuilder("level,psi_argmax_mean,psi_argmax_std,psi_assignment_mean,"
                + "psi_assignment_std,error_mean,error_std\n");
        for (Table1.Row r : rows) {
            sb.append(String.join(",", num(r.level()), num(r.psiArgmax().mean()), num(r.psiArgmax().std()),
                    num(r.psiAssignment().mean()), num(r.psiAssignment().std()), num(r.error().mean()),
                    num(r.error().std()))).append('\n');
        }
        return sb.toString();
    }

    /** Y axis of the per-attack plots: percent, with a little room above 100. */
    private static final double[] PERCENT_RANGE = {0, 105};

    static byte[] plot(String attack, List<Table1.Row> rows, String architecture) {
        int n = rows.size();
        double[] level = new double[n];
        double[] argmax = new double[n];
        double[] assignment = new double[n];
        double[] error = new double[n];
        for (int i = 0; i < n; i++) {
            Table1.Row r = rows.get(i);
            level[i] = r.level();
            argmax[i] = r.psiArgmax().mean();
            assignment[i] = r.psiAssignment().mean();
            error[i] = r.error().mean();
        }
        return LinePlot.png("Table 1, " + label(attack) + " (" + architecture + ")", STRENGTH.getOrDefault(attack, attack),
                "percent", List.of(new LinePlot.Series("Ψ argmax (%)", level, argmax),
                        new LinePlot.Series("Ψ assignment (%)", level, assignment),
                        new LinePlot.Series("test error (%)", level, error)), PERCENT_RANGE, true);
    }

    static String label(String attack) {
        return switch (attack) {
            case "noise" -> "noise Ω";
            case "finetune" -> "fine-tuning Θ";
            case "quant" -> "quantization B";
            case "prune" -> "pruning T %";
            default -> attack;
        };
    }

    private static String paperCell(List<Double> v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.2f / %.2f", v.get(0), v.get(1));
    }

    private static String paper(List<Double> v, int i) {
        return v == null ? "" : num(v.get(i));
    }

    static String num(double v) {
        if (Double.isNaN(v)) {
            return "";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
