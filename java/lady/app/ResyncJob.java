package lady.app;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import lady.BuildInfo;
import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.BatchLoader;
import lady.data.DataSource;
import lady.io.AtomicFiles;
import lady.io.OutputSet;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.progress.ProgressListener;
import lady.resync.ActivationSignal;
import lady.resync.ReferenceResync;
import lady.resync.ResyncOptions;
import lady.resync.ResyncReport;
import lady.resync.Signal;
import lady.resync.StructuralUndo;
import lady.resync.VocabularyViews;
import lady.torch.Torch;
import lady.util.Text;

/**
 * {@code lady resync}: puts a suspect model's neurons back into the reference's order (after undoing structural
 * obfuscation, unless asked not to), writes the resynced suspect in its own format and the JSON report, all or
 * nothing.
 */
public final class ResyncJob {
    private ResyncJob() {}

    /**
     * A resync to make.
     *
     * @param reference  the reference checkpoint
     * @param suspect    the suspect checkpoint
     * @param out        resynced suspect to write, or null
     * @param report     JSON report to write, or null
     * @param arch       architecture, or null to infer it from the reference
     * @param graph      an ONNX graph giving the groups, or null
     * @param specFile   a spec file giving the groups, or null
     * @param groups     "all" or a comma-separated list of groups
     * @param secret     the secret of lady permute (or lady attack), or null
     * @param options    matching, backend, prefilter, margins, evidence, integrity ratio (groups and signal source are
     *                   set here)
     * @param signal     what neurons are compared by
     * @param data       with the activation signal: the probe images' source ({@link DataSource#SYNTAX}), else null
     * @param probe      with the activation signal: number of probe images
     * @param structural undo structural obfuscation first
     * @param jvmStarted seconds the process ran before the job (for the report's timings)
     */
    public record Request(Path reference, Path suspect, Path out, Path report, String arch, Path graph, Path specFile,
            String groups, Path secret, ResyncOptions options, Signal signal, String data, int probe,
            boolean structural, double jvmStarted) {}

    /**
     * A resync made.
     *
     * @param report        per group: Psi, margins, integrity; the verdict
     * @param undo          what the structural undo did, or null when it did not run
     * @param structuralPsi Psi against the secret's lineage (overall), or null without a structural secret
     * @param manifest      inputs, options, timings
     * @param leftOut       tensors of the reference left out of the comparison because the suspect does not hold them
     *                      (a tied head the reference saved: {@link #referenceOnly}); empty for none
     * @param borrowedConfig whether the suspect came without a configuration and was read with the reference's
     *                      ({@link Models#borrowConfig})
     * @param takenAsTheyAre groups outside --groups that order a selected group's evidence, taken in the suspect's
     *                      order ({@link lady.resync.EvidenceContext#orderingOutside}); empty for none
     * @param json          the whole report, as the JSON --report file holds it
     */
    public record Result(ResyncReport report, StructuralUndo.Result undo, Double structuralPsi, Manifest manifest,
            List<String> leftOut, boolean borrowedConfig, List<String> takenAsTheyAre, String vocabulary,
            Map<String, Object> json) {}

    /** What the report says when the suspect came without a configuration and was read with the reference's. */
    public static final String BORROWED_CONFIG = "none came with the suspect's weights: read with the reference's "
            + "config.json (heads, KV heads, head_dim, RoPE; widths from the suspect's shapes)";

    /** Runs the request; progress goes to {@code progress}. */
    public static Result run(Request r, ProgressListener progress) {
        ResyncOptions base = r.options();
        JobLog log = new JobLog("resync", progress).input("--reference", r.reference()).input("--suspect", r.suspect())
                .input("--secret", r.secret()).input("--graph", r.graph()).input("--spec", r.specFile())
                .option("arch", r.arch()).option("groups", r.groups()).option("method", base.method().name().toLowerCase(Locale.ROOT))
                .option("backend", base.backend().name().toLowerCase(Locale.ROOT)).option("signal", r.signal().label())
                .option("structural", r.structural());
        try (OutputSet outs = new OutputSet()) {
            outs.input("--reference", r.reference()).input("--suspect", r.suspect()).input("--secret", r.secret())
                    .input("--graph", r.graph()).input("--spec", r.specFile());
            Path outTmp = outs.like("--out", r.out(), r.suspect());
            Path reportTmp = outs.file("--report", r.report());
            Result result = run(r, outTmp, reportTmp, progress, log);
            outs.commit();
            return result;
        }
    }

