package lady.checkpoint;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.io.AtomicFiles;

/**
 * Bulk moves between files and libtorch tensor memory: the file channel reads straight into (and
 * writes straight from) the tensor's buffer, in chunks a {@link ByteBuffer} can address. No
 * element-by-element copies (stack notes, pitfall 6).
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

    /** Largest chunk one ByteBuffer covers. */
    private static final long CHUNK = 1L << 30;

    static void requireLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new LadyException(LadyException.Kind.INTERNAL,
                    "checkpoints are little-endian; big-endian machines are not supported");
        }
    }

    /** A new contiguous CPU tensor of {@code dtype} and {@code shape}, uninitialized. */
    static Tensor empty(DType dtype, long[] shape) {
        try {
            return torch.empty(shape, new TensorOptions(dtype.scalarType()), new MemoryFormatOptional());
        } catch (RuntimeException e) {
            throw LadyException.invalidInput("cannot allocate a " + dtype.name().toLowerCase() + " tensor of shape "
                    + lady.util.Text.shape(shape) + ": " + firstLine(e.getMessage()));
        }
    }

    /** A buffer over {@code length} bytes of the contiguous tensor's memory from byte {@code offset}. */
    static ByteBuffer window(Tensor t, long offset, long length) {
        Pointer base = t.data_ptr();
        BytePointer p = new BytePointer(base);
        p.position(offset).limit(offset + length).capacity(offset + length);
        return p.asBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Fills the whole (contiguous) tensor from the file, starting at {@code position}. */
    static void read(FileChannel ch, long position, Tensor t, String what) throws IOException {
        long n = t.nbytes();
        for (long done = 0; done < n; ) {
            long len = Math.min(CHUNK, n - done);
            ByteBuffer buf = window(t, done, len);
            while (buf.hasRemaining()) {
                int r = ch.read(buf, position + done + buf.position());
                if (r < 0) {
                    throw new EOFException("file ends inside " + what);
                }
            }
            done += len;
        }
    }

    /** Writes the whole (contiguous) tensor's bytes at the channel's position. */
    static void write(FileChannel ch, Tensor t) throws IOException {
        long n = t.nbytes();
        for (long done = 0; done < n; done += CHUNK) {
            AtomicFiles.writeFully(ch, window(t, done, Math.min(CHUNK, n - done)));
        }
    }

    /** CRC-32 (zip's checksum) of the contiguous tensor's bytes. */
    static long crc32(Tensor t) {
        CRC32 crc = new CRC32();
        long n = t.nbytes();
        for (long done = 0; done < n; done += CHUNK) {
            crc.update(window(t, done, Math.min(CHUNK, n - done)));
        }
        return crc.getValue();
    }

    /** The tensor as a contiguous CPU tensor of a supported dtype (itself when already so). */
    static Tensor contiguousCpu(String name, Tensor t) {
        if (!t.is_cpu()) {
            throw LadyException.invalidInput("tensor '" + name + "' is not on the CPU");
        }
        if (t.is_sparse() || t.is_quantized()) {
            throw LadyException.invalidInput("tensor '" + name + "' is sparse or quantized; only dense tensors can be saved");
        }
        DType.of(t.scalar_type());
        return t.is_contiguous() ? t : t.contiguous();
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
