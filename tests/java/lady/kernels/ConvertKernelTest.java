package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * The half precision conversion (lady.h kernel 6) against Java's {@link HostTensor#bfloat16ToFloat} and
 * {@link HostTensor#float16ToFloat}, bit for bit (NaN payloads included): every one of the 65,536 inputs of each
 * format, unaligned sources, every start 0..17 and length 0..70 in an array and a long run, on each CPU path
 * ({@link Kernels#capConvertPath}: the best one, AVX2 at most, scalar; a path the CPU lacks falls back to the next,
 * so the test is the same on every CPU and never asserts which path the CPU picks). The paths are forced here,
 * not by oneDNN's ISA variable, so the test is not tagged cpu-sensitive: a rerun under ONEDNN_MAX_CPU_ISA would
 * run the same paths again.
 */
class ConvertKernelTest {
    private static final List<Integer> PATHS = List.of(0, 1, 2);

    @AfterEach
    void restorePath() {
        Kernels.capConvertPath(0);
    }

    /** A native buffer holding {@code bits} from value {@code skew} on (so the source can start unaligned). */
    private static HostTensor halves(short[] bits, int skew) {
        HostTensor t = HostTensor.allocate(DType.INT16, bits.length + skew);
        ByteBuffer b = t.bytes(0, (int) t.byteSize());
        for (int i = 0; i < bits.length; i++) {
            b.putShort(2 * (skew + i), bits[i]);
        }
        return t;
    }

    private static float java(boolean bf16, short h) {
        return bf16 ? HostTensor.bfloat16ToFloat(h) : HostTensor.float16ToFloat(h);
    }

    private static void convert(boolean bf16, long src, float[] out, int at, int n) {
        if (bf16) {
            Kernels.bf16ToFloat(src, out, at, n);
        } else {
            Kernels.f16ToFloat(src, out, at, n);
        }
    }

    @Test
    void everyInputMatchesJavaOnEveryPath() {
        short[] all = new short[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        for (int skew : new int[] {0, 1, 7}) {
            HostTensor src = halves(all, skew);
            long address = src.address() + 2L * skew;
            HostTensor dst = HostTensor.allocate(DType.FLOAT32, all.length);
            for (boolean bf16 : new boolean[] {true, false}) {
                for (Backend b : new Backend[] {Backend.REFERENCE, Backend.CPU}) { // address to address
                    for (int path : PATHS) {
                        Kernels.capConvertPath(path);
                        if (bf16) {
                            Kernels.bf16ToFloat(b, address, dst.address(), all.length);
                        } else {
                            Kernels.f16ToFloat(b, address, dst.address(), all.length);
                        }
                        assertSame(bf16, all, dst.readFloats(), 0, b + " " + Kernels.convertKernelName());
                    }
                }
                for (int path : PATHS) { // into a Java array, from an odd start
                    Kernels.capConvertPath(path);
                    float[] got = new float[all.length + 3];
                    convert(bf16, address, got, 3, all.length);
                    assertSame(bf16, all, got, 3, "array " + Kernels.convertKernelName());
                }
            }
            java.lang.ref.Reference.reachabilityFence(src);
        }
    }

    /** got[at + i] has the bits of Java's conversion of bits[i], for every i. */
    private static void assertSame(boolean bf16, short[] bits, float[] got, int at, String path) {
        for (int i = 0; i < bits.length; i++) {
            int want = Float.floatToRawIntBits(java(bf16, bits[i]));
            if (want != Float.floatToRawIntBits(got[at + i])) {
                throw new AssertionError((bf16 ? "bf16" : "f16") + " bits " + Integer.toHexString(bits[i] & 0xFFFF)
                        + " on " + path + ": " + Integer.toHexString(Float.floatToRawIntBits(got[at + i])) + ", Java "
                        + Integer.toHexString(want));
            }
        }
    }

    /** Every start 0..17 of the array and of the source, every length 0..70 and a long one; nothing else written. */
    @Test
    void startsAndLengthsWriteExactlyTheirRange() {
        SplittableRandom r = new SplittableRandom(61);
        short[] bits = new short[100_003 + 18];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) r.nextInt(1 << 16);
        }
        HostTensor src = halves(bits, 0);
        for (int path : PATHS) {
            Kernels.capConvertPath(path);
            for (boolean bf16 : new boolean[] {true, false}) {
                for (int from = 0; from <= 17; from++) {
                    for (int at = 0; at <= 17; at++) {
                        for (int n = 0; n <= 71; n++) {
                            int count = n == 71 ? 100_003 : n;
                            float[] out = new float[at + count + 5];
                            java.util.Arrays.fill(out, 1234.5f);
                            convert(bf16, src.address() + 2L * from, out, at, count);
                            for (int i = 0; i < out.length; i++) {
                                float want = i >= at && i < at + count ? java(bf16, bits[from + i - at]) : 1234.5f;
                                if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(out[i])) {
                                    throw new AssertionError((bf16 ? "bf16" : "f16") + " on " + Kernels.convertKernelName()
                                            + ": source +" + from + ", array +" + at + ", " + count + " values: value "
                                            + i + " is " + out[i] + ", not " + want);
                                }
                            }
                        }
                    }
                }
            }
        }
        java.lang.ref.Reference.reachabilityFence(src);
    }

    @Test
    void badArgumentsAreRefused() {
        float[] out = new float[4];
        HostTensor src = HostTensor.allocate(DType.INT16, 8);
        assertThrows(LadyException.class, () -> Kernels.bf16ToFloat(src.address(), out, 1, 4));
        assertThrows(LadyException.class, () -> Kernels.f16ToFloat(src.address(), out, -1, 1));
        assertThrows(LadyException.class, () -> Kernels.bf16ToFloat(0, out, 0, 1));
        assertThrows(LadyException.class, () -> Kernels.f16ToFloat(Backend.CPU, src.address(), src.address(), -1));
        LadyException cuda = assertThrows(LadyException.class,
                () -> Kernels.bf16ToFloat(Backend.CUDA, src.address(), src.address(), 1));
        assertEquals(LadyException.Kind.NO_GPU, cuda.kind());
        Kernels.bf16ToFloat(0, out, 4, 0); // nothing to convert: no address needed
        assertTrue(List.of("avx512f", "avx2", "scalar").contains(Kernels.convertKernelName()));
    }
}
