package lady.checkpoint;

import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/**
 * An ordered map from parameter / buffer name (torchvision naming, e.g. "features.0.weight") to a
 * contiguous host tensor ({@link HostTensor}, no libtorch): what a PyTorch {@code state_dict()}
 * holds. Reading and writing checkpoints, permuting and resyncing work on this one type; commands
 * that run a network convert it with {@code lady.torch.TorchTensors}. A tensor may be permuted lazily
 * ({@link #permuteLazily}): its permutation is kept as index maps over its bytes (a mapped file's, never
 * copied) until it is read with {@link #get} or streamed to a file by the writers.
 */
public final class StateDict implements Iterable<Map.Entry<String, HostTensor>> {
    private final LinkedHashMap<String, HostTensor> tensors = new LinkedHashMap<>();
    /** Tensors permuted lazily: their index maps over the tensor in {@link #tensors} ({@link #permuteLazily}). */
    private final Map<String, IndexedTensor> lazy = new java.util.HashMap<>();
    private Map<String, Object> config = Map.of();
    private Map<String, Map<String, Object>> moduleMetadata = Map.of();
    /**
     * Tensors stored as one but read as several (a mixture of experts' fused experts: {@link FusedExperts}): the stored
     * name -> its parts, in order along its axis 0; each part is a tensor of this state dict.
     */
    private final Map<String, List<String>> fused = new LinkedHashMap<>();
    /** A part -> the stored tensor it is a slice of ({@link #fused}). */
    private final Map<String, String> partOf = new java.util.HashMap<>();

    /**
     * The model's configuration beside its tensors: a Hugging Face folder's {@code config.json} (heads, KV
     * heads, head_dim, RMS eps, rope_theta, tie_word_embeddings, model_type: what no shape tells), read with
     * the checkpoint; empty for a plain checkpoint file. {@code lady.model.Models} reads it wherever it
     * recognizes a checkpoint.
     */
    public Map<String, Object> config() {
        return config;
    }

    /**
     * The module versions PyTorch saves with a state dict (its OrderedDict's {@code _metadata}: per module path, e.g.
     * {@code "layers.8.0"}, a map such as {@code {"version": 2}} of strings to integers, booleans or strings), read
     * from a PyTorch file and written back with it, so that modules whose loading depends on them (torchvision's
     * MNASNet refuses a state dict without them) load the written file; empty when the file had none.
     */
    public Map<String, Map<String, Object>> moduleMetadata() {
        return moduleMetadata;
    }

