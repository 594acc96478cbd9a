package lady.checkpoint;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.tensor.HostMemory;
import lady.util.Text;

/**
 * PyTorch's legacy checkpoint format, what {@code torch.save} wrote before PyTorch 1.6 (and with
 * {@code _use_new_zipfile_serialization=False} since): pickles in a row, then the storages' raw bytes. The pickles
 * are the magic number {@link #MAGIC}, the protocol version {@link #PROTOCOL}, the system's description
 * ({@code little_endian}), the object itself (its tensors naming their storages by persistent id
 * {@code ('storage', storage_type, key, location, numel, view_metadata)}, a whole model's module classes by
 * {@code ('module', class, source_file, source)}) and the sorted list of storage keys; then,
 * for each key in that order, the storage's element count (8 bytes, little-endian) and its elements. Read with the
 * same restricted {@link Unpickler} as the zip format (nothing in the file is run), each tensor over the mapped file.
 * torchvision's older pretrained weights (VGG16's {@code vgg16-397923af.pth}) are in this format.
 */
final class TorchLegacy {
    private TorchLegacy() {}

    /** The first pickle of a legacy file. */
    static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    /** The second: the format's version. */
    static final long PROTOCOL = 1001;
    /** The pickle opcode torch.save's first pickle starts with (PROTO). */
    static final int PICKLE_PROTO = 0x80;
    /** Bytes of a storage's element count before its data. */
    private static final int COUNT_BYTES = 8;

    /** Whether {@code ch} starts with the legacy format's first pickle (its magic number). */
    static boolean is(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16);
        while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
            // up to 16 bytes
        }
        byte[] head = java.util.Arrays.copyOf(b.array(), b.position());
        if (head.length == 0 || (head[0] & 0xFF) != PICKLE_PROTO) { // a zip file, anything else: nothing to unpickle
            return false;
        }
        try {
            return MAGIC.equals(new Unpickler(head, "", pid -> null).load());
        } catch (RuntimeException e) { // not a pickle of torch.save's magic number (a zip file, anything else)
            return false;
        }
    }

    static StateDict read(FileChannel ch, Path path) throws IOException {
        String file = path.toString();
        TensorBytes.requireLittleEndian();
        long size = ch.size();
        HostMemory mapped = SafeTensors.map(path, size);
        byte[] head = new byte[(int) Math.min(size, TorchZip.MAX_PICKLE_BYTES)];
        mapped.buffer(0, head.length).get(head);
        Unpickler u = new Unpickler(head, file, pid -> null);
        if (!MAGIC.equals(u.load())) {
            throw bad(file, "it does not start with the legacy format's magic number");
        }
        u = new Unpickler(head, u.position(), file, pid -> null);
        if (!(u.load() instanceof Long version) || version != PROTOCOL) {
            throw bad(file, "its legacy format version is not " + PROTOCOL);
        }
        u = new Unpickler(head, u.position(), file, pid -> null);
        if (!(u.load() instanceof Unpickler.PDict info) || !Boolean.TRUE.equals(info.map.get("little_endian"))) {
            throw bad(file, "it was written on a big-endian machine, or says nothing of its byte order");
        }
        Map<String, Unpickler.StorageRef> storages = new HashMap<>();
        Unpickler main = new Unpickler(head, u.position(), file, pidObj -> {
            if (pidObj instanceof Unpickler.PTuple pid && pid.size() == 4 && "module".equals(pid.get(0))) {
                return pid.get(1); // a module class of a whole pickled model, beside its source (never run)
            }
            if (pidObj instanceof Unpickler.PTuple pid && pid.size() == 6 && pid.get(5) != null) {
                throw bad(file, "it holds a storage view (PyTorch before 0.4), which Lady does not read; re-save it "
                        + "with PyTorch >= 1.6: torch.save(torch.load(old), new)");
            }
            return TorchZip.storageRef(what -> bad(file, what), storages, pidObj, 6);
        });
        Object root = main.load();
        Unpickler.PDict dict;
        try {
            dict = TorchZip.selectStateDict(root, file);
        } catch (LadyException e) {
            throw main.refusal(e);
        }
        Unpickler keysPickle = new Unpickler(head, main.position(), file, pid -> null);
        if (!(keysPickle.load() instanceof List<?> keys)) {
            throw bad(file, "its list of storage keys is missing");
        }
        Map<String, Unpickler.StorageRef> byKey = new HashMap<>(); // a key names one storage, whatever its type
        java.util.Set<String> ambiguous = new java.util.HashSet<>();
        for (Unpickler.StorageRef s : storages.values()) {
            if (byKey.put(s.key(), s) != null) {
                ambiguous.add(s.key());
            }
        }
        Map<String, Long> data = new HashMap<>(); // storage key -> offset of its elements
        long pos = keysPickle.position();
        for (Object k : keys) {
            if (!(k instanceof String key)) {
                throw bad(file, "a storage key is not a string");
            }
            Unpickler.StorageRef s = byKey.get(key);
            if (s == null || ambiguous.contains(key) || data.containsKey(key)) {
                throw bad(file, "storage " + Text.quote(key) + " is stored but named by no tensor, by two types, or "
                        + "stored twice");
            }
            if (pos > size - COUNT_BYTES) {
                throw bad(file, "it ends before storage " + Text.quote(key));
            }
            long count = mapped.buffer(pos, COUNT_BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (count != s.numel()) {
                throw bad(file, "storage " + Text.quote(key) + " holds " + count + " elements, its tensors say "
                        + s.numel());
            }
            pos += COUNT_BYTES;
            long bytes = count * s.dtype().elementSize(); // count checked against the file next
            if (count < 0 || count > size || bytes > size - pos) {
                throw bad(file, "storage " + Text.quote(key) + " reaches past the end of the file");
            }
            data.put(key, pos);
            pos += bytes;
        }
        return TorchZip.build(mapped, size, dict, what -> bad(file, what), s -> {
            Long offset = data.get(s.key());
            if (offset == null) {
                throw bad(file, "storage " + Text.quote(s.key()) + " is named but not stored");
            }
            return offset;
        }, () -> { });
    }

    private static LadyException bad(String file, String what) {
        return LadyException.invalidInput(file + " is not a valid checkpoint (PyTorch's legacy format): " + what);
    }
}
