package lady.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import lady.BuildInfo;
import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.io.OutputSet;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Tolerances;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.onnx.Onnx;
import lady.onnx.OnnxGraph;
import lady.onnx.OrtRunner;
import lady.permutation.Permutation;
import lady.model.PermutationCheck;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.structure.NeuronScaling;
import lady.structure.NetworkView;
import lady.util.Seeds;

/** {@code lady permute}: shuffle the neurons of a checkpoint (optionally rescale them) and keep the secret. */
@Command(name = "permute", mixinStandardHelpOptions = true,
        description = {"Permute the hidden neurons of a checkpoint without changing its function (method.md 2-3).",
                "Writes the permuted checkpoint in the input's format and the secret (per group the applied",
                "permutation p: new neuron j is old neuron p[j]) as JSON."})
final class PermuteCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE",
            description = "Input checkpoint (PyTorch zip, safetensors, ONNX, or a Hugging Face model folder); the "
                    + "architecture is inferred (an ONNX model's groups come from its graph).")
    Path model;

    @Option(names = "--graph", paramLabel = "FILE", description = CliFiles.GRAPH_HELP)
    Path graph;

    @Option(names = "--groups", defaultValue = "all", paramLabel = "all|G1,G2",
            description = "Groups to permute: all (default) or a comma-separated list, e.g. features.17,classifier.0.")
    String groups;

    @Option(names = "--seed", paramLabel = "N",
            description = "Seed of the permutations (default: a fresh random seed, recorded in the secret).")
    Long seed;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Permuted checkpoint to write (a folder for a folder input: same shards, index and other files).")
    Path out;

    @Option(names = "--secret", required = true, paramLabel = "FILE", description = "Secret file (JSON) to write.")
    Path secret;

    @Option(names = "--verify", description = "Check that the outputs are unchanged (max abs diff < 1e-4 of the output scale, "
            + "probe batch, eval mode; an ONNX model: both files run in ONNX Runtime on seeded inputs).")
    boolean verify;

    @Option(names = "--scale-range", paramLabel = "LO:HI",
            description = "Also rescale every neuron by a factor log-uniform in [LO, HI] (function-preserving scaling attack).")
    String scaleRange;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Architecture, when inference from names is not wanted: "
            + "vgg16, vgg16_bn, vgg16_cifar, vgg16_bn_cifar, resnet18, resnet18_cifar, lenet5, toynet, fc.")
    String arch;

    @Option(names = "--spec", paramLabel = "FILE",
            description = "Permutation groups of a network Lady does not know (a spec file; 'lady spec --help').")
    Path specFile;

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "B",
            description = "Permutation kernel: ${COMPLETION-CANDIDATES} (default cpu).")
    Backend backend;

    @CommandLine.Mixin
    RunOptions run;

    @Override
    public Integer call() {
        // stage lines on stderr, silenced by --quiet
        PrintWriter err = run.quiet ? new PrintWriter(java.io.Writer.nullWriter()) : spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        double[] range = scaleRange == null ? null : parseRange(scaleRange);
        long s = seed != null ? seed : new SecureRandom().nextLong();
        // the outputs' temporaries; the secret's first, so that it is put in place first: a permuted model
        // never exists without the means to undo it
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", model).input("--graph", graph).input("--spec", specFile);
            Path secretTmp = outs.file("--secret", secret);
            Path outTmp = outs.like("--out", out, model);

            long t0 = System.nanoTime();
            StateDict state = Checkpoints.read(model);
            Path graphFile = Models.graphOf(model, graph, arch, specFile);
            boolean onnx = Checkpoints.formatOf(model) == Checkpoints.Format.ONNX;
            ModelConfig config = specFile == null && graphFile == null ? Models.infer(state, arch) : null;
            PermutationSpec pspec = Models.spec(state, arch, specFile, graphFile);
            List<String> selected = Permuter.select(pspec, groups);
            long bytes = state.byteSize();
            stage(err, t0, String.format(Locale.ROOT, "read %s: %s, %d tensors, %.1f MB", model, pspec.architecture(),
                    state.size(), bytes / 1e6));

            Model reference = null;
            if (verify && !onnx) {
                if (config == null) {
                    throw new LadyException(LadyException.Kind.USAGE, "--verify runs the model, which Lady can do for the "
                            + "networks it recognizes and for ONNX models, not from a spec file or --graph alone; drop --verify");
                }
                reference = config.create();
                reference.load(state);
            }
            Map<String, double[]> scales = Map.of();
            if (range != null) {
                t0 = System.nanoTime();
                if (config == null && graphFile == null) {
                    throw new LadyException(LadyException.Kind.USAGE, "--scale-range needs the network's graph (which "
                            + "activations the neurons pass through), which a spec file does not give; drop --scale-range or --spec");
                }
                NetworkView view = config != null ? NetworkView.of(state, config.architecture())
                        : NetworkView.of(OnnxGraph.of(Onnx.read(graphFile)).graph(), pspec);
                scales = NeuronScaling.random(pspec, selected, range[0], range[1], Seeds.derive(s, "scale"));
                NeuronScaling.apply(state, view, scales);
                stage(err, t0, String.format(Locale.ROOT, "scaled %d groups by factors in [%s, %s]", selected.size(),
                        range[0], range[1]));
            }
            t0 = System.nanoTime();
            Map<String, Permutation> perms = Permuter.random(pspec, selected, s);
            // index maps over the input's bytes, gathered as the output is written (--verify reads them first)
            Permuter.applyLazily(state, pspec, perms, backend);
            stage(err, t0, String.format(Locale.ROOT, "permuted %d of %d groups (%s kernel)", selected.size(),
                    pspec.groups().size(), backend.name().toLowerCase(Locale.ROOT)));

            Double diff = null;
            if (verify && !onnx) {
                t0 = System.nanoTime();
                diff = PermutationCheck.verify(reference, state, reference.probe(4, Seeds.derive(s, "probe")));
                stage(err, t0, String.format(Locale.ROOT, "verified: max abs logit difference %.3g", diff));
            }

            t0 = System.nanoTime();
            new Secret(BuildInfo.version(), pspec.architecture(), s, perms, scales).write(secretTmp);
            Checkpoints.writeLike(outTmp, state, model);
            if (verify && onnx) {
                long t1 = System.nanoTime();
                diff = verifyOnnx(s, outTmp);
                stage(err, t1, String.format(Locale.ROOT, "verified in ONNX Runtime: max relative output difference %.3g", diff));
            }
            outs.commit();
            stage(err, t0, "wrote " + out + " and " + secret);

            stdout.printf(Locale.ROOT, "permuted %d groups of %s (seed %d%s) -> %s; secret -> %s%s%n", selected.size(),
                    pspec.architecture(), s, range == null ? "" : ", scaled", out, secret,
                    diff == null ? "" : String.format(Locale.ROOT, onnx ? "; outputs max relative diff %.3g (ONNX Runtime)"
                            : "; logits max abs diff %.3g", diff));
        }
        return 0;
    }

    /**
     * Runs the input and the written ONNX model (its temporary {@code written}) in ONNX Runtime on the same seeded
     * inputs; the largest relative output difference. When it exceeds {@link Tolerances#LOGITS_MAX_ABS_DIFF} of
     * the output scale (or is NaN) the command fails, and its output set puts nothing in place.
     */
    private double verifyOnnx(long s, Path written) {
        double worst = 0;
        String where = "";
        for (OrtRunner.OutputDifference d : OrtRunner.compare(Onnx.read(model), Onnx.read(written), Seeds.derive(s, "probe"),
                OrtRunner.Options.DEFAULT)) {
            if (!(d.maxRel() <= worst)) {
                worst = d.maxRel();
                where = d.output();
            }
        }
        if (!(worst <= Tolerances.LOGITS_MAX_ABS_DIFF)) {
            throw LadyException.invalidInput(String.format(Locale.ROOT, "the permuted ONNX model is NOT equivalent to the "
                    + "original: output %s differs by %.3g of its scale in ONNX Runtime (tolerance %.0e); nothing written",
                    lady.util.Text.quote(where), worst, Tolerances.LOGITS_MAX_ABS_DIFF));
        }
        return worst;
    }

    private static void stage(PrintWriter err, long t0, String what) {
        err.printf(Locale.ROOT, "lady permute: %s (%.2f s)%n", what, (System.nanoTime() - t0) / 1e9);
        err.flush();
    }

    static double[] parseRange(String text) {
        String[] parts = text.split(":");
        try {
            if (parts.length == 2) {
                double lo = Double.parseDouble(parts[0].trim()), hi = Double.parseDouble(parts[1].trim());
                if (lo > 0 && hi >= lo && !Double.isInfinite(hi)) {
                    return new double[] {lo, hi};
                }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new LadyException(LadyException.Kind.USAGE,
                "--scale-range must be LO:HI with 0 < LO <= HI, e.g. 0.5:2.0; got '" + text + "'");
    }
}
