package lady.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import lady.BuildInfo;
import lady.LadyException;

/** Entry point of the {@code lady} command line. Command classes stay thin: parsing here, work in the library. */
@Command(name = "lady", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Permute the neurons of trained neural networks and put them back in order",
                "(re-synchronization; Find the Lady, AAAI 2024)."},
        subcommands = {InfoCommand.class, DemoCommand.class, TrainCommand.class, EvalCommand.class, PermuteCommand.class, ResyncCommand.class, SpecCommand.class, WatermarkCommand.class, AttackCommand.class, Table1Command.class, CanonCommand.class, FigureCommand.class, CorrelateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI in-process (also used by tests) and returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Throwable e = ex;
            while (!(e instanceof LadyException) && e.getCause() != null && e.getCause() != e) {
                e = e.getCause();
            }
            if (e instanceof LadyException le) {
                commandLine.getErr().println("lady: error: " + le.getMessage());
                return le.exitCode();
            }
            commandLine.getErr().println("lady: internal error: " + ex);
            ex.printStackTrace(commandLine.getErr());
            return LadyException.Kind.INTERNAL.exitCode();
        });
        return cli.execute(args);
    }

    /** {@code lady --version}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {BuildInfo.describe()};
        }
    }
}
