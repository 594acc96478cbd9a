package lady.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import lady.LadyException;
import lady.app.PermuteJob;
import lady.model.PermutationCheck;
import lady.kernels.Backend;
import lady.kernels.Tolerances;
import lady.progress.ProgressListener;

/** {@code lady permute}: shuffle the neurons of a checkpoint (optionally rescale them) and keep the secret. */
@Command(name = "permute", mixinStandardHelpOptions = true,
        description = {"Permute the hidden neurons of a checkpoint without changing its function",
                "(method.md 2-3).",
                "Writes the permuted checkpoint in the input's format and the secret (per group",
                "the applied permutation p: new neuron j is old neuron p[j]) as JSON. --model",
                "may also be an ONNX model (its groups come from its graph) or a Hugging Face",
                "model folder."})
final class PermuteCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin ModelInput input;

    @Mixin GraphOptions network;

    @Option(names = "--groups", defaultValue = "all", paramLabel = "all|G1,G2",
            description = "Groups to permute: all (default) or a comma-separated list, e.g. features.17,classifier.0.")
    String groups;

    @Mixin FreshSeedOption seed;

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

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "B",
            description = "Permutation kernel: ${COMPLETION-CANDIDATES} (default cpu).")
    Backend backend;

    @Mixin RunOptions run;

    @Mixin FormatOption format;

    @Override
    public Integer call() {
        ProgressListener stages = run.stageLines("lady permute", spec.commandLine().getErr());
        PermuteJob.Result r = PermuteJob.run(new PermuteJob.Request(input.model, input.arch, network.graph,
                network.specFile, groups, seed.orFresh(), out, secret, verify,
                scaleRange == null ? null : parseRange(scaleRange), backend), stages);
        if (format.json()) {
            java.util.Map<String, Object> o = new java.util.LinkedHashMap<>();
            o.put("tool", lady.BuildInfo.describe());
            o.put("model", input.model.toString());
            o.put("architecture", r.architecture());
            o.put("groups_permuted", r.permuted());
            o.put("groups", r.groups());
            o.put("seed", r.seed());
            o.put("scaled", r.scaled());
            o.put("out", out.toString());
            o.put("secret", secret.toString());
            if (r.difference() != null) {
                o.put(r.onnx() ? "verify_max_relative_diff" : "verify_logits_max_abs_diff", r.difference());
            }
            if (r.floatNoise() != null) {
                o.put("verify_float_noise", r.floatNoise());
            }
            if (r.inputsMatter() != null) {
                o.put("verify_outputs_depend_on_inputs", r.inputsMatter());
            }
            spec.commandLine().getOut().println(lady.report.Json.write(o));
            return 0;
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "permuted %d groups of %s (seed %d%s) -> %s; secret -> %s%s%n",
                r.permuted(), r.architecture(), r.seed(), r.scaled() ? ", scaled" : "", out, secret,
                r.difference() == null ? "" : String.format(Locale.ROOT, r.onnx()
                        ? "; outputs max relative diff %.3g (ONNX Runtime)" : "; logits max abs diff %.3g", r.difference())
                + (r.floatNoise() == null ? "" : String.format(Locale.ROOT, ", above %.0e but within %.0f times the "
                        + "model's own float32 noise (%.3g: every float32 weight moved by one unit in the last place)",
                        Tolerances.LOGITS_MAX_ABS_DIFF, Tolerances.FLOAT_NOISE_FACTOR, r.floatNoise()))
                + (r.inputsMatter() == null || r.inputsMatter() ? "" : PermutationCheck.INPUTS_IGNORED));
        return 0;
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
