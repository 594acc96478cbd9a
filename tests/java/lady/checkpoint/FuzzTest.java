package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.canon.CanonicalOrder;
import lady.permutation.Secret;
import lady.report.Json;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.watermark.WatermarkKey;

/**
 * Issue 20: a bounded, seeded fuzz test of every reader of untrusted files, in-process. Thousands of mutated
 * PyTorch zips (raw bytes, and re-zipped with a mutated pickle so that the unpickler is reached), pickles run
 * straight through the unpickler, safetensors files (raw bytes and mutated JSON headers) and JSON files (the
 * parser, the secret, the watermark key and the canonical order). Every outcome must be a result or a
 * {@link LadyException}; a result must hold no more tensor bytes than {@link TorchZip#MAX_EXPANSION} times
 * the file (plus 1 MiB), and reading must allocate no more than {@link #ALLOCATION_FACTOR} times the file on
 * the Java heap (plus {@link #ALLOCATION_SLACK}). A failure names the seed and the case, and the input is
 * kept in target/fuzz-failures/ to replay it. The same seed gives the same inputs.
 */
class FuzzTest {
    /** Change it (or set -Dlady.fuzz.seed) to explore other inputs; a failure message names the seed. */
    static final long SEED = Long.getLong("lady.fuzz.seed", 0x1ad7f022L);
    /** Cases per kind of input: 8400 in all, a few seconds (-Dlady.fuzz.cases changes it). */
    static final int CASES = Integer.getInteger("lady.fuzz.cases", 1200);
    static final long ALLOCATION_FACTOR = 64;
    static final long ALLOCATION_SLACK = 32L << 20;
    /** Interesting values written over 4- or 8-byte fields. */
    private static final long[] INTERESTING = {0, 1, 2, 0xFF, 0xFFFF, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFFL,
        Integer.MAX_VALUE - 8, 1L << 32, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE, -1};

    @TempDir
    static Path tempDir;
    /** Where cases are written: memory (/dev/shm) where there is one, a file write per case costs ms on disk. */
    private static Path dir;

    private static final List<String> failures = new ArrayList<>();
    private static long cases;
    private static long results;
    private static long refusals;

    @BeforeAll
    static void init() throws IOException {
        Path shm = Path.of("/dev/shm");
        dir = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "lady-fuzz") : tempDir;
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (!dir.equals(tempDir)) {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    @BeforeEach
    void reset() {
        failures.clear();
        cases = 0;
        results = 0;
        refusals = 0;
    }

    /** The golden checkpoints made by PyTorch: whole files, and their entries. */
    private static byte[] golden(String name) throws IOException {
        return Files.readAllBytes(CheckpointTestSupport.golden(name));
    }

    private static Map<String, byte[]> entries(String name) throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        try (ZipFile z = new ZipFile(CheckpointTestSupport.golden(name).toFile())) {
            Enumeration<? extends ZipEntry> e = z.entries();
            while (e.hasMoreElements()) {
                ZipEntry en = e.nextElement();
                m.put(en.getName(), z.getInputStream(en).readAllBytes());
            }
        }
        return m;
    }

    // ---- mutations --------------------------------------------------------------------------

