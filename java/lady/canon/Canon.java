package lady.canon;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.model.Architecture;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Nesting;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.resync.ReferenceResync;
import lady.util.Text;

/**
 * Re-synchronization without the reference, by canonical order (method.md section 5): rank the
 * neurons of a group by a score that follows them under permutation (basic: weight sums; active:
 * responses to a learned input), sort them (native stable sort, score descending, ties by lower
 * index), and put the group in that order. A model and any permuted copy of it end up in the same
 * canonical order, so the owner stores the canonical order (or only the learned input) at embedding
 * time and aligns a suspect later without the original model.
 *
 * <p>Groups are addressed by name through the architecture's typed {@link PermutationSpec}
 * (chain groups are named after their producer module, e.g. "features.17"; ResNet: "stream.layer2",
 * "layer2.0.conv1").
 */
public final class Canon {
    private Canon() {}

    /** Basic ranking of {@code groups} of {@code state} ({@code arch} null: inferred from the checkpoint). */
    public static CanonicalOrder basic(StateDict state, String arch, List<String> groups) {
        return rank(state, arch, groups, RankingMethod.BASIC, null, ProgressListener.NONE);
    }

    /**
     * Ranks {@code groups} of {@code state}.
     *
     * @param active   active ranking's settings; ignored (may be null) for basic ranking
     * @param progress active ranking: one task per group (its optimizer steps)
     */
    public static CanonicalOrder rank(StateDict state, String arch, List<String> groups, RankingMethod method,
            ActiveConfig active, ProgressListener progress) {
        if (method == RankingMethod.ACTIVE && active == null) {
            throw new LadyException(LadyException.Kind.USAGE, "active ranking needs its settings (steps, seed)");
        }
        ModelConfig mc = Models.infer(state, arch);
        Architecture description = mc.description();
        PermutationSpec spec = description.permutationSpec();
        List<Group> selected = groups(spec, groups);
        Model model = null;
        if (method == RankingMethod.ACTIVE) {
            if (description.readsTokens()) {
                throw new LadyException(LadyException.Kind.USAGE, "active ranking learns an input image through the model, "
                        + "and " + mc.architecture() + " reads token ids; use --method basic");
            }
            model = mc.create();
            model.load(state);
        }
        List<LayerOrder> layers = new ArrayList<>();
        for (Group g : selected) {
            if (method == RankingMethod.BASIC) {
                layers.add(BasicRanking.rank(state, g));
            } else {
                String module = responseModule(description, g, active.authorsSlice());
                long[] shape = ActiveRanking.inputShape(description.inputChannels(), description.inputSize());
                ActiveRanking.Learned learned = ActiveRanking.learn(model, module, shape, active, progress);
                layers.add(new LayerOrder(g.name(), learned.scores(), order(learned.scores()),
                        new LayerOrder.ActiveInput(module, shape, learned.input(), learned.lossFirst(),
                                learned.lossLast())));
            }
        }
        return new CanonicalOrder(mc.architecture(), method,
                method == RankingMethod.ACTIVE ? active : null, layers, state.config());
    }

    /**
     * Ranks a suspect the way {@code saved} was made: the same groups and method; active ranking
     * uses the saved learned inputs (no learning). The suspect must have the saved architecture.
     */
    public static CanonicalOrder rerank(StateDict suspect, String arch, CanonicalOrder saved) {
        ModelConfig mc = Models.infer(suspect, arch != null ? arch : saved.architecture());
        if (!mc.architecture().equals(saved.architecture())) {
            throw LadyException.invalidInput("the suspect is a " + mc.architecture() + " but the canonical order was made for a "
                    + saved.architecture());
        }
        Architecture description = mc.description();
        PermutationSpec spec = description.permutationSpec();
        List<Group> selected = groups(spec, saved.layerNames());
        Model model = null;
        if (saved.method() == RankingMethod.ACTIVE) {
            model = mc.create();
            model.load(suspect);
        }
        List<LayerOrder> layers = new ArrayList<>();
        for (Group g : selected) {
            LayerOrder ref = saved.layer(g.name());
            if (ref.size() != g.size()) {
                throw LadyException.invalidInput("group '" + g.name() + "' has " + g.size() + " neurons in the suspect but "
                        + ref.size() + " in the canonical order");
            }
            if (saved.method() == RankingMethod.BASIC) {
                layers.add(BasicRanking.rank(suspect, g));
                continue;
            }
            LayerOrder.ActiveInput in = ref.active();
            float[] scores = ActiveRanking.scores(model, in.module(), in.input(), in.shape());
            if (scores.length != g.size()) {
                throw LadyException.invalidInput("module '" + in.module() + "' has " + scores.length
                        + " neurons but group '" + g.name() + "' has " + g.size());
            }
            layers.add(new LayerOrder(g.name(), scores, order(scores), ref.active()));
        }
        return new CanonicalOrder(saved.architecture(), saved.method(), saved.active(), layers, suspect.config());
    }

