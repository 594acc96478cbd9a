package lady.bench;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * Reading a row of {@code n} half precision values as float32 into a reused Java array, the resync's read
 * (HostTensor.ValueReader.read), rows taken one after the other from a 128 MB tensor (from memory, not cache),
 * one thread:
 * <ul>
 * <li>{@code javaLoop} / {@code javaLoopF16}: the read before lady.h kernel 6: a bulk {@code ShortBuffer.get}
 * into a reused {@code short[]}, then the scalar loop {@code Float.intBitsToFloat(h << 16)} (or
 * {@code HostTensor.float16ToFloat});</li>
 * <li>{@code shortsGet}: only that bulk move of the row's 2n bytes into a {@code short[]} (a copy of the same
 * bytes: the floor of any read);</li>
 * <li>{@code nativeCritical} / {@code nativeCriticalF16}: the native conversion straight into the array, pinned
 * for the call (JavaCPP {@code @CriticalRegion}: GetPrimitiveArrayCritical);</li>
 * <li>{@code nativeScratch}: the native conversion into a reused native float buffer, then one bulk
 * {@code FloatBuffer.get} into the array;</li>
 * <li>{@code valueReader} / {@code valueReaderF16}: {@code HostTensor.ValueReader.read} as shipped (the Java
 * loop below its threshold, the native kernel from it).</li>
 * </ul>
 * Run: {@code mvn -B -q -o -Pbench -DskipTests test-compile exec:exec "-Djmh.args=ConvertBench -f 1 -wi 2 -w 1 -i 3 -r 1"}.
 */
@State(org.openjdk.jmh.annotations.Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ConvertBench {
    private static final int VALUES = 64 << 20;

    @Param({"16", "32", "64", "128", "256", "4096", "14336"})
    int n;

    HostTensor bf16;
    HostTensor f16;
    HostTensor scratch;
    ShortBuffer bf16Shorts;
    ShortBuffer f16Shorts;
    FloatBuffer scratchFloats;
    HostTensor.ValueReader bf16Reader;
    HostTensor.ValueReader f16Reader;
    short[] halves;
    float[] out;
    int pos;

    @Setup(Level.Trial)
    public void setUp() {
        Kernels.ensureLoaded();
        SplittableRandom rng = new SplittableRandom(19);
        float[] v = new float[VALUES];
        for (int i = 0; i < VALUES; i++) {
            v[i] = (float) (rng.nextGaussian() * 0.02);
        }
        HostTensor f32 = HostTensor.ofFloats(v, VALUES);
        bf16 = f32.converted(DType.BFLOAT16);
        f16 = f32.converted(DType.FLOAT16);
        bf16Shorts = bf16.bytes(0, 2 * VALUES).asShortBuffer();
        f16Shorts = f16.bytes(0, 2 * VALUES).asShortBuffer();
        bf16Reader = bf16.valueReader();
        f16Reader = f16.valueReader();
        scratch = HostTensor.allocate(DType.FLOAT32, n);
        scratchFloats = scratch.floats();
        halves = new short[n];
        out = new float[n];
    }

    private int next() {
        int p = pos;
        pos = p + n > VALUES - n ? 0 : p + n;
        return p;
    }

    @Benchmark
    public float[] javaLoop() {
        bf16Shorts.get(next(), halves, 0, n);
        for (int i = 0; i < n; i++) {
            out[i] = Float.intBitsToFloat(halves[i] << 16);
        }
        return out;
    }

    @Benchmark
    public float[] javaLoopF16() {
        f16Shorts.get(next(), halves, 0, n);
        for (int i = 0; i < n; i++) {
            out[i] = HostTensor.float16ToFloat(halves[i]);
        }
        return out;
    }

    @Benchmark
    public short[] shortsGet() {
        bf16Shorts.get(next(), halves, 0, n);
        return halves;
    }

    @Benchmark
    public float[] nativeCritical() {
        Kernels.bf16ToFloat(bf16.address() + 2L * next(), out, 0, n);
        return out;
    }

    @Benchmark
    public float[] nativeCriticalF16() {
        Kernels.f16ToFloat(f16.address() + 2L * next(), out, 0, n);
        return out;
    }

    @Benchmark
    public float[] nativeScratch() {
        Kernels.bf16ToFloat(Backend.CPU, bf16.address() + 2L * next(), scratch.address(), n);
        scratchFloats.get(0, out, 0, n);
        return out;
    }

    @Benchmark
    public float[] valueReader() {
        bf16Reader.read(next(), out, 0, n);
        return out;
    }

    @Benchmark
    public float[] valueReaderF16() {
        f16Reader.read(next(), out, 0, n);
        return out;
    }
}
