package lady.cli;

import picocli.CommandLine.Option;

/**
 * The master seed of a command's random choices ({@code --seed}, default 0; every stream derives from it through
 * lady.util.Seeds), as a picocli mixin. Commands whose default is a fresh seed use {@link FreshSeedOption}.
 */
final class SeedOption {

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S",
            description = "Master seed: every random choice of the run derives from it (default: ${DEFAULT-VALUE}).")
    long seed;
}
