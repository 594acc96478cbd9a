package lady.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import lady.LadyException;
import lady.io.AtomicFiles;
import lady.report.Json;
import lady.tensor.HostTensor;

/**
 * A Hugging Face model folder: {@code config.json} beside the weights, either one file
 * ({@code model.safetensors}, or the older {@code pytorch_model.bin} in PyTorch's zip format) or shards
 * listed by an index ({@code model.safetensors.index.json} / {@code pytorch_model.bin.index.json}:
 * {@code {"metadata": {...}, "weight_map": {tensor: shard file}}}).
 *
 * <p>Reading maps every shard ({@link Checkpoints}) and gives one state dict: the shards in file-name
 * order, each in its own order. Writing produces the same layout in a new folder: the same shard files
 * with the same tensors in the same order and format, the index copied unchanged when the tensors' names
 * and sizes are (else rewritten with the new total size), and every other file of the input folder
 * (config.json, tokenizer, generation config, README...) copied unchanged, except other copies of the weights
 * ({@link #leftOut}: a {@code pytorch_model.bin} beside {@code model.safetensors}, Mistral's {@code
 * consolidated.safetensors}, Meta's {@code original/consolidated.00.pth}, ...), which Lady does not process:
 * copied, they would keep the input's neuron order beside the written weights. config.json is written anew (compact
 * JSON) only when an edit changed a width it records (a structural attack or undo:
 * {@code lady.model.Models.syncConfig}). The folder is written beside
 * the target under a temporary name and renamed into place, so a reader sees the old folder or the new
 * one, never a half-written one.
 */
final class HuggingFaceFolder {
    private HuggingFaceFolder() {}

    static final String CONFIG = "config.json";
    static final String SAFETENSORS_FILE = "model.safetensors";
    static final String SAFETENSORS_INDEX = "model.safetensors.index.json";
    static final String BIN_FILE = "pytorch_model.bin";
    static final String BIN_INDEX = "pytorch_model.bin.index.json";
    static final String WEIGHT_MAP = "weight_map";
    static final String METADATA = "metadata";
    static final String TOTAL_SIZE = "total_size";
    /** Largest index file read (a large model's index is a few hundred kilobytes). */
    static final long MAX_INDEX_BYTES = 64L << 20;

    /** Where the weights of a folder are: the index file (or null) and the shard files in order. */
    record Layout(Path dir, String index, Map<String, String> weightMap, List<String> shards) {
        /** Every file that holds weights or lists them (not copied as an "other" file). */
        Set<String> weightFiles() {
            Set<String> s = new LinkedHashSet<>(shards);
            if (index != null) {
                s.add(index);
            }
            return s;
        }
    }

    /** The layout of {@code dir}; a clear error when it is not a model folder. */
    static Layout layout(Path dir) {
        for (String index : List.of(SAFETENSORS_INDEX, BIN_INDEX)) {
            Path p = dir.resolve(index);
            if (Files.isRegularFile(p)) {
                Map<String, String> map = weightMap(p);
                List<String> shards = new ArrayList<>(new TreeSet<>(map.values()));
                return new Layout(dir, index, map, shards);
            }
        }
        for (String single : List.of(SAFETENSORS_FILE, BIN_FILE)) {
            if (Files.isRegularFile(dir.resolve(single))) {
                return new Layout(dir, null, null, List.of(single));
            }
        }
        throw LadyException.invalidInput(dir + " is a folder without " + SAFETENSORS_FILE + ", " + SAFETENSORS_INDEX
                + ", " + BIN_FILE + " or " + BIN_INDEX + ": not a Hugging Face model folder");
    }

