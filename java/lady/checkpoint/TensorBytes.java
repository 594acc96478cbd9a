package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteOrder;
import java.util.zip.CRC32;

import lady.LadyException;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

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

    /**
     * Writes the tensor's bytes at the channel's position, adding them to {@code crc} (null: none): a
     * tensor without index maps straight from its memory (a mapped input's pages), a lazily permuted one
     * gathered from its base into {@code scratch} a chunk of rows at a time ({@link IndexedTensor#stream}).
     */
    static void write(lady.io.FileSink ch, IndexedTensor t, HostMemory scratch, CRC32 crc) throws IOException {
        t.stream(scratch, chunk -> {
            if (crc != null) {
                crc.update(chunk.duplicate());
            }
            ch.write(chunk);
        });
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