    /** A copy of {@code state} with every group of {@code order} put in canonical order (one native pass). */
    public static StateDict align(StateDict state, PermutationSpec spec, CanonicalOrder order) {
        return Permuter.apply(state, spec, alignment(spec, order), Backend.CPU);
    }

    /**
     * Puts every group of {@code order} in canonical order in {@code state} itself, lazily
     * ({@link Permuter#applyLazily}: index maps over the mapped checkpoint, gathered as the state is written): no
     * copy of the model, whatever its size. The same tensors as {@link #align}.
     */
    public static void alignLazily(StateDict state, PermutationSpec spec, CanonicalOrder order) {
        Permuter.applyLazily(state, spec, alignment(spec, order), Backend.CPU);
    }

    /** Per group, the permutation that puts it in canonical order. */
    private static Map<String, Permutation> alignment(PermutationSpec spec, CanonicalOrder order) {
        Map<String, Permutation> perms = new LinkedHashMap<>();
        sources(spec, order).forEach((group, source) -> perms.put(group, order.layer(source).order()));
        return perms;
    }

    /**
     * For every group of {@code order}, the group whose block the canonical alignment brings to its position: the
     * group itself, or for a nested group (the query heads of a KV head, its value dimensions) whose outer group is
     * aligned too, the sibling whose block the outer group's canonical order moves there ({@link
     * Nesting#sourceAfter}): every group is ranked on the model as it is, and {@link Permuter} applies a nested
     * group's permutation to the block at its position after the outer group's.
     *
     * @throws LadyException USAGE when such a sibling was not ranked
     */
    static Map<String, String> sources(PermutationSpec spec, CanonicalOrder order) {
        Map<String, long[]> own = new LinkedHashMap<>();
        for (LayerOrder l : order.layers()) {
            own.put(l.layer(), l.order().longIndices());
        }
        Nesting nesting = Nesting.of(spec);
        Map<String, String> sources = new LinkedHashMap<>();
        for (String group : own.keySet()) {
            String source = nesting.sourceAfter(group, own);
            if (!own.containsKey(source)) {
                throw new LadyException(LadyException.Kind.USAGE, "group " + Text.quote(group) + " is nested in "
                        + Text.quote(nesting.outer(group)) + ", whose order moves the block of " + Text.quote(source)
                        + " to its place: rank the nested groups together (e.g. --layer all)");
            }
            sources.put(group, source);
        }
        return sources;
    }

    /** The canonical order of scores: indices by score descending, ties by lower index (native stable sort). */
    public static Permutation order(float[] scores) {
        return Permutation.of(Kernels.sortDescending(Backend.CPU, scores));
    }

    /**
     * The resync match (method.md 2) that the two canonical orders give: the reference's k-th neuron is
     * played by the suspect's k-th, {@code match[reference.order[k]] = suspect.order[k]}.
     */
    public static long[] match(LayerOrder reference, LayerOrder suspect) {
        if (reference.size() != suspect.size()) {
            throw LadyException.invalidInput("group '" + reference.layer() + "': " + reference.size()
                    + " neurons in the reference order but " + suspect.size() + " in the suspect's");
        }
        long[] match = new long[reference.size()];
        for (int k = 0; k < match.length; k++) {
            match[reference.order().get(k)] = suspect.order().get(k);
        }
        return match;
    }

    /**
     * Psi_rank of one group (method.md 2 and 9): % of neurons whose position the canonical orders
     * recover, for a suspect made by applying {@code p} to the reference (null: not permuted, then
     * this is the position-wise agreement of the two orders).
     */
    public static double psi(LayerOrder reference, LayerOrder suspect, Permutation p) {
        Permutation secret = p != null ? p : Permutation.identity(reference.size());
        if (secret.size() != reference.size()) {
            throw LadyException.invalidInput("the secret's permutation for group " + Text.quote(reference.layer())
                    + " has " + secret.size() + " entries but the group has " + reference.size() + " neurons");
        }
        return ReferenceResync.psi(match(reference, suspect), secret.longIndices());
    }

    /** Psi_rank per group ({@code secret}: group -> p; a group without one counts as not permuted); no nested groups. */
    public static Map<String, Double> psi(CanonicalOrder reference, CanonicalOrder suspect,
            Map<String, Permutation> secret) {
        return psi(reference, suspect, secret, null);
    }

