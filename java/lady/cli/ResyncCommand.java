package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.BuildInfo;
import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.BatchLoader;
import lady.data.DataSource;
import lady.io.AtomicFiles;
import lady.io.OutputSet;
import lady.kernels.Backend;
import lady.model.Models;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.resync.ActivationSignal;
import lady.resync.EvidenceScope;
import lady.resync.GroupResult;
import lady.resync.Margins;
import lady.resync.Method;
import lady.resync.Prefilter;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.resync.Signal;
import lady.resync.StructuralUndo;
import lady.torch.Torch;

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

    @Option(names = "--reference", required = true, description = "The reference (original) checkpoint.")
    Path reference;

    @Option(names = "--suspect", required = true, description = "The suspect checkpoint (permuted, maybe attacked).")
    Path suspect;

    @Option(names = "--out", description = "Write the resynced suspect here (same format as the suspect; a folder for a model folder).")
    Path out;

    @Option(names = "--report", description = "Write the JSON report here.")
    Path report;

    @Option(names = "--method", defaultValue = "assignment",
            description = "Matching: assignment (exact, always a permutation) or argmax (the paper). Default: ${DEFAULT-VALUE}.")
    Method method;

    @Option(names = "--groups", defaultValue = "all", description = "Groups to resync: all, or a comma list such as features.17.")
    String groups;

    @Option(names = "--secret", description = "The secret written by `lady permute`: enables Psi per group and overall.")
    Path secret;

    @Option(names = "--arch", description = "Architecture (default: inferred from the reference checkpoint).")
    String arch;

    @Mixin GraphOptions network;

    @Option(names = "--backend", defaultValue = "cpu", description = "Kernels: cpu, cuda or reference. Default: ${DEFAULT-VALUE}.")
    Backend backend;

    @Option(names = "--integrity-ratio", paramLabel = "R", defaultValue = "" + lady.paper.Paper.RESYNC_INTEGRITY_RATIO,
            description = "Integrity check: flag a matched neuron whose norm ratio (suspect / reference, over the group's "
                    + "median) lies outside [1/R, R] (default: ${DEFAULT-VALUE}, calibrated on the Table 1 attacks).")
    double integrityRatio;

    @Option(names = "--prefilter", defaultValue = "auto",
            description = "auto (large groups through random projections, checked to give the dense match, "
                    + "else dense), on or off. Default: ${DEFAULT-VALUE}.")
    Prefilter prefilter;

    @Option(names = "--margins", defaultValue = "exact",
            description = "Confidence margins of prefiltered groups: exact (as the dense path's: about one dense "
                    + "similarity product per group) or bound (the sketch's lower bounds, no dense product: for "
                    + "large models). Default: ${DEFAULT-VALUE}.")
    Margins margins;

    @Option(names = "--evidence", defaultValue = "all",
            description = "Weight evidence of the assignment: all (the producers' rows, the neurons' bias and batch-norm "
                    + "values, and, in a second pass, the consumers' columns; weighted by sqrt(values per neuron)) or "
                    + "producers (the paper's rows only). --method argmax always reads the producers' rows only. "
                    + "Default: ${DEFAULT-VALUE}.")
    EvidenceScope evidence;

    @Option(names = "--signal", defaultValue = "weights",
            description = "What neurons are compared by: weights (the paper: cosine of the producer rows) or "
                    + "activations (Pearson correlation of their outputs on the same --probe images of --data "
                    + "through both models). Default: ${DEFAULT-VALUE}.")
    Signal signal;

    @Option(names = "--data", description = "With --signal activations: the probe images' source (" + DataSource.SYNTAX
            + "); the first --probe test images are used.")
    String data;

    @Option(names = "--probe", paramLabel = "N", defaultValue = "" + ActivationSignal.DEFAULT_PROBE_IMAGES,
            description = "With --signal activations: number of probe images. Default: ${DEFAULT-VALUE}.")
    int probe;

    @Option(names = "--no-structural",
            description = "Skip the structural undo (merging split and dummy neurons, rescaling to the reference's norms).")
    boolean noStructural;

    @Mixin RunOptions run;

    @Override
    public Integer call() {
        double started = java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() / 1e3;
        try (OutputSet outs = new OutputSet()) {
            outs.input("--reference", reference).input("--suspect", suspect).input("--secret", secret)
                    .input("--graph", network.graph).input("--spec", network.specFile);
            Path outTmp = outs.like("--out", out, suspect);
            Path reportTmp = outs.file("--report", report);
            run(outTmp, reportTmp, started);
            outs.commit();
        }
        return 0;
    }

    private void run(Path outTmp, Path reportTmp, double started) {
        long t0 = System.nanoTime();
        Method m = method;
        Backend b = backend;
        Path graph = network.graph;
        Path specFile = network.specFile;
        StateDict ref = Checkpoints.read(reference);
        StateDict sus = Checkpoints.read(suspect);
        double readSeconds = (System.nanoTime() - t0) / 1e9;
        Path graphFile = Models.graphOf(reference, graph, arch, specFile);
        // the weight signal needs no network: libtorch is not loaded (an ONNX model's graph needs none either)
        var permSpec = Models.spec(ref, arch, specFile, graphFile);
        Signal sig = signal;
        ResyncOptions options = ResyncOptions.defaults().withMethod(m).withBackend(b)
                .withPrefilter(prefilter).withIntegrityRatio(integrityRatio).withMargins(margins)
                .withEvidence(evidence);
        if (sig == Signal.ACTIVATIONS) {
            if (data == null) {
                throw new LadyException(LadyException.Kind.USAGE, "--signal activations needs --data (the probe images: "
                        + DataSource.SYNTAX + ")");
            }
            if (graphFile != null || specFile != null) {
                throw new LadyException(LadyException.Kind.USAGE, "--signal activations runs the models, which Lady does "
                        + "for the networks it recognizes, not for ONNX models or a spec file; use --signal weights");
            }
            options = options.withSignalSource(activationSignal(ref, permSpec, b));
        } else if (data != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--data gives probe images for --signal activations; "
                    + "the weight signal needs none");
        }
        Set<String> selected = new LinkedHashSet<>(Permuter.select(permSpec, groups));
        Map<String, long[]> secretPerms = null;
        Secret s = secret == null ? null : Secret.read(secret);
        if (s != null && s.structure().isEmpty()) {
            secretPerms = Permuter.indices(s.permutations());
        }
        ProgressListener progress = run.progress();
        StructuralUndo.Result undo = null;
        if (!noStructural && specFile == null && graphFile == null) {
            undo = StructuralUndo.run(ref, sus, permSpec.architecture(), options.withGroups(selected), progress);
        } else if (!noStructural && !sameShapes(ref, sus)) {
            throw LadyException.invalidInput("the suspect's tensors differ from the reference's: undoing structural "
                    + "obfuscation is done for the networks Lady recognizes, not from a spec file or an ONNX graph");
        }
        ResyncReport r = ReferenceResync.run(ref, sus, permSpec, options.withGroups(selected), secretPerms, progress);
        Map<String, Double> structuralPsi = s == null || s.structure().isEmpty() ? null
                : StructuralUndo.psi(undo, r, s.structure());
        long t1 = System.nanoTime();
        if (outTmp != null) {
            Checkpoints.writeLike(outTmp, sus, suspect);
        }
        double writeSeconds = (System.nanoTime() - t1) / 1e9;
        if (reportTmp != null) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("tool", BuildInfo.describe());
            json.put("reference", reference.toString());
            json.put("suspect", suspect.toString());
            json.put("architecture", permSpec.architecture());
            json.put("backend", b);
            json.put("signal", sig.label());
            json.put("margins", options.margins().label());
            json.put("evidence", sig == Signal.ACTIVATIONS ? Signal.ACTIVATIONS.label() : options.effectiveEvidence().label());
            if (sig == Signal.ACTIVATIONS) {
                json.put("probe", Map.of("data", data, "images", probe));
            }
            json.putAll(r.toJson());
            if (undo != null) {
                json.put("structural", undo.toJson());
            }
            if (structuralPsi != null) {
                json.put("structural_psi", structuralPsi);
                json.put("structural_psi_overall", StructuralUndo.psiOverall(structuralPsi, r));
            }
            Map<String, Object> timings = new LinkedHashMap<>(); // where the process's time went
            timings.put("jvm_start_s", started);
            timings.put("read_s", readSeconds);
            if (undo != null) {
                timings.put("structural_s", undo.seconds());
            }
            timings.put("resync_s", r.seconds());
            timings.put("write_s", writeSeconds);
            json.put("timings", timings);
            AtomicFiles.writeString(reportTmp, Json.write(json) + "\n");
        }
        printSummary(spec.commandLine().getOut(), r);
        printStructural(spec.commandLine().getOut(), undo, structuralPsi == null ? null : StructuralUndo.psiOverall(structuralPsi, r));
        if (sig == Signal.ACTIVATIONS) {
            spec.commandLine().getOut().printf("signal activations: Pearson correlation over %d probe images of %s%n",
                    probe, data);
        }
    }

    /** The activation signal over the first --probe test images of --data (libtorch runs both networks). */
    private ActivationSignal activationSignal(StateDict ref, PermutationSpec permSpec, Backend b) {
        Torch.init();
        return new ActivationSignal(ref, arch, permSpec,
                BatchLoader.firstImages(DataSource.parse(data).test(), probe), b);
    }

    private static boolean sameShapes(StateDict a, StateDict b) {
        if (!a.names().equals(b.names())) {
            return false;
        }
        for (String n : a.names()) {
            if (!java.util.Arrays.equals(a.shape(n), b.shape(n))) {
                return false;
            }
        }
        return true;
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
        w.printf(java.util.Locale.ROOT, "structural undo: %s (%.2f s)%s%n", changed == 0 ? "nothing to undo"
                : changed + " group(s) changed", undo.seconds(),
                psi == null ? "" : String.format(java.util.Locale.ROOT, "; Psi against the secret's lineage %.2f %%", psi));
    }

    static void printSummary(PrintWriter w, ResyncReport r) {
        w.printf("%-22s %6s %8s %5s %10s %10s %6s %5s %6s %9s%n", "group", "size", "psi", "dup", "min_margin",
                "med_margin", "low", "zero", "flags", "max_ratio");
        for (GroupResult g : r.groups()) {
            w.printf("%-22s %6d %8s %5d %10.4f %10.4f %6d %5d %6d %9s%n", g.name(), g.size(),
                    g.psi() == null ? "-" : String.format("%.2f", g.psi()), g.duplicates(), g.minMargin(),
                    g.medianMargin(), g.lowMargin(), g.zeroRows(), g.integrityFlags().size(),
                    Double.isNaN(g.integrityMaxRatio()) ? "-" : String.format("%.3f", g.integrityMaxRatio()));
        }
        Double psi = r.psi();
        w.printf("method %s, %d groups, %.2f s%s%n", r.method().name().toLowerCase(java.util.Locale.ROOT), r.groups().size(),
                r.seconds(), psi == null ? "" : String.format(", Psi (neuron-weighted) %.2f %%", psi));
        w.println(r.verdict().summary());
    }

}
