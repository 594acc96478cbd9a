package lady.cli;

/** Option texts shared by several commands. The files a command reads and writes go through lady.io.OutputSet. */
final class CliFiles {
    private CliFiles() {}

    /** Help of the --graph option of the commands that derive a spec. */
    static final String GRAPH_HELP = "An ONNX model of the same network whose graph gives the permutation groups "
            + "(its initializer names, Identity aliases followed, are the checkpoint's tensor names: an export with "
            + "training=TrainingMode.PRESERVE, do_constant_folding=False). An ONNX --model is its own graph.";
}
