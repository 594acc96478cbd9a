package lady.torch;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

import lady.LadyException;
import lady.util.Parallel;

/**
 * libtorch bootstrap. Call {@link #init()} before any {@code org.bytedeco.pytorch} class is touched.
 *
 * <p>It fixes the first-run crash (stack notes, pitfall 1): with an empty JavaCPP cache the first
 * JVM that loads libtorch dies with SIGSEGV because libtorch.so is loaded before libtorch_cpu.so
 * was extracted. Extracting libtorch_cpu.so first, from this class (which does not extend a
 * libtorch type), avoids it. It also sets libtorch's thread count (default: all cores; the
 * {@code lady.threads} system property or the {@code LADY_THREADS} environment variable override).
 *
 * <p>And it makes libtorch's CPU allocator zero every new block while Lady trains
 * ({@link #zeroFillWhileTraining()}, opened by every training loop: {@code lady.train.Trainer}, the
 * watermark's embedding-only steps, the active ranking), because libtorch 2.10's oneDNN can read memory it
 * never wrote in a backward pass: on the AVX-512 EPYC development machines the backward-data of a
 * convolution whose output channels are not a multiple of the channel block (the 8-channel layers of
 * VGG16 at width 0.125) runs on channel-padded layouts whose padding is not all written. Padding garbage
 * that happens to be NaN or infinity (left by an earlier tensor in recycled heap memory: rare in a fresh
 * process, common late in a long test run) gives NaN * 0 = NaN in the input gradient of that layer,
 * hence in the gradients of every layer below: the intermittent NaN in the first conv's weight and bias
 * after one SGD step of narrow VGG16 (issue 7). Zero-filled blocks make the padding 0. Which CPUs have
 * the bug is not known in advance (it did not show on an AVX2-only EPYC, nor on an AVX-512 + AMX Xeon,
 * nor with {@code ONEDNN_MAX_CPU_ISA=AVX2} here: it depends on the kernels oneDNN picks), so the fill does
 * not depend on the model or the CPU: every training step runs with it. Its cost is a memset of every new
 * block (bench/RESULTS.md, "zero fill"). Inference and everything else run without it.
 * {@code AllocatorFillTest} shows the bug with the allocator's junk (NaN) fill where the CPU has it.
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
            org.bytedeco.pytorch.global.torch.set_num_threads(Parallel.threads());
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
        /** Zeros: what {@link #zeroFillWhileTraining()} sets (see the class comment). */
        ZERO,
        /** A NaN pattern (0x7fedbeef): makes reads of never-written memory visible (tests). */
        JUNK
    }

    /** Open {@link #zeroFillWhileTraining()} scopes (nested: a trainer inside the watermark's training). */
    private static int trainingScopes;
    /** The fill found when the outermost scope opened; restored when it closes. */
    private static AllocatorFill beforeTraining;

    /** A {@link #zeroFillWhileTraining()} scope; closing it restores the fill found when it opened. */
    public static final class ZeroFill implements AutoCloseable {
        private boolean open = true;

        private ZeroFill() {}

        @Override
        public void close() {
            synchronized (Torch.class) {
                if (!open) {
                    return;
                }
                open = false;
                if (--trainingScopes == 0 && beforeTraining == AllocatorFill.NONE
                        && allocatorFill() == AllocatorFill.ZERO) {
                    applyAllocatorFill(AllocatorFill.NONE);
                }
            }
        }
    }

    /** Channels per block of oneDNN's blocked layouts with AVX-512, the largest block of the CPUs Lady runs on. */
    public static final int ONEDNN_CHANNEL_BLOCK = 16;

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
     * it never wrote (the allocator's junk fill makes the outputs NaN), so the zero fill does not help. VGG's,
     * ResNet's and DenseNet's standard widths never hit it (multiples of 16, or at most 8); MobileNetV3's (24, 40,
     * 72, ... input channels) and a checkpoint with other widths (a pruned or structurally obfuscated copy: 590
     * channels) do, and are computed on padded channels instead.
     * Which CPUs are affected is not known in advance: every such convolution is padded.
     */
    public static long convolutionInputChannels(long in) {
        if (in <= ONEDNN_MIN_CHANNEL_BLOCK || in % ONEDNN_CHANNEL_BLOCK == 0) {
            return in;
        }
        return (in + ONEDNN_CHANNEL_BLOCK - 1) / ONEDNN_CHANNEL_BLOCK * ONEDNN_CHANNEL_BLOCK;
    }

    /**
     * Makes the allocator zero every new block until the returned scope is closed (see the class comment:
     * every backward pass Lady runs is inside one, whatever the model and the CPU). Scopes nest; a fill
     * already chosen when the outermost one opens (zero, or junk in a test) is left as it is.
     */
    public static ZeroFill zeroFillWhileTraining() {
        synchronized (Torch.class) {
            init();
            if (trainingScopes++ == 0) {
                beforeTraining = allocatorFill();
                if (beforeTraining == AllocatorFill.NONE) {
                    applyAllocatorFill(AllocatorFill.ZERO);
                }
            }
            return new ZeroFill();
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
                    + " was not found (libtorch " + presetsVersion() + "): Lady needs it to zero new memory while "
                    + "training, without which oneDNN's convolutions can train into NaN (see lady.torch.Torch)");
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

    /** Sets libtorch's thread count (the CLI's {@code --threads}; applied when libtorch is loaded, or now if it is); later
     * {@link Parallel#threads()} calls agree. */
    public static void setThreads(int n) {
        Parallel.checkThreads(n, "threads");
        System.setProperty("lady.threads", Integer.toString(n));
        if (initialized) { // else init() reads the property: a command that never needs libtorch does not load it
            org.bytedeco.pytorch.global.torch.set_num_threads(n);
        }
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
