package lady.cli;

import picocli.CommandLine.Option;

import lady.data.DataSource;

/** The dataset a command trains or evaluates on ({@code --data}, default the built-in digits), as a picocli mixin. */
final class DataOption {

    @Option(names = "--data", defaultValue = "digits", paramLabel = "SPEC",
            description = "Data: " + DataSource.SYNTAX + " (default: ${DEFAULT-VALUE}).")
    String data;

    /** The parsed source (a bad spec is a usage error). */
    DataSource source() {
        return DataSource.parse(data);
    }
}