    static byte[] mutate(byte[] in, SplittableRandom r) {
        byte[] b = in.clone();
        int ops = 1 + r.nextInt(3);
        for (int k = 0; k < ops && b.length > 0; k++) {
            switch (r.nextInt(7)) {
                case 0 -> { // flip bits
                    for (int i = 0, n = 1 + r.nextInt(8); i < n; i++) {
                        b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                    }
                }
                case 1, 2 -> { // an interesting value over a 4- or 8-byte field
                    int width = r.nextBoolean() ? 4 : 8;
                    if (b.length >= width) {
                        int at = r.nextInt(b.length - width + 1);
                        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                        long v = r.nextInt(4) == 0 ? b.length + r.nextInt(3) - 1 : INTERESTING[r.nextInt(INTERESTING.length)];
                        if (width == 4) {
                            bb.putInt(at, (int) v);
                        } else {
                            bb.putLong(at, v);
                        }
                    }
                }
                case 3 -> b = java.util.Arrays.copyOf(b, r.nextInt(b.length)); // truncate
                case 4 -> { // delete a chunk
                    int at = r.nextInt(b.length);
                    int len = Math.min(b.length - at, 1 + r.nextInt(64));
                    byte[] c = new byte[b.length - len];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + len, c, at, b.length - at - len);
                    b = c;
                }
                case 5 -> { // insert a copy of a chunk elsewhere
                    int from = r.nextInt(b.length);
                    int len = Math.min(b.length - from, 1 + r.nextInt(64));
                    int at = r.nextInt(b.length + 1);
                    byte[] c = new byte[b.length + len];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, from, c, at, len);
                    System.arraycopy(b, at, c, at + len, b.length - at);
                    b = c;
                }
                default -> { // overwrite a chunk with bytes from elsewhere
                    int from = r.nextInt(b.length);
                    int at = r.nextInt(b.length);
                    int len = Math.min(Math.min(b.length - from, b.length - at), 1 + r.nextInt(16));
                    System.arraycopy(b.clone(), from, b, at, len);
                }
            }
        }
        return b;
    }

    /** Text mutations for JSON: numbers replaced by extreme ones, characters dropped or repeated, deep nesting,
     * control characters inside strings. */
    static String mutateJson(String in, SplittableRandom r) {
        String s = in;
        int ops = 1 + r.nextInt(3);
        String[] numbers = {"-1", "0", "1e308", "1e999", "-1e999", "2147483648", "9223372036854775808", "1.5", "NaN",
            "268435456", "2147483639", "-0", "99999999999999999999999"};
        for (int k = 0; k < ops && !s.isEmpty(); k++) {
            int at = r.nextInt(s.length());
            switch (r.nextInt(6)) {
                case 0 -> {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("-?[0-9][0-9.eE+-]*").matcher(s);
                    List<int[]> spans = new ArrayList<>();
                    while (m.find()) {
                        spans.add(new int[] {m.start(), m.end()});
                    }
                    if (!spans.isEmpty()) {
                        int[] sp = spans.get(r.nextInt(spans.size()));
                        s = s.substring(0, sp[0]) + numbers[r.nextInt(numbers.length)] + s.substring(sp[1]);
                    }
                }
                case 1 -> s = s.substring(0, at) + s.substring(Math.min(s.length(), at + 1 + r.nextInt(8)));
                case 2 -> {
                    int end = Math.min(s.length(), at + 1 + r.nextInt(40));
                    s = s.substring(0, end) + s.substring(at, end) + s.substring(end);
                }
                case 3 -> s = s.substring(0, at) + "[".repeat(1 + r.nextInt(2000)) + s.substring(at);
                case 4 -> s = s.substring(0, at) + "\u001b]0;x\u0007\\u0000\"" + s.substring(at);
                default -> s = s.substring(0, at);
            }
        }
        return s;
    }

    // ---- running a case ---------------------------------------------------------------------

    @FunctionalInterface
    interface Reader {
        Object read(Path file, byte[] bytes) throws Exception;
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Reads {@code bytes} (written to a file first); records any outcome other than a result or a LadyException. */
    static void check(String kind, int index, byte[] bytes, String extension, Reader reader) throws IOException {
        cases++;
        Path file = dir.resolve("case" + extension);
        Files.write(file, bytes);
        long before = allocated();
        String problem = null;
        try {
            Object result = reader.read(file, bytes);
            results++;
            if (result instanceof StateDict sd) {
                long total = 0;
                for (Map.Entry<String, HostTensor> e : sd) {
                    total += e.getValue().byteSize();
                }
                if (total > TorchZip.MAX_EXPANSION * bytes.length + (1L << 20)) {
                    problem = "a result of " + total + " tensor bytes from a file of " + bytes.length;
                }
            }
        } catch (LadyException expected) {
            refusals++; // the clean refusal
        } catch (Throwable t) {
            problem = t.toString();
        }
        long used = allocated() - before;
        if (problem == null && used > ALLOCATION_FACTOR * bytes.length + ALLOCATION_SLACK) {
            problem = "allocated " + used + " bytes for a file of " + bytes.length;
        }
        if (problem != null) {
            Path keep = Path.of(System.getProperty("lady.build.dir", "target"), "fuzz-failures");
            Files.createDirectories(keep);
            String name = kind + "-" + Long.toHexString(SEED) + "-" + index + extension;
            Files.write(keep.resolve(name), bytes);
            failures.add(kind + " case " + index + " (seed " + Long.toHexString(SEED) + ", kept as " + name + "): "
                    + problem);
        }
    }

    private static void assertNoFailures(String what) {
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases + " " + what + " cases failed:\n"
                + String.join("\n", failures.subList(0, Math.min(20, failures.size()))));
        // the mutations must reach both outcomes (at least 0.5 % each): all refused would mean they never get past
        // the first check (most mutated zips are refused: a byte changed in a storage fails its CRC)
        assertTrue(results > cases / 200 && refusals > cases / 200, what + ": " + results + " results and " + refusals
                + " refusals of " + cases + " cases");
    }

    // ---- the fuzz targets -------------------------------------------------------------------

    @Test
    void mutatedPyTorchZipsAndPicklesGiveAResultOrALadyException() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            SplittableRandom r = new SplittableRandom(SEED);
            List<byte[]> zips = List.of(golden("state_dict.pt"), golden("views.pt"), golden("dtypes.pt"),
                    golden("authors.pt"), golden("plain_dict.pt"), golden("whole_model.pt"), golden("script_model.pt"),
                    golden("legacy.pt"));
            List<Map<String, byte[]>> unpacked = new ArrayList<>();
            for (String n : List.of("state_dict.pt", "views.pt", "dtypes.pt", "authors.pt", "whole_model.pt",
                    "script_model.pt")) {
                unpacked.add(entries(n));
            }
            for (int i = 0; i < CASES; i++) {
                check("zip", i, mutate(zips.get(r.nextInt(zips.size())), r), ".pt", (p, b) -> Checkpoints.read(p));
            }
            // the pickle mutated inside a well-formed zip (CRCs right), so that the unpickler and the tensor
            // rebuilding get the hostile bytes
            for (int i = 0; i < CASES; i++) {
                Map<String, byte[]> e = new LinkedHashMap<>(unpacked.get(r.nextInt(unpacked.size())));
                String pkl = e.keySet().stream().filter(k -> k.endsWith("/data.pkl")).findFirst().orElseThrow();
                e.put(pkl, mutate(e.get(pkl), r));
                List<String> code = e.keySet().stream().filter(k -> k.contains("/code/") && k.endsWith(".py")).toList();
                if (!code.isEmpty() && r.nextBoolean()) { // a TorchScript archive: its class declarations too
                    String c = code.get(r.nextInt(code.size()));
                    e.put(c, mutate(e.get(c), r));
                }
                check("pickle-in-zip", i, CheckpointTestSupport.zip(e), ".pt", (p, b) -> Checkpoints.read(p));
            }
            // the unpickler alone, its persistent ids answered with nothing
            for (int i = 0; i < CASES; i++) {
                Map<String, byte[]> e = unpacked.get(r.nextInt(unpacked.size()));
                byte[] pkl = e.entrySet().stream().filter(k -> k.getKey().endsWith("/data.pkl")).findFirst().orElseThrow()
                        .getValue();
                check("pickle", i, mutate(pkl, r), ".pkl", (p, b) -> new Unpickler(b, "fuzz", pid -> {
                    throw LadyException.invalidInput("no storages here");
                }).load());
            }
            assertNoFailures("zip and pickle");
        });
    }

    @Test
    void mutatedSafetensorsGiveAResultOrALadyException() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            SplittableRandom r = new SplittableRandom(SEED + 1);
            byte[] file = golden("dtypes.safetensors");
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            int headerLength = (int) b.getLong(0);
            String header = new String(file, 8, headerLength, StandardCharsets.UTF_8);
            byte[] data = java.util.Arrays.copyOfRange(file, 8 + headerLength, file.length);
            for (int i = 0; i < CASES; i++) {
                check("safetensors", i, mutate(file, r), ".safetensors", (p, x) -> Checkpoints.read(p));
            }
            for (int i = 0; i < CASES; i++) {
                byte[] h = mutateJson(header, r).getBytes(StandardCharsets.UTF_8);
                ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
                out.putLong(h.length).put(h).put(data);
                check("safetensors-header", i, out.array(), ".safetensors", (p, x) -> Checkpoints.read(p));
            }
            assertNoFailures("safetensors");
        });
    }

    @Test
    void mutatedJsonFilesGiveAResultOrALadyException() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            SplittableRandom r = new SplittableRandom(SEED + 2);
            // the state dict a key and a canonical order are checked against
            StateDict model = new StateDict();
            model.put("conv.weight", HostTensor.allocate(DType.FLOAT32, 4, 2, 3, 3));
            String secret = "{\"format\":\"lady-secret\",\"format_version\":1,\"tool_version\":\"x\",\"architecture\":"
                    + "\"toynet\",\"seed\":3,\"permutations\":{\"conv1\":[7,6,0,1,2,4,3,5],\"conv2\":[1,0]},"
                    + "\"scales\":{\"conv2\":[0.5,2.0]}}";
            String key = "{\"format\":\"lady-watermark-key\",\"format_version\":1,\"method\":\"uchida2017\",\"layer\":"
                    + "\"conv.weight\",\"T\":2,\"w_bar_length\":18,\"p_one\":0.5,\"seed\":7,\"lambda\":0.1,"
                    + "\"log_base\":2,\"bits\":[1,0]}";
            String keyMatrix = key.replace("\"seed\":7,", "").replace("\"bits\":[1,0]}", "\"bits\":[1,0],\"matrix\":["
                    + "[1,2,3,4,5,6,7,8,9,1,2,3,4,5,6,7,8,9],[1,2,3,4,5,6,7,8,9,1,2,3,4,5,6,7,8,9]]}");
            String canon = "{\"format\":\"lady-canon\",\"format_version\":1,\"tool_version\":\"x\",\"architecture\":"
                    + "\"toynet\",\"method\":\"basic\",\"seed\":null,\"layers\":[{\"layer\":\"conv1\",\"size\":4,\"ties\":0,"
                    + "\"min_gap\":0.1,\"order\":[3,1,0,2],\"scores\":[0.1,0.5,0.2,0.9]}]}";
            String expected = Files.readString(CheckpointTestSupport.golden("expected.json"));
            List<String> texts = List.of(secret, key, keyMatrix, canon, expected);
            for (int i = 0; i < CASES; i++) {
                int which = r.nextInt(texts.size());
                byte[] text = mutateJson(texts.get(which), r).getBytes(StandardCharsets.UTF_8);
                check("json", i, text, ".json", (p, b) -> switch (which) {
                    case 0 -> Secret.read(p);
                    case 1, 2 -> WatermarkKey.read(p, model);
                    case 3 -> CanonicalOrder.read(p);
                    default -> Json.parse(new String(b, StandardCharsets.UTF_8));
                });
            }
            assertNoFailures("JSON");
        });
    }
}
