package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.app.ResyncJob;
import lady.app.ResyncReportFile;
import lady.data.DataSource;
import lady.kernels.Backend;
import lady.resync.ActivationSignal;
import lady.resync.EvidenceScope;
import lady.resync.GroupResult;
import lady.resync.Margins;
import lady.resync.Method;
import lady.resync.Prefilter;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.resync.Signal;
import lady.resync.StructuralUndo;

/** {@code lady resync}: put a suspect model's neurons back into the reference's order. */
@Command(name = "resync", mixinStandardHelpOptions = true,
        description = {"Re-synchronize a suspect model with the reference model: match every group's",
                "neurons (cosine similarity of producer rows, bias and batch-norm values,",
                "consumer columns; exact assignment, or the paper's argmax on producer rows),",
                "restore the reference order, and report Psi (with --secret), confidence and",
                "the integrity check. First, unless --no-structural, undo structural",
                "obfuscation (lady attack scale/dummy/split/nso): merge parallel neurons, drop",
                "those that cancel, match to the reference (rectangular when the widths",
                "differ), rescale every neuron to the reference's norm; reported per group."})
final class ResyncCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--reference", paramLabel = "FILE", required = true, description = "The reference (original) checkpoint.")
    Path reference;

    @Option(names = "--suspect", paramLabel = "FILE", required = true, description = "The suspect checkpoint (permuted, maybe attacked).")
    Path suspect;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the resynced suspect here (same format as the suspect; a folder for a model folder).")
    Path out;

    @Option(names = "--report", paramLabel = "FILE", description = "Write the report here: JSON (every figure and the verdict's tests), or by "
            + "the file's extension a table per group: .csv, .md (Markdown) or .html (a page).")
    Path report;

    @Option(names = "--method", paramLabel = "METHOD", defaultValue = "assignment",
            description = "Matching: assignment (exact, always a permutation) or argmax (the paper). Default: ${DEFAULT-VALUE}.")
    Method method;

    @Option(names = "--groups", paramLabel = "GROUPS", defaultValue = "all", description = "Groups to resync: all, or a comma list such as features.17.")
    String groups;

    @Option(names = "--secret", paramLabel = "FILE", description = "The secret written by `lady permute`: enables Psi per group and overall.")
    Path secret;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Architecture (default: inferred from the reference checkpoint).")
    String arch;

    @Mixin GraphOptions network;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "cpu", description = "Kernels: cpu, cuda or reference. Default: ${DEFAULT-VALUE}.")
    Backend backend;

    @Option(names = "--integrity-ratio", paramLabel = "R", defaultValue = "" + lady.paper.Paper.RESYNC_INTEGRITY_RATIO,
            description = "Integrity check: flag a matched neuron whose norm ratio (suspect / reference, over the group's "
                    + "median) lies outside [1/R, R] (default: ${DEFAULT-VALUE}, calibrated on the Table 1 attacks).")
    double integrityRatio;

    @Option(names = "--prefilter", paramLabel = "MODE", defaultValue = "auto",
            description = "auto (large groups through random projections, checked to give the dense match, "
                    + "else dense), on or off. Default: ${DEFAULT-VALUE}.")
    Prefilter prefilter;

    @Option(names = "--margins", paramLabel = "MODE", defaultValue = "auto",
            description = "Confidence margins of prefiltered groups: exact (as the dense path's: about one dense "
                    + "similarity product per group), bound (the sketch's lower bounds, reported as such: no dense "
                    + "product, for large models) or auto (exact when the resync's dense margin work is at most "
                    + Margins.AUTO_EXACT_BUDGET_FLOP + " FLOP, about 20 s on 2 cores, else bound; the report says "
                    + "which and why). A margin below the low-margin threshold is always exact. "
                    + "Default: ${DEFAULT-VALUE}.")
    Margins margins;

    @Option(names = "--evidence", paramLabel = "SCOPE", defaultValue = "all",
            description = "Weight evidence of the assignment: all (the producers' rows, the neurons' bias and batch-norm "
                    + "values, and, in a second pass, the consumers' columns; weighted by sqrt(values per neuron)) or "
                    + "producers (the paper's rows only). --method argmax always reads the producers' rows only. "
                    + "Default: ${DEFAULT-VALUE}.")
    EvidenceScope evidence;

    @Option(names = "--signal", paramLabel = "SIGNAL", defaultValue = "weights",
            description = "What neurons are compared by: weights (the paper: cosine of the producer rows) or "
                    + "activations (Pearson correlation of their outputs on the same --probe images of --data "
                    + "through both models). Default: ${DEFAULT-VALUE}.")
    Signal signal;

    @Option(names = "--data", paramLabel = "SPEC", description = "With --signal activations: the probe images' source (" + DataSource.SYNTAX
            + "); the first --probe test images are used.")
    String data;

    @Option(names = "--probe", paramLabel = "N", defaultValue = "" + ActivationSignal.DEFAULT_PROBE_IMAGES,
            description = "With --signal activations: number of probe images. Default: ${DEFAULT-VALUE}.")
    int probe;

    @Option(names = "--no-structural",
            description = "Skip the structural undo (merging split and dummy neurons, rescaling to the reference's norms).")
    boolean noStructural;

    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        double started = java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() / 1e3;
        ResyncOptions options = ResyncOptions.defaults().withMethod(method).withBackend(backend)
                .withPrefilter(prefilter).withIntegrityRatio(integrityRatio).withMargins(margins)
                .withEvidence(evidence);
        ResyncJob.Result r = ResyncJob.run(new ResyncJob.Request(reference, suspect, out, report, arch, network.graph,
                network.specFile, groups, secret, options, signal, data, probe, !noStructural, started), run.progress());
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) { // the whole report, as the JSON --report file holds it
            w.println(lady.report.Json.write(r.json()));
            return 0;
        }
        printSummary(w, r.report());
        if (!r.leftOut().isEmpty()) {
            w.printf("left out of the comparison (a saved tie the suspect does not hold): %s%n",
                    lady.util.Text.escape(lady.util.Text.list(r.leftOut(), lady.util.Text.NAMES_SHOWN)));
        }
        if (!r.takenAsTheyAre().isEmpty()) {
            w.printf("taken in the suspect's order as they are (outside --groups, they order the selected groups' "
                    + "evidence; if the suspect permuted them too, add them to --groups): %s%n",
                    lady.util.Text.escape(lady.util.Text.list(r.takenAsTheyAre(), lady.util.Text.NAMES_SHOWN)));
        }
        if (r.borrowedConfig()) {
            w.printf("suspect's configuration: %s%n", ResyncJob.BORROWED_CONFIG);
        }
        if (r.vocabulary() != null) {
            w.printf("vocabulary: %s%n", lady.util.Text.escape(r.vocabulary()));
        }
        printStructural(w, r.undo(), r.structuralPsi());
        if (signal == Signal.ACTIVATIONS) {
            w.printf("signal activations: Pearson correlation over %d probe images of %s%n", probe, data);
        }
        return 0;
    }

    /** One line per group the structural undo changed, and the total. */
    static void printStructural(PrintWriter w, StructuralUndo.Result undo, Double psi) {
        if (undo == null) {
            return;
        }
        long changed = undo.groups().stream().filter(StructuralUndo.GroupReport::changed).count();
        for (StructuralUndo.GroupReport g : undo.groups()) {
            if (g.note() != null) {
                w.printf("structural %-16s %s%n", g.group(), g.note());
            }
            if (!g.changed()) {
                continue;
            }
            w.printf(java.util.Locale.ROOT, "structural %-16s %d -> %d neurons: merged %d cluster(s) of %d, dropped %d "
                    + "cancelling cluster(s) of %d, rescaled %d%s%s; unmatched: %d suspect, %d reference%n", g.group(),
                    g.suspectSize(), g.referenceSize(), g.mergedClusters(), g.mergedNeurons(), g.droppedClusters(),
                    g.droppedNeurons(), g.rescaled(), g.rescaled() == 0 ? ""
                            : String.format(java.util.Locale.ROOT, " (factors %.3g-%.3g)", g.scaleMin(), g.scaleMax()),
                    g.affineRescaled() == 0 ? "" : ", batch-norm gamma/beta of " + g.affineRescaled(),
                    g.unmatchedSuspect(), g.unmatchedReference());
        }
        w.printf(java.util.Locale.ROOT, "structural undo: %s (%.2f s)%s%n", undo.skipped() != null ? "skipped: "
                + undo.skipped() : changed == 0 ? "nothing to undo" : changed + " group(s) changed", undo.seconds(),
                psi == null ? "" : String.format(java.util.Locale.ROOT, "; Psi against the secret's lineage %.2f %%", psi));
    }

    static void printSummary(PrintWriter w, ResyncReport r) {
        List<Object[]> rows = new java.util.ArrayList<>();
        for (GroupResult g : r.groups()) {
            Object[] cells = ResyncReportFile.cells(g).toArray();
            cells[0] = lady.util.Text.escape(g.name());
            rows.add(cells);
        }
        int width = lady.util.Text.columnWidth(rows.stream().map(c -> (String) c[0]).toList(), 22);
        String row = "%-" + width + "s %6s %8s %5s %10s %10s %6s %5s %6s %9s%n";
        w.printf(row, ResyncReportFile.COLUMNS.toArray());
        rows.forEach(cells -> w.printf(row, cells));
        ResyncReportFile.summary(r).forEach(w::println);
    }

}
