package lady.cli;

import picocli.CommandLine.Option;

/** What a command prints on standard output ({@code --format text|json}), as a picocli mixin. */
final class FormatOption {

    @Option(names = "--format", defaultValue = "text", paramLabel = "F",
            description = "Standard output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OutputFormat format;

    /** Whether the command prints JSON. */
    boolean json() {
        return format == OutputFormat.json;
    }
}
