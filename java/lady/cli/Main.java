package lady.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import lady.BuildInfo;
import lady.LadyException;
import lady.kernels.Backend;
import lady.resync.EvidenceScope;
import lady.resync.EvidenceWeighting;
import lady.resync.Margins;
import lady.resync.Method;
import lady.resync.Prefilter;
import lady.resync.Signal;
import lady.util.Text;

/** Entry point of the {@code lady} command line. Command classes stay thin: parsing here, work in the library. */
@Command(name = "lady", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Permute the neurons of trained neural networks and put them back in order",
                "(re-synchronization; Find the Lady, AAAI 2024)."},
        subcommands = {InfoCommand.class, DemoCommand.class, TrainCommand.class, EvalCommand.class, PermuteCommand.class, ResyncCommand.class, SpecCommand.class, WatermarkCommand.class, AttackCommand.class, Table1Command.class, CanonCommand.class, FigureCommand.class, CorrelateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Spec CommandSpec spec;

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
        // the library's enums parse their own words; a wrong one is the library's one-line usage error
        cli.registerConverter(Backend.class, Backend::parse);
        cli.registerConverter(Method.class, Method::parse);
        cli.registerConverter(Signal.class, Signal::parse);
        cli.registerConverter(Prefilter.class, Prefilter::parse);
        cli.registerConverter(EvidenceScope.class, EvidenceScope::parse);
        cli.registerConverter(EvidenceWeighting.class, EvidenceWeighting::parse);
        cli.registerConverter(Margins.class, Margins::parse);
        CommandLine.IParameterExceptionHandler parseErrors = cli.getParameterExceptionHandler();
        cli.setParameterExceptionHandler((ex, arguments) -> {
            if (ex.getCause() instanceof LadyException le) {
                ex.getCommandLine().getErr().println("lady: error: " + shortLines(Text.escapeLines(le.getMessage())));
                return le.exitCode();
            }
            return parseErrors.handleParseException(ex, arguments);
        });
        // --threads (and LADY_THREADS) applied once here, for every command that has the option, before it runs
        cli.setExecutionStrategy(parseResult -> {
            CommandLine.ParseResult last = parseResult;
            while (last.hasSubcommand()) {
                last = last.subcommand();
            }
            RunOptions run = runOptions(last.commandSpec());
            if (run != null && !last.isUsageHelpRequested() && !last.isVersionHelpRequested()) {
                try {
                    run.applyThreads();
                } catch (LadyException e) {
                    throw new CommandLine.ExecutionException(last.commandSpec().commandLine(), e.getMessage(), e);
                }
            }
            return new CommandLine.RunLast().execute(parseResult);
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Throwable e = ex;
            while (!(e instanceof LadyException) && e.getCause() != null && e.getCause() != e) {
                e = e.getCause();
            }
            if (e instanceof LadyException le) {
                // the last guard against text from a file reaching the terminal raw (Text.quote is the first)
                commandLine.getErr().println("lady: error: " + shortLines(Text.escapeLines(le.getMessage())));
                return le.exitCode();
            }
            commandLine.getErr().println("lady: internal error: " + ex);
            ex.printStackTrace(commandLine.getErr());
            return LadyException.Kind.INTERNAL.exitCode();
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            // the readers bound what a file may make them allocate; a real model larger than the heap ends here
            err.println("lady: error: out of Java memory (" + Runtime.getRuntime().maxMemory() / (1 << 20)
                    + " MiB); give the JVM more with LADY_JAVA_OPTS=-Xmx...");
            return LadyException.Kind.USAGE.exitCode(); // cannot be done as asked: more memory is needed
        } finally { // autoflush covers println and printf only: what a command print()ed is written before exit
            out.flush();
            err.flush();
        }
    }

    /** Longest line of an error message printed in full (messages are built short; this is the last guard). */
    static final int MAX_ERROR_LINE = 1000;

    /** {@code message} with each line longer than {@link #MAX_ERROR_LINE} cut, saying how much was left out. */
    static String shortLines(String message) {
        StringBuilder b = new StringBuilder();
        String[] lines = message.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (i > 0) {
                b.append('\n');
            }
            b.append(line.length() <= MAX_ERROR_LINE ? line
                    : line.substring(0, MAX_ERROR_LINE) + "... (" + (line.length() - MAX_ERROR_LINE) + " more characters)");
        }
        return b.toString();
    }

    /** The {@link RunOptions} mixed into {@code spec}, directly or through another mixin; null if none. */
    static RunOptions runOptions(CommandLine.Model.CommandSpec spec) {
        for (CommandLine.Model.CommandSpec mixin : spec.mixins().values()) {
            if (mixin.userObject() instanceof RunOptions r) {
                return r;
            }
            RunOptions inner = runOptions(mixin);
            if (inner != null) {
                return inner;
            }
        }
        return null;
    }

    /** {@code lady --version}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {BuildInfo.describe()};
        }
    }
}
