package lady.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/**
 * Where the permutation groups come from when the family does not say ({@code --graph}, {@code --spec}), as
 * one picocli mixin.
 */
final class GraphOptions {

    @Option(names = "--graph", paramLabel = "FILE", description = CliFiles.GRAPH_HELP)
    Path graph;

    @Option(names = "--spec", paramLabel = "FILE",
            description = "Permutation groups of a network Lady does not know (a spec file, checked against the "
                    + "checkpoint; 'lady spec --help').")
    Path specFile;
}
