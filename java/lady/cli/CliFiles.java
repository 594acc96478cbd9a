package lady.cli;

import java.nio.file.Path;

import lady.LadyException;

/** Checks on the files a command is given, shared by the commands that read a model and write another. */
final class CliFiles {
    private CliFiles() {}

    /** Help of the --graph option of the commands that derive a spec. */
    static final String GRAPH_HELP = "An ONNX model of the same network whose graph gives the permutation groups "
            + "(its initializer names, Identity aliases followed, are the checkpoint's tensor names: an export with "
            + "training=TrainingMode.PRESERVE, do_constant_folding=False). An ONNX --model is its own graph.";

    /** A USAGE error when {@code out} is the same file as {@code model}: the input is kept, never overwritten. */
    static void requireDistinctOutput(Path model, Path out) {
        if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new LadyException(LadyException.Kind.USAGE, "--out must differ from --model (the input is kept)");
        }
    }
}
