package lady.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

import lady.LadyException;
import lady.util.Text;

/**
 * The output policy of every command that writes files, in one place:
 * <ol>
 * <li>no output is an input: each output is compared with every input after resolving symbolic links
 * (and, for files that exist, by file identity, so a hard link is caught too), and outputs differ from
 * each other; a clash is a USAGE error before any work is done;</li>
 * <li>everything is written to temporaries in the target's folder ({@link #file} returns the
 * temporary file to write, {@link #directory} and {@link #folder} a temporary folder), created when the
 * output is registered, so a missing or unwritable folder, or a folder given for a file, fails at once;</li>
 * <li>only {@link #commit()}, called when the command has succeeded, renames the temporaries to their
 * targets (a {@link #directory}'s files one by one into the target folder, created then; a {@link #folder}
 * as a whole, in place of the target folder); {@link #close()} without
 * a commit (a failure: an exception, a full disk, a bad later input) deletes every temporary, and so
 * does the JVM's shutdown (Ctrl-C) for sets still open: a failed command leaves no new file.</li>
 * </ol>
 * Use it as {@code try (OutputSet outs = new OutputSet()) { outs.input(...); Path tmp = outs.file(...); ...;
 * outs.commit(); }}. Temporaries are hidden files named {@code .lady-XXXXXXXX-NAME}: they keep the target's
 * name as their end, so writers that choose a format by extension choose the same one.
 */
public final class OutputSet implements AutoCloseable {
    /** Prefix of every temporary name (hidden files). */
    static final String TEMP_PREFIX = ".lady-";
    /** Longest part of the target's name kept in a temporary name (file names are limited to 255 bytes). */
    private static final int MAX_NAME_KEPT = 160;

    private record Input(String option, Path path) {}

    private static final class Output {
        final String option;
        final Path target;
        final Path staged;
        final boolean directory;
        /** A folder that replaces the target folder as a whole ({@link #folder}), not merged into it. */
        final boolean replace;

        Output(String option, Path target, Path staged, boolean directory, boolean replace) {
            this.option = option;
            this.target = target;
            this.staged = staged;
            this.directory = directory;
            this.replace = replace;
        }
    }

    private final List<Input> inputs = new ArrayList<>();
    private final List<Output> outputs = new ArrayList<>();
    private boolean committed;
    private boolean closed;

    /** An empty set, registered for clean-up at JVM shutdown until it is closed. */
    public OutputSet() {
        Cleanup.register(this);
    }

    /** Declares a file the command reads ({@code path} null: nothing). */
    public synchronized OutputSet input(String option, Path path) {
        if (path == null) {
            return this;
        }
        for (Output o : outputs) {
            if ((!o.directory || o.replace) && sameFile(o.target, path)) {
                throw clash(o.option, o.target, option);
            }
            if (o.replace && inside(path, o.target)) {
                throw insideReplaced(option, path, o);
            }
        }
        inputs.add(new Input(option, path));
        return this;
    }

