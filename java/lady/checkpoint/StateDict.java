package lady.checkpoint;

import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.tensor.HostTensor;

/**
 * An ordered map from parameter / buffer name (torchvision naming, e.g. "features.0.weight") to a
 * contiguous host tensor ({@link HostTensor}, no libtorch): what a PyTorch {@code state_dict()}
 * holds. Reading and writing checkpoints, permuting and resyncing work on this one type; commands
 * that run a network convert it with {@code lady.torch.TorchTensors}.
 */
public final class StateDict implements Iterable<Map.Entry<String, HostTensor>> {
    private final LinkedHashMap<String, HostTensor> tensors = new LinkedHashMap<>();

    /** The tensor called {@code name}; a clear error when there is none. */
    public HostTensor get(String name) {
        HostTensor t = tensors.get(name);
        if (t == null) {
            throw LadyException.invalidInput("the model has no tensor named '" + name + "'");
        }
        return t;
    }

    /**
     * The tensor called {@code name}, to be changed in place: a tensor still over a mapped checkpoint file
     * is first replaced by a copy in fresh memory. Writing the mapping itself would also leave the file
     * untouched (it is copy-on-write), but one bulk copy costs far less than a fault per page written.
     */
    public HostTensor writable(String name) {
        HostTensor t = get(name);
        if (t.mapped()) {
            t = t.copy();
            tensors.put(name, t);
        }
        return t;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Adds or replaces a tensor (insertion order is kept: it is the order written to files). */
    public void put(String name, HostTensor tensor) {
        tensors.put(name, tensor);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public int size() {
        return tensors.size();
    }

    /** Shape of tensor {@code name}. */
    public long[] shape(String name) {
        return get(name).shape();
    }

    /** Bytes of all tensors together. */
    public long byteSize() {
        long n = 0;
        for (HostTensor t : tensors.values()) {
            n += t.byteSize();
        }
        return n;
    }

    /** Whether {@code other} holds the same names with bit-identical tensors (same dtype, shape and bytes). */
    public boolean sameTensors(StateDict other) {
        if (!names().equals(other.names())) {
            return false;
        }
        for (String name : names()) {
            if (!get(name).sameContent(other.get(name))) {
                return false;
            }
        }
        return true;
    }

    /** A deep copy: every tensor copied into fresh memory. */
    public StateDict copy() {
        StateDict c = new StateDict();
        tensors.forEach((k, v) -> c.put(k, v.copy()));
        return c;
    }

    @Override
    public Iterator<Map.Entry<String, HostTensor>> iterator() {
        return Collections.unmodifiableMap(tensors).entrySet().iterator();
    }
}