    /** The index's weight map, checked: string values naming plain files of the folder. */
    private static Map<String, String> weightMap(Path index) {
        Object parsed;
        try {
            if (Files.size(index) > MAX_INDEX_BYTES) {
                throw bad(index, "it is larger than " + MAX_INDEX_BYTES + " bytes");
            }
            parsed = Json.parse(Files.readString(index, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + index + ": " + e.getMessage(), e);
        } catch (LadyException e) {
            if (e.kind() == LadyException.Kind.INVALID_INPUT && !e.getMessage().startsWith(index.toString())) {
                throw bad(index, e.getMessage());
            }
            throw e;
        }
        if (!(parsed instanceof Map<?, ?> top) || !(top.get(WEIGHT_MAP) instanceof Map<?, ?> wm)) {
            throw bad(index, "no \"" + WEIGHT_MAP + "\" object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : wm.entrySet()) {
            if (!(e.getValue() instanceof String file) || !plainFileName(file)) {
                throw bad(index, "tensor '" + e.getKey() + "' is mapped to " + Json.write(e.getValue())
                        + ", not a file name of the folder");
            }
            out.put((String) e.getKey(), file);
        }
        if (out.isEmpty()) {
            throw bad(index, "its weight map is empty");
        }
        return out;
    }

    /** A file name inside the folder itself: no separator, not "." or "..". */
    private static boolean plainFileName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.contains("\\") && !name.equals(".")
                && !name.equals("..") && name.indexOf('\0') < 0;
    }

    private static LadyException bad(Path index, String what) {
        return LadyException.invalidInput(index + " is not a valid checkpoint index: " + what);
    }

    /** Largest config.json read (a model's is a few kilobytes). */
    static final long MAX_CONFIG_BYTES = 16L << 20;

    /**
     * The folder's {@code config.json} as a JSON object, or null when the folder has none; a clear error
     * when it is not a JSON object.
     */
    static Map<String, Object> config(Path dir) {
        Path p = dir.resolve(CONFIG);
        if (!Files.isRegularFile(p)) {
            return null;
        }
        Object parsed;
        try {
            if (Files.size(p) > MAX_CONFIG_BYTES) {
                throw LadyException.invalidInput(p + " is larger than " + MAX_CONFIG_BYTES + " bytes: not a model configuration");
            }
            parsed = Json.parse(Files.readString(p, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot read " + p + ": " + e.getMessage(), e);
        } catch (LadyException e) {
            if (e.kind() == LadyException.Kind.INVALID_INPUT && !e.getMessage().startsWith(p.toString())) {
                throw LadyException.invalidInput(p + " is not valid JSON: " + e.getMessage());
            }
            throw e;
        }
        if (!(parsed instanceof Map<?, ?> m)) {
            throw LadyException.invalidInput(p + " is not a JSON object");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    /**
     * The configuration of a weights file read on its own: the {@code config.json} beside it when the file is
     * its folder's single weights file ({@code model.safetensors} or {@code pytorch_model.bin}), else null.
     */
    static Map<String, Object> configBeside(Path file) {
        Path name = file.getFileName();
        Path dir = file.toAbsolutePath().getParent();
        if (name == null || dir == null || !(name.toString().equals(SAFETENSORS_FILE) || name.toString().equals(BIN_FILE))) {
            return null;
        }
        return config(dir);
    }

    /** The state dict of the folder: every shard, in the layout's order, with its config.json. */
    static StateDict read(Path dir) {
        Layout layout = layout(dir);
        StateDict out = new StateDict();
        out.setConfig(config(dir));
        for (String shard : layout.shards()) {
            Path p = dir.resolve(shard);
            if (!Files.isRegularFile(p)) {
                throw LadyException.invalidInput(dir.resolve(layout.index()) + " lists shard " + shard
                        + ", which is not a file of " + dir);
            }
            StateDict part = Checkpoints.readFile(p);
            for (Map.Entry<String, HostTensor> e : part) {
                String name = e.getKey();
                if (layout.weightMap() != null && !shard.equals(layout.weightMap().get(name))) {
                    throw LadyException.invalidInput(p + " holds tensor '" + name + "', which "
                            + dir.resolve(layout.index()) + (layout.weightMap().containsKey(name)
                                    ? " places in " + layout.weightMap().get(name) : " does not list"));
                }
                if (out.contains(name)) {
                    throw LadyException.invalidInput(dir + ": tensor '" + name + "' is in two shards");
                }
                out.put(name, e.getValue());
            }
        }
        if (layout.weightMap() != null) {
            for (String name : layout.weightMap().keySet()) {
                if (!out.contains(name)) {
                    throw LadyException.invalidInput(dir.resolve(layout.index()) + " lists tensor '" + name
                            + "', which its shard " + layout.weightMap().get(name) + " does not hold");
                }
            }
        }
        return out;
    }

    /** Writes {@code sd} to the folder {@code out} in the layout of the folder {@code like} (see the class comment). */
    static void write(Path out, StateDict sd, Path like) {
        Layout layout = layout(like);
        Map<String, List<String>> byShard = new LinkedHashMap<>();
        layout.shards().forEach(s -> byShard.put(s, new ArrayList<>()));
        for (String name : sd.storageNames()) {
            String shard = layout.weightMap() == null ? layout.shards().get(0) : layout.weightMap().get(name);
            if (shard == null) {
                throw LadyException.invalidInput("tensor '" + name + "' has no place in the shards of " + like);
            }
            byShard.get(shard).add(name);
        }
        Path target = out.toAbsolutePath();
        Path parent = target.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new LadyException(LadyException.Kind.IO, "cannot write " + out + ": no such directory: " + parent);
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new LadyException(LadyException.Kind.IO, "cannot write the model folder " + out
                    + ": a file of that name exists");
        }
        Path tmp;
        try {
            tmp = Files.createTempDirectory(parent, "." + target.getFileName() + ".");
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot write " + out + ": " + e.getMessage(), e);
        }
        boolean done = false;
        try {
            for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
                StateDict part = sd.select(e.getValue()); // lazily permuted tensors stay lazy: streamed as written
                Path shardIn = like.resolve(e.getKey());
                Checkpoints.write(tmp.resolve(e.getKey()), part, Checkpoints.formatOf(shardIn));
            }
            if (layout.index() != null) {
                writeIndex(tmp.resolve(layout.index()), like.resolve(layout.index()), layout, sd);
            }
            copyOthers(like, tmp, layout.weightFiles());
            Map<String, Object> config = config(like);
            if (config != null && !sd.config().isEmpty() && !sd.config().equals(config)) {
                // an edit changed a width config.json records (lady.model.Models.syncConfig): the folder must say so
                Files.writeString(tmp.resolve(CONFIG), Json.write(sd.config()) + "\n", StandardCharsets.UTF_8);
            }
            replace(tmp, target);
            done = true;
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            if (!done) {
                deleteTree(tmp);
            }
        }
    }

    /** The index: copied when the tensors are the same names with the same total size, else rewritten. */
    private static void writeIndex(Path dst, Path src, Layout layout, StateDict sd) throws IOException {
        long total = sd.byteSize();
        Object parsed = Json.parse(Files.readString(src, StandardCharsets.UTF_8));
        Map<?, ?> top = (Map<?, ?>) parsed;
        Object meta = top.get(METADATA);
        Object oldTotal = meta instanceof Map<?, ?> m ? m.get(TOTAL_SIZE) : null;
        boolean same = layout.weightMap().keySet().equals(new java.util.HashSet<>(sd.storageNames()))
                && (oldTotal == null || (oldTotal instanceof Number n && n.longValue() == total));
        if (same) {
            Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        Map<String, Object> index = new LinkedHashMap<>();
        Map<String, Object> metadata = new LinkedHashMap<>();
        if (meta instanceof Map<?, ?> m) {
            m.forEach((k, v) -> metadata.put(String.valueOf(k), v));
        }
        metadata.put(TOTAL_SIZE, total);
        index.put(METADATA, metadata);
        Map<String, Object> wm = new LinkedHashMap<>();
        sd.storageNames().stream().sorted().forEach(n -> wm.put(n, layout.weightMap().get(n)));
        index.put(WEIGHT_MAP, wm);
        AtomicFiles.writeString(dst, Json.write(index) + "\n");
    }

    /** How the names of files holding a model's weights end (PyTorch, safetensors, GGUF, Flax, Keras, ONNX). */
    static final List<String> WEIGHT_SUFFIXES = List.of(".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf",
            ".msgpack", ".h5", ".onnx");
    static final String INDEX_SUFFIX = ".index.json";

    /** Whether a file name is that of a weights file or of the index of one. */
    private static boolean weightsName(String name) {
        String base = name.endsWith(INDEX_SUFFIX) ? name.substring(0, name.length() - INDEX_SUFFIX.length()) : name;
        return WEIGHT_SUFFIXES.stream().anyMatch(base::endsWith);
    }

    /**
     * The files of the folder {@code dir} (relative paths, sub-folders included, sorted) that hold weights other than
     * the ones Lady reads (or index them): a folder written in its layout leaves them out.
     */
    static List<String> leftOut(Path dir) {
        Set<String> read = layout(dir).weightFiles();
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .map(p -> dir.relativize(p).toString())
                    .filter(rel -> !read.contains(rel) && weightsName(Path.of(rel).getFileName().toString()))
                    .sorted().toList();
        } catch (IOException e) {
            throw new LadyException(LadyException.Kind.IO, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Copies every file of {@code from} (sub-folders included) except the weight files, unchanged. */
    private static void copyOthers(Path from, Path to, Set<String> weightFiles) throws IOException {
        Set<String> skip = new HashSet<>(weightFiles);
        skip.addAll(leftOut(from));
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk.sorted()::iterator) {
                Path rel = from.relativize(p);
                if (rel.toString().isEmpty() || skip.contains(rel.toString())) {
                    continue;
                }
                Path dst = to.resolve(rel.toString());
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) { // sub-folders made for the files they hold
                    Files.createDirectories(dst.getParent());
                    Files.copy(p, dst, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    /** Puts the finished folder {@code tmp} at {@code target}: an existing folder is moved aside first and deleted
     * once the new one is in place (on failure it is moved back). */
    private static void replace(Path tmp, Path target) throws IOException {
        Path old = null;
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            old = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".old.");
            Files.delete(old);
            move(target, old);
        }
        try {
            move(tmp, target);
        } catch (IOException e) {
            if (old != null) {
                move(old, target);
            }
            throw e;
        }
        if (old != null) {
            deleteTree(old);
        }
    }

    private static void move(Path a, Path b) throws IOException {
        try {
            Files.move(a, b, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(a, b);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException ignored) {
            // best effort: the original failure is the one to report
        }
    }
}
