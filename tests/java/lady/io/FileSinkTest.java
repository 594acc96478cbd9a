package lady.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both ways of writing a large file give the same bytes: direct I/O through the aligned staging buffer
 * (pieces of every size, a file longer than the buffer and not a whole number of blocks, patches of bytes
 * still staged and of bytes already on disk) and the plain channel; and a failed write leaves no file.
 */
class FileSinkTest {
    @TempDir
    Path dir;

    /** Writes pieces of random sizes and patches some of them; returns the bytes the file must hold. */
    private static byte[] write(FileSink sink, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        int total = FileSink.STAGING_BYTES * 2 + 12345;
        byte[] want = new byte[total];
        r.nextBytes(want);
        int at = 0;
        while (at < total) {
            int n = Math.min(total - at, r.nextInt(4) == 0 ? r.nextInt(3 << 20) : r.nextInt(300));
            ByteBuffer b = r.nextBoolean() ? ByteBuffer.allocateDirect(n) : ByteBuffer.allocate(n);
            b.put(want, at, n).flip();
            sink.write(b);
            at += n;
            assertEquals(at, sink.position());
            if (r.nextInt(5) == 0 && at >= 4) { // a CRC-like patch: somewhere already written
                int p = r.nextInt(at - 3);
                byte[] patch = {(byte) r.nextInt(), (byte) r.nextInt(), (byte) r.nextInt(), (byte) r.nextInt()};
                System.arraycopy(patch, 0, want, p, 4);
                sink.patch(p, ByteBuffer.wrap(patch));
            }
        }
        return want;
    }

    @Test
    void directAndPlainWritesGiveTheSameBytes() throws IOException {
        for (boolean direct : new boolean[] {true, false}) {
            Path f = Files.createFile(dir.resolve("f" + direct));
            byte[] want;
            try (FileSink sink = FileSink.open(f, direct)) {
                want = write(sink, 7);
                sink.finish();
            }
            assertArrayEquals(want, Files.readAllBytes(f), direct ? "direct" : "plain");
        }
    }

    @Test
    void atomicWriteThroughASinkLeavesNothingWhenItFails() throws IOException {
        Path target = dir.resolve("t.bin");
        AtomicFiles.writeSink(target, sink -> sink.write(ByteBuffer.wrap(new byte[] {1, 2, 3})));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target));
        try {
            AtomicFiles.writeSink(target, sink -> {
                sink.write(ByteBuffer.allocate(FileSink.STAGING_BYTES + 5));
                throw new IOException("disk full");
            });
        } catch (lady.LadyException e) {
            assertTrue(e.getMessage().contains("disk full"), e.getMessage());
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target), "the old file is kept");
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left");
        }
    }
}
