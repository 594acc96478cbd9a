package lady.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.util.Text;
import lady.report.Json;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}} plus an
 * optional {@code "__metadata__"} map of strings), then the raw little-endian tensor bytes; offsets
 * are relative to the end of the header. Reading checks the header strictly (size limit, dtypes,
 * shapes against byte ranges, ranges inside the file, no overlaps, no holes, as the reference
 * implementation requires) and gives each tensor, in the order of the data (the header's entries may come in
 * any order; the reference implementation writes them in data order, older versions did not), zero-copy over
 * the file mapped copy-on-write
 * ({@link HostMemory#mapFile}; a tensor whose bytes are not aligned to its element size is copied). Writing keeps the state
 * dict's order, pads the header with spaces to a multiple of 8 bytes, and streams each tensor (a lazily
 * permuted one gathered from its base on the way: {@link TensorBytes#write}).
 */
final class SafeTensors {
    private SafeTensors() {}

    /** Largest header accepted (the reference implementation's limit). */
    static final long MAX_HEADER_BYTES = 100L << 20;
    static final int LENGTH_BYTES = 8;
    static final int HEADER_ALIGNMENT = 8;
    static final String METADATA = "__metadata__";

    private record Item(String name, DType dtype, long[] shape, long begin, long end) {}

    static StateDict read(FileChannel ch, java.nio.file.Path path) throws IOException {
        String file = path.toString();
        TensorBytes.requireLittleEndian();
        long fileSize = ch.size();
        if (fileSize < LENGTH_BYTES) {
            throw bad(file, "too short for a safetensors header (truncated?)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long n = lenBuf.getLong(0);
        if (n < 2 || n > MAX_HEADER_BYTES) {
            throw bad(file, "header length " + Long.toUnsignedString(n) + " is out of range (limit " + MAX_HEADER_BYTES + ")");
        }
        if (n > fileSize - LENGTH_BYTES) {
            throw bad(file, "header of " + n + " bytes is longer than the file (truncated?)");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, LENGTH_BYTES, file);
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(hb.flip()).toString();
        } catch (CharacterCodingException e) {
            throw bad(file, "header is not UTF-8");
        }
        Object parsed;
        try {
            parsed = Json.parse(headerText);
        } catch (LadyException e) {
            throw bad(file, "header: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> header)) {
            throw bad(file, "header is not a JSON object");
        }
        long dataStart = LENGTH_BYTES + n;
        long dataSize = fileSize - dataStart;
        List<Item> items = new ArrayList<>();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA)) {
                checkMetadata(file, e.getValue());
                continue;
            }
            items.add(item(file, name, e.getValue(), dataSize));
        }
        // byte ranges: inside the data, no overlaps, no holes
        List<Item> byOffset = new ArrayList<>(items);
        byOffset.sort(Comparator.comparingLong(Item::begin).thenComparingLong(Item::end));
        long covered = 0;
        for (Item it : byOffset) {
            if (it.begin() < covered) {
                throw bad(file, "tensor '" + it.name() + "' overlaps another tensor's bytes");
            }
            if (it.begin() > covered) {
                throw bad(file, "bytes " + covered + ".." + it.begin() + " of the data belong to no tensor");
            }
            covered = it.end();
        }
        if (covered != dataSize) {
            throw bad(file, "the data is " + dataSize + " bytes but the tensors cover " + covered);
        }
        StateDict out = new StateDict();
        HostMemory mapped = items.isEmpty() || dataSize == 0 ? null : map(path, fileSize);
        for (Item it : byOffset) { // in data order, whatever the header's order (older writers used any)
            long at = dataStart + it.begin();
            HostTensor t = mapped == null ? HostTensor.allocate(it.dtype(), it.shape())
                    : HostTensor.view(mapped, at, it.dtype(), it.shape());
            if (mapped != null && at % it.dtype().elementSize() != 0) {
                t = t.copy(); // misaligned for its element type: an aligned copy
            }
            out.put(it.name(), t);
        }
        return out;
    }

    /** The whole file mapped copy-on-write, checked to be the file the header was read from (same size). */
    static HostMemory map(java.nio.file.Path path, long expectedSize) {
        HostMemory m = HostMemory.mapFile(path);
        if (m.length() != expectedSize) {
            m.close();
            throw new LadyException(LadyException.Kind.IO, path + " changed while it was read (" + expectedSize
                    + " bytes, then " + m.length() + ")");
        }
        return m;
    }

    private static Item item(String file, String name, Object spec, long dataSize) {
        if (!(spec instanceof Map<?, ?> m)) {
            throw bad(file, "entry '" + name + "' is not an object");
        }
        for (Object k : m.keySet()) {
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets")) {
                throw bad(file, "entry '" + name + "' has an unknown field '" + k + "'");
            }
        }
        DType dtype = m.get("dtype") instanceof String s ? DType.ofSafetensors(s) : null;
        if (dtype == null) {
            throw bad(file, "entry '" + name + "' has an unsupported dtype " + m.get("dtype"));
        }
        if (!(m.get("shape") instanceof List<?> shapeList)) {
            throw bad(file, "entry '" + name + "' has no shape");
        }
        long[] shape = new long[shapeList.size()];
        long numel;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long v) || v < 0) {
                throw bad(file, "entry " + Text.quote(name) + " has a bad shape: dimension " + i + " is "
                        + Text.quote(String.valueOf(shapeList.get(i))));
            }
            shape[i] = v;
        }
        try {
            numel = TensorBytes.numel(shape, dtype.elementSize());
        } catch (ArithmeticException e) {
            throw bad(file, "entry " + Text.quote(name) + " has an absurd shape " + Text.shape(shape));
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2
                || !(off.get(0) instanceof Long begin) || !(off.get(1) instanceof Long end)) {
            throw bad(file, "entry '" + name + "' has no valid data_offsets");
        }
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, "entry '" + name + "' has data_offsets [" + begin + ", " + end
                    + "] outside the " + dataSize + " bytes of data");
        }
        if (end - begin != numel * dtype.elementSize()) {
            throw bad(file, "entry " + Text.quote(name) + " of shape " + Text.shape(shape) + " needs " + numel * dtype.elementSize()
                    + " bytes but its data_offsets give " + (end - begin));
        }
        return new Item(name, dtype, shape, begin, end);
    }

    private static void checkMetadata(String file, Object meta) {
        if (!(meta instanceof Map<?, ?> m)) {
            throw bad(file, "__metadata__ is not an object");
        }
        for (Object v : m.values()) {
            if (!(v instanceof String)) {
                throw bad(file, "__metadata__ values must be strings");
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos, String file) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw bad(file, "the file ends early (truncated?)");
            }
        }
    }

    private static LadyException bad(String file, String what) {
        return LadyException.invalidInput(file + " is not a valid safetensors file: " + what);
    }

    static void write(lady.io.FileSink ch, StateDict sd) throws IOException {
        TensorBytes.requireLittleEndian();
        Map<String, Object> header = new LinkedHashMap<>();
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        header.put(METADATA, meta);
        List<IndexedTensor> tensors = new ArrayList<>();
        long offset = 0;
        for (String name : sd.storageNames()) { // a tensor read in parts (fused experts) written as one, part by part
            if (name.equals(METADATA)) {
                throw LadyException.invalidInput("a tensor cannot be named " + METADATA + " in safetensors");
            }
            List<IndexedTensor> parts = sd.storedParts(name);
            long bytes = 0;
            for (IndexedTensor t : parts) {
                bytes += t.byteSize();
            }
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("dtype", parts.get(0).dtype().safetensorsName());
            spec.put("shape", sd.storedShape(name));
            spec.put("data_offsets", List.of(offset, offset + bytes));
            header.put(name, spec);
            offset += bytes;
            tensors.addAll(parts);
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + HEADER_ALIGNMENT - 1) / HEADER_ALIGNMENT * HEADER_ALIGNMENT;
        ByteBuffer head = ByteBuffer.allocate(LENGTH_BYTES + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        ch.write(head.flip());
        try (HostMemory scratch = HostMemory.allocate(IndexedTensor.SCRATCH_BYTES)) {
            for (IndexedTensor t : tensors) { // lazily permuted tensors gathered from their base as they are written
                TensorBytes.write(ch, t, scratch, null);
            }
        }
    }
}
