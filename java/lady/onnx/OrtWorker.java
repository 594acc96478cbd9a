package lady.onnx;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.platform.Fp16Conversions;

import lady.LadyException;
import lady.util.Settings;
import lady.util.Text;

/**
 * ONNX Runtime in a child process, so that no model file can end Lady's own process. ONNX Runtime asserts
 * (SIGABRT) or divides by zero (SIGFPE) on some malformed models while it loads or runs them, which no
 * Java code can catch; {@link OrtRunner}'s checks refuse the cases known ({@code requireLoadable}), and
 * this child contains every other one: when it ends, the request it was serving fails with a one-line
 * {@link LadyException} (INVALID_INPUT) that says how it ended and what ONNX Runtime printed last, and
 * the next request starts a fresh child.
 *
 * <p>One child per Lady process, started on first use (a JVM of its own with ONNX Runtime and none of
 * libtorch: about half a second), serves every {@link OrtRunner} of the process in turn, each an open
 * session of its own, and ends when Lady's process does (its standard input closes). Requests and replies
 * travel over the child's standard input and output ({@link DataOutputStream}, float32 values in bulk);
 * the child's standard error is kept, its last {@link #STDERR_KEPT} bytes, for the message of a crash.
 */
final class OrtWorker {
    private OrtWorker() {}

    /** Request codes. */
    private static final byte OPEN = 1;
    private static final byte RUN = 2;
    private static final byte CLOSE = 3;
    /** Reply status. */
    private static final byte OK = 0;
    private static final byte FAILED = 1;
    /** The first bytes of the child's output, before any reply: it started and serves this protocol. */
    private static final long HELLO = 0x4c61_6479_4f72_7431L; // "LadyOrt1"
    /** Bytes of the child's standard error kept for the message of a crash. */
    static final int STDERR_KEPT = 4096;
    /** Longest message carried in a reply (characters): ONNX Runtime's first line, cut further for the user. */
    private static final int MAX_MESSAGE = 2000;
    /** Values per chunk when float32 arrays cross the pipe. */
    private static final int CHUNK = 1 << 16;
    /** Seconds one request may take before the child is stopped, unless {@code lady.ort.timeout} /
     * {@code LADY_ORT_TIMEOUT} says otherwise: a Loop whose trip count never ends must not hang Lady. */
    static final long DEFAULT_TIMEOUT_S = 300;
    /** The child's address space is limited to this fraction of the machine's memory (ONNX Runtime then fails to
     * allocate, in one line, instead of pushing the machine into swap and the out-of-memory killer). */
    static final double MEMORY_FRACTION = 0.75;
    /** The child's address space is never limited below this (its JVM alone reserves about 1.5 GB of it). */
    static final long MIN_ADDRESS_SPACE = 4L << 30;
    /** The child's Java heap: it holds one request's inputs and outputs as float32 arrays. */
    private static final String CHILD_HEAP = "-Xmx1g";

    /** An input value: its name, its ONNX type ({@link OnnxDType#FLOAT}, INT64 or INT32; integers carried as floats). */
    record Feed(String name, OnnxDType type, long[] shape, float[] values) {}

    /**
     * An output value: its shape and values as float32, or, when no float32 array holds them exactly,
     * {@code unsupported} (ONNX Runtime's description of the value) and no values.
     */
    record Output(long[] shape, float[] values, String unsupported) {}

    // ------------------------------------------------------------------------------------------ the parent's end

    /** The child serving now, or null (volatile: the shutdown hook reads it without the lock). */
    private static volatile Child child;

