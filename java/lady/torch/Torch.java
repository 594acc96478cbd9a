package lady.torch;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

import lady.LadyException;

/**
 * libtorch bootstrap. Call {@link #init()} before any {@code org.bytedeco.pytorch} class is touched.
 *
 * <p>It fixes the first-run crash (stack notes, pitfall 1): with an empty JavaCPP cache the first
 * JVM that loads libtorch dies with SIGSEGV because libtorch.so is loaded before libtorch_cpu.so
 * was extracted. Extracting libtorch_cpu.so first, from this class (which does not extend a
 * libtorch type), avoids it. It also sets libtorch's thread count (default: all cores; the
 * {@code lady.threads} system property or the {@code LADY_THREADS} environment variable override).
 *
 * <p>And it makes libtorch's CPU allocator zero every new block ({@link #allocatorFill()}) as soon as a
 * model has a convolution whose output channels are not a multiple of {@link #ONEDNN_CHANNEL_BLOCK}
 * ({@link #requireZeroFillFor}, called by the model builder), because libtorch 2.10's oneDNN reads
 * memory it never wrote there: for such a convolution (e.g. the 8-channel layers of VGG16 at width
 * 0.125), backward-data (jit:avx512_core) runs on the incoming gradient and the weights reordered
 * into channel-padded layouts, and the padding channels are not all written. Padding garbage that
 * happens to be NaN or infinity (left by an earlier tensor in recycled heap memory: rare in a fresh
 * process, common late in a long test run) gives NaN * 0 = NaN in the input gradient of that layer,
 * hence in the gradients of every layer below: the intermittent NaN in the first conv's weight and
 * bias after one SGD step of narrow VGG16 (issue 7). Zero-filled blocks make the padding 0. The fill
 * costs a memset of every block (training the README's width-0.5 VGG16, which does not need it, went
 * from about 350 to 183-249 images/s with it, quiet 2-core machine, batch 128), so models whose
 * channels are all multiples of the block do not turn it on. {@code AllocatorFillTest} reproduces the bug with the allocator's junk
 * (NaN) fill.
 */
public final class Torch {
    private Torch() {}

    private static volatile boolean initialized;

    public static void init() {
        if (initialized) {
            return;
        }
        synchronized (Torch.class) {
            if (initialized) {
                return;
            }
            String platform = Loader.getPlatform();
            try {
                Loader.cacheResource("/org/bytedeco/pytorch/" + platform + "/libtorch_cpu.so");
            } catch (IOException e) {
                throw new LadyException(LadyException.Kind.IO,
                        "cannot extract libtorch into the JavaCPP cache: " + e.getMessage(), e);
            }
            Loader.load(org.bytedeco.pytorch.global.torch.class);
            org.bytedeco.pytorch.global.torch.set_num_threads(threads());
            // libtorch routes some single-thread, batch-1 convolutions (active ranking) to NNPACK, which this
            // build cannot initialize on AVX-512 machines: it printed "Could not initialize NNPACK! Reason:
            // Unsupported hardware" on every such call (about 400,000 lines for one 30000-step ranking) and
            // fell back to oneDNN anyway. Turned off, the same convolutions go to oneDNN without the attempt.
            org.bytedeco.pytorch.global.torch.globalContext().setUserEnabledNNPACK(false);
            initialized = true;
        }
    }

    /** What libtorch's CPU allocator writes into every new block (c10's allocator flags). */
    public enum AllocatorFill {
        /** Nothing: blocks hold whatever the heap had (libtorch's default). */
        NONE,
        /** Zeros: what {@link #requireZeroFillFor} sets (see the class comment). */
        ZERO,
        /** A NaN pattern (0x7fedbeef): makes reads of never-written memory visible (tests). */
        JUNK
    }

    /**
     * Channels per block of oneDNN's blocked layouts with AVX-512 (8 with AVX2, so multiples of 16 are safe
     * on both): a convolution with another output channel count is computed on padded layouts.
     */
    public static final int ONEDNN_CHANNEL_BLOCK = 16;

    /**
     * Whether oneDNN computes a convolution with {@code outChannels} output channels on channel-padded
     * layouts (not a multiple of {@link #ONEDNN_CHANNEL_BLOCK}). Such convolutions need the zero fill
     * ({@link #requireZeroFillFor}) and their multi-threaded backward pass is not bit-reproducible
     * (measured: two 2-thread trainings of VGG16 at width 0.125, 8-channel first layers, differ in every
     * tensor after 16 steps, by up to 5e-4 without batch norm and 6e-2 with it, zero fill on; at width
     * 0.5 or 0.25, all multiples of 16, they are bit-identical): see {@code lady.train.Trainer}.
     */
    public static boolean paddedChannels(long outChannels) {
        return outChannels % ONEDNN_CHANNEL_BLOCK != 0;
    }

    /** Channels per block of oneDNN's blocked layouts with AVX2, the smallest block of the CPUs Lady runs on. */
    public static final int ONEDNN_MIN_CHANNEL_BLOCK = 8;

