package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.torch.Torch;

/**
 * Corrupt or malicious files give one clear INVALID_INPUT error (one line), never a crash, an
 * out-of-memory, a hang, or code execution.
 */
class HostileCheckpointTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private LadyException refused(byte[] file, String expectedFragment) throws IOException {
        Path p = dir.resolve("hostile-" + Integer.toHexString(Arrays.hashCode(file)) + ".pt");
        Files.write(p, file);
        LadyException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(LadyException.class, () -> Checkpoints.read(p)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind(), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().contains(expectedFragment), e.getMessage());
        return e;
    }

    /** A pickle program from text ops; {@code pickle("\u0080\u0002", ...)} style, latin-1. */
    private static byte[] bytes(String latin1) {
        return latin1.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] torchZip(byte[] pickle, Map<String, byte[]> storages) throws IOException {
        Map<String, byte[]> e = new LinkedHashMap<>();
        e.put("evil/data.pkl", pickle);
        storages.forEach((k, v) -> e.put("evil/data/" + k, v));
        e.put("evil/version", bytes("3\n"));
        return CheckpointTestSupport.zip(e);
    }

    private static byte[] torchZip(String pickle) throws IOException {
        return torchZip(bytes(pickle), Map.of());
    }

    @Test
    void globalsOutsideTheAllowListAreRefusedByName() throws IOException {
        // os.system('echo pwned') as Python pickles it on Linux
        refused(torchZip("\u0080\u0002cposix\nsystem\nq\u0000X\u000b\u0000\u0000\u0000echo pwnedq\u0001\u0085q\u0002Rq\u0003."),
                "checkpoint refers to global 'posix.system', which is not allowed");
        refused(torchZip("\u0080\u0002cbuiltins\neval\n."), "global 'builtins.eval'");
        // STACK_GLOBAL (protocol 4) form
        refused(torchZip("\u0080\u0004\u008c\u0002os\u008c\u0006system\u0093."), "global 'os.system'");
    }

    /**
     * Whole pickled models are read as inert objects (WholeModelPickleTest), but a module that contains itself, modules
     * that expand to 2^31 names, an object that is no module, a file that calls a function and gives no state dict, and
     * the globals pickle payloads reach for are refused in one line, by name where there is one.
     */
    @Test
    void objectsThatAreNoModelAndPayloadsAreRefused() throws Exception {
        // m = NEWOBJ(__main__.M); BUILD {"_parameters": {}, "_modules": {"self": m}}
        String loop = "\u0080\u0002c__main__\nM\n)\u0081q\u0000}(X\u000b\u0000\u0000\u0000_parameters}X\b\u0000\u0000\u0000"
                + "_modules}X\u0004\u0000\u0000\u0000selfh\u0000sub.";
        refused(torchZip(loop), "contains itself");
        refused(torchZip("\u0080\u0002ccollections\nCounter\n)\u0081."),
                "holds an object of class collections.Counter, not a state dict");
        refused(torchZip("\u0080\u0002ctorch.storage\n_load_from_bytes\nC\u0001x\u0085R."),
                "refers to global 'torch.storage._load_from_bytes', which is not allowed");
        // 31 levels of modules, each holding the one below twice: 2^31 names from 2 kB, refused at once
        StringBuilder dag = new StringBuilder("\u0080\u0002");
        for (int k = 0; k <= 30; k++) {
            dag.append("c__main__\nM\n)\u0081}(X\u000b\u0000\u0000\u0000_parameters}X\b\u0000\u0000\u0000_modules}");
            if (k > 0) {
                String below = "h" + (char) (k - 1);
                dag.append("(X\u0001\u0000\u0000\u0000a").append(below).append("X\u0001\u0000\u0000\u0000b").append(below)
                        .append('u');
            }
            dag.append("ubq").append((char) k).append('0');
        }
        refused(torchZip(dag + "h\u001e."), "more than " + Unpickler.MAX_MODULES + " modules");
        for (String payload : new String[] {"subprocess\nPopen", "posix\nsystem", "builtins\ngetattr"}) {
            refused(torchZip("\u0080\u0002c" + payload + "\nX\u0002\u0000\u0000\u0000ls\u0085R."),
                    "refers to global '" + payload.replace('\n', '.') + "', which is not allowed");
        }
    }

    /** A state dict {"w": tensor} whose tensor has the given storage numel, offset, size and stride. */
    private static byte[] tensorPickle(long numel, long offset, long[] size, long[] stride) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(bytes("\u0080\u0002}(X\u0001\u0000\u0000\u0000wctorch._utils\n_rebuild_tensor_v2\n((X\u0007\u0000\u0000\u0000storage"
                + "ctorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpu"));
        long1(o, numel);
        o.writeBytes(bytes("tQ"));
        long1(o, offset);
        o.write('(');
        for (long s : size) {
            long1(o, s);
        }
        o.write('t');
        o.write('(');
        for (long s : stride) {
            long1(o, s);
        }
        o.writeBytes(bytes("t\u0089ccollections\nOrderedDict\n)RtRu."));
        return o.toByteArray();
    }

    private static void long1(ByteArrayOutputStream o, long v) {
        o.write(0x8a);
        o.write(8);
        for (int i = 0; i < 8; i++) {
            o.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }

    @Test
    void aWellFormedHandMadeTensorIsRead() throws IOException {
        byte[] data = new byte[16];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(new float[] {1, 2, 3, 4});
        Path p = dir.resolve("ok.pt");
        Files.write(p, torchZip(tensorPickle(4, 1, new long[] {3}, new long[] {1}), Map.of("0", data)));
        StateDict sd = Checkpoints.read(p);
        assertArrayEquals(new float[] {2, 3, 4}, sd.get("w").readFloats());
    }

    @Test
    void storageShorterThanClaimedIsRefused() throws IOException {
        refused(torchZip(tensorPickle(1000, 0, new long[] {1000}, new long[] {1}), Map.of("0", new byte[16])),
                "holds 16 bytes but the checkpoint says it has 1000 float32 elements");
    }

    @Test
    void viewsOutsideTheirStorageAndAbsurdShapesAreRefused() throws IOException {
        Map<String, byte[]> four = Map.of("0", new byte[16]);
        refused(torchZip(tensorPickle(4, 2, new long[] {3}, new long[] {1}), four), "reaches element 4");
        refused(torchZip(tensorPickle(4, 0, new long[] {1L << 40, 1L << 40}, new long[] {0, 0}), four), "absurd shape");
        refused(torchZip(tensorPickle(4, 0, new long[] {1L << 40}, new long[] {0}), four), "zero-stride");
        refused(torchZip(tensorPickle(Long.MAX_VALUE / 2, 0, new long[] {1}, new long[] {1}), four), "holds 16 bytes");
        refused(torchZip(tensorPickle(4, 0, new long[] {4}, new long[] {1}), Map.of()), "is missing");
    }

    @Test
    void oneStorageSharedByManyTensorsCannotBlowUpMemory() throws IOException {
        // {"w": t, "w1": t, ..., "w9": t} where t views a whole 4 MiB storage: each entry becomes its
        // own copy, which a hostile file could repeat without limit; it is capped against the file size
        byte[] one = tensorPickle(1 << 20, 0, new long[] {1 << 20}, new long[] {1});
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(one, 0, one.length - 2); // drop SETITEMS and STOP: the tensor is the last value
        o.writeBytes(bytes("q\u0001u")); // BINPUT 1: memoize the tensor; SETITEMS
        for (int i = 1; i < 10; i++) {
            o.writeBytes(bytes("X\u0002\u0000\u0000\u0000w" + i + "h\u0001s")); // d["w<i>"] = memo[1]
        }
        o.write('.');
        refused(torchZip(o.toByteArray(), Map.of("0", new byte[4 << 20])), "far more memory than the file holds");
    }

    @Test
    void truncatedAndCorruptZipsAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(CheckpointTestSupport.golden("state_dict.pt"));
        for (int cut : new int[] {10, 100, good.length / 2, good.length - 30, good.length - 1}) {
            refused(Arrays.copyOf(good, cut), "not a valid checkpoint");
        }
        // flip a byte inside a storage record: the CRC check catches it
        byte[] flipped = good.clone();
        long at;
        try (ZipFile z = new ZipFile(CheckpointTestSupport.golden("state_dict.pt").toFile())) {
            at = z.getEntry("state_dict/data/0").getSize();
        }
        int idx = indexOf(good, bytes("state_dict/data/0")) + 200; // inside the first record's data
        flipped[idx] ^= 0x55;
        assertTrue(at > 0);
        refused(flipped, "CRC");
        refused(bytes("PK\u0003\u0004 not really a zip"), "not a valid checkpoint");
        refused(CheckpointTestSupport.zip(Map.of("x/readme.txt", bytes("hi"))), "without a */data.pkl");
        refused(new byte[] {1, 2, 3}, "neither a PyTorch zip checkpoint nor a safetensors file");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalStateException("not found");
    }

    @Test
    void hostilePicklesAreRefused() throws IOException {
        int n = 1_000_000;
        // deeply nested lists: ]]]]...aaaa  (a list inside a list ... a million levels)
        String nested = "\u0080\u0002" + "]".repeat(n) + "a".repeat(n - 1) + ".";
        refused(torchZip(nested), "holds a list, not a state dict");
        refused(torchZip("\u0080\u0002" + "(".repeat(n) + "."), "pickle stack underflow");
        refused(torchZip("\u0080\u0002]r\u00f0\u00ff\u00ff\u00ffj\u00ff\u00ff\u00ff\u00ff."), "memo index 4294967295 was never stored");
        refused(torchZip("\u0080\u0002X\u00ff\u00ff\u00ff\u007fabc."), "ends early");
        refused(torchZip("\u0080\u0002\u008b\u00ff\u00ff\u00ff\u007f."), "ends early");
        refused(torchZip("\u0080\u0002\u008a\u00ff" + "\u0001".repeat(255) + "."), "too large");
        refused(torchZip("\u0080\u0002}."), "empty dict");
        refused(torchZip("\u0080\u0002}X\u0001\u0000\u0000\u0000aK\u0001s."), "not a state dict");
        refused(torchZip("\u0080\u0002ccollections\nOrderedDict\n)\u0081."), "NEWOBJ");
        refused(torchZip("\u0080\u0002\u00ff."), "unsupported pickle opcode 0xff");
        refused(torchZip("\u0080\u0002"), "ends early");
        refused(torchZip("\u0080\u0002X\u0001\u0000\u0000\u0000sX\u0001\u0000\u0000\u0000tR."), "cannot call");
    }

    @Test
    void torchScriptArchivesWithoutADeclaredModuleAreRefused() throws IOException {
        Map<String, byte[]> e = new LinkedHashMap<>();
        e.put("m/data.pkl", bytes("\u0080\u0002}."));
        e.put("m/constants.pkl", bytes("\u0080\u0002)."));
        e.put("m/code/__torch__/m.py", bytes("x"));
        refused(CheckpointTestSupport.zip(e), "is a TorchScript archive whose data.pkl holds a dict");
        e.put("m/data.pkl", bytes("\u0080\u0002c__torch__.m\nM\n)\u0081}b.")); // an object of a class no code declares
        refused(CheckpointTestSupport.zip(e), "holds an object of class __torch__.m.M, not a module its code declares");
        e.put("m/code/__torch__/m.py", bytes("class M(Module):\n  __parameters__ = [\"w\", ]\n  __buffers__ = []\n"));
        e.put("m/data.pkl", bytes("\u0080\u0002c__torch__.m\nM\n)\u0081}X\u0001\u0000\u0000\u0000wK\u0001sb."));
        refused(CheckpointTestSupport.zip(e), "state dict entry 'w' is"); // a declared parameter that is no tensor
    }

    /**
     * PyTorch's legacy format cut at every length, and with its storage's element count set to 2^62: each a one-line
     * refusal (the file is mapped, never read whole into memory; nothing is allocated for the count).
     */
    @Test
    void legacyFilesCutAnywhereOrClaimingHugeStoragesAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(CheckpointTestSupport.golden("legacy.pt"));
        for (int n = 0; n < good.length; n++) {
            refused(Arrays.copyOf(good, n), n == 0 ? "neither" : "");
        }
        byte[] huge = good.clone();
        int count = good.length - 4 * 4 - 8; // the one storage: 4 float32 elements, after their 8-byte count
        java.nio.ByteBuffer.wrap(huge, count, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(1L << 62);
        refused(huge, "storage");
    }

    private static byte[] safetensors(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    @Test
    void badSafetensorsAreRefused() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path p = dir.resolve("ok.safetensors");
        Files.write(p, safetensors(ok, 8));
        assertEquals(2, Checkpoints.read(p).shape("a")[0]);

        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}", 8), "outside the 8 bytes");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "overlaps");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,12]}}", 16), "needs 8 bytes");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "belong to no tensor");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8), "outside");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8),
                "absurd shape");
        refused(safetensors("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "unsupported dtype");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8), "invalid JSON");
        refused(safetensors("{\"__metadata__\":{\"x\":1}}", 0), "__metadata__");
        byte[] huge = new byte[16];
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE);
        huge[8] = '{';
        refused(huge, "out of range");
        byte[] longer = safetensors(ok, 8);
        ByteBuffer.wrap(longer).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1000);
        refused(longer, "longer than the file");
        refused(Arrays.copyOf(safetensors(ok, 8), 8 + ok.length() + 3), "outside the 3 bytes of data");
        refused(safetensors(ok, 12), "the data is 12 bytes but the tensors cover 8");
    }

    /** Offsets in a zip: [eocd, central directory start, entry count, central header offsets...]. */
    private static int[] zipLayout(byte[] z) {
        ByteBuffer b = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
        int eocd = z.length - 22;
        while (b.getInt(eocd) != 0x06054b50) {
            eocd--;
        }
        int count = b.getShort(eocd + 10) & 0xFFFF;
        int cd = b.getInt(eocd + 16);
        int[] out = new int[3 + count];
        out[0] = eocd;
        out[1] = cd;
        out[2] = count;
        int p = cd;
        for (int i = 0; i < count; i++) {
            out[3 + i] = p;
            p += 46 + (b.getShort(p + 28) & 0xFFFF) + (b.getShort(p + 30) & 0xFFFF) + (b.getShort(p + 32) & 0xFFFF);
        }
        return out;
    }

    /** Issue 20, item 9: zips whose central directory disagrees with itself or with the local headers. */
    @Test
    void inconsistentZipStructuresAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(CheckpointTestSupport.golden("state_dict.pt"));
        int[] z = zipLayout(good);
        int eocd = z[0];
        assertTrue(z[2] >= 3, "entries: " + z[2]);

        byte[] count = good.clone(); // total entries 0xffff: zip64's marker, but the other count still says N
        ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).putShort(eocd + 10, (short) 0xFFFF);
        refused(count, "end-of-central-directory");
        byte[] fewer = good.clone(); // one entry fewer in every count: the directory holds more than it says
        ByteBuffer f = ByteBuffer.wrap(fewer).order(ByteOrder.LITTLE_ENDIAN);
        f.putShort(eocd + 8, (short) (z[2] - 1)).putShort(eocd + 10, (short) (z[2] - 1));
        int zip64 = lastIndexOf(good, new byte[] {'P', 'K', 6, 6});
        if (zip64 >= 0) {
            f.putLong(zip64 + 24, z[2] - 1).putLong(zip64 + 32, z[2] - 1);
        }
        refused(fewer, "wrong entry count");
        // PyTorch writes its entries with data descriptors (flag bit 3: CRC and sizes after the data), so the flag
        // is accepted, but the local header, the central directory and the descriptor must all agree
        ByteBuffer g = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);
        int local = g.getInt(z[4] + 42);
        byte[] descriptor = good.clone(); // the flag toggled on the central entry only
        ByteBuffer.wrap(descriptor).order(ByteOrder.LITTLE_ENDIAN).putShort(z[4] + 8, (short) (g.getShort(z[4] + 8) ^ 8));
        refused(descriptor, "disagree on the compression method or flags");
        int dataEnd = local + 30 + (g.getShort(local + 26) & 0xFFFF) + (g.getShort(local + 28) & 0xFFFF) + g.getInt(z[4] + 20);
        byte[] wrong = good.clone(); // a descriptor (or the bytes after the data) that does not repeat the CRC
        for (int i = 0; i < 8; i++) {
            wrong[dataEnd + i] ^= 0x5a;
        }
        refused(wrong, (g.getShort(local + 6) & 8) != 0 ? "no data descriptor agreeing" : "overlap");
        byte[] offset = good.clone(); // entry 1's local header offset pointing at entry 0's header
        ByteBuffer o = ByteBuffer.wrap(offset).order(ByteOrder.LITTLE_ENDIAN);
        o.putInt(z[4] + 42, o.getInt(z[3] + 42));
        refused(offset, "wrong local header offset");
        byte[] crc = good.clone(); // the local header's CRC differs from the central directory's
        crc[local + 14] ^= 1;
        refused(crc, "disagrees with the central directory on CRC or sizes");
    }

    private static int lastIndexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = hay.length - needle.length; i >= 0; i--) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /**
     * Issue 20, item 9: an empty tensor with an absurd dimension is refused as the full tensor would be; one with
     * large but representable dimensions is read (it allocates nothing; see TensorBytes.numel).
     */
    @Test
    void emptyTensorsWithHugeDimensionsAreRefusedWhenAbsurd() throws IOException {
        Map<String, byte[]> none = Map.of("0", new byte[0]);
        refused(torchZip(tensorPickle(0, 0, new long[] {0, 1L << 62}, new long[] {1L << 62, 1}), none), "absurd shape");
        refused(safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904],\"data_offsets\":[0,0]}}", 0),
                "absurd shape");
        Path p = dir.resolve("empty.pt");
        Files.write(p, torchZip(tensorPickle(0, 0, new long[] {0, 1L << 40}, new long[] {1L << 40, 1}), none));
        StateDict sd = Checkpoints.read(p);
        assertEquals(0, sd.get("w").numel());
        assertEquals(1L << 40, sd.shape("w")[1]);
    }

    /** Issue 20, items 7 and 8: names and shapes from a file are escaped and shortened in messages. */
    @Test
    void messagesEscapeControlCharactersAndShortenLongShapes() throws IOException {
        StringBuilder dims = new StringBuilder("[");
        for (int i = 0; i < 100_000; i++) {
            dims.append(i == 0 ? "" : ",").append(i == 0 ? 1 : 2);
        }
        dims.append(']');
        LadyException e = refused(safetensors("{\"x\\u001b]0;pwned\\u0007\":{\"dtype\":\"F32\",\"shape\":" + dims
                + ",\"data_offsets\":[0,8]}}", 8), "absurd shape");
        assertTrue(e.getMessage().length() < 400, e.getMessage().length() + " characters: " + e.getMessage());
        assertTrue(e.getMessage().contains("(100000 dims)"), e.getMessage());
        assertTrue(e.getMessage().contains("'x\\x1b]0;pwned\\x07'"), e.getMessage());
        assertFalse(e.getMessage().chars().anyMatch(c -> c < 0x20), "no control character: " + e.getMessage());
    }
}
