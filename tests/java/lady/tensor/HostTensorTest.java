package lady.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** Host tensors: conversions against libtorch's, views, gathers, copy-on-write mappings, memory release. */
class HostTensorTest {

    /**
     * nudge moves every finite float32 value by exactly one unit in the last place and every finite half and bfloat16
     * value by one step of its own, the direction a pure function of the coin's seed; infinities and NaN stay, as do
     * integer tensors.
     */
    @Test
    void nudgeMovesEachFloatByOneUnitInTheLastPlace() {
        float[] v = {1f, -2.5f, 0f, 3e-40f, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NaN, 1e6f, -7e-3f};
        HostTensor a = HostTensor.ofFloats(v.clone(), v.length);
        HostTensor b = HostTensor.ofFloats(v.clone(), v.length);
        a.nudge(new java.util.SplittableRandom(9));
        b.nudge(new java.util.SplittableRandom(9));
        assertArrayEquals(a.readFloats(), b.readFloats(), "the same seed moves the same way");
        float[] moved = a.readFloats();
        int up = 0;
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(moved[i]), "non-finite stays");
            } else {
                assertTrue(moved[i] == Math.nextUp(v[i]) || moved[i] == Math.nextDown(v[i]), v[i] + " -> " + moved[i]);
                up += moved[i] > v[i] ? 1 : 0;
            }
        }
        assertTrue(up > 0 && up < 7, "both directions: " + up + " of 7 up");
        for (DType d : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            HostTensor h = HostTensor.ofFloats(new float[] {1f, -3f, 65504f * (d == DType.FLOAT16 ? 2 : 1)}, 3).converted(d);
            float[] before = h.toFloat32().readFloats();
            h.nudge(new java.util.SplittableRandom(4));
            float[] after = h.toFloat32().readFloats();
            for (int i = 0; i < 2; i++) {
                double step = Math.abs(after[i] - before[i]) / Math.abs(before[i]);
                assertTrue(step > 0 && step <= (d == DType.FLOAT16 ? 0x1p-10 : 0x1p-7), d + ": " + before[i] + " -> " + after[i]);
            }
            if (d == DType.FLOAT16) {
                assertEquals(Float.POSITIVE_INFINITY, after[2], "a half infinity stays");
            }
        }
        HostTensor ints = HostTensor.allocate(DType.INT64, 4);
        ints.bytes(0, 32).putLong(8, 5);
        ints.nudge(new java.util.SplittableRandom(1));
        assertEquals(5, ints.bytes(0, 32).getLong(8));
    }

    /** Every one of the 65536 half and bfloat16 bit patterns converts to the float32 libtorch gives (NaN as NaN). */
    @Test
    void halfAndBfloat16ConvertExactlyAsLibtorch() {
        Torch.init();
        for (DType d : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            HostTensor t = HostTensor.allocate(d, 1 << 16);
            ByteBuffer b = t.bytes(0, (int) t.byteSize());
            for (int i = 0; i < 1 << 16; i++) {
                b.putShort(2 * i, (short) i);
            }
            float[] ours = t.toFloat32().readFloats();
            Tensor theirs = TorchTensors.view(t).to(torch.ScalarType.Float).contiguous();
            float[] want = new float[1 << 16];
            theirs.data_ptr_float().get(want);
            for (int i = 0; i < want.length; i++) {
                if (Float.isNaN(want[i])) {
                    assertTrue(Float.isNaN(ours[i]), d + " bits " + Integer.toHexString(i));
                } else {
                    assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(ours[i]), d + " bits " + Integer.toHexString(i));
                }
            }
        }
        assertArrayEquals(new float[] {-3, 7}, TorchTensors.copyOf(torch.tensor(new long[] {-3, 7})).toFloat32().readFloats());
    }

    @Test
    void viewsGathersAndComparisons() {
        HostTensor t = HostTensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 6);
        HostTensor r = t.reshape(2, -1, 2);
        assertArrayEquals(new long[] {2, 3, 2}, r.shape());
        assertEquals(t.address(), r.address(), "a reshape is a view");
        // blocks of 2 along axis 1: new block j = old block index[j] (repeats allowed)
        HostTensor g = t.gather(1, 2, new long[] {2, 0, 2});
        assertArrayEquals(new float[] {4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11}, g.readFloats());
        assertThrows(LadyException.class, () -> t.gather(1, 2, new long[] {3, 0, 1}));
        HostTensor c = t.copy();
        assertTrue(c.sameContent(t));
        assertFalse(c.sameContent(t.reshape(6, 2)), "the shape is part of the content");
        c.writeFloats(new float[12]);
        assertFalse(c.sameContent(t));
        c.copyFrom(t);
        assertTrue(c.sameContent(t));
        // a transposed 2 x 3 view (strides 1, 2 elements) gathered contiguous
        HostTensor s = HostTensor.gatherStrided(t.memory(), 0, DType.FLOAT32, new long[] {2, 3}, new long[] {1, 2});
        assertArrayEquals(new float[] {0, 2, 4, 1, 3, 5}, s.readFloats());
        assertThrows(LadyException.class, () -> HostTensor.allocate(DType.FLOAT32, 2, -1));
    }

    /**
     * {@code axisSlice} against a plain element loop: every axis of tensors of 2 to 4 axes, element sizes 1, 2, 4
     * and 8 (runs of whole ints and not), runs short (transposed in blocks, here several blocks) and long (copied one
     * by one), slices at an offset and whole; a byte pattern that makes every misplaced byte show.
     */
    @Test
    void axisSlicesEqualThePlainLoop() {
        long[][] shapes = {{3, 5}, {700, 900}, {4, 6, 3}, {2, 3, 5, 7}, {5, 130}, {2, 80, 70}};
        for (DType d : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.UINT8, DType.FLOAT64}) {
            for (long[] shape : shapes) {
                HostTensor t = HostTensor.allocate(d, shape);
                ByteBuffer b = t.bytes(0, (int) t.byteSize());
                for (int i = 0; i < t.byteSize(); i++) {
                    b.put(i, (byte) (i * 31 + (i >>> 8) * 7 + (i >>> 16)));
                }
                for (int axis = 0; axis < shape.length; axis++) {
                    for (long[] range : new long[][] {{0, shape[axis]}, {1, shape[axis] - 2}, {shape[axis] - 1, 1}}) {
                        HostTensor got = t.axisSlice(axis, range[0], range[1]);
                        byte[] want = plainAxisSlice(b, shape, d.elementSize(), axis, range[0], range[1]);
                        byte[] have = new byte[(int) got.byteSize()];
                        got.bytes(0, have.length).get(have);
                        assertArrayEquals(want, have, d + " " + java.util.Arrays.toString(shape) + " axis " + axis
                                + " [" + range[0] + ", +" + range[1] + ")");
                        assertEquals(range[1], got.shape()[0]);
                    }
                }
            }
        }
    }

    /** out[a, (the other axes in order)] = t[..., from + a, ...], element by element. */
    private static byte[] plainAxisSlice(ByteBuffer b, long[] shape, int es, int axis, long from, long length) {
        long numel = 1;
        for (long s : shape) {
            numel *= s;
        }
        byte[] out = new byte[(int) (numel / shape[axis] * length * es)];
        int o = 0;
        long[] idx = new long[shape.length];
        for (long a = 0; a < length; a++) {
            long others = numel / shape[axis];
            java.util.Arrays.fill(idx, 0);
            for (long k = 0; k < others; k++) {
                idx[axis] = from + a;
                long at = 0;
                for (int x = 0; x < shape.length; x++) {
                    at = at * shape[x] + idx[x];
                }
                for (int e = 0; e < es; e++) {
                    out[o++] = b.get((int) (at * es + e));
                }
                for (int x = shape.length - 1; x >= 0; x--) { // next index of the other axes, row-major
                    if (x == axis) {
                        continue;
                    }
                    if (++idx[x] < shape[x]) {
                        break;
                    }
                    idx[x] = 0;
                }
            }
        }
        return out;
    }

    @Test
    void writingAMappedFileNeverChangesIt(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("data.bin");
        byte[] bytes = new byte[8192];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(new float[] {1, 2, 3});
        Files.write(f, bytes);
        HostMemory m = HostMemory.mapFile(f);
        assertEquals(HostMemory.Kind.MAPPED, m.kind());
        HostTensor t = HostTensor.view(m, 0, DType.FLOAT32, 3);
        assertTrue(t.mapped());
        t.writeFloats(new float[] {9, 9, 9});
        assertArrayEquals(new float[] {9, 9, 9}, t.readFloats(), "the process sees its write");
        assertArrayEquals(bytes, Files.readAllBytes(f), "the file does not");
        m.close();
        LadyException e = assertThrows(LadyException.class, () -> HostMemory.mapFile(dir.resolve("none")));
        assertEquals(LadyException.Kind.IO, e.kind());
    }

    @Test
    void allocationsAreZeroedAndReleasedOnce() {
        for (long size : new long[] {16, 3 << 20}) { // from the heap, and an anonymous mapping
            HostMemory m = HostMemory.allocate(size);
            assertEquals(0, m.address() % 64, "64-byte aligned");
            assertEquals(0, m.buffer(size - 8, 8).getLong(0), "allocations are zeroed");
            m.close();
            m.close(); // a second close does nothing (no double free)
        }
        assertThrows(LadyException.class, () -> HostMemory.allocate(16).buffer(8, 16));
    }

    /** float32 -> float16 / bfloat16 / float64 and back: exact where representable, nearest (ties to even) otherwise. */
    @Test
    void convertedRoundsToNearestEven() {
        float[] v = {1f, -2.5f, 65504f, 65520f, 1e-8f, 0x1p-24f, 0x1.8p-24f, 1f + 0x1p-11f, 1f + 0x3p-11f, Float.NaN,
                Float.NEGATIVE_INFINITY, 0.1f, -0f, 3.0e38f};
        HostTensor t = HostTensor.ofFloats(v, v.length);
        float[] half = t.converted(DType.FLOAT16).toFloat32().readFloats();
        float[] expectHalf = {1f, -2.5f, 65504f, Float.POSITIVE_INFINITY, 0f, 0x1p-24f, 0x1p-23f, 1f, 1f + 0x1p-9f, Float.NaN,
                Float.NEGATIVE_INFINITY, 0.0999755859375f, -0f, Float.POSITIVE_INFINITY};
        assertArrayEquals(expectHalf, half);
        float[] bf = t.converted(DType.BFLOAT16).toFloat32().readFloats();
        assertEquals(1f, bf[0]);
        assertEquals(-2.5f, bf[1]);
        assertEquals(1f, bf[7], "1 + 2^-11 rounds to 1 in bfloat16 (8 bits of mantissa)");
        assertEquals(0.10009765625f, bf[11]);
        assertTrue(Float.isNaN(bf[9]));
        assertArrayEquals(v, t.converted(DType.FLOAT64).toFloat32().readFloats());
        assertEquals(DType.FLOAT16, t.converted(DType.FLOAT16).dtype());
        assertThrows(LadyException.class, () -> t.converted(DType.INT64));
    }

    /** A value reader gives every range of a float32, float16 or bfloat16 tensor as the whole conversion does, bit for
     * bit, reusing its buffers from call to call; a range outside the tensor is refused. */
    @Test
    void valueReaderReadsRangesAsTheWholeConversion() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * Math.exp(4 * r.nextGaussian()));
        }
        HostTensor f32 = HostTensor.ofFloats(v, 10, 100);
        for (HostTensor t : new HostTensor[] {f32, f32.converted(DType.FLOAT16), f32.converted(DType.BFLOAT16)}) {
            float[] all = t.readFloats();
            HostTensor.ValueReader reader = t.valueReader();
            for (int k = 0; k < 50; k++) {
                int first = r.nextInt(v.length);
                int count = r.nextInt(v.length - first + 1);
                int at = r.nextInt(5);
                float[] out = new float[at + count];
                reader.read(first, out, at, count);
                for (int i = 0; i < count; i++) {
                    assertEquals(Float.floatToRawIntBits(all[first + i]), Float.floatToRawIntBits(out[at + i]),
                            t.dtype() + " value " + (first + i));
                }
            }
            assertThrows(LadyException.class, () -> reader.read(990, new float[20], 0, 20));
        }
    }

    /**
     * Half precision reads, short (the Java loop) and long (the native kernel, lady.h kernel 6), into arrays at any
     * start, give bit for bit what the scalar conversions give value by value (the read before the kernel), on random
     * bits (NaN payloads, infinities, subnormals included); so do readFloats and toFloat32 of the whole tensor.
     */
    @Test
    void halfPrecisionReadsEqualTheScalarConversion() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(19);
        int numel = 3 * HostTensor.NATIVE_CONVERT_PIN + 4099; // readFloats pins the array a slice at a time
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            HostTensor t = HostTensor.allocate(d, numel);
            ByteBuffer b = t.bytes(0, (int) t.byteSize());
            short[] bits = new short[numel];
            for (int i = 0; i < numel; i++) {
                bits[i] = (short) r.nextInt(1 << 16);
                b.putShort(2 * i, bits[i]);
            }
            float[] want = new float[numel];
            for (int i = 0; i < numel; i++) {
                want[i] = d == DType.BFLOAT16 ? HostTensor.bfloat16ToFloat(bits[i]) : HostTensor.float16ToFloat(bits[i]);
            }
            assertRaw(want, 0, t.readFloats(), 0, numel, d + " readFloats");
            assertRaw(want, 0, t.toFloat32().readFloats(), 0, numel, d + " toFloat32");
            HostTensor.ValueReader reader = t.valueReader();
            int[] counts = {0, 1, 31, 32, 33, 127, 128, 129, 4096, 14336, 100_001};
            for (int k = 0; k < 200; k++) {
                int count = k < counts.length ? counts[k] : r.nextInt(k % 2 == 0 ? 300 : 20_000);
                int first = r.nextInt(numel - count + 1);
                int at = r.nextInt(18);
                float[] out = new float[at + count + 3];
                reader.read(first, out, at, count);
                assertRaw(want, first, out, at, count, d + " read(" + first + ", +" + count + ") at " + at);
            }
        }
    }

    private static void assertRaw(float[] want, int from, float[] got, int at, int count, String what) {
        for (int i = 0; i < count; i++) {
            if (Float.floatToRawIntBits(want[from + i]) != Float.floatToRawIntBits(got[at + i])) {
                throw new AssertionError(what + ": value " + (from + i) + " is " + Integer.toHexString(
                        Float.floatToRawIntBits(got[at + i])) + ", not " + Integer.toHexString(Float.floatToRawIntBits(
                        want[from + i])));
            }
        }
        for (int i = 0; i < at; i++) {
            assertEquals(0, Float.floatToRawIntBits(got[i]), what + ": wrote before the start");
        }
        for (int i = at + count; i < got.length; i++) {
            assertEquals(0, Float.floatToRawIntBits(got[i]), what + ": wrote past the end");
        }
    }
}
