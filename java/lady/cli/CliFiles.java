package lady.cli;

import java.nio.file.Path;

import lady.LadyException;

/** Checks on the files a command is given, shared by the commands that read a model and write another. */
final class CliFiles {
    private CliFiles() {}

    /** A USAGE error when {@code out} is the same file as {@code model}: the input is kept, never overwritten. */
    static void requireDistinctOutput(Path model, Path out) {
        if (model.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new LadyException(LadyException.Kind.USAGE, "--out must differ from --model (the input is kept)");
        }
    }
}
