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
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
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
            description = "Input checkpoint (PyTorch zip or safetensors); the architecture is inferred.")
    Path model;

    @Option(names = "--groups", defaultValue = "all", paramLabel = "all|G1,G2",
            description = "Groups to permute: all (default) or a comma-separated list, e.g. features.17,classifier.0.")
    String groups;

    @Option(names = "--seed", paramLabel = "N",
            description = "Seed of the permutations (default: a fresh random seed, recorded in the secret).")
    Long seed;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Permuted checkpoint to write.")
    Path out;

    @Option(names = "--secret", required = true, paramLabel = "FILE", description = "Secret file (JSON) to write.")
    Path secret;

    @Option(names = "--verify", description = "Check that the logits are unchanged (max abs diff < 1e-4, probe batch, eval mode).")
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
        run.applyThreads();
        // stage lines on stderr, silenced by --quiet
        PrintWriter err = run.quiet ? new PrintWriter(java.io.Writer.nullWriter()) : spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        double[] range = scaleRange == null ? null : parseRange(scaleRange);
        long s = seed != null ? seed : new SecureRandom().nextLong();
        CliFiles.requireDistinctOutput(model, out);

        long t0 = System.nanoTime();
        StateDict state = Checkpoints.read(model);
        Checkpoints.Format format = Checkpoints.formatOf(model);
        ModelConfig config = specFile == null ? Models.infer(state, arch) : null;
        PermutationSpec pspec = Models.spec(state, arch, specFile);
        List<String> selected = Permuter.select(pspec, groups);
        long bytes = 0;
        for (var e : state) {
            bytes += e.getValue().numel() * e.getValue().element_size();
        }
        stage(err, t0, String.format(Locale.ROOT, "read %s: %s, %d tensors, %.1f MB", model, pspec.architecture(),
                state.size(), bytes / 1e6));

        Model reference = null;
        if (verify) {
            if (config == null) {
                throw new LadyException(LadyException.Kind.USAGE, "--verify runs the model, which Lady can do for the "
                        + "networks it recognizes, not from a spec file alone; drop --verify or --spec");
            }
            reference = config.create();
            reference.load(state);
        }
        Map<String, double[]> scales = Map.of();
        if (range != null) {
            if (config == null) {
                throw new LadyException(LadyException.Kind.USAGE, "--scale-range needs the network's graph (which "
                        + "activations the neurons pass through), which a spec file does not give; drop --scale-range or --spec");
            }
            t0 = System.nanoTime();
            scales = NeuronScaling.random(pspec, selected, range[0], range[1], Seeds.derive(s, "scale"));
            NeuronScaling.apply(state, NetworkView.of(state, config.architecture()), scales);
            stage(err, t0, String.format(Locale.ROOT, "scaled %d groups by factors in [%s, %s]", selected.size(),
                    range[0], range[1]));
        }
        t0 = System.nanoTime();
        Map<String, Permutation> perms = Permuter.random(pspec, selected, s);
        Permuter.applyInPlace(state, pspec, perms, backend);
        stage(err, t0, String.format(Locale.ROOT, "permuted %d of %d groups (%s kernel)", selected.size(),
                pspec.groups().size(), backend.name().toLowerCase(Locale.ROOT)));

        Double diff = null;
        if (verify) {
            t0 = System.nanoTime();
            diff = PermutationCheck.verify(reference, state, reference.probe(4, Seeds.derive(s, "probe")));
            stage(err, t0, String.format(Locale.ROOT, "verified: max abs logit difference %.3g", diff));
        }

        t0 = System.nanoTime();
        // the secret first: a permuted model never exists without the means to undo it
        new Secret(BuildInfo.version(), pspec.architecture(), s, perms, scales).write(secret);
        Checkpoints.write(out, state, format);
        stage(err, t0, "wrote " + out + " and " + secret);

        stdout.printf(Locale.ROOT, "permuted %d groups of %s (seed %d%s) -> %s; secret -> %s%s%n", selected.size(),
                pspec.architecture(), s, range == null ? "" : ", scaled", out, secret,
                diff == null ? "" : String.format(Locale.ROOT, "; logits max abs diff %.3g", diff));
        return 0;
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
