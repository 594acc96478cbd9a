package lady.app;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import lady.BuildInfo;
import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.io.OutputSet;
import lady.kernels.Backend;
import lady.kernels.Tolerances;
import lady.model.Model;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.model.PermutationCheck;
import lady.onnx.Onnx;
import lady.onnx.OnnxGraph;
import lady.onnx.OrtRunner;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Secret;
import lady.progress.ProgressListener;
import lady.structure.NetworkView;
import lady.structure.NeuronScaling;
import lady.util.Seeds;

/**
 * {@code lady permute}: shuffles the neurons of a checkpoint (optionally rescales them), writes the permuted
 * checkpoint in the input's format and the secret, and optionally checks that the function is unchanged.
 * Nothing is put in place unless everything succeeded; the secret is put in place first (a permuted model never
 * exists without the means to undo it).
 */
public final class PermuteJob {
    private PermuteJob() {}

    /**
     * A permutation to make.
     *
     * @param model      input checkpoint (PyTorch zip, safetensors, ONNX, Hugging Face folder)
     * @param arch       architecture, or null to infer it
     * @param graph      an ONNX graph giving the groups, or null
     * @param specFile   a spec file giving the groups, or null
     * @param groups     "all" or a comma-separated list of group names
     * @param seed       seed of the permutations (and of the scaling and the probe)
     * @param out        permuted checkpoint to write
     * @param secret     secret file to write
     * @param verify     check that the outputs are unchanged
     * @param scaleRange {lo, hi} of the log-uniform neuron scaling, or null for none
     * @param backend    permutation kernel
     */
    public record Request(Path model, String arch, Path graph, Path specFile, String groups, long seed, Path out,
            Path secret, boolean verify, double[] scaleRange, Backend backend) {}

    /**
     * A permutation made.
     *
     * @param architecture the spec's architecture
     * @param permuted     groups permuted
     * @param groups       groups of the spec
     * @param seed         the seed used
     * @param scaled       whether neurons were rescaled
     * @param onnx         whether the model is an ONNX model
     * @param difference   the verification's largest difference (logits max abs, or ONNX outputs max relative), or
     *                     null without --verify
     * @param floatNoise   the model's own float32 noise ({@link OrtRunner#floatNoise}, {@link PermutationCheck.Check}),
     *                     measured when its difference exceeded {@link Tolerances#LOGITS_MAX_ABS_DIFF}; else null
     * @param manifest     inputs, options, timings
     */
    public record Result(String architecture, int permuted, int groups, long seed, boolean scaled, boolean onnx,
            Double difference, Double floatNoise, Boolean inputsMatter, Manifest manifest) {}

