package lady.app;

import java.nio.file.Path;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.io.OutputSet;
import lady.model.Models;
import lady.permutation.PermutationSpec;
import lady.permutation.SpecFile;
import lady.progress.ProgressListener;

/**
 * {@code lady spec}: the permutation groups of a checkpoint (from its family's graph, an ONNX graph, or a spec
 * file checked against it), optionally written as a spec file.
 */
public final class SpecJob {
    private SpecJob() {}

    /**
     * The groups to derive.
     *
     * @param model    checkpoint
     * @param arch     architecture, or null to recognize it
     * @param graph    an ONNX graph giving the groups, or null
     * @param specFile a spec file to check instead of deriving one, or null
     * @param out      spec file to write, or null
     */
    public record Request(Path model, String arch, Path graph, Path specFile, Path out) {}

    /** The groups, and the manifest. */
    public record Result(PermutationSpec spec, Manifest manifest) {}

    /** Runs the request. */
    public static Result run(Request r, ProgressListener progress) {
        JobLog log = new JobLog("spec", progress).input("--model", r.model()).input("--graph", r.graph())
                .input("--spec", r.specFile()).option("arch", r.arch());
        try (OutputSet outs = new OutputSet()) {
            outs.input("--model", r.model()).input("--graph", r.graph()).input("--spec", r.specFile());
            Path outTmp = outs.file("--out", r.out());
            long t0 = JobLog.now();
            StateDict state = Checkpoints.read(r.model());
            PermutationSpec spec = Models.spec(state, r.arch(), r.specFile(),
                    Models.graphOf(r.model(), r.graph(), r.arch(), r.specFile()));
            log.stage("spec", t0, "derived " + spec.groups().size() + " groups of " + spec.architecture());
            if (outTmp != null) {
                SpecFile.write(outTmp, spec);
            }
            outs.commit();
            return new Result(spec, log.manifest());
        }
    }
}
