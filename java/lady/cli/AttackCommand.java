package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import lady.BuildInfo;
import lady.io.OutputSet;
import lady.LadyException;
import lady.attack.Attack;
import lady.attack.AttackContext;
import lady.attack.AttackResult;
import lady.attack.Attacks;
import lady.attack.FinetuneAttack;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.data.DataSource;
import lady.experiment.AttackTargets;
import lady.model.Architecture;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.progress.ProgressListener;
import lady.report.Json;
import lady.tensor.HostTensor;
import lady.train.BatchNormRecalibration;
import lady.train.DatasetFineTuner;

/** {@code lady attack}: apply a chain of robustness attacks (method.md 7) to a checkpoint. */
@Command(name = "attack", mixinStandardHelpOptions = true,
        description = {"Attack a checkpoint (method.md 7): Gaussian noise or magnitude pruning on one layer,",
                "quantization of every Conv2d/Linear weight, fine-tuning of the whole network; chains run in order.",
                "With --data, a model with batch norm then gets its batch-norm statistics re-estimated, as a real",
                "attacker does (--recalibrate-bn). Writes the attacked checkpoint in the input's format and says",
                "what changed."})
final class AttackCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE",
            description = "Input checkpoint (PyTorch zip, safetensors, ONNX, or a Hugging Face model folder).")
    Path model;

    @Option(names = "--attack", required = true, paramLabel = "SPEC",
            description = "Attack chain, e.g. noise:7 or finetune:2,quant:8 (" + Attacks.SYNTAX + ").")
    String attack;

    @Option(names = "--layer", paramLabel = "NAME",
            description = "Attacked layer for noise and prune, e.g. features.17 (or features.17.weight).")
    String layer;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the attack (default: a fresh random seed, printed).")
    Long seed;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Attacked checkpoint to write (same format as the input).")
    Path out;

    @Option(names = "--data", paramLabel = "SPEC", description = "Training data for finetune: " + DataSource.SYNTAX + ".")
    String data;

    @Option(names = "--train-limit", paramLabel = "N", description = "Fine-tune on the first N training images only.")
    Integer trainLimit;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Architecture (default: inferred from the checkpoint).")
    String arch;

    @Option(names = "--recalibrate-bn", paramLabel = "N",
            description = "After the chain, re-estimate the batch-norm statistics of a model with batch norm over N "
                    + "training batches of --data (train mode, no labels, no gradient), as a real attacker does "
                    + "(default: " + BatchNormRecalibration.DEFAULT_BATCHES + " when --data is given, else none; "
                    + "0: never). Not after a chain of fine-tuning alone, which re-estimates them itself; not for "
                    + "ONNX models or a spec file (Lady runs the networks it recognizes).")
    Integer recalibrateBn;

    @Option(names = "--graph", paramLabel = "FILE", description = CliFiles.GRAPH_HELP)
    Path graph;

    @Option(names = "--spec", paramLabel = "FILE",
            description = "Permutation groups of a network Lady does not know (a spec file; 'lady spec --help').")
    Path specFile;

    @CommandLine.Mixin
    RunOptions run;

    @Option(names = "--format", defaultValue = "text", description = "Output format: ${COMPLETION-CANDIDATES} (default text).")
    OutputFormat format;

    @Override
    public Integer call() {
        try (OutputSet outs = new OutputSet()) {
            return run(outs);
        }
    }

    private int run(OutputSet outs) {
        List<Attack> chain = Attacks.parse(attack);
        if (chain.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE, "--attack is empty; expected " + Attacks.SYNTAX);
        }
        outs.input("--model", model).input("--graph", graph).input("--spec", specFile);
        Path outTmp = outs.like("--out", out, model);
        boolean needsLayer = chain.stream().anyMatch(a -> a.kind().equals("noise") || a.kind().equals("prune"));
        boolean finetune = chain.stream().anyMatch(a -> a instanceof FinetuneAttack f && f.epochs() > 0);
        if (finetune && data == null) {
            throw new LadyException(LadyException.Kind.USAGE, "the finetune attack needs training data: --data "
                    + DataSource.SYNTAX);
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
        long s = seed != null ? seed : new SecureRandom().nextLong();

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
        String weight = !(needsLayer || layer != null) ? null : config != null
                ? AttackTargets.layerWeight(config.description(), state, layer) : AttackTargets.layerWeight(pspec, state, layer);
        List<String> weights = config != null ? AttackTargets.weights(config.description()) : AttackTargets.weights(pspec, state);
        String archName = config != null ? config.architecture() : pspec.architecture();
        ProgressListener progress = run.progress();
        lady.data.Dataset train = source == null ? null : trainLimit == null ? source.train()
                : source.train().limit(trainLimit);
        AttackContext context = new AttackContext(weight, weights, s,
                train == null ? null : new DatasetFineTuner(train, archName), progress,
                recalibrate > 0 ? new BatchNormRecalibration(train, config.architecture(), recalibrate) : null);
        List<AttackResult> results = Attacks.apply(chain, state, context);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Checkpoints.writeLike(outTmp, state, model);
        outs.commit();

        // what the attacked layer (or every changed tensor) looks like now
        Set<String> changed = new LinkedHashSet<>();
        results.forEach(r -> changed.addAll(r.tensors()));
        List<Map<String, Object>> tensors = new ArrayList<>();
        for (String name : changed) {
            if (weights.contains(name)) {
                tensors.add(summary(name, state.get(name)));
            }
        }

        PrintWriter w = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("tool", BuildInfo.describe());
            o.put("model", model.toString());
            o.put("architecture", archName);
            o.put("attack", Attacks.spec(chain));
            o.put("layer", weight);
            o.put("seed", s);
            o.put("data", source == null ? null : source.spec());
            o.put("out", out.toString());
            o.put("seconds", seconds);
            List<Object> rs = new ArrayList<>();
            results.forEach(r -> rs.add(r.toMap()));
            o.put("results", rs);
            o.put("weights_after", tensors);
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

    /** Entries, zeros, distinct values and population std of a float tensor. */
    private static Map<String, Object> summary(String name, HostTensor t) {
        float[] a = t.readFloats();
        long n = a.length;
        long zeros = 0;
        Set<Integer> distinct = new HashSet<>();
        double sum = 0;
        for (float v : a) {
            zeros += v == 0f ? 1 : 0;
            distinct.add(Float.floatToIntBits(v == 0f ? 0f : v));
            sum += v;
        }
        double mean = n == 0 ? 0 : sum / n;
        double ss = 0;
        for (float v : a) {
            ss += (v - mean) * (v - mean);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("entries", n);
        m.put("zeros", zeros);
        m.put("distinct", distinct.size());
        m.put("std", n == 0 ? 0.0 : Math.sqrt(ss / n));
        return m;
    }
}
