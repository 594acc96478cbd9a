package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.BuildInfo;
import lady.LadyException;
import lady.io.OutputSet;
import lady.canon.ActiveConfig;
import lady.canon.Canon;
import lady.canon.CanonicalOrder;
import lady.canon.LayerOrder;
import lady.canon.NormalForm;
import lady.canon.RankingMethod;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.report.Json;
import lady.resync.VocabularyViews;

/** {@code lady canon}: reference-free resync by canonical order (method.md 5). */
@Command(name = "canon", mixinStandardHelpOptions = true,
        description = {"Re-synchronization without the reference, by canonical order (method.md 5).",
                "Rank:  lady canon --model m.pt --layer features.17 --method basic|active",
                "       --out canon.json saves each group's canonical order (scores, order;",
                "       active: the learned input).",
                "Align: lady canon --model suspect.pt --from canon.json --out aligned.pt",
                "       re-ranks the suspect the same way (active: with the saved input) and",
                "       writes it in canonical order: a model and any permuted copy give the",
                "       same aligned model.",
                "Normal form: lady canon --model m.pt --normal-form --out nf.pt",
                "       [--compare owner-nf.pt] merges parallel neurons, drops those that",
                "       do nothing, rescales every neuron (unit rows, standardized batch",
                "       norms), sorts each group canonically: a model and its copies",
                "       obfuscated by rescaling, dummy neurons, splits and permutations",
                "       have the same normal form; --compare says whether it is the",
                "       owner's."})
