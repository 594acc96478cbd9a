package lady.attack;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.permutation.Group;
import lady.permutation.Lineage;
import lady.permutation.Permutation;
import lady.permutation.Permuter;
import lady.structure.NetworkView;
import lady.structure.NeuronScaling;
import lady.structure.Widening;
import lady.util.Seeds;

/**
 * The steps of the structural attacks (neural structural obfuscation, Yan et al., USENIX Security 2023),
 * each on every selected group of the current network ({@link AttackContext#groups()}, every group by
 * default), each recording what it did in the chain's {@link Lineages}: rescaling, dummy pairs, splits and
 * a permutation. Widths change, so each step reads the network afresh from the state dict.
 */
final class StructuralAttacks {
    private StructuralAttacks() {}

    /** A split leaves each part at least this share of the outgoing weights (shares drawn in [min, 1 - min]). */
    static final double SPLIT_SHARE_MIN = 0.1;

    /** What the steps of one attack did, summed for its result. */
    static final class Tally {
        final Set<String> tensors = new LinkedHashSet<>();
        final Map<String, Object> details = new LinkedHashMap<>();
        /** Per group: neurons before the first step, after the last. */
        private final Map<String, int[]> widths = new LinkedHashMap<>();

        /** Per step: groups the graph does not let it change (every group selected), and the first one's reason. */
        private final Map<String, List<String>> skipped = new LinkedHashMap<>();
        private final Map<String, String> firstReason = new LinkedHashMap<>();

        void skipped(String step, String group, String reason) {
            skipped.computeIfAbsent(step, k -> new ArrayList<>()).add(group);
            firstReason.putIfAbsent(step, "'" + group + "': " + reason);
        }

        void widths(String group, int b, int a) {
            widths.computeIfAbsent(group, k -> new int[] {b, a})[1] = a;
        }

