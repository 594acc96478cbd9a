package lady.torch;

import java.io.IOException;

import org.bytedeco.javacpp.Loader;

import lady.LadyException;

/**
 * libtorch bootstrap. Call {@link #init()} before any {@code org.bytedeco.pytorch} class is touched.
 *
 * <p>It fixes the first-run crash (stack notes, pitfall 1): with an empty JavaCPP cache the first
 * JVM that loads libtorch dies with SIGSEGV because libtorch.so is loaded before libtorch_cpu.so
 * was extracted. Extracting libtorch_cpu.so first, from this class (which does not extend a
 * libtorch type), avoids it. It also sets libtorch's thread count (default: all cores; the
 * {@code lady.threads} system property or the {@code LADY_THREADS} environment variable override).
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
            initialized = true;
        }
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