final class CanonCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    /** The checkpoint to rank (or, with --from, the suspect to align). */
    @Mixin ModelInput input;

    @Option(names = "--layer", paramLabel = "GROUPS",
            description = "Groups to rank: all, or names such as features.17,classifier.0 (not with --from).")
    String layer;

    @Option(names = "--method", defaultValue = "basic", paramLabel = "METHOD",
            description = "basic (signed weight sums) or active (learned input) (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--from", paramLabel = "FILE", description = "A canonical order saved by lady canon: align --model with it.")
    Path from;

    @Option(names = "--out", required = true, paramLabel = "FILE",
            description = "Canonical order to write (JSON); with --from, the aligned checkpoint (input's format).")
    Path out;

    @Option(names = "--normal-form", description = "Write the normal form of --model (a checkpoint) to --out.")
    boolean normalForm;

    @Option(names = "--compare", paramLabel = "FILE",
            description = "With --normal-form: a normal form written before (the owner's); say whether the two are the same network.")
    Path compare;

    @Option(names = "--order", paramLabel = "FILE", description = "With --from: also save the suspect's canonical order.")
    Path order;

    @Option(names = "--secret", paramLabel = "FILE",
            description = "With --from: a lady permute secret of the suspect, to report Psi_rank per group.")
    Path secret;

    @Option(names = "--steps", paramLabel = "N",
            description = "Active ranking: optimizer steps (default: the paper's " + Paper.ACTIVE_STEPS + ").")
    Integer steps;

    /** Active ranking: the seed of the initial input. */
    @Mixin SeedOption seed;

    @Option(names = "--authors-slice", description = "Active ranking: take the responses one layer later, as the "
            + "authors' script does (method.md 10, item 6: an off-by-one, for comparison only).")
    boolean authorsSlice;

    @Option(names = "--graph", paramLabel = "FILE", description = CliFiles.GRAPH_HELP + " Basic ranking only.")
    Path graph;

    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", input.model).input("--from", from).input("--secret", secret).input("--graph", graph);
            if (normalForm) {
                return normalForm(outs);
            }
            if (compare != null) {
                throw new LadyException(LadyException.Kind.USAGE, "--compare goes with --normal-form");
            }
            return from == null ? rank(outs) : align(outs);
        }
    }

    private int normalForm(OutputSet outs) {
        if (from != null || layer != null || order != null || secret != null || steps != null || authorsSlice
                || !"basic".equals(method)) {
            throw new LadyException(LadyException.Kind.USAGE, "--normal-form takes --model, --out, --compare and --arch only");
        }
        outs.input("--compare", compare);
        Path outTmp = outs.like("--out", out, input.model);
        StateDict state = Checkpoints.read(input.model);
        StateDict owner = compare == null ? null : Checkpoints.read(compare);
        long t0 = System.nanoTime();
        NormalForm.Result nf = NormalForm.of(state, input.arch, run.progress());
        double seconds = (System.nanoTime() - t0) / 1e9;
        Checkpoints.writeLike(outTmp, nf.state(), input.model);
        NormalForm.Comparison cmp = owner == null ? null : NormalForm.compare(owner, nf.state(), nf.architecture(),
                run.progress());
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("tool", BuildInfo.describe());
            o.put("model", input.model.toString());
            o.put("architecture", nf.architecture());
            o.put("out", out.toString());
            o.put("seconds", seconds);
            o.put("groups", nf.groups().stream().map(NormalForm.GroupReport::toJson).toList());
            if (owner != null) {
                o.put("compare", compare.toString());
                o.put("same_shapes", cmp.sameShapes());
                o.put("max_relative_diff", cmp.sameShapes() ? cmp.maxRelativeDiff() : null);
                o.put("limit", cmp.limit());
                o.put("aligned_neurons", cmp.tradedNeurons());
                o.put("aligned_groups", cmp.tradedGroups());
                o.put("same_network", cmp.same());
            }
            w.println(Json.write(o));
        } else {
            w.printf(Locale.ROOT, "%s (%s): normal form of %d group(s) in %.2f s -> %s%n", input.model, nf.architecture(),
                    nf.groups().size(), seconds, out);
            for (NormalForm.GroupReport g : nf.groups()) {
                w.printf(Locale.ROOT, "  %-16s %5d -> %5d neurons, %d cluster(s) merged, %d dropped%s%n", g.group(),
                        g.sizeBefore(), g.size(), g.mergedClusters(), g.droppedNeurons(), g.rescaled() ? "" : ", scale kept");
            }
            if (owner != null) {
                String aligned = cmp.tradedNeurons() == 0 ? "" : String.format(Locale.ROOT, " after aligning %d neuron(s) "
                        + "in %d group(s) (canonical scores within rounding trade places)", cmp.tradedNeurons(),
                        cmp.tradedGroups());
                w.printf(Locale.ROOT, "compared with %s: %s%n", compare, !cmp.sameShapes() ? "different tensors or shapes: "
                        + "not the same network" : String.format(Locale.ROOT, "largest relative difference %.3g%s: %s",
                                cmp.maxRelativeDiff(), aligned, cmp.same() ? "the same network"
                                        : String.format(Locale.ROOT, "not the same network (limit %.3g)", cmp.limit())));
            }
        }
        outs.commit();
        w.flush();
        return 0;
    }

    private int rank(OutputSet outs) {
        if (order != null || secret != null) {
            throw new LadyException(LadyException.Kind.USAGE, "--order and --secret go with --from");
        }
        RankingMethod m = RankingMethod.parse(method);
        ActiveConfig active = null;
        if (m == RankingMethod.ACTIVE) {
            active = ActiveConfig.paper(seed.seed).withAuthorsSlice(authorsSlice);
            if (steps != null) {
                active = active.withSteps(steps);
            }
        } else if (steps != null || authorsSlice) {
            throw new LadyException(LadyException.Kind.USAGE, "--steps and --authors-slice are for --method active");
        }
        Path outTmp = outs.file("--out", out);
        StateDict state = Checkpoints.read(input.model);
        Path graphFile = Models.graphOf(input.model, graph, input.arch, null);
        if (graphFile != null && m == RankingMethod.ACTIVE) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking learns an input through the model, which Lady "
                    + "runs for the networks it recognizes, not for ONNX models; use --method basic");
        }
        PermutationSpec ps = spec(state, graphFile);
        if (layer == null) { // named after this model's own groups
            throw new LadyException(LadyException.Kind.USAGE, "--layer is required to rank: all, or groups of this model"
                    + (ps.groups().isEmpty() ? "" : " such as " + ps.groups().get(ps.groups().size() / 2).name())
                    + " (lady spec lists them)");
        }
        List<String> groups = Permuter.select(ps, layer);
        long t0 = System.nanoTime();
        CanonicalOrder canon = graphFile != null ? Canon.rankBasic(state, ps, groups)
                : Canon.rank(state, input.arch, groups, m, active, run.progress());
        double seconds = (System.nanoTime() - t0) / 1e9;
        canon.write(outTmp);
        outs.commit();
        report(canon, null, seconds, out.toString());
        return 0;
    }

    private int align(OutputSet outs) {
        if (layer != null || steps != null || authorsSlice || !"basic".equals(method)) {
            throw new LadyException(LadyException.Kind.USAGE,
                    "with --from the groups, method and settings come from the saved file: drop --layer, --method, "
                            + "--steps and --authors-slice");
        }
        Path outTmp = outs.like("--out", out, input.model);
        Path orderTmp = outs.file("--order", order);
        CanonicalOrder saved = CanonicalOrder.read(from);
        // the secret is read (and checked) before anything is written
        Map<String, Permutation> perms = secret == null ? null : Secret.read(secret).permutations();
        StateDict suspect = Checkpoints.read(input.model);
        long t0 = System.nanoTime();
        Path graphFile = Models.graphOf(input.model, graph, input.arch, null);
        if (graphFile == null && Models.borrowConfig(suspect, saved.config(), input.arch != null ? input.arch
                : saved.architecture())) {
            spec.commandLine().getErr().println("lady canon: " + input.model + " came without config.json: read with the "
                    + "configuration saved in " + from + " (heads, KV heads, head_dim, RoPE; widths from its shapes)");
        }
        PermutationSpec ps = spec(suspect, graphFile);
        // a language model with tokens added (a fine-tune's) is ranked on the tokens of the order's model
        Object savedVocabulary = saved.config() == null ? null : saved.config().get(VocabularyViews.VOCABULARY_SIZE);
        VocabularyViews vocabulary = graphFile != null || !(savedVocabulary instanceof Number v) ? null
                : VocabularyViews.narrow(v.longValue(), suspect, Models.infer(suspect, input.arch != null ? input.arch
                        : saved.architecture()).description().vocabularyTensors(), from.toString());
        CanonicalOrder sus = graphFile != null ? Canon.rerankBasic(suspect, ps, saved) : Canon.rerank(suspect, input.arch, saved);
        Canon.alignLazily(suspect, ps, sus); // the bytes move as the model is written: no copy of it
        if (vocabulary != null) {
            vocabulary.restore(suspect);
            spec.commandLine().getErr().println("lady canon: " + vocabulary.describe("the order's model", "ranked"));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> psi = perms == null ? null : Canon.psi(saved, sus, perms, ps);
        Checkpoints.writeLike(outTmp, suspect, input.model);
        if (orderTmp != null) {
            sus.write(orderTmp);
        }
        outs.commit();
        report(sus, psi, seconds, out.toString());
        return 0;
    }

    private PermutationSpec spec(StateDict state, Path graphFile) {
        return graphFile != null ? Models.spec(state, null, null, graphFile) : Models.infer(state, input.arch).description().permutationSpec();
    }

    private void report(CanonicalOrder c, Map<String, Double> psi, double seconds, String written) {
        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("tool", BuildInfo.describe());
            o.put("model", input.model.toString());
            o.put("from", from == null ? null : from.toString());
            o.put("architecture", c.architecture());
            o.put("method", c.method().id());
            o.put("seed", c.seed());
            o.put("out", written);
            o.put("seconds", seconds);
            List<Object> ls = new ArrayList<>();
            for (LayerOrder l : c.layers()) {
                ls.add(summary(l, psi));
            }
            o.put("layers", ls);
            if (psi != null) {
                o.put("psi", Canon.psiOverall(c, psi));
            }
            w.println(Json.write(o));
        } else {
            w.printf(Locale.ROOT, "%s (%s): %s ranking of %d group(s) in %.2f s -> %s%n", input.model, c.architecture(),
                    c.method().id(), c.layers().size(), seconds, written);
            for (LayerOrder l : c.layers()) {
                w.printf(Locale.ROOT, "  %-16s %5d neurons, %d tie(s), min gap %.4g", l.layer(), l.size(), l.ties(),
                        l.size() < 2 ? Double.NaN : l.minGap());
                if (l.active() != null && from == null) {
                    w.printf(Locale.ROOT, ", loss %.4g -> %.4g (%s)", l.active().lossFirst(), l.active().lossLast(),
                            l.active().module());
                }
                if (psi != null) {
                    w.printf(Locale.ROOT, ", Psi_rank %.2f %%", psi.get(l.layer()));
                }
                w.println();
            }
            if (psi != null) {
                w.printf(Locale.ROOT, "Psi_rank over the groups: %.2f %%%n", Canon.psiOverall(c, psi));
            }
        }
        w.flush();
    }

    private static Map<String, Object> summary(LayerOrder l, Map<String, Double> psi) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", l.layer());
        m.put("size", l.size());
        m.put("ties", l.ties());
        m.put("min_gap", l.size() < 2 ? null : l.minGap());
        if (l.active() != null) {
            m.put("module", l.active().module());
            m.put("loss_first", l.active().lossFirst());
            m.put("loss_last", l.active().lossLast());
        }
        if (psi != null) {
            m.put("psi", psi.get(l.layer()));
        }
        m.put("order", l.order().toJson());
        return m;
    }
}
