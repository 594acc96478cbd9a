package lady.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

import lady.LadyException;

/**
 * Atomic file writes: the content goes to a temporary file in the target's directory, which is
 * flushed to disk (fsync) and then renamed over the target. Readers therefore see either the old
 * file or the complete new one, never a half-written file; when writing fails the temporary file
 * is deleted and an existing target is left untouched.
 *
 * <p>Every file Lady writes (checkpoints, reports, CSV) goes through this class; a command writes through it
 * into the temporaries of its {@link OutputSet}, which puts them in place only when the command succeeds.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file through a {@link FileChannel} positioned at 0. */
    @FunctionalInterface
    public interface ChannelBody {
        void write(FileChannel channel) throws IOException;
    }

    /** Writes the content of a file through a {@link FileSink} (front to back, with small patches). */
    @FunctionalInterface
    public interface SinkBody {
        void write(FileSink sink) throws IOException;
    }

    /** Writes the content of a file through an {@link OutputStream} (buffered; do not close it). */
    @FunctionalInterface
    public interface StreamBody {
        void write(OutputStream out) throws IOException;
    }

    /** Atomically replaces {@code target} with what {@code body} writes to the channel. */
    public static void write(Path target, ChannelBody body) {
        write(target, body, null);
    }

    /** Writes the temporary file itself (opening, writing, flushing to disk) instead of through a channel. */
    @FunctionalInterface
    private interface FileBody {
        void write(Path tmp) throws IOException;
    }

    private static void write(Path target, ChannelBody body, FileBody fileBody) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new LadyException(LadyException.Kind.IO,
                    "cannot write " + OutputSet.shown(target) + ": no such folder: " + dir);
        }
        Path tmp = temporary(dir, abs.getFileName().toString(), target);
        boolean done = false;
        try {
            if (fileBody != null) {
                fileBody.write(tmp);
            } else {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    body.write(ch);
                    ch.force(true);
                }
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            syncDirectory(dir);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot write " + OutputSet.shown(target) + ": " + describe(e), e);
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is the one to report
                }
            }
        }
    }

    /**
     * Atomically replaces {@code target} with what {@code body} writes to a {@link FileSink}: a large file
     * (a checkpoint), written with direct I/O where the file system allows it (set the system property
     * {@code lady.io.direct} to false to write through the page cache instead).
     */
    public static void writeSink(Path target, SinkBody body) {
        boolean direct = !"false".equals(System.getProperty(DIRECT_PROPERTY));
        write(target, null, tmp -> {
            try (FileSink sink = FileSink.open(tmp, direct)) {
                body.write(sink);
                sink.finish();
            }
        });
    }

    /** The system property that turns direct I/O off for {@link #writeSink} ("false"). */
    public static final String DIRECT_PROPERTY = "lady.io.direct";

    /** Atomically replaces {@code target} with what {@code body} writes to a buffered stream. */
    public static void writeStream(Path target, StreamBody body) {
        write(target, ch -> {
            OutputStream raw = Channels.newOutputStream(ch);
            BufferedOutputStream out = new BufferedOutputStream(raw, 1 << 16);
            body.write(out);
            out.flush();
        });
    }

    /** Atomically replaces {@code target} with {@code bytes}. */
    public static void writeBytes(Path target, byte[] bytes) {
        write(target, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** Atomically replaces {@code target} with {@code text} in UTF-8. */
    public static void writeString(Path target, String text) {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes all remaining bytes of {@code buf} (a channel may write fewer per call). */
    public static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /** Writes all remaining bytes of {@code buf} at {@code position} (the channel's own position is unchanged). */
    public static void writeFullyAt(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long at = position;
        while (buf.hasRemaining()) {
            at += ch.write(buf, at);
        }
    }

    /** A new empty file beside the target, created with the default permissions (the umask's, as the target
     * would get; Files.createTempFile would make it readable by its owner only). */
    private static Path temporary(Path dir, String name, Path target) {
        String kept = name.length() > MAX_NAME_KEPT ? name.substring(name.length() - MAX_NAME_KEPT) : name;
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve("." + kept + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
            try {
                return Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw new LadyException(LadyException.Kind.IO, "cannot create a temporary file in " + dir, e);
                }
            } catch (IOException e) {
                throw new LadyException(LadyException.Kind.IO, "cannot write " + OutputSet.shown(target) + ": " + describe(e), e);
            }
        }
    }

    /** Longest part of the target's name kept in a temporary's name (names are limited to 255 bytes). */
    private static final int MAX_NAME_KEPT = 160;

    private static void syncDirectory(Path dir) {
        // Makes the rename durable; not every file system lets a directory be opened: best effort.
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | RuntimeException ignored) {
            // the data itself is already on disk
        }
    }

    private static String describe(IOException e) {
        return OutputSet.describe(e);
    }
}
