package lady.tensor;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.bytedeco.javacpp.BytePointer;

import lady.LadyException;
import lady.kernels.Kernels;

/**
 * A block of native host memory that tensors live in: a copy-on-write mapping of a whole checkpoint
 * file ({@link #mapFile}), a fresh zeroed buffer ({@link #allocate}), or memory owned by another
 * object ({@link #borrow}, e.g. a libtorch tensor). Mappings are private: writing a mapped tensor in
 * place (a permutation) makes private copies of the pages written, never changes the file.
 *
 * <p>The memory is released when the block becomes unreachable (a {@link Cleaner}), or at once by
 * {@link #close()} when its user knows that no tensor over it is used any more. Allocated bytes are
 * counted: when the live total passes the JVM's heap limit, an allocation first asks the collector to
 * release unreachable blocks (as JavaCPP does for its pointers), so that short-lived tensors do not
 * pile up between collections of a small heap.
 */
public final class HostMemory implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicLong LIVE_ALLOCATED = new AtomicLong();
    /** Collections an allocation may wait for when the live total is over the limit. */
    private static final int GC_ATTEMPTS = 3;
    private static final long GC_WAIT_MS = 20;

    /** What kind of memory a block is. */
    public enum Kind {
        /** A copy-on-write mapping of a file. */
        MAPPED,
        /** Anonymous memory allocated here. */
        ALLOCATED,
        /** Memory owned by another object, kept reachable by the block. */
        BORROWED
    }

    private final long address;
    private final long length;
    private final Kind kind;
    private final Path file;
    private final Object owner;
    private final Cleaner.Cleanable cleanable;

    private HostMemory(long address, long length, Kind kind, Path file, Object owner) {
        this.address = address;
        this.length = length;
        this.kind = kind;
        this.file = file;
        this.owner = owner;
        this.cleanable = kind == Kind.BORROWED ? null : CLEANER.register(this, new Release(address, length,
                kind == Kind.ALLOCATED));
    }

    /** Unmaps or frees once, from {@link #close()} or the cleaner. Holds no reference to the block. */
    private static final class Release implements Runnable {
        private final long address;
        private final long length;
        private final boolean counted;
        private final AtomicBoolean done = new AtomicBoolean();

        Release(long address, long length, boolean counted) {
            this.address = address;
            this.length = length;
            this.counted = counted;
        }

        @Override
        public void run() {
            if (done.compareAndSet(false, true) && address != 0) {
                if (counted) {
                    Kernels.free(address, length);
                    LIVE_ALLOCATED.addAndGet(-length);
                } else {
                    Kernels.unmap(address, length);
                }
            }
        }
    }

    /** Maps the whole file copy-on-write; an empty file gives an empty block. */
    public static HostMemory mapFile(Path file) {
        long[] m = Kernels.mapFile(file);
        return new HostMemory(m[0], m[1], Kind.MAPPED, file, null);
    }

    /** {@code bytes} of zeroed memory, 64-byte aligned. */
    public static HostMemory allocate(long bytes) {
        if (bytes < 0) {
            throw new LadyException(LadyException.Kind.INTERNAL, "negative allocation: " + bytes);
        }
        long limit = Runtime.getRuntime().maxMemory();
        for (int i = 0; i < GC_ATTEMPTS && LIVE_ALLOCATED.get() + bytes > limit; i++) {
            System.gc(); // releases unreachable blocks through the cleaner
            try {
                Thread.sleep(GC_WAIT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        long a = Kernels.alloc(bytes);
        LIVE_ALLOCATED.addAndGet(bytes);
        return new HostMemory(a, bytes, Kind.ALLOCATED, null, null);
    }

    /** {@code length} bytes at {@code address} owned by {@code owner}, which this block keeps reachable. */
    public static HostMemory borrow(long address, long length, Object owner) {
        return new HostMemory(address, length, Kind.BORROWED, null, owner);
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }

    public Kind kind() {
        return kind;
    }

    /** The mapped file ({@link Kind#MAPPED}), else null. */
    public Path file() {
        return file;
    }

    /** The object owning borrowed memory, else null. */
    public Object owner() {
        return owner;
    }

    /** Bytes of anonymous memory allocated here and not yet released (for tests and reports). */
    public static long liveAllocatedBytes() {
        return LIVE_ALLOCATED.get();
    }

    /**
     * A little-endian buffer over {@code length} bytes from byte {@code offset} of the block (a view:
     * writes go to the memory). Keep the block reachable while the buffer is used.
     */
    public ByteBuffer buffer(long offset, int length) {
        if (offset < 0 || length < 0 || offset > this.length - length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "buffer [" + offset + ", +" + length
                    + ") outside a block of " + this.length + " bytes");
        }
        return at(address + offset, length);
    }

    /** A little-endian buffer over {@code length} bytes of native memory at {@code address}. */
    static ByteBuffer at(long address, int length) {
        if (length == 0) {
            return ByteBuffer.allocateDirect(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        return new Address(address, length).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A JavaCPP pointer to {@code length} bytes at {@code address} (for libtorch's from_blob); borrows nothing. */
    public static BytePointer pointer(long address, long length) {
        return new Address(address, length);
    }

    /** A pointer at a raw address, without deallocator (the memory belongs to a block). */
    private static final class Address extends BytePointer {
        Address(long address, long length) {
            this.address = address;
            this.capacity = length;
            this.limit = length;
        }
    }

    /** Releases the memory now (no tensor over it may be used afterwards); borrowed memory is left to its owner. */
    @Override
    public void close() {
        if (cleanable != null) {
            cleanable.clean();
        }
    }
}
