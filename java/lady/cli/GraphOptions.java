package lady.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

import lady.checkpoint.StateDict;
import lady.io.OutputSet;
import lady.model.Models;
import lady.permutation.PermutationSpec;

/**
 * Where the permutation groups come from when the family does not say ({@code --graph}, {@code --spec}), as
 * one picocli mixin, with the one way every command turns them into a {@link PermutationSpec}.
 */
final class GraphOptions {

    @Option(names = "--graph", paramLabel = "FILE", description = CliFiles.GRAPH_HELP)
    Path graph;

    @Option(names = "--spec", paramLabel = "FILE",
            description = "Permutation groups of a network Lady does not know (a spec file, checked against the "
                    + "checkpoint; 'lady spec --help').")
    Path specFile;

    /** Declares both files as inputs of {@code outs} (no output may overwrite them). */
    OutputSet inputs(OutputSet outs) {
        return outs.input("--graph", graph).input("--spec", specFile);
    }

    /** The graph file of {@code model}: {@code --graph}, or an ONNX model itself; null when there is none. */
    Path graphOf(Path model, String arch) {
        return Models.graphOf(model, graph, arch, specFile);
    }

    /** The permutation spec of {@code state} read from {@code model}: the spec file, the graph, or the family's. */
    PermutationSpec spec(StateDict state, Path model, String arch) {
        return Models.spec(state, arch, specFile, graphOf(model, arch));
    }
}