    /**
     * Registers the file output {@code target} of option {@code option} ({@code target} null: null) and
     * returns the temporary file the command writes instead (replace it as a whole, e.g. with
     * {@link AtomicFiles}); {@link #commit()} renames it to {@code target}.
     */
    public synchronized Path file(String option, Path target) {
        if (target == null) {
            return null;
        }
        requireOpen();
        Path abs = target.toAbsolutePath();
        if (Files.isDirectory(abs)) {
            throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString())
                    + " is a folder; give a file name");
        }
        Path dir = existingParent(option, target, "file");
        checkAgainstOthers(option, abs);
        Path staged = create(dir, abs.getFileName().toString(), false, target);
        outputs.add(new Output(option, abs, staged, false, false));
        return staged;
    }

    /** {@code target}'s absolute path; a USAGE error (ending with {@code why}) when it exists and is no folder. */
    private static Path requireFolderOrNothing(String option, Path target, String why) {
        Path abs = target.toAbsolutePath();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString())
                    + " exists and is not a folder" + why);
        }
        return abs;
    }

    /** The folder {@code target} goes into: a USAGE error when {@code target} has no name, an IO error when that
     * folder does not exist or is not a folder. */
    private static Path existingParent(String option, Path target, String what) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || abs.getFileName() == null) {
            throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString())
                    + " is not a " + what + " name");
        }
        if (!Files.isDirectory(dir)) {
            throw new LadyException(LadyException.Kind.IO, "cannot write " + Text.quote(target.toString()) + ": "
                    + (Files.exists(dir) ? Text.quote(dir.toString()) + " is not a folder"
                            : "no such folder: " + Text.quote(dir.toString())));
        }
        return dir;
    }

    /**
     * Registers the folder output {@code target} (created at commit if missing, with its parents;
     * files already in it that the command does not write are kept) and returns the temporary folder
     * the command writes into instead.
     */
    public synchronized Path directory(String option, Path target) {
        requireOpen();
        Path abs = requireFolderOrNothing(option, target, "");
        if (abs.getFileName() == null) {
            throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString())
                    + " is not a folder name");
        }
        for (Output o : outputs) {
            if (o.directory && sameFile(o.target, abs)) {
                throw new LadyException(LadyException.Kind.USAGE, option + " and " + o.option + " name the same folder "
                        + Text.quote(target.toString()));
            }
        }
        // the temporary goes into the nearest folder that exists, so that nothing is created before the commit
        Path anchor = abs.getParent();
        while (anchor != null && !Files.exists(anchor)) {
            anchor = anchor.getParent();
        }
        if (anchor == null || !Files.isDirectory(anchor)) {
            throw new LadyException(LadyException.Kind.IO, "cannot create " + Text.quote(target.toString()) + ": "
                    + (anchor == null ? "no existing parent folder" : Text.quote(anchor.toString()) + " is not a folder"));
        }
        Path staged = create(anchor, abs.getFileName().toString(), true, target);
        outputs.add(new Output(option, abs, staged, true, false));
        return staged;
    }

    /**
     * Registers the output {@code target} of a writer that produces a whole folder (a Hugging Face model folder:
     * {@code lady.checkpoint.Checkpoints#writeLike}) and returns the temporary folder (created, empty) to write
     * instead; the writer may replace it as a whole. {@link #commit()} puts it in place of {@code target}: an
     * existing folder there is replaced, none of its files kept. No input may lie inside {@code target}.
     */
    public synchronized Path folder(String option, Path target) {
        requireOpen();
        Path abs = requireFolderOrNothing(option, target, " (the model is written as a folder, like its input)");
        Path dir = existingParent(option, target, "folder");
        Output o = new Output(option, abs, null, true, true);
        for (Input in : inputs) {
            if (sameFile(abs, in.path)) {
                throw clash(option, abs, in.option);
            }
            if (inside(in.path, abs)) {
                throw insideReplaced(in.option, in.path, o);
            }
        }
        for (Output other : outputs) {
            if (sameFile(abs, other.target) || inside(other.target, abs) || inside(abs, other.target)) {
                throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString())
                        + " and " + other.option + " " + Text.quote(other.target.toString()) + " overlap");
            }
        }
        Path staged = create(dir, abs.getFileName().toString(), true, target);
        outputs.add(new Output(option, abs, staged, true, true));
        return staged;
    }

    /**
     * The output of a command that writes a model the way {@code like} is stored: a {@link #folder} when
     * {@code like} is a folder (a Hugging Face model folder), else a {@link #file}; null for a null {@code target}.
     */
    public Path like(String option, Path target, Path like) {
        if (target == null) {
            return null;
        }
        if (like != null && Files.isDirectory(like)) {
            requireReplaceable(option, target, like);
            return folder(option, target);
        }
        return file(option, target);
    }

    /** Most files of an existing target folder looked at before it is replaced (a model folder holds a few dozen). */
    static final int MAX_LISTED_FILES = 10_000;

    /**
     * A folder output replaces its target as a whole: refused (USAGE, nothing written) when the target is a folder
     * that holds a file the model folder {@code like} has no file of that name for (relative path): notes, another
     * model's shards, a home folder. An earlier output of the same kind of model, or an empty folder, is replaced.
     */
    private static void requireReplaceable(String option, Path target, Path like) {
        Path abs = target.toAbsolutePath().normalize();
        if (!Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<String> foreign = new ArrayList<>();
        int seen = 0;
        try (Stream<Path> walk = Files.walk(abs)) {
            for (Path p : (Iterable<Path>) walk.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))::iterator) {
                String rel = abs.relativize(p).toString();
                if (++seen > MAX_LISTED_FILES || !Files.isRegularFile(like.resolve(rel), LinkOption.NOFOLLOW_LINKS)) {
                    foreign.add(seen > MAX_LISTED_FILES ? "more than " + MAX_LISTED_FILES + " files" : rel);
                    if (foreign.size() >= Text.NAMES_SHOWN || seen > MAX_LISTED_FILES) {
                        break;
                    }
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot list " + Text.quote(abs.toString()) + ", which "
                    + option + " would replace: " + e.getMessage(), e);
        }
        if (!foreign.isEmpty()) {
            throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(target.toString()) + " is a folder "
                    + "holding files that are not the model's (" + Text.list(foreign, Text.NAMES_SHOWN) + "); the model "
                    + "folder would replace it as a whole: give a new folder name, or empty that one");
        }
    }

    /** Whether {@code path} lies strictly inside the folder {@code folder} (after resolving links). */
    private static boolean inside(Path path, Path folder) {
        Path p = canonical(path);
        Path f = canonical(folder);
        return !p.equals(f) && p.startsWith(f);
    }

    private static LadyException insideReplaced(String inputOption, Path input, Output o) {
        return new LadyException(LadyException.Kind.USAGE, inputOption + " " + Text.quote(input.toString())
                + " lies inside the folder " + o.option + " " + Text.quote(o.target.toString())
                + ", which is replaced as a whole; write elsewhere");
    }

    /** Where {@code path} (a temporary from this set, or a file inside a temporary folder) will be after the
     * commit; any other path unchanged. For messages and reports that name the outputs. */
    public synchronized Path published(Path path) {
        for (Output o : outputs) {
            if (path.equals(o.staged)) {
                return o.target;
            }
            if (o.directory && path.startsWith(o.staged)) {
                return o.target.resolve(o.staged.relativize(path));
            }
        }
        return path;
    }

    /**
     * Puts every output in place: checks the final list (no file of an output folder lands on an input or
     * on another output), then renames the temporaries. Call it once, when the command has succeeded.
     */
    public synchronized void commit() {
        requireOpen();
        List<Path[]> moves = new ArrayList<>();
        List<Output> replaced = new ArrayList<>();
        for (Output o : outputs) {
            if (o.replace) {
                if (Files.exists(o.target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(o.target)) {
                    throw new LadyException(LadyException.Kind.IO, "cannot write " + Text.quote(o.target.toString())
                            + ": a file of that name is in the way");
                }
                replaced.add(o);
                continue;
            }
            if (!o.directory) {
                moves.add(new Path[] {o.staged, o.target});
                continue;
            }
            try (Stream<Path> walk = Files.walk(o.staged)) {
                for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile).sorted()::iterator) {
                    Path dest = o.target.resolve(o.staged.relativize(p).toString());
                    if (Files.isDirectory(dest)) {
                        throw new LadyException(LadyException.Kind.IO, "cannot write " + Text.quote(dest.toString())
                                + ": a folder is in the way");
                    }
                    for (Input in : inputs) {
                        if (sameFile(dest, in.path)) {
                            throw clash(o.option, dest, in.option);
                        }
                    }
                    moves.add(new Path[] {p, dest});
                }
            } catch (IOException | UncheckedIOException e) {
                throw new LadyException(LadyException.Kind.IO, "cannot list " + Text.quote(o.staged.toString()) + ": "
                        + e.getMessage(), e);
            }
        }
        Set<Path> seen = new LinkedHashSet<>();
        for (Path[] m : moves) {
            if (!seen.add(canonical(m[1]))) {
                throw new LadyException(LadyException.Kind.USAGE, "two outputs of this command would both be written to "
                        + Text.quote(m[1].toString()));
            }
        }
        List<Path> old = new ArrayList<>();
        try {
            for (Output o : outputs) {
                if (o.directory && !o.replace) {
                    Files.createDirectories(o.target);
                }
            }
            for (Path[] m : moves) {
                Files.createDirectories(m[1].getParent());
                move(m[0], m[1]);
            }
            for (Output o : replaced) {
                old.add(replaceFolder(o));
            }
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot put the outputs in place: " + describe(e), e);
        }
        for (Path p : old) {
            if (p != null) {
                deleteTree(p);
            }
        }
        committed = true;
        close();
    }

    /** Deletes every temporary that was not committed (a failed command leaves no file behind). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Cleanup.unregister(this);
        deleteTemporaries();
    }

    private void deleteTemporaries() {
        for (Output o : outputs) {
            deleteTree(o.staged);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this OutputSet is closed");
        }
    }

    private void checkAgainstOthers(String option, Path abs) {
        for (Input in : inputs) {
            if (sameFile(abs, in.path)) {
                throw clash(option, abs, in.option);
            }
        }
        for (Output o : outputs) {
            if (!o.directory && sameFile(abs, o.target)) {
                throw new LadyException(LadyException.Kind.USAGE, option + " and " + o.option + " name the same file "
                        + Text.quote(abs.toString()));
            }
            if (o.replace && (sameFile(abs, o.target) || inside(abs, o.target))) {
                throw new LadyException(LadyException.Kind.USAGE, option + " " + Text.quote(abs.toString())
                        + " lies inside the folder " + o.option + ", which is replaced as a whole; write elsewhere");
            }
        }
    }

    private static LadyException clash(String outputOption, Path output, String inputOption) {
        return new LadyException(LadyException.Kind.USAGE, outputOption + " " + Text.quote(output.toString())
                + " is the same file as " + inputOption + ": an input is never overwritten; write elsewhere");
    }

    /** Creates a new, empty temporary (a file, or a folder) named after {@code name} in {@code dir}. */
    private static Path create(Path dir, String name, boolean directory, Path target) {
        String kept = name.length() > MAX_NAME_KEPT ? name.substring(name.length() - MAX_NAME_KEPT) : name;
        for (int attempt = 0; ; attempt++) {
            String tag = String.format(Locale.ROOT, "%08x", ThreadLocalRandom.current().nextInt());
            Path p = dir.resolve(TEMP_PREFIX + tag + "-" + kept);
            try {
                return directory ? Files.createDirectory(p) : Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw new LadyException(LadyException.Kind.IO, "cannot create a temporary in " + dir, e);
                }
            } catch (IOException e) {
                throw new LadyException(LadyException.Kind.IO, "cannot write " + Text.quote(target.toString()) + ": "
                        + describe(e), e);
            }
        }
    }

    /** Puts the folder output {@code o} in place: an existing target is moved aside (and moved back if the new
     * folder cannot be put there); returns where it was moved, to delete once every output is in place, or null. */
    private static Path replaceFolder(Output o) throws IOException {
        Path aside = null;
        if (Files.exists(o.target, LinkOption.NOFOLLOW_LINKS)) {
            aside = create(o.target.getParent(), o.target.getFileName() + ".old", true, o.target);
            Files.delete(aside);
            move(o.target, aside);
        }
        try {
            move(o.staged, o.target);
        } catch (IOException e) {
            if (aside != null) {
                move(aside, o.target);
            }
            throw e;
        }
        return aside;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Whether {@code a} and {@code b} are the same file: by identity when both exist, else by real path. */
    static boolean sameFile(Path a, Path b) {
        try {
            if (Files.exists(a) && Files.exists(b)) {
                return Files.isSameFile(a, b);
            }
        } catch (IOException e) {
            // fall back to the paths
        }
        return canonical(a).equals(canonical(b));
    }

    /** The absolute path with every symbolic link of its existing part resolved. */
    static Path canonical(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs)) {
                return abs.toRealPath();
            }
        } catch (IOException e) {
            return abs;
        }
        Path parent = abs.getParent();
        if (parent == null || abs.getFileName() == null) {
            return abs;
        }
        if (Files.isSymbolicLink(abs)) { // a dangling link: where it points
            try {
                return canonical(parent.resolve(Files.readSymbolicLink(abs)));
            } catch (IOException e) {
                return abs;
            }
        }
        return canonical(parent).resolve(abs.getFileName());
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(q);
            }
        } catch (IOException | UncheckedIOException ignored) {
            // best effort: the failure being reported is the one that matters
        }
    }

    static String describe(IOException e) {
        if (e instanceof NoSuchFileException n) {
            return "no such file or folder: " + Text.quote(String.valueOf(n.getFile()));
        }
        if (e instanceof AccessDeniedException a) {
            return "permission denied: " + Text.quote(String.valueOf(a.getFile()));
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason() + (f.getFile() == null ? "" : ": " + Text.quote(f.getFile()));
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : Text.escape(m);
    }

    /** {@code path} as the user named it: the target of an open set's temporary (see {@link #published}), else
     * itself. For messages of writers that only see the temporary. */
    public static Path shown(Path path) {
        for (OutputSet s : Cleanup.open()) {
            Path p = s.published(path.toAbsolutePath());
            if (!p.equals(path.toAbsolutePath())) {
                return p;
            }
        }
        return path;
    }

    /** Deletes the temporaries of sets still open when the JVM shuts down (Ctrl-C, kill). */
    private static final class Cleanup {
        private static final Set<OutputSet> OPEN = new LinkedHashSet<>();
        private static boolean hooked;

        static synchronized void register(OutputSet s) {
            if (!hooked) {
                Runtime.getRuntime().addShutdownHook(new Thread(Cleanup::run, "lady-output-cleanup"));
                hooked = true;
            }
            OPEN.add(s);
        }

        static synchronized void unregister(OutputSet s) {
            OPEN.remove(s);
        }

        static synchronized List<OutputSet> open() {
            return new ArrayList<>(OPEN);
        }

        private static void run() {
            for (OutputSet s : open()) {
                s.close();
            }
        }
    }
}