    /** Sets {@link #moduleMetadata()}; null clears it. */
    public void setModuleMetadata(Map<String, Map<String, Object>> metadata) {
        this.moduleMetadata = metadata == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Sets the configuration ({@link #config()}); null clears it. */
    public void setConfig(Map<String, ?> config) {
        this.config = config == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(config));
    }

    /**
     * The tensor called {@code name}; a clear error when there is none. A lazily permuted tensor
     * ({@link #permuteLazily}) is gathered into fresh memory here, once, and replaces its index maps:
     * readers that only read should use {@link #indexed} instead.
     */
    public HostTensor get(String name) {
        HostTensor t = raw(name);
        IndexedTensor l = lazy.remove(name);
        if (l != null) {
            t = l.materialize();
            tensors.put(name, t);
        }
        return t;
    }

    private HostTensor raw(String name) {
        HostTensor t = tensors.get(name);
        if (t == null) {
            throw LadyException.invalidInput("the model has no tensor named '" + name + "'");
        }
        return t;
    }

    /**
     * The tensor called {@code name} as it reads, without gathering it: its base (the mapped file's bytes,
     * or memory) and the index maps of a lazy permutation, if any. A tensor whose values were changed lazily
     * ({@link #mapValuesLazily}) is gathered first ({@link #get}): readers of a base and its index maps would
     * not see the change.
     */
    public IndexedTensor indexed(String name) {
        IndexedTensor l = lazy.get(name);
        if (l != null && l.valueMap() != null) {
            get(name);
            l = null;
        }
        return l != null ? l : IndexedTensor.of(raw(name));
    }

    /**
     * The tensor called {@code name} as the checkpoint writers stream it: its base, index maps and lazy value
     * change ({@link #mapValuesLazily}), nothing gathered.
     */
    public IndexedTensor streamed(String name) {
        IndexedTensor l = lazy.get(name);
        return l != null ? l : IndexedTensor.of(raw(name));
    }

    /**
     * Changes the values of tensor {@code name} elementwise by {@code m} (a quantization) without reading or
     * copying it now: the change is applied where the tensor is gathered ({@link #get}) or streamed to a file,
     * so that an attack on every weight of a model larger than memory holds one chunk at a time.
     */
    public void mapValuesLazily(String name, IndexedTensor.ValueMap m) {
        lazy.put(name, streamed(name).withValues(m));
    }

    /**
     * Permutes tensor {@code name} along {@code axis} (0 or 1) by the full-axis index map {@code p} (new
     * index j is old index p[j]) without moving any byte: the map is composed with the tensor's index maps,
     * and the bytes are gathered when the tensor is read ({@link #get}) or written (the checkpoint writers
     * stream {@link #streamed} tensors). The base, a mapped file's pages, is never copied or written.
     */
    public void permuteLazily(String name, int axis, long[] p) {
        IndexedTensor t = streamed(name).permuted(axis, p);
        if (t.identity()) {
            lazy.remove(name);
        } else {
            lazy.put(name, t);
        }
    }

    /**
     * Moves tensors between names, all at once: tensor {@code to} becomes what tensor {@code from} held (its bytes and
     * lazy index maps), for every entry {@code to -> from} of {@code moves} (a permutation of names: an expert's weights
     * moving to another expert's place). The order of the names, which is the order written to files, stays.
     */
    public void rename(Map<String, String> moves) {
        Map<String, HostTensor> t = new java.util.HashMap<>();
        Map<String, IndexedTensor> l = new java.util.HashMap<>();
        moves.forEach((to, from) -> {
            t.put(to, raw(from));
            IndexedTensor x = lazy.get(from);
            if (x != null) {
                l.put(to, x);
            }
        });
        if (!t.keySet().equals(new java.util.HashSet<>(moves.values()))) {
            throw new IllegalArgumentException("moves of tensor names must be a permutation of them: " + moves);
        }
        t.forEach(tensors::put); // an existing key keeps its place
        moves.keySet().forEach(lazy::remove);
        lazy.putAll(l);
    }

    /**
     * Reads stored tensor {@code name} as {@code parts.size()} tensors, its slices along axis 0 (views of its memory:
     * nothing is copied), called {@code parts} and put in its place; the writers store them as one tensor again under
     * {@code name} ({@link #storageNames}). The tensor must not be lazily changed.
     */
    public void split(String name, List<String> parts) {
        HostTensor t = raw(name);
        long[] shape = t.shape();
        if (lazy.containsKey(name) || shape.length < 2 || shape[0] != parts.size()) {
            throw new IllegalArgumentException("cannot split " + name + " " + java.util.Arrays.toString(shape) + " into "
                    + parts.size() + " parts");
        }
        long[] partShape = java.util.Arrays.copyOfRange(shape, 1, shape.length);
        long partBytes = HostTensor.numel(partShape) * t.dtype().elementSize();
        LinkedHashMap<String, HostTensor> reordered = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            if (!e.getKey().equals(name)) {
                reordered.put(e.getKey(), e.getValue());
                continue;
            }
            for (int i = 0; i < parts.size(); i++) {
                String part = parts.get(i);
                if (tensors.containsKey(part) || reordered.containsKey(part)) {
                    throw LadyException.invalidInput("cannot read " + name + " as " + part + ": the model already has a "
                            + "tensor of that name");
                }
                reordered.put(part, HostTensor.view(t.memory(), t.offset() + i * partBytes, t.dtype(), partShape));
                partOf.put(part, name);
            }
        }
        tensors.clear();
        tensors.putAll(reordered);
        fused.put(name, List.copyOf(parts));
    }

    /**
     * The names of the tensors as they are stored: {@link #names()}, with the parts of a split tensor ({@link #split})
     * replaced by its stored name, where its first part is.
     */
    public List<String> storageNames() {
        if (fused.isEmpty()) {
            return List.copyOf(tensors.keySet());
        }
        List<String> out = new java.util.ArrayList<>();
        Set<String> seen = new java.util.HashSet<>();
        for (String n : tensors.keySet()) {
            String stored = partOf.getOrDefault(n, n);
            if (seen.add(stored)) {
                out.add(stored);
            }
        }
        return out;
    }

    /**
     * Stored tensor {@code name} ({@link #storageNames}) as the writers stream it: its parts, in order, each with its
     * index maps ({@link #streamed}); a tensor that was not split is its one part.
     */
    public List<IndexedTensor> storedParts(String name) {
        List<String> parts = fused.get(name);
        if (parts == null) {
            return List.of(streamed(name));
        }
        List<String> missing = parts.stream().filter(p -> !tensors.containsKey(p)).toList();
        if (!missing.isEmpty()) {
            throw LadyException.invalidInput(name + " is stored as one tensor, but its parts " + missing + " are gone");
        }
        return parts.stream().map(this::streamed).toList();
    }

    /** The shape stored tensor {@code name} is written with: its parts' shape after their count. */
    public long[] storedShape(String name) {
        List<String> parts = fused.get(name);
        if (parts == null) {
            return shape(name);
        }
        long[] part = shape(parts.get(0));
        for (String p : parts) {
            if (!java.util.Arrays.equals(shape(p), part) || raw(p).dtype() != raw(parts.get(0)).dtype()) {
                throw LadyException.invalidInput(name + " is stored as one tensor of its parts, but " + p + " is "
                        + raw(p).dtype() + " " + java.util.Arrays.toString(shape(p)) + " and " + parts.get(0) + " "
                        + raw(parts.get(0)).dtype() + " " + java.util.Arrays.toString(part));
            }
        }
        long[] out = new long[part.length + 1];
        out[0] = parts.size();
        System.arraycopy(part, 0, out, 1, part.length);
        return out;
    }

    /** Whether some tensors are stored as one ({@link #split}). */
    public boolean hasSplitTensors() {
        return !fused.isEmpty();
    }

    /**
     * A state dict of the tensors {@code names} (in that order), sharing their memory and lazy index maps:
     * nothing is gathered or copied (a shard of a model folder being written).
     */
    public StateDict select(java.util.Collection<String> names) {
        StateDict out = new StateDict();
        for (String name : names) {
            List<String> parts = fused.get(name); // a stored name: its parts, split as here
            for (String n : parts != null ? parts : List.of(name)) {
                out.tensors.put(n, raw(n));
                IndexedTensor l = lazy.get(n);
                if (l != null) {
                    out.lazy.put(n, l);
                }
            }
            if (parts != null) {
                out.fused.put(name, parts);
                parts.forEach(p -> out.partOf.put(p, name));
            }
        }
        out.config = config;
        out.moduleMetadata = moduleMetadata;
        return out;
    }

    /** Whether tensor {@code name} has index maps or a value change not yet gathered ({@link #permuteLazily}, {@link #mapValuesLazily}). */
    public boolean isLazy(String name) {
        return lazy.containsKey(name);
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
        lazy.remove(name);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public int size() {
        return tensors.size();
    }

    /** Shape of tensor {@code name}. */
    public long[] shape(String name) {
        return raw(name).shape();
    }

    /** Bytes of all tensors together. */
    public long byteSize() {
        long n = 0;
        for (HostTensor t : tensors.values()) {
            n += t.byteSize();
        }
        return n;
    }

    /** Values of all tensors together. */
    public long numel() {
        long n = 0;
        for (String name : tensors.keySet()) {
            n += HostTensor.numel(shape(name));
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
        for (String k : tensors.keySet()) {
            IndexedTensor l = lazy.get(k);
            c.put(k, l != null ? l.materialize() : tensors.get(k).copy());
        }
        c.config = config;
        c.moduleMetadata = moduleMetadata;
        c.fused.putAll(fused);
        c.partOf.putAll(partOf);
        return c;
    }

    /** Every tensor in order; lazily permuted ones are gathered first ({@link #get}). */
    @Override
    public Iterator<Map.Entry<String, HostTensor>> iterator() {
        for (String k : new java.util.ArrayList<>(lazy.keySet())) {
            get(k);
        }
        return Collections.unmodifiableMap(tensors).entrySet().iterator();
    }
}