    /**
     * Psi_rank per group, for a suspect made by {@link Permuter#apply} of {@code secret} to the reference, as
     * {@link #psi(CanonicalOrder, CanonicalOrder, Map)}; with {@code spec}, a nested group is judged where the
     * alignment puts it: the reference's and the suspect's blocks that their outer groups' orders bring to its
     * position ({@link #sources}), under the secret of the suspect's block (the secret names a nested permutation
     * after the position it acts at).
     */
    public static Map<String, Double> psi(CanonicalOrder reference, CanonicalOrder suspect,
            Map<String, Permutation> secret, PermutationSpec spec) {
        Map<String, String> refSources = spec == null ? null : sources(spec, reference);
        Map<String, String> susSources = spec == null ? null : sources(spec, suspect);
        Map<String, Double> out = new LinkedHashMap<>();
        for (LayerOrder r : reference.layers()) {
            String refSource = spec == null ? r.layer() : refSources.getOrDefault(r.layer(), r.layer());
            String susSource = spec == null ? r.layer() : susSources.getOrDefault(r.layer(), r.layer());
            out.put(r.layer(), psi(reference.layer(refSource), suspect.layer(susSource),
                    secret == null ? null : secret.get(susSource)));
        }
        return out;
    }

    /** Psi over several groups, weighted by neurons (method.md 2). */
    public static double psiOverall(CanonicalOrder reference, Map<String, Double> psi) {
        double acc = 0;
        long n = 0;
        for (LayerOrder r : reference.layers()) {
            Double v = psi.get(r.layer());
            if (v != null) {
                acc += v * r.size();
                n += r.size();
            }
        }
        return n == 0 ? Double.NaN : acc / n;
    }

    /**
     * Basic ranking of {@code groups} of a network that only {@code spec} describes (an ONNX model's graph, a
     * spec file): no model is built.
     */
    public static CanonicalOrder rankBasic(StateDict state, PermutationSpec spec, List<String> groups) {
        List<LayerOrder> layers = new ArrayList<>();
        for (Group g : groups(spec, groups)) {
            layers.add(BasicRanking.rank(state, g));
        }
        return new CanonicalOrder(spec.architecture(), RankingMethod.BASIC, null, layers);
    }

    /**
     * Re-ranks a suspect that only {@code spec} describes the way {@code saved} (a basic ranking) was made.
     *
     * @throws LadyException USAGE for an active ranking (it runs the model); INVALID_INPUT when the architectures
     *                       or group sizes differ
     */
    public static CanonicalOrder rerankBasic(StateDict suspect, PermutationSpec spec, CanonicalOrder saved) {
        if (saved.method() != RankingMethod.BASIC) {
            throw new LadyException(LadyException.Kind.USAGE, "an active canonical order re-ranks the suspect by running "
                    + "it, which Lady does for the networks it recognizes, not for ONNX models or from a spec file alone");
        }
        if (!spec.architecture().equals(saved.architecture())) {
            throw LadyException.invalidInput("the suspect is a " + spec.architecture() + " but the canonical order was made "
                    + "for a " + saved.architecture());
        }
        CanonicalOrder sus = rankBasic(suspect, spec, saved.layerNames());
        for (LayerOrder l : sus.layers()) {
            if (l.size() != saved.layer(l.layer()).size()) {
                throw LadyException.invalidInput("group '" + l.layer() + "' has " + l.size() + " neurons in the suspect but "
                        + saved.layer(l.layer()).size() + " in the canonical order");
            }
        }
        return sus;
    }

    /** The named groups, validated, in spec (topological) order, each once. */
    static List<Group> groups(PermutationSpec spec, List<String> names) {
        if (names == null || names.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE, "no layer selected for the canonical order");
        }
        return Permuter.select(spec, String.join(",", names)).stream().map(n -> Permuter.group(spec, n)).toList();
    }

    /**
     * The module whose pre-activation responses active ranking uses for {@code g}: its first
     * producer; with {@code authorsSlice}, the next Conv2d / Linear of the chain after it (the authors'
     * off-by-one, method.md 10 item 6), which must have as many neurons.
     */
    static String responseModule(Architecture arch, Group g, boolean authorsSlice) {
        String weight = g.members(Role.PRODUCER_WEIGHT).stream().map(Member::tensor).findFirst()
                .orElseThrow(() -> new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "' has no producer"));
        String module = arch.producer(weight).name();
        if (!authorsSlice) {
            return module;
        }
        String next = arch.nextInChain(module);
        if (next == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the authors' slice needs a chain layer followed by another "
                    + "Conv2d or Linear layer; '" + g.name() + "' of " + arch.name() + " is not one");
        }
        long size = arch.producer(next).out(arch.graph());
        if (size != g.size()) {
            throw new LadyException(LadyException.Kind.USAGE, "the authors' slice reads '" + next + "' (" + size
                    + " neurons), which does not have the " + g.size() + " neurons of '" + g.name() + "'");
        }
        return next;
    }
}