    static {
        Thread hook = new Thread(() -> {
            Child c = child;
            if (c != null) {
                c.end();
            }
        }, "lady-ort-end");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * Opens a session on {@code file} with {@code threads} intra-op threads; its id for {@link #run} and {@link #close}.
     *
     * @throws LadyException INVALID_INPUT when ONNX Runtime cannot load the model or ends while it loads it
     */
    static synchronized int open(Path file, int threads) {
        return call(file, "loaded", out -> {
            out.writeByte(OPEN);
            writeString(out, file.toAbsolutePath().toString());
            out.writeInt(threads);
        }, in -> in.readInt(), "ONNX Runtime cannot load " + file + ": ");
    }

    /**
     * Runs session {@code session} (of model {@code file}) on {@code feeds}; its outputs by name in the graph's order.
     *
     * @throws LadyException INVALID_INPUT when ONNX Runtime fails on the model or ends while it runs it
     */
    static synchronized Map<String, Output> run(int session, Path file, List<Feed> feeds) {
        return call(file, "ran", out -> {
            out.writeByte(RUN);
            out.writeInt(session);
            out.writeInt(feeds.size());
            for (Feed f : feeds) {
                writeFeed(out, f);
            }
        }, in -> {
            int n = in.readInt();
            Map<String, Output> outputs = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                outputs.put(readString(in), readOutput(in));
            }
            return outputs;
        }, "ONNX Runtime failed on " + file + ": ");
    }

    /** Closes session {@code session} (of model {@code file}); nothing when its child has ended since it was opened. */
    static synchronized void close(int session, long generation, Path file) {
        if (child == null || child.generation != generation) {
            return;
        }
        try {
            call(file, "closed", out -> {
                out.writeByte(CLOSE);
                out.writeInt(session);
            }, in -> null, "ONNX Runtime cannot close its session on " + file + ": ");
        } catch (LadyException e) {
            // the session ends with its child anyway
        }
    }

    /** The process id of the child now serving, or -1 (for tests). */
    static synchronized long childPid() {
        return child == null ? -1 : child.process.pid();
    }

    /** The generation of the child now serving (sessions of an earlier one are gone with it). */
    static synchronized long generation() {
        return child == null ? -1 : child.generation;
    }

    private interface Request {
        void write(DataOutputStream out) throws IOException;
    }

    private interface Reply<T> {
        T read(DataInputStream in) throws IOException;
    }

    /**
     * Seconds one request may take: the {@code lady.ort.timeout} property, else {@code LADY_ORT_TIMEOUT}, else
     * {@link #DEFAULT_TIMEOUT_S}.
     */
    static long timeoutSeconds() {
        long most = TimeUnit.DAYS.toSeconds(365);
        String expected = "a number of seconds from 1 to " + most;
        Long s = Settings.integer("lady.ort.timeout", "LADY_ORT_TIMEOUT", expected);
        if (s != null && (s < 1 || s > most)) {
            throw Settings.invalid("lady.ort.timeout", "LADY_ORT_TIMEOUT", expected, s);
        }
        return s == null ? DEFAULT_TIMEOUT_S : s;
    }

    /** Stops children whose request ran out of time (one daemon thread, started on first use). */
    private static java.util.concurrent.ScheduledExecutorService watchdog;

    /**
     * Sends a request to the child (started when none serves) and reads its reply; a child that ends, or that does not
     * answer within {@link #timeoutSeconds()} (it is then stopped), is reported.
     */
    private static <T> T call(Path file, String verb, Request request, Reply<T> reply, String failure) {
        long limit = timeoutSeconds();
        if (child == null) {
            child = Child.start();
        }
        Child c = child;
        if (watchdog == null) {
            watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "lady-ort-watchdog");
                t.setDaemon(true);
                return t;
            });
        }
        java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ScheduledFuture<?> stop = watchdog.schedule(() -> {
            if (answered.compareAndSet(false, true)) {
                c.stopLate();
            }
        }, limit, TimeUnit.SECONDS);
        try {
            request.write(c.out);
            c.out.flush();
            boolean ok = c.in.readByte() == OK;
            T value = ok ? reply.read(c.in) : null;
            String message = ok ? null : readString(c.in);
            if (!answered.compareAndSet(false, true)) { // the watchdog came first: the child is being stopped
                throw new IOException("stopped as it answered");
            }
            if (ok) {
                return value;
            }
            throw LadyException.invalidInput(failure + message);
        } catch (IOException e) {
            child = null;
            answered.set(true);
            String how = c.end();
            if (c.late) {
                throw LadyException.invalidInput("ONNX Runtime took more than " + limit + " s while it " + verb + " "
                        + file + " and was stopped (a Loop that does not end, or a model too large for this machine);"
                        + " set LADY_ORT_TIMEOUT=SECONDS to allow longer");
            }
            throw LadyException.invalidInput("ONNX Runtime ended while it " + verb + " " + file + " (" + how
                    + "): the file is malformed, or ONNX Runtime cannot run it");
        } finally {
            stop.cancel(false);
        }
    }

    /** A running child and its pipes. */
    static final class Child {
        private static long started;
        final Process process;
        final DataOutputStream out;
        final DataInputStream in;
        final long generation;
        /** The child's temporary folder (ONNX Runtime extracts its native libraries there), deleted when it ends. */
        private final Path tmp;
        private final byte[] stderr = new byte[STDERR_KEPT];
        private int stderrLength;
        /** Set when the watchdog stopped the child: its request ran out of time. */
        volatile boolean late;

        private Child(Process process, long generation, Path tmp) {
            this.process = process;
            this.generation = generation;
            this.tmp = tmp;
            this.out = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
            this.in = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
            Thread drain = new Thread(this::drain, "lady-ort-stderr");
            drain.setDaemon(true);
            drain.start();
        }

        /** Stops the child: its request ran out of time (the pending read then ends). */
        void stopLate() {
            late = true;
            process.destroyForcibly();
        }

        static Child start() {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Path tmp = null;
            Process p;
            try {
                tmp = Files.createTempDirectory("lady-ort-");
                List<String> command = new ArrayList<>(memoryLimit());
                command.addAll(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", CHILD_HEAP,
                        // small reservations of address space, so that the limit leaves ONNX Runtime the most
                        "-XX:CompressedClassSpaceSize=64m", "-XX:ReservedCodeCacheSize=64m",
                        "-Djava.io.tmpdir=" + tmp, "-cp", classPath(), OrtWorker.class.getName()));
                ProcessBuilder pb = new ProcessBuilder(command);
                pb.environment().put("MALLOC_ARENA_MAX", "2"); // glibc reserves 64 MB of address space per arena
                p = pb.start();
            } catch (IOException e) {
                deleteTree(tmp);
                throw new LadyException(LadyException.Kind.IO, "cannot start ONNX Runtime's process (" + java + "): "
                        + e.getMessage(), e);
            }
            Child c = new Child(p, started++, tmp);
            try {
                if (c.in.readLong() != HELLO) {
                    throw new IOException("it answered out of protocol");
                }
            } catch (IOException e) {
                throw new LadyException(LadyException.Kind.IO, "cannot start ONNX Runtime's process: " + c.end(), e);
            }
            return c;
        }

        /**
         * The words that start the child under an address-space limit of {@link #MEMORY_FRACTION} of the machine's
         * memory, at least {@link #MIN_ADDRESS_SPACE}: {@code ulimit -v} in a POSIX shell that then becomes the child.
         * None where there is no such shell or the memory is unknown.
         */
        static List<String> memoryLimit() {
            Path sh = Path.of("/bin/sh");
            long total = 0;
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                    instanceof com.sun.management.OperatingSystemMXBean os) {
                total = os.getTotalMemorySize();
            }
            if (!Files.isExecutable(sh) || total <= 0) {
                return List.of();
            }
            // a limit the shell may not raise (a lower hard limit already in place) is left as it is: the child starts
            return List.of(sh.toString(), "-c", "ulimit -v " + addressLimit(total) / 1024 + " 2>/dev/null; exec \"$0\" \"$@\"");
        }

        /** The child's address-space limit in bytes on a machine of {@code total} bytes of memory. */
        static long addressLimit(long total) {
            return Math.max((long) (total * MEMORY_FRACTION), MIN_ADDRESS_SPACE);
        }

        /**
         * The child's class path: this process's, and the jars (or folders) of Lady's classes and of ONNX Runtime's
         * where it lacks them (Lady used as a library, loaded by a class loader of its own).
         */
        private static String classPath() {
            java.util.LinkedHashSet<String> entries = new java.util.LinkedHashSet<>();
            for (String e : System.getProperty("java.class.path", "").split(java.io.File.pathSeparator)) {
                if (!e.isEmpty()) {
                    entries.add(e);
                }
            }
            for (Class<?> c : List.of(OrtWorker.class, OrtEnvironment.class)) {
                try {
                    java.security.CodeSource source = c.getProtectionDomain().getCodeSource();
                    if (source != null && source.getLocation() != null) {
                        entries.add(Path.of(source.getLocation().toURI()).toString());
                    }
                } catch (java.net.URISyntaxException | RuntimeException e) {
                    // not a file: the class path alone
                }
            }
            return String.join(java.io.File.pathSeparator, entries);
        }

        /** Keeps the last {@link #STDERR_KEPT} bytes of the child's standard error. */
        private void drain() {
            byte[] buf = new byte[8192];
            try (InputStream err = process.getErrorStream()) {
                for (int n; (n = err.read(buf)) > 0; ) {
                    synchronized (stderr) {
                        int keep = Math.min(n, STDERR_KEPT);
                        int old = Math.min(stderrLength, STDERR_KEPT - keep);
                        System.arraycopy(stderr, stderrLength - old, stderr, 0, old);
                        System.arraycopy(buf, n - keep, stderr, old, keep);
                        stderrLength = old + keep;
                    }
                }
            } catch (IOException e) {
                // the child ended
            }
        }

        /** Ends the child (when it has not ended itself) and says how it ended, with the last line it printed. */
        String end() {
            try {
                out.close();
            } catch (IOException e) {
                // it has ended already
            }
            boolean ended;
            try {
                ended = process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ended = false;
            }
            if (!ended) {
                process.destroyForcibly();
                try {
                    process.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                deleteTree(tmp);
                return "it stopped answering";
            }
            deleteTree(tmp);
            int code = process.exitValue();
            String how = code > 128 ? "signal " + (code - 128) + signalName(code - 128) : "exit code " + code;
            String said;
            synchronized (stderr) {
                said = lastLine(new String(stderr, 0, stderrLength, StandardCharsets.UTF_8));
            }
            return said.isEmpty() ? how : how + "; it printed: " + Text.cut(Text.escape(said));
        }

        /** Deletes {@code dir} and everything under it, as far as it can (a folder left behind is no failure). */
        private static void deleteTree(Path dir) {
            if (dir == null) {
                return;
            }
            try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
                all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> {
                    try {
                        Files.deleteIfExists(f);
                    } catch (IOException e) {
                        // left behind
                    }
                });
            } catch (IOException | java.io.UncheckedIOException e) {
                // left behind
            }
        }

        private static String signalName(int signal) {
            return switch (signal) {
                case 6 -> ", SIGABRT";
                case 8 -> ", SIGFPE";
                case 9 -> ", SIGKILL";
                case 11 -> ", SIGSEGV";
                default -> "";
            };
        }

        private static String lastLine(String s) {
            String[] lines = s.strip().split("\n");
            return lines.length == 0 ? "" : lines[lines.length - 1].strip();
        }
    }

    // ------------------------------------------------------------------------------------------ the child's end

    /** The child: serves requests from standard input until it closes. Not for users. */
    public static void main(String[] args) throws IOException {
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true)); // standard output is the protocol's
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        out.writeLong(HELLO);
        out.flush();
        OrtEnvironment env = null;
        Map<Integer, OrtSession> sessions = new HashMap<>();
        int next = 0;
        while (true) {
            byte request;
            try {
                request = in.readByte();
            } catch (EOFException e) {
                return;
            }
            try {
                switch (request) {
                    case OPEN -> {
                        String file = readString(in);
                        int threads = in.readInt();
                        if (env == null) {
                            env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, "lady");
                        }
                        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
                            o.setIntraOpNumThreads(threads);
                            o.setInterOpNumThreads(1);
                            o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
                            o.setDeterministicCompute(true);
                            OrtSession s = env.createSession(file, o);
                            sessions.put(next, s);
                        }
                        out.writeByte(OK);
                        out.writeInt(next++);
                    }
                    case RUN -> serveRun(env, sessions.get(in.readInt()), in, out);
                    case CLOSE -> {
                        OrtSession s = sessions.remove(in.readInt());
                        if (s != null) {
                            s.close();
                        }
                        out.writeByte(OK);
                    }
                    default -> throw new IOException("unknown request " + request);
                }
            } catch (OrtException | RuntimeException | OutOfMemoryError e) {
                out.writeByte(FAILED);
                writeString(out, firstLine(e));
            }
            out.flush();
        }
    }

    /** Reads a RUN request's inputs (always, so that the stream stays in step), runs the session, writes the reply. */
    private static void serveRun(OrtEnvironment env, OrtSession session, DataInputStream in, DataOutputStream out)
            throws IOException, OrtException {
        int n = in.readInt();
        List<Feed> inputs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            inputs.add(readFeed(in));
        }
        if (session == null) {
            throw new IllegalStateException("no such session");
        }
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try {
            for (Feed f : inputs) {
                float[] v = f.values();
                OnnxTensor t;
                if (f.type() == OnnxDType.INT64) {
                    long[] longs = new long[v.length];
                    for (int k = 0; k < v.length; k++) {
                        longs[k] = (long) v[k];
                    }
                    t = OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(longs), f.shape());
                } else if (f.type() == OnnxDType.INT32) {
                    int[] ints = new int[v.length];
                    for (int k = 0; k < v.length; k++) {
                        ints[k] = (int) v[k];
                    }
                    t = OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(ints), f.shape());
                } else if (f.type() == OnnxDType.FLOAT16 || f.type() == OnnxDType.BFLOAT16) { // rounded to nearest
                    boolean half = f.type() == OnnxDType.FLOAT16;
                    java.nio.FloatBuffer fb = java.nio.FloatBuffer.wrap(v);
                    t = OnnxTensor.createTensor(env, half ? Fp16Conversions.convertFloatBufferToFp16Buffer(fb)
                            : Fp16Conversions.convertFloatBufferToBf16Buffer(fb), f.shape(),
                            half ? OnnxJavaType.FLOAT16 : OnnxJavaType.BFLOAT16);
                } else {
                    t = OnnxTensor.createTensor(env, java.nio.FloatBuffer.wrap(v), f.shape());
                }
                feeds.put(f.name(), t);
            }
            Map<String, Output> outputs = new LinkedHashMap<>();
            try (OrtSession.Result r = session.run(feeds)) { // every output converted before the reply starts
                for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
                    OnnxTensor t = e.getValue() instanceof OnnxTensor ot ? ot : null;
                    float[] v = t == null ? null : floats(t);
                    outputs.put(e.getKey(), new Output(t == null ? new long[0] : t.getInfo().getShape(), v,
                            v == null ? e.getValue().getInfo().toString() : null));
                }
            }
            out.writeByte(OK);
            out.writeInt(outputs.size());
            for (Map.Entry<String, Output> e : outputs.entrySet()) {
                writeString(out, e.getKey());
                writeOutput(out, e.getValue());
            }
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }

    /** Integers float32 holds exactly: |v| <= 2^24. */
    private static final long EXACT_FLOAT_INTEGER = 1L << 24;

    /**
     * An output's values as float32: float32 itself; float64 rounded; integers and booleans (a detector's labels and
     * counts) when every value is exact in float32, so that a comparison of two runs sees any change. Null otherwise.
     */
    private static float[] floats(OnnxTensor t) {
        OnnxJavaType type = t.getInfo().type;
        int n;
        java.util.function.IntToDoubleFunction at;
        switch (type) {
            case FLOAT -> {
                java.nio.FloatBuffer b = t.getFloatBuffer();
                float[] v = new float[b.remaining()];
                b.get(v);
                return v;
            }
            case FLOAT16, BFLOAT16 -> { // exact in float32
                java.nio.ShortBuffer b = t.getShortBuffer();
                java.nio.FloatBuffer f = type == OnnxJavaType.FLOAT16 ? Fp16Conversions.convertFp16BufferToFloatBuffer(b)
                        : Fp16Conversions.convertBf16BufferToFloatBuffer(b);
                float[] v = new float[f.remaining()];
                f.get(v);
                return v;
            }
            case DOUBLE -> {
                java.nio.DoubleBuffer b = t.getDoubleBuffer();
                n = b.remaining();
                at = b::get;
            }
            case INT64 -> {
                java.nio.LongBuffer b = t.getLongBuffer();
                n = b.remaining();
                at = b::get;
            }
            case INT32 -> {
                java.nio.IntBuffer b = t.getIntBuffer();
                n = b.remaining();
                at = b::get;
            }
            case INT16 -> {
                java.nio.ShortBuffer b = t.getShortBuffer();
                n = b.remaining();
                at = b::get;
            }
            case INT8, UINT8, BOOL -> { // one byte each: signed for INT8, unsigned for UINT8 and BOOL
                ByteBuffer b = t.getByteBuffer();
                n = b.remaining();
                at = type == OnnxJavaType.INT8 ? b::get : i -> Byte.toUnsignedInt(b.get(i));
            }
            default -> {
                return null;
            }
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double d = at.applyAsDouble(i);
            if (type != OnnxJavaType.DOUBLE && Math.abs(d) > EXACT_FLOAT_INTEGER) {
                return null;
            }
            v[i] = (float) d;
        }
        return v;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : Onnx.firstLine(e.getMessage());
        return m.length() > MAX_MESSAGE ? m.substring(0, MAX_MESSAGE) : m;
    }

    // ------------------------------------------------------------------------------------------ the wire format

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > (1 << 20)) {
            throw new IOException("a string of " + n + " bytes");
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void writeFeed(DataOutputStream out, Feed f) throws IOException {
        writeString(out, f.name());
        out.writeInt(f.type().code());
        writeShape(out, f.shape());
        writeFloats(out, f.values());
    }

    private static Feed readFeed(DataInputStream in) throws IOException {
        return new Feed(readString(in), OnnxDType.ofCode(in.readInt()), readShape(in), readFloats(in));
    }

    private static void writeOutput(DataOutputStream out, Output o) throws IOException {
        writeShape(out, o.shape());
        out.writeBoolean(o.values() != null);
        if (o.values() != null) {
            writeFloats(out, o.values());
        } else {
            writeString(out, o.unsupported());
        }
    }

    private static Output readOutput(DataInputStream in) throws IOException {
        long[] shape = readShape(in);
        return in.readBoolean() ? new Output(shape, readFloats(in), null) : new Output(shape, null, readString(in));
    }

    private static void writeShape(DataOutputStream out, long[] shape) throws IOException {
        out.writeInt(shape.length);
        for (long d : shape) {
            out.writeLong(d);
        }
    }

    private static long[] readShape(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > 64) {
            throw new IOException("a shape of rank " + n);
        }
        long[] s = new long[n];
        for (int i = 0; i < n; i++) {
            s[i] = in.readLong();
        }
        return s;
    }

    private static void writeFloats(DataOutputStream out, float[] v) throws IOException {
        out.writeInt(v.length);
        ByteBuffer b = ByteBuffer.allocate(4 * Math.min(v.length, CHUNK)).order(ByteOrder.BIG_ENDIAN);
        for (int from = 0; from < v.length; from += CHUNK) {
            int len = Math.min(CHUNK, v.length - from);
            b.clear();
            b.asFloatBuffer().put(v, from, len);
            out.write(b.array(), 0, 4 * len);
        }
    }

    private static float[] readFloats(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new IOException("a negative count of values");
        }
        float[] v = new float[n];
        byte[] buf = new byte[4 * Math.min(n, CHUNK)];
        for (int from = 0; from < n; from += CHUNK) {
            int len = Math.min(CHUNK, n - from);
            in.readFully(buf, 0, 4 * len);
            ByteBuffer.wrap(buf, 0, 4 * len).order(ByteOrder.BIG_ENDIAN).asFloatBuffer().get(v, from, len);
        }
        return v;
    }
}