        AttackResult result(String spec) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("groups", widths.size());
            d.put("neurons_before", widths.values().stream().mapToLong(w -> w[0]).sum());
            d.put("neurons_after", widths.values().stream().mapToLong(w -> w[1]).sum());
            d.putAll(details);
            skipped.forEach((step, groups) -> {
                d.put(step + "_skipped_groups", groups.size());
                d.put(step + "_skipped_because", firstReason.get(step) + (groups.size() > 1 ? " (and " + (groups.size() - 1)
                        + " more)" : ""));
            });
            return new AttackResult(spec, new ArrayList<>(tensors), d);
        }
    }

    /** The selected groups of {@code view}, in topological order. */
    static List<String> groups(NetworkView view, AttackContext ctx) {
        if (ctx.groups().isEmpty()) {
            return view.spec().groups().stream().map(Group::name).toList();
        }
        return Permuter.select(view.spec(), String.join(",", ctx.groups()));
    }

    /**
     * The selected groups a step can change ({@code allowed}): with every group selected (the default), those
     * whose graph allows it, the others counted in the tally with the first one's reason (a MobileNetV3's
     * depthwise convolutions take no extra neurons, a ViT's GELU no rescaling); with groups named by the
     * user, all of them, each refused with its reason by the step itself.
     */
    static List<String> groups(NetworkView view, AttackContext ctx, String step,
            java.util.function.Predicate<lady.graph.StructuralRules.Rule> allowed,
            java.util.function.Function<lady.graph.StructuralRules.Rule, String> refusal, Tally t) {
        List<String> names = groups(view, ctx);
        if (!ctx.groups().isEmpty()) {
            return names;
        }
        List<String> kept = new ArrayList<>();
        for (String g : names) {
            lady.graph.StructuralRules.Rule r = view.rule(g);
            if (allowed.test(r)) {
                kept.add(g);
            } else {
                t.skipped(step, g, refusal.apply(r));
            }
        }
        return kept;
    }

    static NetworkView view(StateDict state, AttackContext ctx) {
        return ctx.views() != null ? ctx.views().apply(state) : NetworkView.of(state, ctx.architecture());
    }

    /**
     * The structural edits hold about this many float32 copies of the model (its groups' tensors, rebuilt in native
     * memory): nso on 2 layers of Llama-3-8B width (1.5 G parameters, bfloat16) peaked at 5.6 GB of anonymous memory.
     */
    static final double FLOAT32_COPIES = 1;

    /**
     * Refuses, with the sizes, a structural attack on a model whose edits would not fit the machine's available memory
     * (a bfloat16 7B model on 24 GB): the system would kill the process without a word.
     */
    static void requireMemory(StateDict state) {
        long parameters = state.numel();
        lady.util.Memory.require(FLOAT32_COPIES * 4.0 * parameters, parameters, "the structural attacks rewrite the "
                + "model's groups in float32", "attack a smaller model, or on a machine with more memory");
    }

    /** Every neuron of every selected group rescaled by a factor log-uniform in [1/range, range]. */
    static void scale(StateDict state, AttackContext ctx, double range, long seed, Tally t) {
        NetworkView view = view(state, ctx);
        List<String> names = groups(view, ctx, "scale", lady.graph.StructuralRules.Rule::canScale,
                lady.graph.StructuralRules.Rule::scalingRefusal, t);
        for (String g : names) {
            view.rule(g).requireScaling("scale");
        }
        Map<String, double[]> scales = NeuronScaling.random(view.spec(), names, 1 / range, range, seed);
        t.tensors.addAll(NeuronScaling.apply(state, view, scales));
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        for (String g : names) {
            double[] a = scales.get(g);
            Lineages ls = ctx.lineages();
            ls.put(g, ls.get(g, a.length).scaled(a));
            for (double x : a) {
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
            t.widths(g, a.length, a.length);
        }
        t.details.put("factor_min", names.isEmpty() ? null : lo);
        t.details.put("factor_max", names.isEmpty() ? null : hi);
    }

    /** round(percent % of the original neurons) dummy pairs in every selected group. */
    static void dummy(StateDict state, AttackContext ctx, double percent, long seed, Tally t) {
        NetworkView view = view(state, ctx);
        List<String> names = groups(view, ctx, "dummy", lady.graph.StructuralRules.Rule::canWiden,
                lady.graph.StructuralRules.Rule::wideningRefusal, t);
        long pairsTotal = 0;
        for (String g : names) {
            int n = Math.toIntExact(view.group(g).size());
            Lineage before = ctx.lineages().get(g, n);
            int pairs = (int) Math.round(percent / 100 * before.originalSize());
            SplittableRandom rng = new SplittableRandom(Seeds.derive(seed, "dummy:" + g));
            double[] pair = new double[2];
            Map<String, Double> stds = new java.util.HashMap<>();
            Widening.Widened w = Widening.dummies(state, view, g, pairs, k -> rng.nextInt(n), (tensor, values, length) -> {
                double std = stds.computeIfAbsent(tensor, x -> NoiseAttack.populationStd(values));
                double[] v = new double[length];
                for (int i = 0; i < length; i += 2) {
                    NoiseAttack.gaussianPair(rng, pair);
                    v[i] = std * pair[0];
                    if (i + 1 < length) {
                        v[i + 1] = std * pair[1];
                    }
                }
                return v;
            });
            int[] sources = new int[2 * pairs];
            java.util.Arrays.fill(sources, -1);
            ctx.lineages().put(g, before.appended(sources, Lineage.Kind.DUMMY));
            view = view.resized(g, w.after(), state);
            t.tensors.addAll(w.tensors());
            t.widths(g, w.before(), w.after());
            pairsTotal += pairs;
        }
        t.details.put("dummy_pairs", pairsTotal);
    }

    /** round(percent % of the original neurons) original neurons split in two, in every selected group. */
    static void split(StateDict state, AttackContext ctx, double percent, long seed, Tally t) {
        NetworkView view = view(state, ctx);
        List<String> names = groups(view, ctx, "split", lady.graph.StructuralRules.Rule::canWiden,
                lady.graph.StructuralRules.Rule::wideningRefusal, t);
        long splitsTotal = 0;
        for (String g : names) {
            int n = Math.toIntExact(view.group(g).size());
            Lineage before = ctx.lineages().get(g, n);
            List<Integer> originals = new ArrayList<>();
            for (int j = 0; j < n; j++) {
                if (before.kind()[j] == Lineage.Kind.ORIGINAL) {
                    originals.add(j);
                }
            }
            int count = (int) Math.min(Math.round(percent / 100 * before.originalSize()), originals.size());
            SplittableRandom rng = new SplittableRandom(Seeds.derive(seed, "split:" + g));
            // a partial Fisher-Yates shuffle picks count distinct originals
            int[] sources = new int[count];
            double[] shares = new double[count];
            for (int k = 0; k < count; k++) {
                int r = k + rng.nextInt(originals.size() - k);
                java.util.Collections.swap(originals, k, r);
                sources[k] = originals.get(k);
                shares[k] = SPLIT_SHARE_MIN + (1 - 2 * SPLIT_SHARE_MIN) * rng.nextDouble();
            }
            Widening.Widened w = Widening.splits(state, view, g, sources, shares);
            ctx.lineages().put(g, before.appended(sources, Lineage.Kind.SPLIT));
            view = view.resized(g, w.after(), state);
            t.tensors.addAll(w.tensors());
            t.widths(g, w.before(), w.after());
            splitsTotal += count;
        }
        t.details.put("splits", splitsTotal);
    }

    /** A random permutation of every selected group. */
    static void permute(StateDict state, AttackContext ctx, long seed, Tally t) {
        NetworkView view = view(state, ctx);
        List<String> names = groups(view, ctx);
        Map<String, Permutation> perms = Permuter.random(view.spec(), names, seed);
        Permuter.applyInPlace(state, view.spec(), perms, Backend.CPU);
        for (String g : names) {
            Permutation p = perms.get(g);
            ctx.lineages().put(g, ctx.lineages().get(g, p.size()).permuted(p));
            for (var m : view.group(g).members()) {
                t.tensors.add(m.tensor());
            }
            t.widths(g, p.size(), p.size());
        }
        t.details.put("permuted_groups", names.size());
    }

    static void requireLevel(boolean ok, String message) {
        if (!ok) {
            throw new LadyException(LadyException.Kind.USAGE, message);
        }
    }
}
