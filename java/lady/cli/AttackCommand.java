package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.BuildInfo;
import lady.io.OutputSet;
import lady.LadyException;
import lady.attack.Attack;
import lady.attack.AttackContext;
import lady.attack.AttackResult;
import lady.attack.Attacks;
import lady.attack.FinetuneAttack;
import lady.attack.WeightSummary;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.kernels.Tolerances;
import lady.data.DataSource;
import lady.experiment.AttackTargets;
import lady.model.Architecture;
import lady.model.ModelConfig;
import lady.model.Model;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.permutation.Secret;
import lady.util.Seeds;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.train.BatchNormRecalibration;
import lady.train.DatasetFineTuner;

/** {@code lady attack}: apply a chain of robustness attacks (method.md 7) to a checkpoint. */
@Command(name = "attack", mixinStandardHelpOptions = true,
        description = {"Attack a checkpoint (method.md 7): Gaussian noise or magnitude pruning on one",
                "layer, quantization of every Conv2d/Linear weight, fine-tuning of the whole",
                "network; or obfuscate its structure without changing its function (Yan et al.",
                "2023) on every group (--groups): scale:R (each neuron times a factor in [1/R,",
                "R]), dummy:P (P %% of the neurons as cancelling pairs), split:P (P %% of the",
                "neurons split in two), nso (dummy:5, split:5, scale:4, then a permutation).",
                "Chains run in order (finetune:1,nso). With --data, a model with batch norm",
                "then gets its batch-norm statistics re-estimated, as a real attacker does",
                "(--recalibrate-bn). Writes the attacked checkpoint in the input's format and",
                "says what changed. --model may also be an ONNX model or a Hugging Face folder."})
