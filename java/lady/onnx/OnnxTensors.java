package lady.onnx;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import com.google.protobuf.UnsafeByteOperations;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;

import lady.LadyException;
import lady.onnx.proto.Onnx.StringStringEntryProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * Validation and conversion of ONNX tensors ({@code TensorProto}): every size is checked against the
 * data the file actually holds before anything is allocated, so a hostile file cannot ask for more memory
 * than its own size (or its external data file's) justifies.
 */
final class OnnxTensors {
    private OnnxTensors() {}

    /** Largest chunk one ByteBuffer covers (external data may exceed 2 GiB). */
    private static final long CHUNK = 1L << 30;

    /** Where the values of an externally stored tensor are. */
    record External(Path file, long offset, long length) {}

    /** A validated tensor: its description, and where its values are when stored externally (else null). */
    record Described(OnnxInitializer info, External external) {}

    /** The folder of a model: external data locations are resolved inside it, and never outside. */
    static final class Folder {
        private final Path dir;
        private Path real;

        Folder(Path dir) {
            this.dir = dir.toAbsolutePath().normalize();
        }

        Path dir() {
            return dir;
        }

        /** The file at {@code location} (relative, inside the folder, existing) for tensor {@code what}. */
        Path resolve(String location, String what) {
            Path rel;
            try {
                rel = Path.of(location);
            } catch (java.nio.file.InvalidPathException e) {
                throw LadyException.invalidInput(what + ": invalid external data location '" + location + "'");
            }
            Path p = dir.resolve(rel).normalize();
            if (location.isEmpty() || rel.isAbsolute() || !p.startsWith(dir) || p.equals(dir)) {
                throw LadyException.invalidInput(what + ": external data location '" + location
                        + "' escapes the model's folder (only files inside " + dir + " are read)");
            }
            try {
                if (real == null) {
                    real = dir.toRealPath();
                }
                Path r = p.toRealPath();
                if (!r.startsWith(real)) {
                    throw LadyException.invalidInput(what + ": external data file '" + location
                            + "' is a link that leads out of the model's folder");
                }
                if (!Files.isRegularFile(r, LinkOption.NOFOLLOW_LINKS)) {
                    throw LadyException.invalidInput(what + ": external data '" + location + "' is not a file");
                }
                return r;
            } catch (NoSuchFileException e) {
                throw new LadyException(LadyException.Kind.IO, what + ": external data file '" + location
                        + "' is missing (looked for " + p + ")");
            } catch (IOException e) {
                throw new LadyException(LadyException.Kind.IO, what + ": cannot read external data file '" + location
                        + "': " + e.getMessage(), e);
            }
        }
    }

    /**
     * Validates {@code t} and describes it: known type, non-negative dimensions whose product fits, and
     * exactly as much data as the shape needs (raw_data bytes, typed-field values, or the external file's
     * range, which must lie inside that file). {@code folder} null: external data is refused.
     */
    static Described describe(TensorProto t, String what, Folder folder) {
        if (t.hasSegment()) {
            throw LadyException.invalidInput(what + " is stored in segments, which Lady does not read");
        }
        OnnxDType dtype = OnnxDType.ofCode(t.getDataType());
        if (dtype == null) {
            throw LadyException.invalidInput(what + " has an unknown data type (" + t.getDataType() + ")");
        }
        long[] shape = new long[t.getDimsCount()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.getDims(i);
            if (shape[i] < 0) {
                throw LadyException.invalidInput(what + " has a negative dimension: " + dimsOf(t));
            }
        }
        long bytes;
        try {
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
            bytes = dtype == OnnxDType.STRING ? 0 : dtype.bytes(elements);
        } catch (ArithmeticException e) {
            throw LadyException.invalidInput(what + " has dimensions " + dimsOf(t) + " whose size overflows");
        }
        OnnxInitializer.Storage storage;
        External external = null;
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            storage = OnnxInitializer.Storage.EXTERNAL;
            if (dtype == OnnxDType.STRING) {
                throw LadyException.invalidInput(what + ": string tensors cannot be stored externally");
            }
            if (folder == null) {
                throw LadyException.invalidInput(what + " keeps its values in an external file, which is not allowed here");
            }
            external = external(t, what, folder, bytes);
        } else if (t.hasRawData()) {
            storage = OnnxInitializer.Storage.RAW;
            if (dtype == OnnxDType.STRING) {
                throw LadyException.invalidInput(what + ": string tensors cannot use raw_data");
            }
            if (t.getRawData().size() != bytes) {
                throw LadyException.invalidInput(what + " has " + t.getRawData().size() + " bytes of data; its shape "
                        + dimsOf(t) + " of " + dtype + " needs " + bytes);
            }
        } else {
            storage = OnnxInitializer.Storage.TYPED;
            long want;
            try {
                want = Math.multiplyExact(elements, dtype.fieldValuesPerElement());
            } catch (ArithmeticException e) {
                throw LadyException.invalidInput(what + " has dimensions " + dimsOf(t) + " whose size overflows");
            }
            long have = typedCount(t, dtype);
            if (have != want) {
                throw LadyException.invalidInput(what + " has " + have + " values in its " + dtype.field().name().toLowerCase()
                        + "_data field; its shape " + dimsOf(t) + " needs " + want);
            }
        }
        return new Described(new OnnxInitializer(t.getName(), dtype, shape, storage, bytes), external);
    }

    private static External external(TensorProto t, String what, Folder folder, long bytes) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = number(e.getValue(), "offset", what);
                case "length" -> length = number(e.getValue(), "length", what);
                default -> { } // checksum, basepath: not needed to read
            }
        }
        if (location == null) {
            throw LadyException.invalidInput(what + " is stored externally but names no location");
        }
        Path file = folder.resolve(location, what);
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, what + ": cannot read external data file '" + location + "'", e);
        }
        if (offset > size) {
            throw LadyException.invalidInput(what + ": offset " + offset + " is past the end of '" + location + "' ("
                    + size + " bytes)");
        }
        if (length < 0) {
            length = size - offset;
        }
        if (length > size - offset) {
            throw LadyException.invalidInput(what + ": " + length + " bytes at offset " + offset + " go past the end of '"
                    + location + "' (" + size + " bytes)");
        }
        if (length != bytes) {
            throw LadyException.invalidInput(what + " has " + length + " bytes of external data; its shape "
                    + dimsOf(t) + " of " + OnnxDType.ofCode(t.getDataType()) + " needs " + bytes);
        }
        return new External(file, offset, length);
    }

    private static long number(String s, String key, String what) {
        try {
            long v = Long.parseLong(s.trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw LadyException.invalidInput(what + ": external data " + key + " '" + s + "' is not a non-negative integer");
        }
    }

    private static long typedCount(TensorProto t, OnnxDType dtype) {
        return switch (dtype.field()) {
            case FLOAT -> t.getFloatDataCount();
            case INT32 -> t.getInt32DataCount();
            case INT64 -> t.getInt64DataCount();
            case DOUBLE -> t.getDoubleDataCount();
            case UINT64 -> t.getUint64DataCount();
            case STRING -> t.getStringDataCount();
        };
    }

    static String dimsOf(TensorProto t) {
        return t.getDimsList().toString();
    }

    /** A new host tensor holding the values of {@code t} (described as {@code info}, type in a state dict). */
    static HostTensor toHost(TensorProto t, OnnxInitializer info, External external) {
        DType dtype = info.dtype().checkpointType();
        if (dtype == null) {
            throw new LadyException(LadyException.Kind.INTERNAL, info.name() + ": " + info.dtype() + " has no state-dict type");
        }
        HostTensor out = HostTensor.allocate(dtype, info.shape());
        if (info.bytes() == 0) {
            return out;
        }
        switch (info.storage()) { // RAW and TYPED data lie in the file, under protobuf's 2 GiB
            case RAW -> t.getRawData().copyTo(out.bytes(0, Math.toIntExact(info.bytes())));
            case EXTERNAL -> readExternal(external, out, info.name());
            case TYPED -> fillTyped(t, info.dtype(), out.bytes(0, Math.toIntExact(info.bytes())));
        }
        return out;
    }

    private static void readExternal(External e, HostTensor out, String name) {
        try (FileChannel ch = FileChannel.open(e.file(), StandardOpenOption.READ)) {
            for (long done = 0; done < e.length(); ) {
                long len = Math.min(CHUNK, e.length() - done);
                ByteBuffer buf = out.bytes(done, (int) len);
                while (buf.hasRemaining()) {
                    if (ch.read(buf, e.offset() + done + buf.position()) < 0) {
                        throw new EOFException("the file ends inside the data of " + name);
                    }
                }
                done += len;
            }
        } catch (IOException x) {
            throw new LadyException(LadyException.Kind.IO, "cannot read the external data of " + name + " from "
                    + e.file() + ": " + x.getMessage(), x);
        }
    }

    private static void fillTyped(TensorProto t, OnnxDType dtype, ByteBuffer b) {
        switch (dtype) {
            case FLOAT -> {
                for (int i = 0, n = t.getFloatDataCount(); i < n; i++) {
                    b.putFloat(t.getFloatData(i));
                }
            }
            case DOUBLE -> {
                for (int i = 0, n = t.getDoubleDataCount(); i < n; i++) {
                    b.putDouble(t.getDoubleData(i));
                }
            }
            case INT64 -> {
                for (int i = 0, n = t.getInt64DataCount(); i < n; i++) {
                    b.putLong(t.getInt64Data(i));
                }
            }
            case INT32 -> {
                for (int i = 0, n = t.getInt32DataCount(); i < n; i++) {
                    b.putInt(t.getInt32Data(i));
                }
            }
            case INT16, FLOAT16, BFLOAT16 -> {
                for (int i = 0, n = t.getInt32DataCount(); i < n; i++) {
                    b.putShort((short) t.getInt32Data(i));
                }
            }
            case INT8, UINT8 -> {
                for (int i = 0, n = t.getInt32DataCount(); i < n; i++) {
                    b.put((byte) t.getInt32Data(i));
                }
            }
            case BOOL -> {
                for (int i = 0, n = t.getInt32DataCount(); i < n; i++) {
                    b.put((byte) (t.getInt32Data(i) != 0 ? 1 : 0));
                }
            }
            default -> throw new LadyException(LadyException.Kind.INTERNAL, "no typed decoding for " + dtype);
        }
    }

    /**
     * Replaces the values of initializer {@code b} (stored RAW or TYPED, as {@code info} says) by those of
     * {@code t}, a contiguous tensor of the same type and shape, keeping the storage form. RAW data is
     * wrapped, not copied: {@code t} must stay reachable until the model is written.
     */
    /** Sets initializer {@code b} to {@code t}, of its type, in {@code t}'s shape, as raw data (little-endian). */
    static void setReshaped(TensorProto.Builder b, HostTensor t) {
        b.clearDims();
        for (long d : t.shape()) {
            b.addDims(d);
        }
        b.clearFloatData().clearDoubleData().clearInt32Data().clearInt64Data().clearUint64Data();
        b.setRawData(com.google.protobuf.UnsafeByteOperations.unsafeWrap(t.bytes(0, Math.toIntExact(t.byteSize()))));
    }

    static void setData(TensorProto.Builder b, OnnxInitializer info, HostTensor t) {
        if (info.bytes() == 0) {
            return;
        }
        ByteBuffer src = t.bytes(0, Math.toIntExact(info.bytes()));
        if (info.storage() == OnnxInitializer.Storage.RAW) {
            b.setRawData(UnsafeByteOperations.unsafeWrap(src));
            return;
        }
        long n = info.elements();
        switch (info.dtype()) {
            case FLOAT -> {
                b.clearFloatData();
                for (long i = 0; i < n; i++) {
                    b.addFloatData(src.getFloat());
                }
            }
            case DOUBLE -> {
                b.clearDoubleData();
                for (long i = 0; i < n; i++) {
                    b.addDoubleData(src.getDouble());
                }
            }
            case INT64 -> {
                b.clearInt64Data();
                for (long i = 0; i < n; i++) {
                    b.addInt64Data(src.getLong());
                }
            }
            case INT32 -> {
                b.clearInt32Data();
                for (long i = 0; i < n; i++) {
                    b.addInt32Data(src.getInt());
                }
            }
            case INT16 -> {
                b.clearInt32Data();
                for (long i = 0; i < n; i++) {
                    b.addInt32Data(src.getShort());
                }
            }
            case FLOAT16, BFLOAT16 -> { // bit patterns, as unsigned 16-bit values
                b.clearInt32Data();
                for (long i = 0; i < n; i++) {
                    b.addInt32Data(src.getShort() & 0xffff);
                }
            }
            case INT8, BOOL -> {
                b.clearInt32Data();
                for (long i = 0; i < n; i++) {
                    b.addInt32Data(src.get());
                }
            }
            case UINT8 -> {
                b.clearInt32Data();
                for (long i = 0; i < n; i++) {
                    b.addInt32Data(src.get() & 0xff);
                }
            }
            default -> throw new LadyException(LadyException.Kind.INTERNAL, "no typed encoding for " + info.dtype());
        }
    }

    /** Writes the first {@code bytes} bytes of {@code t} to {@code ch} at its position. */
    static void writeBytes(FileChannel ch, HostTensor t, long bytes) throws IOException {
        for (long done = 0; done < bytes; done += CHUNK) {
            lady.io.AtomicFiles.writeFully(ch, t.bytes(done, (int) Math.min(CHUNK, bytes - done)));
        }
    }

    /** The integer values of a small constant (integer and boolean types), row-major. */
    static long[] decodeLongs(TensorProto t, OnnxInitializer info) {
        int n = (int) info.elements();
        long[] v = new long[n];
        ByteBuffer raw = info.storage() == OnnxInitializer.Storage.RAW
                ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
        for (int i = 0; i < n; i++) {
            v[i] = switch (info.dtype()) {
                case INT64 -> raw != null ? raw.getLong() : t.getInt64Data(i);
                case UINT64 -> raw != null ? raw.getLong() : t.getUint64Data(i);
                case UINT32 -> raw != null ? raw.getInt() & 0xffffffffL : t.getUint64Data(i);
                case INT32 -> raw != null ? raw.getInt() : t.getInt32Data(i);
                case INT16 -> raw != null ? raw.getShort() : t.getInt32Data(i);
                case UINT16 -> raw != null ? raw.getShort() & 0xffff : t.getInt32Data(i);
                case INT8 -> raw != null ? raw.get() : t.getInt32Data(i);
                case UINT8 -> raw != null ? raw.get() & 0xff : t.getInt32Data(i);
                case BOOL -> (raw != null ? raw.get() : t.getInt32Data(i)) != 0 ? 1 : 0;
                default -> throw LadyException.invalidInput("constant '" + info.name() + "' of type " + info.dtype()
                        + " has no integer values");
            };
        }
        return v;
    }

    /** The values of a small FLOAT or DOUBLE constant, row-major. */
    static double[] decodeDoubles(TensorProto t, OnnxInitializer info) {
        int n = (int) info.elements();
        double[] v = new double[n];
        ByteBuffer raw = info.storage() == OnnxInitializer.Storage.RAW
                ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
        for (int i = 0; i < n; i++) {
            v[i] = switch (info.dtype()) {
                case FLOAT -> raw != null ? raw.getFloat() : t.getFloatData(i);
                case DOUBLE -> raw != null ? raw.getDouble() : t.getDoubleData(i);
                default -> throw LadyException.invalidInput("constant '" + info.name() + "' of type " + info.dtype()
                        + " is not decoded as floating-point values (FLOAT and DOUBLE are)");
            };
        }
        return v;
    }

    /**
     * A little-endian buffer over {@code length} bytes of the contiguous tensor's memory from byte
     * {@code offset} (the same view as lady.checkpoint's TensorBytes, which is package-private there).
     */
    static ByteBuffer window(Tensor t, long offset, long length) {
        BytePointer p = new BytePointer(t.data_ptr());
        p.position(offset).limit(offset + length).capacity(offset + length);
        return p.asBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    static String shapeOf(long[] shape) {
        return Arrays.toString(shape);
    }
}
