package lady.torch;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;

/**
 * The one place where checkpoint tensors ({@link HostTensor}) and libtorch tensors meet: used by
 * the commands that build, train, evaluate or watermark a network. Everything else (reading,
 * writing, permuting, resync by weights, the weight attacks, basic ranking) works without libtorch.
 */
public final class TorchTensors {
    private TorchTensors() {}

    /** libtorch's scalar type of {@code d}. */
    public static ScalarType scalarType(DType d) {
        return switch (d) {
            case FLOAT32 -> ScalarType.Float;
            case FLOAT16 -> ScalarType.Half;
            case BFLOAT16 -> ScalarType.BFloat16;
            case FLOAT64 -> ScalarType.Double;
            case INT64 -> ScalarType.Long;
            case INT32 -> ScalarType.Int;
            case INT16 -> ScalarType.Short;
            case INT8 -> ScalarType.Char;
            case UINT8 -> ScalarType.Byte;
            case BOOL -> ScalarType.Bool;
        };
    }

    /** The dtype of a libtorch scalar type; a clear error for types no checkpoint format here holds. */
    public static DType dtype(ScalarType t) {
        // JavaCPP may return a non-canonical enum instance: compare the native values
        for (DType d : DType.values()) {
            if (scalarType(d).value == t.value) {
                return d;
            }
        }
        throw LadyException.invalidInput("tensors of type " + t + " cannot be stored in a checkpoint");
    }

    /**
     * A libtorch tensor over {@code host}'s memory (from_blob, no copy). It borrows the memory: use it
     * only while {@code host} is reachable (e.g. to copy it into a module's parameter), or take
     * {@link #copy(HostTensor)}.
     */
    public static Tensor view(HostTensor host) {
        Torch.init();
        TensorOptions options = new TensorOptions(scalarType(host.dtype()));
        if (host.numel() == 0) {
            return torch.empty(host.shape(), options, new MemoryFormatOptional());
        }
        return torch.from_blob(HostMemory.pointer(host.address(), host.byteSize()), host.shape(), options);
    }

    /** An owned libtorch copy of {@code host}. */
    public static Tensor copy(HostTensor host) {
        Tensor v = view(host);
        Tensor c = v.clone();
        java.lang.ref.Reference.reachabilityFence(host);
        return c;
    }

    /**
     * A host tensor over the memory of {@code t} (contiguous, on the CPU), which it keeps reachable: no
     * copy. For tensors nobody changes afterwards (a clone, a result); else take {@link #copyOf(Tensor)}.
     */
    public static HostTensor own(Tensor t) {
        checkStorable(t);
        Tensor c = t.is_contiguous() ? t : t.contiguous();
        DType d = dtype(c.scalar_type());
        long[] shape = c.sizes().vec().get();
        if (c.numel() == 0) {
            return HostTensor.allocate(d, shape);
        }
        HostMemory m = HostMemory.borrow(c.data_ptr().address(), c.nbytes(), c);
        return HostTensor.view(m, 0, d, shape);
    }

    /** A host copy of {@code t}'s values (contiguous, in fresh memory). */
    public static HostTensor copyOf(Tensor t) {
        checkStorable(t);
        Tensor c = t.contiguous();
        HostTensor out = HostTensor.allocate(dtype(c.scalar_type()), c.sizes().vec().get());
        if (out.byteSize() > 0) {
            HostTensor.copyBytes(out.address(), c.data_ptr().address(), out.byteSize());
        }
        java.lang.ref.Reference.reachabilityFence(c);
        return out;
    }

    /** Owned libtorch copies of every tensor of {@code state}, by name, in its order. */
    public static Map<String, Tensor> copies(StateDict state) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : state) {
            out.put(e.getKey(), copy(e.getValue()));
        }
        return out;
    }

    /** A state dict of host copies of {@code tensors}, in their order. */
    public static StateDict stateDict(Map<String, Tensor> tensors) {
        StateDict sd = new StateDict();
        tensors.forEach((name, t) -> sd.put(name, copyOf(t)));
        return sd;
    }

    /** An owned libtorch copy of {@code state}'s tensor {@code name} (a clear error when there is none). */
    public static Tensor get(StateDict state, String name) {
        return copy(state.get(name));
    }

    /** Puts a host copy of {@code t} into {@code state} under {@code name}. */
    public static void put(StateDict state, String name, Tensor t) {
        state.put(name, copyOf(t));
    }

    private static void checkStorable(Tensor t) {
        if (!t.is_cpu()) {
            throw LadyException.invalidInput("a tensor of shape " + Arrays.toString(t.sizes().vec().get())
                    + " is not on the CPU");
        }
        if (t.is_sparse() || t.is_quantized()) {
            throw LadyException.invalidInput("sparse or quantized tensors cannot be stored; only dense tensors");
        }
    }
}
