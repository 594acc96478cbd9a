package lady.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import lady.LadyException;

/**
 * Where the images come from, parsed from a spec string:
 * <ul>
 * <li>{@code digits}: the built-in digits (classpath resources);</li>
 * <li>{@code cifar10:DIR}: the CIFAR-10 binary archive, {@code DIR} holding data_batch_1..5.bin and
 * test_batch.bin (or its sub-folder cifar-10-batches-bin holding them);</li>
 * <li>{@code cifar10-files:TRAIN,TEST}: one training and one test file in CIFAR-10 binary format;</li>
 * <li>{@code mnist:DIR}: the four MNIST IDX files (raw or .gz) in {@code DIR}.</li>
 * </ul>
 * Parsing checks the syntax only; files are read (and checked) by {@link #train()} and
 * {@link #test()}.
 */
public final class DataSource {
    /** The kinds of source, with their spec prefix. */
    public enum Kind {
        DIGITS("digits"), CIFAR10("cifar10"), CIFAR10_FILES("cifar10-files"), MNIST("mnist");

        private final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }

        public String prefix() {
            return prefix;
        }
    }

    /** What a spec looks like, for error messages and help texts. */
    public static final String SYNTAX = "digits, cifar10:DIR, cifar10-files:TRAIN,TEST or mnist:DIR";

    private final Kind kind;
    private final String spec;
    private final List<Path> paths;

    private DataSource(Kind kind, String spec, List<Path> paths) {
        this.kind = kind;
        this.spec = spec;
        this.paths = List.copyOf(paths);
    }

    /** The built-in digits. */
    public static DataSource digits() {
        return new DataSource(Kind.DIGITS, "digits", List.of());
    }

    public static DataSource parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw usage("empty data source; expected " + SYNTAX);
        }
        String s = spec.trim();
        int colon = s.indexOf(':');
        String prefix = colon < 0 ? s : s.substring(0, colon);
        String arg = colon < 0 ? null : s.substring(colon + 1);
        Kind kind = null;
        for (Kind k : Kind.values()) {
            if (k.prefix.equalsIgnoreCase(prefix)) {
                kind = k;
            }
        }
        if (kind == null) {
            throw usage("unknown data source '" + prefix + "'; expected " + SYNTAX);
        }
        switch (kind) {
            case DIGITS:
                if (arg != null) {
                    throw usage("data source 'digits' takes no argument, got '" + s + "'");
                }
                return digits();
            case CIFAR10:
            case MNIST:
                if (arg == null || arg.isBlank()) {
                    throw usage("data source '" + kind.prefix + "' needs a directory: " + kind.prefix + ":DIR");
                }
                return new DataSource(kind, s, List.of(Path.of(arg)));
            case CIFAR10_FILES:
            default:
                String[] parts = arg == null ? new String[0] : arg.split(",", -1);
                if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
                    throw usage("data source 'cifar10-files' needs two files: cifar10-files:TRAIN,TEST, got '" + s + "'");
                }
                return new DataSource(kind, s, List.of(Path.of(parts[0].trim()), Path.of(parts[1].trim())));
        }
    }

    public Kind kind() {
        return kind;
    }

    /** The spec this source was parsed from (normalized for "digits"). */
    public String spec() {
        return spec;
    }

    /** Whether horizontal flip suits this data by default (photographs yes, digits no). */
    public boolean horizontalFlip() {
        return kind == Kind.CIFAR10 || kind == Kind.CIFAR10_FILES;
    }

    /** Reads the training split. */
    public Dataset train() {
        return load(true);
    }

    /** Reads the test split. */
    public Dataset test() {
        return load(false);
    }

    private Dataset load(boolean train) {
        String split = train ? "train" : "test";
        switch (kind) {
            case DIGITS:
                return train ? Digits.train() : Digits.test();
            case CIFAR10: {
                Path dir = cifarDirectory(paths.get(0));
                List<Path> files = new ArrayList<>();
                for (String f : train ? CifarBinary.TRAIN_FILES : List.of(CifarBinary.TEST_FILE)) {
                    files.add(dir.resolve(f));
                }
                for (Path f : files) {
                    if (!Files.isRegularFile(f)) {
                        throw new LadyException(LadyException.Kind.IO, "CIFAR-10 file missing: " + f + " (a cifar10:DIR"
                                + " directory holds " + String.join(", ", CifarBinary.TRAIN_FILES) + " and "
                                + CifarBinary.TEST_FILE + ")");
                    }
                }
                return CifarBinary.read("cifar10/" + split, files, true);
            }
            case CIFAR10_FILES:
                return CifarBinary.read("cifar10-files/" + split, List.of(paths.get(train ? 0 : 1)), true);
            case MNIST:
            default:
                return MnistIdx.readDirectory("mnist/" + split, paths.get(0), train ? "train" : "t10k");
        }
    }

    /** DIR itself, or DIR/cifar-10-batches-bin when that is where the files are (the archive's folder). */
    private static Path cifarDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new LadyException(LadyException.Kind.IO, "CIFAR-10 directory not found: " + dir);
        }
        Path nested = dir.resolve("cifar-10-batches-bin");
        if (!Files.exists(dir.resolve(CifarBinary.TEST_FILE)) && Files.isDirectory(nested)) {
            return nested;
        }
        return dir;
    }

    private static LadyException usage(String message) {
        return new LadyException(LadyException.Kind.USAGE, message);
    }

    @Override
    public String toString() {
        return spec;
    }
}
