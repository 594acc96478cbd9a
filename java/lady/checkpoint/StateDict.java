package lady.checkpoint;

import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.Tensor;

import lady.LadyException;

/**
 * An ordered map from parameter / buffer name (torchvision naming, e.g. "features.0.weight") to a
 * contiguous CPU libtorch tensor: what a PyTorch {@code state_dict()} holds. Reading and writing
 * checkpoints, building models, permuting and resyncing all work on this one type.
 */
public final class StateDict implements Iterable<Map.Entry<String, Tensor>> {
    private final LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();

    /** The tensor called {@code name}; a clear error when there is none. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw LadyException.invalidInput("the model has no tensor named '" + name + "'");
        }
        return t;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Adds or replaces a tensor (insertion order is kept: it is the order written to files). */
    public void put(String name, Tensor tensor) {
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
        return get(name).sizes().vec().get();
    }

    /** Whether {@code other} holds the same names with bit-identical tensors (libtorch's {@code equal}). */
    public boolean sameTensors(StateDict other) {
        if (!names().equals(other.names())) {
            return false;
        }
        for (String name : names()) {
            if (!org.bytedeco.pytorch.global.torch.equal(get(name), other.get(name))) {
                return false;
            }
        }
        return true;
    }

    /** A deep copy: every tensor cloned (contiguous). */
    public StateDict copy() {
        StateDict c = new StateDict();
        tensors.forEach((k, v) -> c.put(k, v.clone().contiguous()));
        return c;
    }

    @Override
    public Iterator<Map.Entry<String, Tensor>> iterator() {
        return Collections.unmodifiableMap(tensors).entrySet().iterator();
    }
}
