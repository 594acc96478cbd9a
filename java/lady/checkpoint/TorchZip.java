package lady.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;
import lady.util.Text;

/**
 * PyTorch's zip checkpoint format (PyTorch >= 1.6, what {@code torch.save} writes):
 * {@code <folder>/data.pkl} (a pickle whose tensors refer to storages by persistent id),
 * {@code <folder>/data/<key>} (one raw little-endian record per storage, stored uncompressed) and
 * {@code <folder>/version}.
 *
 * <p>Reading uses the restricted {@link Unpickler} (nothing from the file is ever executed), finds
 * the folder from the {@code *}{@code /data.pkl} entry, accepts a state_dict (OrderedDict or dict)
 * or a dict holding one under {@code model_state_dict} (or {@code state_dict}; everything else,
 * e.g. the optimizer state, is parsed and discarded without loading its storages), and gives each
 * tensor zero-copy over the file mapped copy-on-write ({@link HostMemory#mapFile}): records are
 * stored uncompressed and 64-byte aligned. A tensor is copied only when it is a strided view, shares
 * its storage with another entry (so that permuting one never changes the other), or is misaligned. Writing produces what {@code torch.load} reads:
 * an OrderedDict of {@code _rebuild_tensor_v2} calls (protocol 2), one record per tensor, byte for
 * byte deterministic (fixed zip timestamps, 64-byte aligned records as PyTorch aligns them).
 */
final class TorchZip {
    private TorchZip() {}

    /** Largest data.pkl accepted (a state dict's pickle is about 200 bytes per tensor). */
    static final long MAX_PICKLE_BYTES = 64L << 20;
    /** Largest version / byteorder record. */
    static final long MAX_SMALL_RECORD = 64;
    /** Tensors may share storages, but all tensors together may not exceed this many times the file size. */
    static final long MAX_EXPANSION = 4;
    /** The zip format version PyTorch writes to {@code <folder>/version}. */
    static final String FORMAT_VERSION = "3\n";
    static final String WRITE_FOLDER = "archive";
    /** Record data alignment PyTorch uses (so records can be memory-mapped). */
    static final int ALIGNMENT = 64;
    /** Keys a training checkpoint keeps its model's state dict under, in order of preference. */
    /**
     * Keys under which a training checkpoint holds the state dict, looked up in this order: the PyTorch tutorials',
     * PyTorch Lightning's and the torchvision reference scripts' ({@code {"model": ..., "optimizer": ..., "epoch": ...}}).
     */
    static final String[] STATE_DICT_KEYS = {"model_state_dict", "state_dict", "model"};

    // ------------------------------------------------------------------ reading

    static StateDict read(FileChannel ch, java.nio.file.Path path) throws IOException {
        String file = path.toString();
        TensorBytes.requireLittleEndian();
        ZipArchive zip = ZipArchive.open(ch, file);
        String prefix = findFolder(zip, file);
        ZipArchive.Entry pkl = zip.entries().get(prefix + "data.pkl");
        ZipArchive.Entry bo = zip.entries().get(prefix + "byteorder");
        if (bo != null) {
            String order = new String(zip.readSmall(bo, MAX_SMALL_RECORD), StandardCharsets.US_ASCII).trim();
            if (!order.equals("little")) {
                throw zip.bad("byte order '" + order + "' is not supported (only little-endian)");
            }
        }
        byte[] pickle = zip.readSmall(pkl, MAX_PICKLE_BYTES);
        Map<String, Unpickler.StorageRef> storages = new HashMap<>();
        Unpickler unpickler = new Unpickler(pickle, file, pid -> storageRef(zip, prefix, storages, pid));
        ScriptClasses script = ScriptClasses.isScript(zip, prefix) ? ScriptClasses.read(zip, prefix) : null;
        Object root = unpickler.load();
        Unpickler.PDict dict;
        if (script != null) { // torch.jit.save: the module tree its code declares
            dict = Unpickler.moduleStateDict(root, file, script);
            if (dict == null) {
                throw ScriptClasses.noModule(file, Unpickler.describe(root));
            }
            dict = checkedStateDict(dict, null, file);
        } else {
            try {
                dict = selectStateDict(root, file);
            } catch (LadyException e) { // a file naming a function, with no state dict: refused by that name
                throw unpickler.refusal(e);
            }
        }
        return materialize(zip, ch, path, prefix, dict, file);
    }

