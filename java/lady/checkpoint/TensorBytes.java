package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.tensor.HostTensor;

/**
 * Bulk moves between files and tensor memory: the file channel writes straight from the tensor's
 * native memory (a mapped input file's pages for unchanged tensors), in windows a
 * {@link java.nio.ByteBuffer} can address. No element-by-element copies (stack notes, pitfall 6).
 */
final class TensorBytes {
    private TensorBytes() {}

    /**
     * The elements of a tensor of {@code shape} with {@code elementSize}-byte elements. An absurd shape throws
     * {@link ArithmeticException}: a negative dimension, or dimensions whose product, zeros counted as ones,
     * times the element size overflows a long. So an empty tensor such as [0, 2^62] is refused as the same
     * shape without its zero would be; an empty tensor with large but representable dimensions (e.g.
     * [0, 2^40]) is accepted: it allocates nothing, and every product of its dimensions fits a long.
     */
    static long numel(long[] shape, int elementSize) {
        long numel = 1;
        long bound = elementSize;
        for (long d : shape) {
            if (d < 0) {
                throw new ArithmeticException("negative dimension");
            }
            numel *= d; // cannot overflow while bound does not
            bound = Math.multiplyExact(bound, Math.max(d, 1));
        }
        return numel;
    }

    /** Largest window one ByteBuffer covers. */
    private static final long CHUNK = 1L << 30;

    static void requireLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new LadyException(LadyException.Kind.INTERNAL,
                    "checkpoints are little-endian; big-endian machines are not supported");
        }
    }

    /** Writes the whole tensor's bytes at the channel's position. */
    static void write(FileChannel ch, HostTensor t) throws IOException {
        long n = t.byteSize();
        for (long done = 0; done < n; done += CHUNK) {
            AtomicFiles.writeFully(ch, t.bytes(done, (int) Math.min(CHUNK, n - done)));
        }
        java.lang.ref.Reference.reachabilityFence(t);
    }

    /** CRC-32 (zip's checksum) of the tensor's bytes. */
    static long crc32(HostTensor t) {
        CRC32 crc = new CRC32();
        long n = t.byteSize();
        for (long done = 0; done < n; done += CHUNK) {
            crc.update(t.bytes(done, (int) Math.min(CHUNK, n - done)));
        }
        java.lang.ref.Reference.reachabilityFence(t);
        return crc.getValue();
    }
}