    /**
     * The input channels a convolution with {@code in} input channels (no groups) must be computed with: {@code in}
     * itself, or the next multiple of {@link #ONEDNN_CHANNEL_BLOCK} (zero channels added to the input and zero
     * columns to the weight, which changes nothing mathematically). libtorch 2.10's float32 oneDNN convolution
     * returns wrong values (relative error of order 1, not rounding) for input channel counts above the CPU's
     * channel block that are not a multiple of it: measured 2026-12 on an AVX-512 EPYC for 3x3 kernels with 17-31,
     * 33-47, ... 590 input channels (16, 32, 48, 64 exact), and with {@code ONEDNN_MAX_CPU_ISA=AVX2} for 9-15,
     * 17-23, 25-31, ... (8, 16, 24, 32 exact); the float64 convolution and PyTorch 1.13 are right. It reads memory
     * it never wrote (the allocator's junk fill makes the outputs NaN), so the zero fill does not help. Standard
     * widths never hit it (their channels are multiples of 16, or at most 8); a checkpoint with other widths (a
     * pruned or structurally obfuscated copy: 590 channels) does, and is computed on padded channels instead.
     * Which CPUs are affected is not known in advance: every such convolution is padded.
     */
    public static long convolutionInputChannels(long in) {
        if (in <= ONEDNN_MIN_CHANNEL_BLOCK || in % ONEDNN_CHANNEL_BLOCK == 0) {
            return in;
        }
        return (in + ONEDNN_CHANNEL_BLOCK - 1) / ONEDNN_CHANNEL_BLOCK * ONEDNN_CHANNEL_BLOCK;
    }

    /**
     * Turns the allocator's zero fill on, for the rest of the process, when a convolution with
     * {@code outChannels} output channels needs it (not a multiple of {@link #ONEDNN_CHANNEL_BLOCK}: see
     * the class comment); a fill already chosen (zero, or junk in a test) is left alone.
     */
    public static synchronized void requireZeroFillFor(long outChannels) {
        if (paddedChannels(outChannels) && allocatorFill() == AllocatorFill.NONE) {
            setAllocatorFill(AllocatorFill.ZERO);
        }
    }

    private static final String ZERO_FILL_FLAG = "FLAGS_caffe2_cpu_allocator_do_zero_fill";
    private static final String JUNK_FILL_FLAG = "FLAGS_caffe2_cpu_allocator_do_junk_fill";

    /**
     * Sets what the allocator writes into new blocks. libtorch aborts the process when both of its
     * flags are on, so the other flag is always cleared first. Process-wide: only tests should
     * set it directly, and restore what they found.
     */
    public static synchronized void setAllocatorFill(AllocatorFill fill) {
        init();
        applyAllocatorFill(fill);
    }

    private static void applyAllocatorFill(AllocatorFill fill) {
        BytePointer zero = flag(ZERO_FILL_FLAG);
        BytePointer junk = flag(JUNK_FILL_FLAG);
        if (fill != AllocatorFill.ZERO) {
            zero.put((byte) 0);
        }
        if (fill != AllocatorFill.JUNK) {
            junk.put((byte) 0);
        }
        if (fill == AllocatorFill.ZERO) {
            zero.put((byte) 1);
        } else if (fill == AllocatorFill.JUNK) {
            junk.put((byte) 1);
        }
    }

    /** What the allocator writes into new blocks now. */
    public static synchronized AllocatorFill allocatorFill() {
        init();
        return flag(ZERO_FILL_FLAG).get() != 0 ? AllocatorFill.ZERO
                : flag(JUNK_FILL_FLAG).get() != 0 ? AllocatorFill.JUNK : AllocatorFill.NONE;
    }

    /** The one-byte C++ bool {@code name} exported by libc10 (loaded with libtorch). */
    private static BytePointer flag(String name) {
        Pointer p = Loader.addressof(name);
        if (p == null || p.isNull()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "libtorch's allocator flag " + name
                    + " was not found (libtorch " + presetsVersion() + "): Lady needs it to zero new memory, "
                    + "without which convolutions with channels not a multiple of " + ONEDNN_CHANNEL_BLOCK
                    + " can train into NaN (see lady.torch.Torch)");
        }
        return new BytePointer(p).capacity(1);
    }

    /**
     * The trainable parameters of {@code module} and its sub-modules by dotted name, in libtorch's
     * order, as owned handles (sharing storage with the module's parameters): the dictionary's
     * {@code get} returns references into the dictionary, which the GC may free while they are used.
     */
    public static Map<String, org.bytedeco.pytorch.Tensor> namedParameters(org.bytedeco.pytorch.Module module) {
        org.bytedeco.pytorch.StringTensorDict dict = module.named_parameters(true);
        org.bytedeco.pytorch.StringVector keys = dict.keys();
        Map<String, org.bytedeco.pytorch.Tensor> out = new LinkedHashMap<>();
        for (long i = 0; i < keys.size(); i++) {
            String name = keys.get(i).getString();
            out.put(name, new org.bytedeco.pytorch.Tensor(dict.get(name)));
        }
        java.lang.ref.Reference.reachabilityFence(dict);
        return out;
    }

    /** Sets libtorch's thread count now (the CLI's {@code --threads}); later {@link #threads()} calls agree. */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "threads must be >= 1, got " + n);
        }
        System.setProperty("lady.threads", Integer.toString(n));
        init();
        org.bytedeco.pytorch.global.torch.set_num_threads(n);
    }

    /** Threads for libtorch and the CPU kernels. */
    public static int threads() {
        String value = System.getProperty("lady.threads", System.getenv("LADY_THREADS"));
        if (value != null && !value.isBlank()) {
            try {
                int n = Integer.parseInt(value.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                throw new LadyException(LadyException.Kind.USAGE, "lady.threads / LADY_THREADS must be a positive integer, got '" + value + "'");
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** The JavaCPP PyTorch presets version, e.g. "2.10.0-1.5.13". */
    public static String presetsVersion() {
        try {
            String v = Loader.getVersion("org.bytedeco", "pytorch");
            return v == null ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }
}
