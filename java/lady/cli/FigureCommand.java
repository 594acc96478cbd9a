package lady.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code lady figure}: the paper's figures, one subcommand each. To add a figure, write a
 * {@code Figure...Command} (a {@code Callable<Integer>} with {@code @Mixin FigureOptions} for the shared
 * options) and list it in {@code subcommands} below.
 */
@Command(name = "figure", mixinStandardHelpOptions = true,
        description = {"Regenerate the paper's figures: each writes a PNG, the CSV behind it and a JSON",
                "with every point."},
        subcommands = {FigureRankingQuantCommand.class, FigureRankingNoiseCommand.class})
final class FigureCommand implements Runnable {

    @Spec CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
