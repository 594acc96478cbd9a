package lady.cli;

import java.security.SecureRandom;

import picocli.CommandLine.Option;

/**
 * The seed of a command that makes a secret ({@code --seed}; default a fresh random seed, which the command
 * records or prints), as a picocli mixin.
 */
final class FreshSeedOption {

    @Option(names = "--seed", paramLabel = "N",
            description = "Seed (default: a fresh random seed, recorded in the output).")
    Long seed;

    /** The given seed, or a fresh one from {@link SecureRandom}. */
    long orFresh() {
        return seed != null ? seed : new SecureRandom().nextLong();
    }
}