    /** Runs the request; stages are reported to {@code progress} as they end. */
    public static Result run(Request r, ProgressListener progress) {
        JobLog log = new JobLog("permute", progress).input("--model", r.model()).input("--graph", r.graph())
                .input("--spec", r.specFile()).option("arch", r.arch()).option("groups", r.groups())
                .option("seed", r.seed()).option("verify", r.verify())
                .option("scale_range", r.scaleRange() == null ? null : List.of(r.scaleRange()[0], r.scaleRange()[1]))
                .option("backend", r.backend().name().toLowerCase(Locale.ROOT));
        Path model = r.model();
        long s = r.seed();
        double[] range = r.scaleRange();
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", model).input("--graph", r.graph()).input("--spec", r.specFile());
            Path secretTmp = outs.file("--secret", r.secret());
            Path outTmp = outs.like("--out", r.out(), model);

            long t0 = JobLog.now();
            StateDict state = Checkpoints.read(model);
            Path graphFile = Models.graphOf(model, r.graph(), r.arch(), r.specFile());
            boolean onnx = Checkpoints.formatOf(model) == Checkpoints.Format.ONNX;
            ModelConfig config = r.specFile() == null && graphFile == null ? Models.infer(state, r.arch()) : null;
            PermutationSpec pspec = Models.spec(state, r.arch(), r.specFile(), graphFile);
            List<String> selected = Permuter.select(pspec, r.groups());
            log.stage("read", t0, String.format(Locale.ROOT, "read %s: %s, %d tensors, %.1f MB", model,
                    pspec.architecture(), state.size(), state.byteSize() / 1e6));

            Model reference = null;
            if (r.verify() && !onnx) {
                if (config == null) {
                    throw new LadyException(LadyException.Kind.USAGE, "--verify runs the model, which Lady can do for the "
                            + "networks it recognizes and for ONNX models, not from a spec file or --graph alone; drop --verify");
                }
                PermutationCheck.requireMemoryFor(state.numel(), "--verify");
                reference = config.create();
                reference.load(state);
            }
            Map<String, double[]> scales = Map.of();
            if (range != null) {
                t0 = JobLog.now();
                if (config == null && graphFile == null) {
                    throw new LadyException(LadyException.Kind.USAGE, "--scale-range needs the network's graph (which "
                            + "activations the neurons pass through), which a spec file does not give; drop --scale-range or --spec");
                }
                NetworkView view = config != null ? NetworkView.of(state, config.architecture())
                        : NetworkView.of(OnnxGraph.of(Onnx.read(graphFile)).graph(), pspec);
                scales = NeuronScaling.random(pspec, selected, range[0], range[1], Seeds.derive(s, "scale"));
                NeuronScaling.apply(state, view, scales);
                log.stage("scale", t0, String.format(Locale.ROOT, "scaled %d groups by factors in [%s, %s]",
                        selected.size(), range[0], range[1]));
            }
            t0 = JobLog.now();
            Map<String, Permutation> perms = Permuter.random(pspec, selected, s);
            // index maps over the input's bytes, gathered as the output is written (--verify reads them first)
            Permuter.applyLazily(state, pspec, perms, r.backend());
            log.stage("permute", t0, String.format(Locale.ROOT, "permuted %d of %d groups (%s kernel)", selected.size(),
                    pspec.groups().size(), r.backend().name().toLowerCase(Locale.ROOT)));

            Double diff = null;
            Double noise = null; // the model's own float32 noise, when its difference needed it
            Boolean inputsMatter = null; // whether the check could see anything: the outputs depend on the inputs
            if (r.verify() && !onnx) {
                t0 = JobLog.now();
                PermutationCheck.Check c = PermutationCheck.verifyChecked(reference, state,
                        reference.probe(4, Seeds.derive(s, "probe")), Seeds.derive(s, "float noise"));
                diff = c.difference();
                noise = c.floatNoise();
                inputsMatter = c.inputsMatter();
                log.stage("verify", t0, String.format(Locale.ROOT, "verified: max abs logit difference %.3g", diff)
                        + (noise == null ? "" : String.format(Locale.ROOT, ", within %.0f times the model's float32 "
                        + "noise (%.3g)", Tolerances.FLOAT_NOISE_FACTOR, noise))
                        + (inputsMatter ? "" : PermutationCheck.INPUTS_IGNORED));
            }

            t0 = JobLog.now();
            new Secret(BuildInfo.version(), pspec.architecture(), s, perms, scales).write(secretTmp);
            Checkpoints.writeLike(outTmp, state, model);
            if (r.verify() && onnx) {
                long t1 = JobLog.now();
                OnnxCheck checked = OnnxCheck.of(model, s, outTmp, "permuted");
                diff = checked.difference();
                noise = checked.noise();
                inputsMatter = checked.inputsMatter();
                log.stage("verify", t1, String.format(Locale.ROOT,
                        "verified in ONNX Runtime: max relative output difference %.3g", diff) + (noise == null ? ""
                        : String.format(Locale.ROOT, ", within %.0f times the model's float32 noise (%.3g)",
                        Tolerances.FLOAT_NOISE_FACTOR, noise)) + (inputsMatter ? "" : PermutationCheck.INPUTS_IGNORED));
            }
            outs.commit();
            log.stage("write", t0, "wrote " + r.out() + " and " + r.secret() + Checkpoints.leftOutNote(model));
            return new Result(pspec.architecture(), selected.size(), pspec.groups().size(), s, range != null, onnx, diff,
                    noise, inputsMatter, log.manifest());
        }
    }

}