final class AttackCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin ModelInput input;

    @Option(names = "--attack", required = true, paramLabel = "SPEC",
            description = "Attack chain, e.g. noise:7 or finetune:2,quant:8 (" + Attacks.SYNTAX + ").")
    String attack;

    @Option(names = "--layer", paramLabel = "NAME",
            description = "Attacked layer for noise and prune, e.g. features.17 (or features.17.weight); several "
                    + "separated by commas, or all: every convolution, linear layer and attention projection, each "
                    + "attacked on its own (noise: Omega times its own spread; prune: T %% of its own entries).")
    String layer;

    /** The {@code --layer} value that attacks every weight an attack works on. */
    static final String ALL_LAYERS = "all";

    /**
     * The weights {@code --layer} names: {@link #ALL_LAYERS} (those of {@code weights} the checkpoint holds), or names
     * separated by commas, each resolved by {@code resolve} as a single layer is (no name: its error, which asks for
     * one).
     */
    private List<String> attackedWeights(java.util.function.UnaryOperator<String> resolve, StateDict state,
            List<String> weights) {
        if (layer == null) {
            return List.of(resolve.apply(null));
        }
        if (ALL_LAYERS.equals(layer.trim())) {
            return weights.stream().filter(state::contains).toList();
        }
        return java.util.Arrays.stream(layer.split(AttackContext.LAYER_SEPARATOR)).map(String::trim).map(resolve)
                .distinct().toList();
    }

    @Mixin FreshSeedOption seed;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Attacked checkpoint to write (same format as the input).")
    Path out;

    @Option(names = "--groups", paramLabel = "all|G1,G2", defaultValue = "all",
            description = "Groups the structural attacks act on: all (default) or a list such as features.17,classifier.0.")
    String groups;

    @Option(names = "--verify", description = "Check that every function-preserving attack of the chain (scale, dummy, split, "
            + "nso) kept the function: outputs on a seeded probe batch within 1e-4 of their scale. On an ONNX model the "
            + "whole chain is always checked so, in ONNX Runtime.")
    boolean verify;

    @Option(names = "--secret", paramLabel = "FILE",
            description = "Write what the structural attacks did (per group, where each neuron comes from: lady permute's "
                    + "secret format with a structure section), for lady resync --secret.")
    Path secret;

    @Option(names = "--data", paramLabel = "SPEC", description = "Training data for finetune: " + DataSource.SYNTAX + ".")
    String data;

    @Option(names = "--train-limit", paramLabel = "N", description = "Fine-tune on the first N training images only.")
    Integer trainLimit;

    @Option(names = "--recalibrate-bn", paramLabel = "N",
            description = "After the chain, re-estimate the batch-norm statistics of a model with batch norm over N "
                    + "training batches of --data (train mode, no labels, no gradient), as a real attacker does "
                    + "(default: " + BatchNormRecalibration.DEFAULT_BATCHES + " when --data is given, else none; "
                    + "0: never). Not after a chain of fine-tuning alone, which re-estimates them itself; not for "
                    + "ONNX models or a spec file (Lady runs the networks it recognizes).")
    Integer recalibrateBn;

    @Mixin GraphOptions network;

    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            return run(outs);
        }
    }

    private int run(OutputSet outs) {
        Path model = input.model;
        String arch = input.arch;
        Path graph = network.graph;
        Path specFile = network.specFile;
        List<Attack> chain = Attacks.parse(attack);
        if (chain.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE, "--attack is empty; expected " + Attacks.SYNTAX);
        }
        outs.input("--model", model).input("--graph", graph).input("--spec", specFile);
        // the secret's temporary first, so that it is put in place first: an obfuscated model never exists
        // without the means to check its undo
        Path secretTmp = outs.file("--secret", secret);
        Path outTmp = outs.like("--out", out, model);
        boolean needsLayer = chain.stream().anyMatch(a -> a.kind().equals("noise") || a.kind().equals("prune"));
        boolean finetune = chain.stream().anyMatch(a -> a instanceof FinetuneAttack f && f.epochs() > 0);
        if (finetune && data == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the finetune attack needs training data: --data "
                    + DataSource.SYNTAX);
        }
        boolean structural = chain.stream().anyMatch(Attack::preservesFunction);
        if (verify && !structural) {
            throw new LadyException(LadyException.Kind.USAGE, "--verify checks the function-preserving attacks (scale, dummy, "
                    + "split, nso); " + Attacks.spec(chain) + " has none");
        }
        if (secret != null && !structural) {
            throw new LadyException(LadyException.Kind.USAGE, "--secret records what the structural attacks (scale, dummy, "
                    + "split, nso) did; " + Attacks.spec(chain) + " has none");
        }
        DataSource source = data == null ? null : DataSource.parse(data);
        int recalibrate = recalibrateBn != null ? recalibrateBn : source != null ? BatchNormRecalibration.DEFAULT_BATCHES : 0;
        if (recalibrate < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "--recalibrate-bn must be >= 0, got " + recalibrate);
        }
        if (recalibrate > 0 && source == null) {
            throw new LadyException(LadyException.Kind.USAGE, "--recalibrate-bn needs the training images: --data "
                    + DataSource.SYNTAX);
        }
        long s = seed.orFresh();

        long t0 = System.nanoTime();
        StateDict state = Checkpoints.read(model);
        Path graphFile = Models.graphOf(model, graph, arch, specFile);
        ModelConfig config = specFile == null && graphFile == null ? Models.infer(state, arch) : null;
        lady.permutation.PermutationSpec pspec = config != null ? null : Models.spec(state, arch, specFile, graphFile);
        if (config == null && finetune) {
            throw new LadyException(LadyException.Kind.USAGE, "fine-tuning trains the model, which Lady can do for the "
                    + "networks it recognizes, not for ONNX models or from a spec file alone");
        }
        if (config == null && recalibrateBn != null && recalibrateBn > 0) {
            throw new LadyException(LadyException.Kind.USAGE, "--recalibrate-bn runs the model, which Lady does for the "
                    + "networks it recognizes, not for ONNX models or from a spec file alone");
        }
        if (config == null) {
            recalibrate = 0; // --data alone asks for nothing here (fine-tuning was refused above)
        }
        boolean onnx = graphFile != null && graphFile.equals(model);
        if (config == null && structural && !onnx) {
            throw new LadyException(LadyException.Kind.USAGE, "the structural attacks rewrite the network's graph (its "
                    + "widths, and which activations the neurons pass through), which Lady does for the networks it "
                    + "recognizes and for ONNX models, not from a spec file or --graph alone");
        }
        if (onnx && structural && !chain.stream().allMatch(Attack::preservesFunction)) {
            throw new LadyException(LadyException.Kind.USAGE, "on an ONNX model the structural attacks are checked in ONNX "
                    + "Runtime as a whole chain, which must keep the function: run " + Attacks.spec(chain)
                    + " as two commands (the structural attacks in one)");
        }
        if (!"all".equals(groups.trim()) && !structural) {
            throw new LadyException(LadyException.Kind.USAGE, "--groups selects the groups of the structural attacks (scale, "
                    + "dummy, split, nso); " + Attacks.spec(chain) + " has none");
        }
        List<String> selectedGroups = "all".equals(groups.trim()) ? List.of()
                : lady.permutation.Permuter.select(config != null ? config.description().permutationSpec() : pspec, groups);
        List<String> weights = config != null ? AttackTargets.weights(config.description()) : AttackTargets.weights(pspec, state);
        List<String> attacked = !(needsLayer || layer != null) ? List.of() : attackedWeights(l -> config != null
                ? AttackTargets.layerWeight(config.description(), state, l) : AttackTargets.layerWeight(pspec, state, l),
                state, weights);
        String weight = attacked.isEmpty() ? null : AttackContext.joinLayers(attacked);
        if (attacked.size() > 1) { // the attacked weights are rewritten in memory, one float32 copy at a time
            long bytes = 0;
            long largest = 0;
            long parameters = 0;
            for (String a : attacked) {
                lady.tensor.IndexedTensor t = state.streamed(a);
                bytes += t.byteSize();
                largest = Math.max(largest, t.numel());
                parameters += t.numel();
            }
            lady.util.Memory.require(bytes + 4.0 * largest, parameters, "attacking " + attacked.size() + " layers",
                    "attack fewer layers at a time (--layer A,B)");
        }
        String archName = config != null ? config.architecture() : pspec.architecture();
        ProgressListener progress = run.progress();
        lady.data.Dataset train = source == null ? null : trainLimit == null ? source.train()
                : source.train().limit(trainLimit);
        AttackContext context = new AttackContext(weight, weights, s,
                train == null ? null : new DatasetFineTuner(train, archName), progress,
                recalibrate > 0 ? new BatchNormRecalibration(train, config.architecture(), recalibrate) : null,
                archName, selectedGroups, null, null);
        lady.onnx.OnnxModel onnxModel = onnx && structural ? lady.onnx.Onnx.read(model) : null;
        if (onnxModel != null) { // the graph with the state's widths, as the attacks change them
            lady.graph.Graph g = lady.onnx.OnnxGraph.of(onnxModel).graph();
            lady.permutation.PermutationSpec original = pspec;
            context = context.withViews(st -> lady.structure.NetworkView.sized(g, original, st));
        }
        if (verify && onnxModel == null) {
            PermutationCheck.requireMemoryFor(state.numel(), "--verify");
        }
        List<AttackResult> results = new ArrayList<>();
        List<Double> verified = new ArrayList<>();
        List<Double> noises = new ArrayList<>(); // the model's float32 noise where a check needed it, else null
        boolean inputsMatter = true; // every check could see something: the outputs depend on the inputs
        for (int i = 0; i < chain.size(); i++) {
            Model before = verify && onnxModel == null && chain.get(i).preservesFunction()
                    ? Models.fromStateDict(state, archName) : null;
            results.add(Attacks.apply(chain, i, state, context));
            if (before != null) {
                Model after = Models.fromStateDict(state, archName);
                PermutationCheck.Check c = PermutationCheck.verifyChecked(before, after,
                        before.probe(4, Seeds.derive(s, "probe", i)), Seeds.derive(s, "float noise", i));
                verified.add(c.difference());
                noises.add(c.floatNoise());
                inputsMatter &= c.inputsMatter();
            }
        }
        AttackResult recalibrated = Attacks.recalibrate(chain, state, context);
        if (recalibrated != null) {
            results.add(recalibrated);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (secretTmp != null) {
            new Secret(BuildInfo.version(), archName, s, Map.of(), Map.of(), context.lineages().all()).write(secretTmp);
        }
        if (onnxModel != null) { // its own graph with the new widths, checked in ONNX Runtime whether --verify or not
            lady.onnx.Onnx.write(outTmp, onnxModel, state, true);
            lady.app.OnnxCheck c;
            try {
                c = lady.app.OnnxCheck.of(model, s, outTmp, "attacked");
            } catch (LadyException e) {
                throw e.getMessage().startsWith("the attacked") ? e : new LadyException(e.kind(), "the attacked ONNX model "
                        + "does not run (a shape in its graph, such as a Reshape's constant, holds a width the attack "
                        + "changed?); nothing written: " + e.getMessage(), e);
            }
            verified.add(c.difference());
            noises.add(c.noise());
            inputsMatter = c.inputsMatter();
            verify = true;
        } else {
            Checkpoints.writeLike(outTmp, state, model);
        }
        outs.commit();

        // what the attacked layer (or every changed tensor) looks like now
        Set<String> changed = new LinkedHashSet<>();
        results.forEach(r -> changed.addAll(r.tensors()));
        List<Map<String, Object>> tensors = new ArrayList<>();
        for (String name : changed) {
            if (weights.contains(name)) {
                tensors.add(WeightSummary.of(name, state.streamed(name)));
            }
        }

        PrintWriter w = spec.commandLine().getOut();
        if (format.json()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("tool", BuildInfo.describe());
            o.put("model", model.toString());
            o.put("architecture", archName);
            o.put("attack", Attacks.spec(chain));
            o.put("layer", attacked.size() > 1 ? attacked : weight);
            o.put("seed", s);
            o.put("data", source == null ? null : source.spec());
            o.put("out", out.toString());
            o.put("seconds", seconds);
            List<Object> rs = new ArrayList<>();
            results.forEach(r -> rs.add(r.toMap()));
            o.put("results", rs);
            o.put("weights_after", tensors);
            if (verify) {
                o.put("verified_max_output_diff", verified);
                o.put("verified_float_noise", noises);
                o.put("verify_outputs_depend_on_inputs", inputsMatter);
            }
            if (secret != null) {
                o.put("secret", secret.toString());
            }
            w.println(Json.write(o));
        } else {
            w.printf(Locale.ROOT, "%s (%s): %s, seed %d -> %s (%.1f s)%n", model, archName,
                    Attacks.spec(chain), s, out, seconds);
            for (AttackResult r : results) {
                StringBuilder sb = new StringBuilder();
                r.details().forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ')
                        .append(v instanceof Double d ? String.format(Locale.ROOT, "%.6g", d) : v));
                w.printf(Locale.ROOT, "  %s: %s; %d tensor(s) changed%n", r.spec(), sb, r.tensors().size());
            }
            if (verify) {
                List<String> checks = new ArrayList<>();
                for (int i = 0; i < verified.size(); i++) {
                    checks.add(String.format(Locale.ROOT, "%.3g", verified.get(i)) + (noises.get(i) == null ? ""
                            : String.format(Locale.ROOT, " (within %.0f times the model's float32 noise, %.3g)",
                            Tolerances.FLOAT_NOISE_FACTOR, noises.get(i))));
                }
                w.printf(Locale.ROOT, "  verified: the function is kept (max output difference %s)%s%n",
                        String.join(", ", checks), inputsMatter ? "" : PermutationCheck.INPUTS_IGNORED);
            }
            if (secret != null) {
                w.printf(Locale.ROOT, "  secret -> %s%n", secret);
            }
            int shown = 0;
            for (Map<String, Object> t : tensors) {
                if (shown++ == 8) {
                    w.printf(Locale.ROOT, "  ... %d more tensors%n", tensors.size() - 8);
                    break;
                }
                w.printf(Locale.ROOT, "  %s: %s entries, %s zeros, %s distinct values, std %.6g%n", t.get("name"),
                        t.get("entries"), t.get("zeros"), t.get("distinct"), (Double) t.get("std"));
            }
        }
        w.flush();
        return 0;
    }
}