    private static Result run(Request r, Path outTmp, Path reportTmp, ProgressListener progress, JobLog log) {
        long t0 = JobLog.now();
        Path specFile = r.specFile();
        StateDict ref = Checkpoints.read(r.reference());
        StateDict sus = Checkpoints.read(r.suspect());
        if (ref.hasSplitTensors() != sus.hasSplitTensors()) { // the same experts under other names and shapes
            throw LadyException.invalidInput("the " + (ref.hasSplitTensors() ? "reference" : "suspect") + " stores its "
                    + "experts fused (one tensor per layer and projection, transformers 5's layout) and the "
                    + (ref.hasSplitTensors() ? "suspect" : "reference") + " one tensor per expert; save both with one "
                    + "transformers version, so that they share a layout");
        }
        double readSeconds = (JobLog.now() - t0) / 1e9;
        Path graphFile = Models.graphOf(r.reference(), r.graph(), r.arch(), specFile);
        // the weight signal needs no network: libtorch is not loaded (an ONNX model's graph needs none either)
        PermutationSpec permSpec = Models.spec(ref, r.arch(), specFile, graphFile);
        List<String> referenceOnly = specFile == null && graphFile == null ? referenceOnly(permSpec, ref, sus) : List.of();
        if (!referenceOnly.isEmpty()) { // a tied lm_head.weight the reference's folder saved and the suspect's did not
            List<String> dropped = referenceOnly;
            StateDict kept = ref.select(ref.names().stream().filter(n -> !dropped.contains(n)).toList());
            try {
                permSpec = Models.spec(kept, r.arch(), null, null);
                ref = kept;
            } catch (LadyException e) { // not a network without them: refused below, by name, as any other mismatch
                referenceOnly = List.of();
            }
        }
        log.stage("read", t0, "read " + r.reference() + " and " + r.suspect());
        // the network Lady recognizes in the reference (null: a spec file or an ONNX graph describes it)
        lady.model.Architecture recognized = specFile == null && graphFile == null
                ? Models.infer(ref, permSpec.architecture()).description() : null;
        Signal sig = r.signal();
        ResyncOptions options = r.options();
        if (sig == Signal.ACTIVATIONS) {
            if (r.data() == null) {
                throw new LadyException(LadyException.Kind.USAGE, "--signal activations needs --data (the probe images: "
                        + DataSource.SYNTAX + ")");
            }
            if (graphFile != null || specFile != null) {
                throw new LadyException(LadyException.Kind.USAGE, "--signal activations runs the models, which Lady does "
                        + "for the networks it recognizes, not for ONNX models or a spec file; use --signal weights");
            }
            if (recognized.readsTokens()) {
                throw new LadyException(LadyException.Kind.USAGE, "--signal activations runs the images of --data through "
                        + "both models, and " + permSpec.architecture() + " reads token ids; use --signal weights");
            }
            Torch.init();
            options = options.withSignalSource(new ActivationSignal(ref, r.arch(), permSpec,
                    BatchLoader.firstImages(DataSource.parse(r.data()).test(), r.probe()), options.backend()));
        } else if (r.data() != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--data gives probe images for --signal activations; "
                    + "the weight signal needs none");
        }
        Set<String> selected = new LinkedHashSet<>(Permuter.select(permSpec, r.groups()));
        Map<String, long[]> secretPerms = null;
        Secret s = r.secret() == null ? null : Secret.read(r.secret());
        if (s != null && s.structure().isEmpty()) {
            secretPerms = Permuter.indices(s.permutations());
        }
        boolean borrowedConfig = specFile == null && graphFile == null
                && Models.borrowConfig(sus, ref, permSpec.architecture());
        boolean suspectOnly = specFile == null && graphFile == null && requireSameGroups(permSpec, ref, sus);
        // a language model with another vocabulary (tokens added, trimmed, reordered): compared on the tokens both have
        VocabularyViews vocabulary = recognized == null ? null
                : VocabularyViews.narrow(ref, sus, recognized.vocabularyTensors());
        StateDict compared = vocabulary == null ? ref : vocabulary.reference();
        StructuralUndo.Result undo = null;
        lady.onnx.OnnxModel onnxSuspect = null; // a widened ONNX suspect, read again with its graph
        if (r.structural() && specFile == null && graphFile == null) {
            undo = StructuralUndo.run(compared, sus, permSpec.architecture(), options.withGroups(selected), progress);
        } else if (r.structural() && !sameShapes(ref, sus)) {
            if (specFile != null || Checkpoints.formatOf(r.suspect()) != Checkpoints.Format.ONNX) {
                throw LadyException.invalidInput("the suspect's tensors differ from the reference's: undoing structural "
                        + "obfuscation is done for the networks Lady recognizes and for ONNX models (the suspect an ONNX "
                        + "file too), not from a spec file");
            }
            onnxSuspect = lady.onnx.Onnx.read(r.suspect());
            undo = onnxUndo(compared, sus, graphFile, onnxSuspect, permSpec, outTmp != null, options.withGroups(selected),
                    progress);
        }
        // tensors only the suspect holds (a saved tied lm_head) move with their groups: its own spec, after the undo
        PermutationSpec suspectSpec = suspectOnly ? Models.infer(sus, permSpec.architecture()).description().permutationSpec()
                : permSpec;
        ResyncReport report = ReferenceResync.run(compared, sus, permSpec, suspectSpec, options.withGroups(selected),
                secretPerms, progress);
        if (vocabulary != null) {
            vocabulary.restore(sus);
            vocabulary.checkRows(ref, sus); // whether the compared rows held the same tokens, in the restored order
        } else if (!report.verdict().derived() && (undo == null || !undo.changed())
                && selected.size() == permSpec.groups().size()) {
            // an exact copy of a network of small groups: the test alone may not call it derived, its identity does
            report = report.withVerdict(report.verdict().withIdentity(lady.resync.Verdict.identity(ref, sus)));
        }
        Map<String, Double> structuralPsi = s == null || s.structure().isEmpty() ? null
                : StructuralUndo.psi(undo, report, s.structure(), permSpec);
        long t1 = JobLog.now();
        if (outTmp != null && onnxSuspect != null) { // its own graph with the restored widths
            lady.onnx.Onnx.write(outTmp, onnxSuspect, sus, true);
        } else if (outTmp != null) {
            Checkpoints.writeLike(outTmp, sus, r.suspect());
        }
        double writeSeconds = (JobLog.now() - t1) / 1e9;
        log.stage("write", t1, "wrote " + (r.out() == null ? "nothing" : r.out() + Checkpoints.leftOutNote(r.suspect())));
        Map<String, Object> json = new LinkedHashMap<>(); // the report: the --report file, or standard output as JSON
        json.put("tool", BuildInfo.describe());
        json.put("reference", r.reference().toString());
        json.put("suspect", r.suspect().toString());
        json.put("architecture", permSpec.architecture());
        json.put("backend", options.backend());
        json.put("signal", sig.label());
        json.put("margins", report.margins().label()); // with margins_mode etc. below (report.toJson())
        json.put("evidence", sig == Signal.ACTIVATIONS ? Signal.ACTIVATIONS.label() : options.effectiveEvidence().label());
        if (sig == Signal.ACTIVATIONS) {
            json.put("probe", Map.of("data", r.data(), "images", r.probe()));
        }
        json.putAll(report.toJson());
        if (undo != null) {
            json.put("structural", undo.toJson());
        }
        if (!referenceOnly.isEmpty()) {
            json.put("left_out_of_comparison", referenceOnly);
        }
        if (borrowedConfig) {
            json.put("suspect_config", BORROWED_CONFIG);
        }
        if (vocabulary != null && vocabulary.notable()) {
            json.put("vocabulary", vocabulary.toJson());
        }
        List<String> outside = lady.resync.EvidenceContext.orderingOutside(permSpec, selected);
        if (!outside.isEmpty()) {
            json.put("taken_as_they_are", outside);
        }
        if (structuralPsi != null) {
            json.put("structural_psi", structuralPsi);
            json.put("structural_psi_overall", StructuralUndo.psiOverall(structuralPsi, report));
        }
        Map<String, Object> timings = new LinkedHashMap<>(); // where the process's time went
        timings.put("jvm_start_s", r.jvmStarted());
        timings.put("read_s", readSeconds);
        if (undo != null) {
            timings.put("structural_s", undo.seconds());
        }
        timings.put("resync_s", report.seconds());
        timings.put("write_s", writeSeconds);
        json.put("timings", timings);
        if (reportTmp != null) {
            AtomicFiles.writeString(reportTmp, ResyncReportFile.render(ResyncReportFile.Format.of(r.report()), json, report));
        }
        return new Result(report, undo, structuralPsi == null ? null : StructuralUndo.psiOverall(structuralPsi, report),
                log.manifest(), referenceOnly, borrowedConfig, outside,
                vocabulary == null ? null : vocabulary.describe("the reference", "compared"), json);
    }

    /**
     * The structural undo of an ONNX suspect whose widths differ from its ONNX reference's: each network's groups from
     * its own graph ({@link lady.onnx.OnnxGraph}), the same groups by name moving the same tensors. Refused, with the
     * reason, for graphs whose groups sit at offsets of their tensors (concatenations: a graph read from a file cannot
     * follow them through a change of width), and, when the restored suspect is to be written ({@code writes}), for a
     * suspect whose integer constants (the shapes its Reshapes read) differ from the reference's: Lady rewrites
     * initializers, not the graph.
     */
    private static StructuralUndo.Result onnxUndo(StateDict ref, StateDict sus, Path referenceGraph,
            lady.onnx.OnnxModel suspect, PermutationSpec permSpec, boolean writes, ResyncOptions options,
            ProgressListener progress) {
        lady.onnx.OnnxGraph susGraph = lady.onnx.OnnxGraph.of(suspect);
        PermutationSpec susSpec = susGraph.spec(Models.shapes(sus));
        requireSameGroups(permSpec, ref, susSpec);
        if (lady.structure.NetworkView.hasOffsets(permSpec) || lady.structure.NetworkView.hasOffsets(susSpec)) {
            throw LadyException.invalidInput("the suspect's widths differ from the reference's, and this ONNX graph's "
                    + "groups sit at offsets of their tensors (a concatenation), which Lady does not follow through a "
                    + "change of width; export both with the same widths, or compare the model's own PyTorch checkpoint if "
                    + "Lady recognizes its network");
        }
        lady.onnx.OnnxModel reference = lady.onnx.Onnx.read(referenceGraph);
        String constant = writes ? lady.onnx.Onnx.differingShapeConstant(suspect, reference) : null;
        if (constant != null) {
            throw LadyException.invalidInput("the suspect's graph holds integer constants the reference's does not (e.g. "
                    + Text.quote(constant) + ", shapes its widened layers may read): Lady rewrites an ONNX model's "
                    + "initializers, not its graph; run without --out for the report and the verdict");
        }
        return StructuralUndo.run(ref, sus, lady.structure.NetworkView.of(lady.onnx.OnnxGraph.of(reference).graph(),
                permSpec), lady.structure.NetworkView.of(susGraph.graph(), susSpec), options, progress);
    }

    /**
     * Refuses a suspect of another network than the reference's (a Hugging Face folder with another layer count, Qwen2's
     * q/k/v biases against a Llama without): the suspect's groups, read from its own names and shapes as the
     * reference's architecture, must move the same tensors along the same axes (widths may differ: structural
     * obfuscation), except tensors the reference does not hold at all (a tied lm_head.weight the suspect's folder
     * saved and the reference's did not), which move with their group. Else the resync would align the reference's
     * groups and leave the suspect's other tensors in its own order: an output that computes nothing.
     *
     * @return whether the suspect's groups move tensors the reference does not hold
     */
    static boolean requireSameGroups(PermutationSpec reference, StateDict referenceState, StateDict suspect) {
        PermutationSpec s;
        try {
            s = Models.infer(suspect, reference.architecture()).description().permutationSpec();
        } catch (LadyException e) {
            throw new LadyException(e.kind(), "the suspect is not a " + reference.architecture() + " like the reference: "
                    + e.getMessage(), e);
        }
        return requireSameGroups(reference, referenceState, s);
    }

    /**
     * As {@link #requireSameGroups(PermutationSpec, StateDict, StateDict)} with the suspect's groups {@code s} (an ONNX
     * suspect's, from its own graph).
     */
    static boolean requireSameGroups(PermutationSpec reference, StateDict referenceState, PermutationSpec s) {
        Map<String, Group> theirs = new LinkedHashMap<>();
        s.groups().forEach(g -> theirs.put(g.name(), g));
        List<String> missing = new ArrayList<>();
        boolean suspectOnly = false;
        for (Group g : reference.groups()) {
            Group o = theirs.remove(g.name());
            if (o == null) {
                missing.add(g.name());
                continue;
            }
            Set<String> a = moved(g);
            Set<String> b = moved(o);
            for (Member m : o.members()) { // a tensor the reference lacks: carried with the group
                if (!referenceState.contains(m.tensor())) {
                    suspectOnly |= b.remove(key(m));
                }
            }
            if (!a.equals(b)) {
                Set<String> onlyA = new TreeSet<>(a);
                onlyA.removeAll(b);
                Set<String> onlyB = new TreeSet<>(b);
                onlyB.removeAll(a);
                throw LadyException.invalidInput("the suspect is not the reference's network: group '" + g.name() + "' moves "
                        + (onlyB.isEmpty() ? "" : Text.list(List.copyOf(onlyB), Text.NAMES_SHOWN) + " in the suspect only")
                        + (onlyA.isEmpty() || onlyB.isEmpty() ? "" : ", and ")
                        + (onlyA.isEmpty() ? "" : Text.list(List.copyOf(onlyA), Text.NAMES_SHOWN) + " in the reference only"));
            }
        }
        if (!missing.isEmpty() || !theirs.isEmpty()) {
            throw LadyException.invalidInput("the suspect is not the reference's network: "
                    + (theirs.isEmpty() ? "" : "groups only the suspect has: " + Text.list(List.copyOf(theirs.keySet()), Text.NAMES_SHOWN))
                    + (theirs.isEmpty() || missing.isEmpty() ? "" : "; ")
                    + (missing.isEmpty() ? "" : "groups only the reference has: " + Text.list(missing, Text.NAMES_SHOWN)));
        }
        return suspectOnly;
    }

    /**
     * Tensors that members of the reference's groups move, that the suspect does not hold at all, and that are a
     * saved tie: bit for bit another tensor of the reference that the suspect holds (a tied lm_head.weight the
     * reference's folder saved beside its embedding, and the suspect's did not). The suspect cannot be compared on
     * them, and loses nothing without them; the resync reads the reference without them. Other tensors the suspect
     * lacks are a mismatch ({@link #requireSameGroups}).
     */
    static List<String> referenceOnly(PermutationSpec reference, StateDict referenceState, StateDict suspect) {
        Set<String> out = new TreeSet<>();
        for (Group g : reference.groups()) {
            for (Member m : g.members()) {
                String name = m.tensor();
                if (referenceState.contains(name) && !suspect.contains(name) && !out.contains(name)
                        && savedTie(name, referenceState, suspect)) {
                    out.add(name);
                }
            }
        }
        return List.copyOf(out);
    }

    /** Whether tensor {@code name} of {@code state} equals, bit for bit, another of its tensors that {@code other} holds. */
    private static boolean savedTie(String name, StateDict state, StateDict other) {
        for (String n : state.names()) {
            if (!n.equals(name) && other.contains(n) && java.util.Arrays.equals(state.shape(n), state.shape(name))
                    && state.get(n).sameContent(state.get(name))) {
                return true;
            }
        }
        return false;
    }

    /** A group's members as tensor and axis (widths and offsets left out: structural edits change them). */
    private static Set<String> moved(Group g) {
        Set<String> out = new TreeSet<>();
        g.members().forEach(m -> out.add(key(m)));
        return out;
    }

    private static String key(Member m) {
        return m.tensor() + " axis " + m.axis();
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
}