    private static String findFolder(ZipArchive zip, String file) {
        String found = null;
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.indexOf('/', slash + 1) < 0 && name.endsWith("/data.pkl")
                    && name.length() == slash + "/data.pkl".length()) {
                if (found != null) {
                    throw zip.bad("it holds more than one */data.pkl");
                }
                found = name.substring(0, slash + 1);
            }
        }
        if (found == null) {
            throw zip.bad("it is a zip file without a */data.pkl entry (not a PyTorch checkpoint)");
        }
        return found;
    }

    private static Unpickler.StorageRef storageRef(ZipArchive zip, String prefix,
            Map<String, Unpickler.StorageRef> storages, Object pidObj) {
        return storageRef(zip::bad, storages, pidObj, 5);
    }

    /**
     * The storage a persistent id {@code ('storage', storage_type, key, location, numel, ...)} of {@code length} items
     * names (one {@link Unpickler.StorageRef} per key and type, its size the same wherever it is named).
     */
    static Unpickler.StorageRef storageRef(java.util.function.Function<String, LadyException> bad,
            Map<String, Unpickler.StorageRef> storages, Object pidObj, int length) {
        // ('storage', storage_type, key, location, numel)
        if (!(pidObj instanceof Unpickler.PTuple pid) || pid.size() != length || !"storage".equals(pid.get(0))) {
            throw bad.apply("unexpected persistent id " + Unpickler.describe(pidObj));
        }
        if (!(pid.get(1) instanceof Unpickler.Global g) || g.storageType() == null) {
            throw bad.apply("persistent id names " + Unpickler.describe(pid.get(1)) + ", not a storage type");
        }
        if (!(pid.get(2) instanceof String key) || key.isEmpty() || key.length() > 64 || !key.matches("[A-Za-z0-9_]+")) {
            throw bad.apply("bad storage key " + Unpickler.describe(pid.get(2)));
        }
        if (!(pid.get(4) instanceof Long numel) || numel < 0) {
            throw bad.apply("bad element count for storage '" + key + "'");
        }
        DType dtype = g.storageType();
        String id = key + "/" + dtype.name();
        Unpickler.StorageRef known = storages.get(id);
        if (known != null) {
            if (known.numel() != numel) {
                throw bad.apply("storage '" + key + "' is declared with two different sizes");
            }
            return known;
        }
        Unpickler.StorageRef ref = new Unpickler.StorageRef(dtype, key, numel);
        storages.put(id, ref);
        return ref;
    }

    static Unpickler.PDict selectStateDict(Object root, String file) {
        Unpickler.PDict model = Unpickler.moduleStateDict(root, file); // torch.save(model): read as its state dict
        if (model != null) {
            root = model;
        }
        if (root instanceof Unpickler.Global g && g.inert()) {
            throw Unpickler.refused(file, g);
        }
        if (!(root instanceof Unpickler.PDict top)) {
            throw LadyException.invalidInput(file + " holds " + Unpickler.describe(root)
                    + ", not a state dict (save model.state_dict())");
        }
        Unpickler.PDict dict = top;
        for (String k : STATE_DICT_KEYS) {
            Object v = top.map.get(k);
            Unpickler.PDict inner = v instanceof Unpickler.PDict d ? d : Unpickler.moduleStateDict(v, file);
            if (inner != null) {
                dict = inner;
                break;
            }
        }
        return checkedStateDict(dict, top, file);
    }

    /** {@code dict} when it is a state dict (string keys, tensor values; {@code top} the file's own dict). */
    private static Unpickler.PDict checkedStateDict(Unpickler.PDict dict, Unpickler.PDict top, String file) {
        if (dict.map.isEmpty() && dict.otherKeys.isEmpty()) {
            throw LadyException.invalidInput(file + " holds an empty dict, not a state dict with tensors");
        }
        if (!dict.otherKeys.isEmpty()) {
            throw LadyException.invalidInput(file + ": the state dict has a key that is not a string");
        }
        boolean anyTensor = false;
        for (Map.Entry<Object, Object> e : dict.map.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw LadyException.invalidInput(file + ": the state dict has a key that is not a string: "
                        + Unpickler.describe(e.getKey()));
            }
            if (!(e.getValue() instanceof Unpickler.TensorRef)) {
                if (dict == top && !anyTensor) {
                    List<String> keys = new ArrayList<>();
                    top.map.keySet().stream().limit(8).forEach(k -> keys.add(String.valueOf(k)));
                    throw LadyException.invalidInput(file + " holds a dict with keys " + keys
                            + " that is not a state dict: expected tensors, or a state dict under "
                            + Text.list(java.util.Arrays.stream(STATE_DICT_KEYS).map(Text::quote).toList(),
                                    STATE_DICT_KEYS.length));
                }
                throw LadyException.invalidInput(file + ": state dict entry '" + name + "' is "
                        + Unpickler.describe(e.getValue()) + ", not a tensor");
            }
            anyTensor = true;
        }
        return dict;
    }

    private static StateDict materialize(ZipArchive zip, FileChannel ch, java.nio.file.Path path, String prefix,
            Unpickler.PDict dict, String file) throws IOException {
        HostMemory mapped = SafeTensors.map(path, ch.size());
        IdentityHashMap<Unpickler.StorageRef, Record> records = new IdentityHashMap<>(); // storage -> its record
        return build(mapped, ch.size(), dict, zip::bad, s -> {
            Record r = locateStorage(zip, prefix, s);
            records.put(s, r);
            return r.offset();
        }, () -> verifyCrcs(zip, mapped, new ArrayList<>(records.values())));
    }

    /** Where a storage's data starts in the mapped file (checked to lie inside it). */
    interface StorageLocator {
        long dataOffset(Unpickler.StorageRef s) throws IOException;
    }

    /**
     * The state dict {@code dict} over {@code mapped} (a file of {@code fileSize} bytes): each tensor a view of its
     * storage's data, where {@code locator} finds it (once per storage), after {@code check} (run once every storage
     * is located). {@code bad} makes the refusal of a malformed file.
     */
    static StateDict build(HostMemory mapped, long fileSize, Unpickler.PDict dict,
            java.util.function.Function<String, LadyException> bad, StorageLocator locator, Runnable check)
            throws IOException {
        // how many kept tensors use each storage (a storage used once, whole, becomes the tensor itself)
        IdentityHashMap<Unpickler.StorageRef, Integer> uses = new IdentityHashMap<>();
        for (Object v : dict.map.values()) {
            uses.merge(((Unpickler.TensorRef) v).storage(), 1, Integer::sum);
        }
        long budget;
        try {
            budget = Math.multiplyExact(MAX_EXPANSION, fileSize) + (1L << 20);
        } catch (ArithmeticException e) {
            budget = Long.MAX_VALUE;
        }
        IdentityHashMap<Unpickler.StorageRef, Long> data = new IdentityHashMap<>(); // storage -> its data's offset
        List<Long> sizes = new ArrayList<>();
        for (Map.Entry<Object, Object> e : dict.map.entrySet()) {
            String name = (String) e.getKey();
            Unpickler.TensorRef t = (Unpickler.TensorRef) e.getValue();
            Unpickler.StorageRef s = t.storage();
            long numel = checkView(bad, name, t);
            long bytes = numel * s.dtype().elementSize(); // numel <= storage numel, which fits the file
            budget -= bytes;
            if (budget < 0) {
                throw bad.apply("its tensors together would need far more memory than the file holds");
            }
            sizes.add(numel);
            if (!data.containsKey(s)) {
                data.put(s, locator.dataOffset(s));
            }
        }
        check.run();
        StateDict out = new StateDict();
        int k = 0;
        for (Map.Entry<Object, Object> e : dict.map.entrySet()) {
            Unpickler.TensorRef t = (Unpickler.TensorRef) e.getValue();
            out.put((String) e.getKey(), view(mapped, data.get(t.storage()), t, sizes.get(k++),
                    uses.get(t.storage()) == 1));
        }
        out.setModuleMetadata(moduleMetadata(dict));
        return out;
    }

    /** The most module versions {@link #moduleMetadata} keeps (a state dict has one per module). */
    private static final int MAX_METADATA_MODULES = 1 << 20;

    /**
     * The module versions of a state dict's OrderedDict ({@code _metadata}, its BUILD state): per module path a map of
     * strings to integers, booleans or strings (PyTorch writes {@code {"version": n}}); empty when there are none or they
     * have another form (they are then not kept: the file still reads).
     */
    static Map<String, Map<String, Object>> moduleMetadata(Unpickler.PDict dict) {
        if (!(dict.state instanceof Unpickler.PDict state) || !(state.map.get("_metadata") instanceof Unpickler.PDict meta)
                || !meta.otherKeys.isEmpty() || meta.map.size() > MAX_METADATA_MODULES) {
            return Map.of();
        }
        Map<String, Map<String, Object>> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<Object, Object> e : meta.map.entrySet()) {
            if (!(e.getKey() instanceof String module) || !(e.getValue() instanceof Unpickler.PDict entry)
                    || !entry.otherKeys.isEmpty()) {
                return Map.of();
            }
            Map<String, Object> values = new java.util.LinkedHashMap<>();
            for (Map.Entry<Object, Object> v : entry.map.entrySet()) {
                if (!(v.getKey() instanceof String key) || !(v.getValue() instanceof Long || v.getValue() instanceof Boolean
                        || v.getValue() instanceof String)) {
                    return Map.of();
                }
                values.put(key, v.getValue());
            }
            out.put(module, values);
        }
        return out;
    }

    /** CRC-32 of every storage record whose size is exactly its data's (all records, in parallel: the first
     * pass over a mapped file is what reading it costs); the first failing record in order is reported. */
    private static void verifyCrcs(ZipArchive zip, HostMemory mapped, List<Record> records) {
        boolean[] ok = new boolean[records.size()];
        lady.util.Parallel.forEach(records.size(), i -> {
            Record r = records.get(i);
            ok[i] = r.size() != r.entry().size()
                    || TensorBytes.crc32(HostTensor.view(mapped, r.offset(), DType.UINT8, r.size())) == r.entry().crc();
        });
        for (int i = 0; i < ok.length; i++) {
            if (!ok[i]) {
                throw zip.bad("storage record '" + records.get(i).entry().name() + "' fails its CRC check (corrupt file)");
            }
        }
    }

    /** Checks the view lies inside its storage; returns its element count. */
    private static long checkView(java.util.function.Function<String, LadyException> bad, String name,
            Unpickler.TensorRef t) {
        long numel;
        long last = t.offset();
        try {
            numel = TensorBytes.numel(t.size(), t.storage().dtype().elementSize());
            if (numel > 0) {
                for (int i = 0; i < t.size().length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(t.size()[i] - 1, t.stride()[i]));
                }
            }
        } catch (ArithmeticException e) {
            throw bad.apply("tensor " + Text.quote(name) + " has an absurd shape " + Text.shape(t.size()));
        }
        long storageNumel = t.storage().numel();
        if (numel > 0 && last >= storageNumel) {
            throw bad.apply("tensor " + Text.quote(name) + " of shape " + Text.shape(t.size())
                    + " reaches element " + last + " of a storage of " + storageNumel + " elements");
        }
        if (numel > storageNumel) {
            throw bad.apply("tensor " + Text.quote(name) + " has more elements (" + numel + ") than its storage ("
                    + storageNumel + "): expanded (zero-stride) tensors are not supported");
        }
        return numel;
    }

    /** A storage record of the file: where its data starts and how many bytes its storage needs. */
    private record Record(ZipArchive.Entry entry, long offset, long size) {}

    /** Storage {@code s}'s record, checked (stored uncompressed, large enough); its CRC is checked by {@link #verifyCrcs}. */
    private static Record locateStorage(ZipArchive zip, String prefix, Unpickler.StorageRef s) throws IOException {
        String recordName = prefix + "data/" + s.key();
        ZipArchive.Entry en = zip.entries().get(recordName);
        if (en == null) {
            throw zip.bad("storage record '" + recordName + "' is missing");
        }
        if (en.method() != ZipArchive.METHOD_STORED || en.compressedSize() != en.size()) {
            throw zip.bad("storage record '" + recordName + "' is compressed (PyTorch stores them uncompressed)");
        }
        long need;
        try {
            need = Math.multiplyExact(s.numel(), (long) s.dtype().elementSize());
        } catch (ArithmeticException e) {
            need = Long.MAX_VALUE;
        }
        if (en.size() < need) {
            throw zip.bad("storage record '" + recordName + "' holds " + en.size() + " bytes but the checkpoint says it has "
                    + s.numel() + " " + s.dtype().name().toLowerCase() + " elements (" + need + " bytes)");
        }
        return new Record(en, zip.dataOffset(en), need);
    }

    /** The tensor over its storage's mapped bytes: zero-copy when it is the whole storage, contiguous, used by this
     * entry alone and aligned; else a contiguous copy (never aliasing another entry). */
    private static HostTensor view(HostMemory mapped, long data, Unpickler.TensorRef t, long numel, boolean soleUser) {
        long[] size = t.size();
        DType dtype = t.storage().dtype();
        boolean contiguous = true;
        long expected = 1;
        for (int i = size.length - 1; i >= 0 && contiguous; i--) {
            if (size[i] != 1 && t.stride()[i] != expected) {
                contiguous = false;
            }
            expected *= size[i];
        }
        long at = data + t.offset() * dtype.elementSize();
        if (numel == 0) {
            return HostTensor.allocate(dtype, size);
        }
        if (!contiguous) {
            return HostTensor.gatherStrided(mapped, at, dtype, size, t.stride());
        }
        HostTensor v = HostTensor.view(mapped, at, dtype, size);
        boolean aligned = at % dtype.elementSize() == 0;
        return soleUser && aligned ? v : v.copy();
    }

    // ------------------------------------------------------------------ writing

    private record ZipRecord(String name, byte[] bytes, IndexedTensor tensor, long size) {}

    /**
     * Writes {@code sd} as PyTorch's zip format: data.pkl, byteorder, one stored entry per tensor (data
     * aligned to {@link #ALIGNMENT} bytes, so that a reader can map it), version. Tensors are streamed
     * ({@link TensorBytes#write}: lazily permuted ones gathered from their base as they are written), and
     * each entry's CRC-32, computed on the way, is written into its local header afterwards. Entries and
     * archives past 4 GiB or 65535 entries get zip64 records.
     */
    static void write(lady.io.FileSink ch, StateDict sd) throws IOException {
        TensorBytes.requireLittleEndian();
        if (sd.hasSplitTensors()) {
            throw LadyException.invalidInput("this model's fused experts are written as safetensors (a Hugging Face "
                    + "folder's model.safetensors), not in PyTorch's zip format");
        }
        List<ZipRecord> records = new ArrayList<>();
        List<IndexedTensor> tensors = new ArrayList<>();
        List<String> names = new ArrayList<>(sd.names());
        for (String n : names) {
            tensors.add(sd.streamed(n));
        }
        byte[] pickle = pickle(names, tensors.stream().map(t -> new long[][] {t.shape()}).toList(),
                tensors.stream().map(IndexedTensor::dtype).toList(), sd.moduleMetadata());
        String p = WRITE_FOLDER + "/";
        records.add(small(p + "data.pkl", pickle));
        records.add(small(p + "byteorder", "little".getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < tensors.size(); i++) {
            records.add(new ZipRecord(p + "data/" + i, null, tensors.get(i), tensors.get(i).byteSize()));
        }
        records.add(small(p + "version", FORMAT_VERSION.getBytes(StandardCharsets.US_ASCII)));
        try (HostMemory scratch = HostMemory.allocate(IndexedTensor.SCRATCH_BYTES)) {
            writeZip(ch, records, scratch);
        }
    }

    /**
     * How {@code sd} is written into a copy of the TorchScript archive {@code like}: every entry of the archive in its
     * order, its code and constants byte for byte, the storage record of each of {@code sd}'s tensors holding that
     * tensor's new values, so that {@code torch.jit.load} of the copy runs the archive's code on the new weights.
     * Null when {@code like} is no TorchScript archive, or when the copy cannot hold {@code sd}: other names, a dtype
     * or shape that changed (the code may rely on it), a tensor that is not its storage whole and alone (tied or
     * sliced), or compressed records of more than {@link ScriptClasses#MAX_CODE_BYTES}. Close it when written.
     */
    static ScriptCopy scriptCopy(StateDict sd, java.nio.file.Path like) {
        String file = like.toString();
        try (FileChannel ch = FileChannel.open(like, java.nio.file.StandardOpenOption.READ)) {
            if (TorchLegacy.is(ch)) {
                return null;
            }
            ZipArchive zip = ZipArchive.open(ch, file);
            String prefix = findFolder(zip, file);
            if (!ScriptClasses.isScript(zip, prefix)) {
                return null;
            }
            Map<String, Unpickler.StorageRef> storages = new HashMap<>();
            byte[] pickle = zip.readSmall(zip.entries().get(prefix + "data.pkl"), MAX_PICKLE_BYTES);
            Object root = new Unpickler(pickle, file, pid -> storageRef(zip, prefix, storages, pid)).load();
            Unpickler.PDict dict = Unpickler.moduleStateDict(root, file, ScriptClasses.read(zip, prefix));
            if (dict == null || !new java.util.HashSet<>(sd.names()).equals(dict.map.keySet())) {
                return null;
            }
            Map<String, String> replaced = new HashMap<>(); // storage record -> the name of the tensor written there
            for (Map.Entry<Object, Object> e : dict.map.entrySet()) {
                String name = (String) e.getKey();
                if (!(e.getValue() instanceof Unpickler.TensorRef t)) {
                    return null;
                }
                long numel = checkView(zip::bad, name, t);
                if (t.offset() != 0 || numel != t.storage().numel() || !java.util.Arrays.equals(t.stride(),
                        contiguousStrides(t.size())) || !java.util.Arrays.equals(t.size(), sd.streamed(name).shape())
                        || t.storage().dtype() != sd.streamed(name).dtype()
                        || replaced.put(prefix + "data/" + t.storage().key(), name) != null) {
                    return null;
                }
            }
            HostMemory mapped = SafeTensors.map(like, ch.size());
            try {
                List<ZipRecord> records = copyRecords(zip, mapped, sd, replaced);
                if (records != null) {
                    return new ScriptCopy(records, mapped);
                }
            } catch (IOException | RuntimeException e) {
                mapped.close();
                throw e;
            }
            mapped.close();
            return null;
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + like + ": " + e.getMessage(), e);
        }
    }

    /**
     * The records of {@link #scriptCopy}: {@code zip}'s entries in order, those of {@code replaced} (record -> tensor
     * name) holding {@code sd}'s tensors; null when a compressed record is too large to inflate.
     */
    private static List<ZipRecord> copyRecords(ZipArchive zip, HostMemory mapped, StateDict sd,
            Map<String, String> replaced) throws IOException {
        List<ZipRecord> records = new ArrayList<>();
        long inflated = ScriptClasses.MAX_CODE_BYTES;
        for (ZipArchive.Entry en : zip.entries().values()) {
            String name = replaced.get(en.name());
            if (name != null) {
                IndexedTensor t = sd.streamed(name);
                records.add(new ZipRecord(en.name(), null, t, t.byteSize()));
            } else if (en.size() == 0) {
                records.add(small(en.name(), new byte[0]));
            } else if (en.method() == ZipArchive.METHOD_STORED && en.compressedSize() == en.size()) {
                records.add(new ZipRecord(en.name(), null, IndexedTensor.of(HostTensor.view(mapped,
                        zip.dataOffset(en), DType.UINT8, en.size())), en.size()));
            } else if (en.size() <= inflated) { // the code, deflated: written stored, as its bytes
                inflated -= en.size();
                records.add(small(en.name(), zip.readSmall(en, en.size())));
            } else {
                return null;
            }
        }
        return records;
    }

    /** A TorchScript archive's copy to write ({@link #scriptCopy}), over the mapped archive. */
    static final class ScriptCopy implements AutoCloseable {
        private final List<ZipRecord> records;
        private final HostMemory mapped;

        private ScriptCopy(List<ZipRecord> records, HostMemory mapped) {
            this.records = records;
            this.mapped = mapped;
        }

        void write(lady.io.FileSink ch) throws IOException {
            try (HostMemory scratch = HostMemory.allocate(IndexedTensor.SCRATCH_BYTES)) {
                writeZip(ch, records, scratch);
            }
        }

        @Override
        public void close() {
            mapped.close();
        }
    }

    private static ZipRecord small(String name, byte[] b) {
        return new ZipRecord(name, b, null, b.length);
    }

    /** zip's 32-bit fields hold values below this; larger ones go into zip64 extra fields. */
    private static final long ZIP32_LIMIT = 0xFFFFFFFFL;
    private static final int ZIP64_EXTRA_ID = 0x0001;
    private static final int VERSION_ZIP64 = 45;
    private static final int VERSION_PLAIN = 20;
    private static final int CRC_OFFSET = 14;

    private static void writeZip(lady.io.FileSink ch, List<ZipRecord> records, HostMemory scratch) throws IOException {
        ByteArrayOutputStream central = new ByteArrayOutputStream();
        long pos = 0;
        for (ZipRecord r : records) {
            byte[] name = r.name().getBytes(StandardCharsets.UTF_8);
            boolean big = r.size() >= ZIP32_LIMIT;
            int z64 = big ? 4 + 16 : 0;
            long headerEnd = pos + ZipArchive.LOCAL_HEADER_SIZE + name.length + z64;
            int pad = (int) ((ALIGNMENT - (headerEnd + 4) % ALIGNMENT) % ALIGNMENT);
            int extra = z64 + 4 + pad;
            ByteBuffer h = le(ZipArchive.LOCAL_HEADER_SIZE + name.length + extra);
            h.putInt(ZipArchive.LOCAL_HEADER_SIG);
            putCommon(h, big ? VERSION_ZIP64 : VERSION_PLAIN, 0, big ? ZIP32_LIMIT : r.size());
            h.putShort((short) name.length).putShort((short) extra).put(name);
            if (big) {
                h.putShort((short) ZIP64_EXTRA_ID).putShort((short) 16).putLong(r.size()).putLong(r.size());
            }
            h.putShort((short) 0x4246).putShort((short) pad); // "FB" padding field, as PyTorch writes it
            for (int i = 0; i < pad; i++) {
                h.put((byte) 'Z');
            }
            ch.write(h.flip());
            CRC32 crc = new CRC32();
            if (r.tensor() != null) {
                TensorBytes.write(ch, r.tensor(), scratch, crc);
            } else {
                crc.update(r.bytes());
                ch.write(ByteBuffer.wrap(r.bytes()));
            }
            long crcValue = crc.getValue();
            ch.patch(pos + CRC_OFFSET, le(4).putInt((int) crcValue).flip());
            // central directory entry: 32-bit fields that overflow are 0xFFFFFFFF, their values in a zip64 field
            boolean bigOffset = pos >= ZIP32_LIMIT;
            int cz = (big ? 16 : 0) + (bigOffset ? 8 : 0);
            ByteBuffer c = le(ZipArchive.CENTRAL_HEADER_SIZE + name.length + (cz > 0 ? 4 + cz : 0));
            c.putInt(ZipArchive.CENTRAL_SIG).putShort((short) (big || bigOffset ? VERSION_ZIP64 : VERSION_PLAIN));
            putCommon(c, big || bigOffset ? VERSION_ZIP64 : VERSION_PLAIN, crcValue, big ? ZIP32_LIMIT : r.size());
            c.putShort((short) name.length).putShort((short) (cz > 0 ? 4 + cz : 0)).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0).putInt(0).putInt((int) (bigOffset ? ZIP32_LIMIT : pos)).put(name);
            if (cz > 0) {
                c.putShort((short) ZIP64_EXTRA_ID).putShort((short) cz);
                if (big) {
                    c.putLong(r.size()).putLong(r.size());
                }
                if (bigOffset) {
                    c.putLong(pos);
                }
            }
            central.write(c.array());
            pos = headerEnd + 4 + pad + r.size();
        }
        byte[] cd = central.toByteArray();
        ch.write(ByteBuffer.wrap(cd));
        long cdOffset = pos;
        boolean zip64 = cdOffset >= ZIP32_LIMIT || records.size() >= 0xFFFF || cd.length >= ZIP32_LIMIT;
        if (zip64) {
            long z64At = cdOffset + cd.length;
            ByteBuffer z = le(56 + 20);
            z.putInt(ZipArchive.ZIP64_EOCD_SIG).putLong(44).putShort((short) VERSION_ZIP64).putShort((short) VERSION_ZIP64)
                    .putInt(0).putInt(0).putLong(records.size()).putLong(records.size()).putLong(cd.length)
                    .putLong(cdOffset);
            z.putInt(ZipArchive.ZIP64_LOCATOR_SIG).putInt(0).putLong(z64At).putInt(1);
            ch.write(z.flip());
        }
        ByteBuffer end = le(ZipArchive.EOCD_SIZE);
        short count = (short) (zip64 ? 0xFFFF : records.size());
        end.putInt(ZipArchive.EOCD_SIG).putShort((short) 0).putShort((short) 0).putShort(count).putShort(count)
                .putInt((int) (zip64 ? ZIP32_LIMIT : cd.length)).putInt((int) (zip64 ? ZIP32_LIMIT : cdOffset))
                .putShort((short) 0);
        ch.write(end.flip());
    }

    /** Fields shared by local and central headers, from "version needed" to the uncompressed size. */
    private static void putCommon(ByteBuffer b, int versionNeeded, long crc, long size) {
        final short fixedTime = 0;
        final short fixedDate = (1 << 5) | 1; // 1980-01-01: same bytes on every write
        b.putShort((short) versionNeeded).putShort((short) 0).putShort((short) ZipArchive.METHOD_STORED)
                .putShort(fixedTime).putShort(fixedDate).putInt((int) crc)
                .putInt((int) size).putInt((int) size);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** data.pkl of {@code tensors} (see {@link #pickle(List, List, List)}). */
    static byte[] pickle(List<String> names, List<HostTensor> tensors) {
        return pickle(names, tensors.stream().map(t -> new long[][] {t.shape()}).toList(),
                tensors.stream().map(HostTensor::dtype).toList(), Map.of());
    }

    /**
     * data.pkl: OrderedDict([(name, _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())), ...]), and when
     * {@code metadata} has entries its BUILD state {@code {'_metadata': OrderedDict([(module, {key: value}), ...])}}, as
     * PyTorch pickles a state dict.
     */
    static byte[] pickle(List<String> names, List<long[][]> shapes, List<DType> dtypes,
            Map<String, Map<String, Object>> metadata) {
        PickleOut o = new PickleOut();
        o.op(0x80).op(2); // PROTO 2
        int orderedDict = o.global("collections", "OrderedDict");
        o.op(')').op('R'); // OrderedDict()
        int rebuild = -1;
        int storageStr = -1;
        int cpu = -1;
        Map<DType, Integer> storageTypes = new HashMap<>();
        final int batch = 1000; // SETITEMS batch size, as Python's pickler uses
        for (int i = 0; i < names.size(); i++) {
            if (i % batch == 0) {
                o.op('(');
            }
            DType d = dtypes.get(i);
            long[] size = shapes.get(i)[0];
            long[] stride = contiguousStrides(size);
            o.str(names.get(i));
            rebuild = rebuild < 0 ? o.global("torch._utils", "_rebuild_tensor_v2") : o.get(rebuild);
            o.op('(').op('(');
            storageStr = storageStr < 0 ? o.putStr("storage") : o.get(storageStr);
            Integer st = storageTypes.get(d);
            storageTypes.put(d, st == null ? o.global("torch", d.torchStorage()) : o.get(st));
            o.str(Integer.toString(i));
            cpu = cpu < 0 ? o.putStr("cpu") : o.get(cpu);
            o.integer(HostTensor.numel(size));
            o.op('t').op('Q'); // persistent id tuple, BINPERSID
            o.integer(0); // storage offset
            o.tuple(size);
            o.tuple(stride);
            o.op(0x89); // requires_grad False
            o.get(orderedDict);
            o.op(')').op('R'); // backward hooks: OrderedDict()
            o.op('t').op('R');
            if (i % batch == batch - 1 || i == names.size() - 1) {
                o.op('u');
            }
        }
        if (!metadata.isEmpty()) { // BUILD with {'_metadata': OrderedDict(...)}
            o.op('}');
            o.str("_metadata");
            o.get(orderedDict);
            o.op(')').op('R');
            int k = 0;
            for (Map.Entry<String, Map<String, Object>> e : metadata.entrySet()) {
                if (k % batch == 0) {
                    o.op('(');
                }
                o.str(e.getKey());
                o.op('}').op('(');
                for (Map.Entry<String, Object> v : e.getValue().entrySet()) {
                    o.str(v.getKey());
                    if (v.getValue() instanceof Long n) {
                        o.integer(n);
                    } else if (v.getValue() instanceof Boolean bool) {
                        o.op(bool ? 0x88 : 0x89);
                    } else {
                        o.str((String) v.getValue());
                    }
                }
                o.op('u');
                if (k % batch == batch - 1 || k == metadata.size() - 1) {
                    o.op('u');
                }
                k++;
            }
            o.op('s').op('b');
        }
        o.op('.');
        return o.toByteArray();
    }

    private static long[] contiguousStrides(long[] size) {
        long[] s = new long[size.length];
        long acc = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(size[i], 1);
        }
        return s;
    }

    /** A tiny protocol-2 pickle emitter with a memo for repeated globals and strings. */
    private static final class PickleOut extends ByteArrayOutputStream {
        private int memo;

        PickleOut op(int b) {
            write(b);
            return this;
        }

        private int put() {
            int idx = memo++;
            if (idx < 256) {
                op('q').op(idx);
            } else {
                op('r');
                int32(idx);
            }
            return idx;
        }

        int get(int idx) {
            if (idx < 256) {
                op('h').op(idx);
            } else {
                op('j');
                int32(idx);
            }
            return idx;
        }

        int global(String module, String name) {
            op('c');
            writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return put();
        }

        int putStr(String s) {
            str(s);
            return put();
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            int32(b.length);
            writeBytes(b);
        }

        void int32(int v) {
            op(v & 0xFF).op((v >>> 8) & 0xFF).op((v >>> 16) & 0xFF).op((v >>> 24) & 0xFF);
        }

        void integer(long v) {
            if (v >= 0 && v < 0x100) {
                op('K').op((int) v);
            } else if (v >= 0 && v < 0x10000) {
                op('M').op((int) (v & 0xFF)).op((int) (v >>> 8));
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');
                int32((int) v);
            } else { // LONG1: little-endian two's complement, minimal length
                byte[] be = java.math.BigInteger.valueOf(v).toByteArray();
                op(0x8a).op(be.length);
                for (int i = be.length - 1; i >= 0; i--) {
                    op(be[i] & 0xFF);
                }
            }
        }

        void tuple(long[] v) {
            switch (v.length) {
                case 0 -> op(')');
                case 1 -> {
                    integer(v[0]);
                    op(0x85);
                }
                case 2 -> {
                    integer(v[0]);
                    integer(v[1]);
                    op(0x86);
                }
                case 3 -> {
                    integer(v[0]);
                    integer(v[1]);
                    integer(v[2]);
                    op(0x87);
                }
                default -> {
                    op('(');
                    for (long x : v) {
                        integer(x);
                    }
                    op('t');
                }
            }
        }
    }
}
