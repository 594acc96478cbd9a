package lady.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import lady.tensor.HostMemory;

/**
 * A file written front to back (with small patches of bytes already written, such as a zip entry's CRC in
 * its header): what the checkpoint writers write large files through ({@link AtomicFiles#writeSink}).
 *
 * <p>Where the file system allows it, the bytes go through an aligned staging buffer straight to the disk
 * (direct I/O, {@code O_DIRECT}): no copy into the page cache, whose fresh pages are costly to touch on
 * some virtual machines (twice the write throughput, a fraction of the CPU on the development machine:
 * bench/RESULTS.md), and nothing left to flush but the metadata. Elsewhere (tmpfs, file systems that
 * refuse direct I/O) it is a plain file channel. Either way the file's bytes are the same.
 */
public abstract class FileSink implements AutoCloseable {
    /** Bytes of the direct path's staging buffer (a multiple of any block size). */
    static final int STAGING_BYTES = 16 << 20;

    /** Appends all remaining bytes of {@code b}. */
    public abstract void write(ByteBuffer b) throws IOException;

    /** Bytes written so far (the position of the next byte). */
    public abstract long position();

    /** Overwrites bytes [at, at + b.remaining()) already written (at + length <= position()). */
    public abstract void patch(long at, ByteBuffer b) throws IOException;

    /** Writes what is staged, sets the file's length, applies the patches and flushes to disk (fsync). */
    abstract void finish() throws IOException;

    @Override
    public abstract void close() throws IOException;

    /** A sink on {@code file} (created, empty): direct I/O when {@code direct} and the file system takes it. */
    static FileSink open(Path file, boolean direct) throws IOException {
        if (direct) {
            FileSink d = Direct.tryOpen(file);
            if (d != null) {
                return d;
            }
        }
        return new Plain(FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING));
    }

    /** Through a plain file channel (page cache, then fsync). */
    static final class Plain extends FileSink {
        private final FileChannel ch;

        Plain(FileChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(ByteBuffer b) throws IOException {
            AtomicFiles.writeFully(ch, b);
        }

        @Override
        public long position() {
            try {
                return ch.position();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void patch(long at, ByteBuffer b) throws IOException {
            AtomicFiles.writeFullyAt(ch, b, at);
        }

        @Override
        void finish() throws IOException {
            ch.force(true);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    /**
     * Through {@code O_DIRECT}: bytes are gathered in an aligned staging buffer and written in whole blocks;
     * the last block is padded and the file truncated to its length at the end; patches of bytes still
     * staged go into the buffer, the others are applied at the end through a plain channel.
     */
    static final class Direct extends FileSink {
        private final Path file;
        private final FileChannel ch;
        private final HostMemory staging;
        private final ByteBuffer buffer;
        private final int block;
        private long flushed; // bytes written to the file (a multiple of block)
        private final List<long[]> patchAt = new ArrayList<>();
        private final List<byte[]> patchBytes = new ArrayList<>();

        private Direct(Path file, FileChannel ch, int block) {
            this.file = file;
            this.ch = ch;
            this.block = block;
            this.staging = HostMemory.allocate(STAGING_BYTES); // page-aligned: a fresh anonymous mapping
            this.buffer = staging.buffer(0, STAGING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        }

        static FileSink tryOpen(Path file) {
            FileChannel ch = null;
            try {
                int block = Math.toIntExact(java.nio.file.Files.getFileStore(file).getBlockSize());
                if (block <= 0 || STAGING_BYTES % block != 0 || block > 1 << 16) {
                    return null;
                }
                ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING,
                        com.sun.nio.file.ExtendedOpenOption.DIRECT);
                return new Direct(file, ch, block);
            } catch (IOException | UnsupportedOperationException | ArithmeticException e) {
                if (ch != null) {
                    try {
                        ch.close();
                    } catch (IOException ignored) {
                        // the plain path is taken instead
                    }
                }
                return null;
            }
        }

        @Override
        public void write(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                int n = Math.min(b.remaining(), buffer.remaining());
                ByteBuffer part = b.duplicate();
                part.limit(part.position() + n);
                buffer.put(part);
                b.position(b.position() + n);
                if (!buffer.hasRemaining()) {
                    flush(false);
                }
            }
        }

        /** Writes the staged whole blocks (all of them, padded, when {@code last}). */
        private void flush(boolean last) throws IOException {
            int staged = buffer.position();
            int whole = last ? (staged + block - 1) / block * block : staged / block * block;
            if (whole == 0) {
                return;
            }
            for (int i = staged; i < whole; i++) {
                buffer.put(i, (byte) 0); // padding, cut off by the truncation at the end
            }
            ByteBuffer out = staging.buffer(0, whole);
            while (out.hasRemaining()) {
                ch.write(out, flushed + out.position());
            }
            int rest = staged - Math.min(staged, whole);
            if (rest > 0) { // keep the partial block at the start of the buffer
                ByteBuffer tail = staging.buffer(whole, rest);
                ByteBuffer copy = ByteBuffer.allocate(rest).put(tail).flip();
                buffer.clear();
                buffer.put(copy);
            } else {
                buffer.clear();
            }
            flushed += whole;
            if (last) {
                flushed -= whole - staged; // the padding is not part of the file
            }
        }

        @Override
        public long position() {
            return flushed + buffer.position();
        }

        @Override
        public void patch(long at, ByteBuffer b) throws IOException {
            int n = b.remaining();
            if (at >= flushed && at + n <= position()) {
                for (int i = 0; i < n; i++) {
                    buffer.put((int) (at - flushed) + i, b.get(b.position() + i));
                }
                return;
            }
            byte[] bytes = new byte[n];
            b.duplicate().get(bytes);
            patchAt.add(new long[] {at});
            patchBytes.add(bytes);
        }

        @Override
        void finish() throws IOException {
            long length = position();
            flush(true);
            ch.truncate(length);
            ch.force(true);
            if (!patchAt.isEmpty()) { // bytes already on disk: a plain channel reads their blocks back
                try (FileChannel plain = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    for (int k = 0; k < patchAt.size(); k++) {
                        AtomicFiles.writeFullyAt(plain, ByteBuffer.wrap(patchBytes.get(k)), patchAt.get(k)[0]);
                    }
                    plain.force(true);
                }
            }
        }

        @Override
        public void close() throws IOException {
            try {
                ch.close();
            } finally {
                staging.close();
            }
        }
    }
}
