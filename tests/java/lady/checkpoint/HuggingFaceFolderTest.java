package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.cli.CliRun;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.report.Json;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;

/**
 * Hugging Face model folders: two bf16 safetensors shards with their index, config.json and other files
 * (made here, no download); `lady permute` and `lady resync` read and write the same layout, copy the
 * other files unchanged, and the resync gives the original shards back byte for byte.
 */
class HuggingFaceFolderTest {
    @TempDir
    Path dir;

    static final String SHARD1 = "model-00001-of-00002.safetensors";
    static final String SHARD2 = "model-00002-of-00002.safetensors";

    /** toynet's tensors in bfloat16, random (normal, std 0.1: distinct neurons). */
    static StateDict toynetBf16(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        StateDict sd = new StateDict();
        Models.describe("toynet", ModelOptions.defaults()).tensorShapes().forEach((name, shape) -> {
            HostTensor t = HostTensor.allocate(DType.BFLOAT16, shape);
            ByteBuffer b = t.bytes(0, (int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < t.numel(); i++) {
                float v = (float) (0.1 * random.nextGaussian());
                b.putShort(2 * i, (short) (Float.floatToIntBits(v) >>> 16));
            }
            sd.put(name, t);
        });
        return sd;
    }

    /** A sharded folder as transformers writes it: conv tensors in shard 1, the rest in shard 2. */
    static Path folder(Path at, StateDict sd) throws IOException {
        Files.createDirectories(at);
        StateDict a = new StateDict();
        StateDict b = new StateDict();
        Map<String, Object> weightMap = new TreeMap<>();
        for (Map.Entry<String, HostTensor> e : sd) {
            boolean first = e.getKey().startsWith("conv");
            (first ? a : b).put(e.getKey(), e.getValue());
            weightMap.put(e.getKey(), first ? SHARD1 : SHARD2);
        }
        Checkpoints.write(at.resolve(SHARD1), a, Checkpoints.Format.SAFETENSORS);
        Checkpoints.write(at.resolve(SHARD2), b, Checkpoints.Format.SAFETENSORS);
        Files.writeString(at.resolve("model.safetensors.index.json"), "{\n  \"metadata\": {\n    \"total_size\": "
                + sd.byteSize() + "\n  },\n  \"weight_map\": " + Json.write(weightMap) + "\n}\n");
        Files.writeString(at.resolve("config.json"), "{\"architectures\": [\"ToyNet\"], \"torch_dtype\": \"bfloat16\"}\n");
        Files.writeString(at.resolve("tokenizer.json"), "{\"version\": \"1.0\"}\n");
        Files.createDirectories(at.resolve("extra"));
        Files.writeString(at.resolve("extra/notes.txt"), "kept as it is\n");
        return at;
    }

    private static List<String> files(Path d) throws IOException {
        try (Stream<Path> walk = Files.walk(d)) {
            return walk.filter(Files::isRegularFile).map(p -> d.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void readGivesEveryShardInOrder() throws IOException {
        StateDict sd = toynetBf16(1);
        Path f = folder(dir.resolve("m"), sd);
        StateDict back = Checkpoints.read(f);
        assertTrue(sd.sameTensors(back));
        assertEquals(new ArrayList<>(sd.names()), new ArrayList<>(back.names()));
        assertTrue(back.get("conv1.weight").mapped(), "shards are read zero-copy");

        // the single-file layout too, and a folder written back from it is the same bytes
        Path single = Files.createDirectories(dir.resolve("single"));
        Checkpoints.write(single.resolve("model.safetensors"), sd, Checkpoints.Format.SAFETENSORS);
        Files.writeString(single.resolve("config.json"), "{}");
        assertTrue(sd.sameTensors(Checkpoints.read(single)));
        Checkpoints.writeLike(dir.resolve("single2"), Checkpoints.read(single), single);
        assertEquals(files(single), files(dir.resolve("single2")));
        assertEquals(-1, Files.mismatch(single.resolve("model.safetensors"), dir.resolve("single2/model.safetensors")));
    }

    @Test
    void permuteAndResyncKeepTheLayoutAndRestoreTheShardsBitForBit() throws IOException {
        Path in = folder(dir.resolve("in"), toynetBf16(2));
        Path permuted = dir.resolve("permuted");
        Path fixed = dir.resolve("fixed");
        Path secret = dir.resolve("secret.json");
        CliRun p = CliRun.of("permute", "--model", in.toString(), "--out", permuted.toString(), "--secret",
                secret.toString(), "--seed", "4");
        assertEquals(0, p.code(), p.err());
        assertEquals(files(in), files(permuted));
        for (String f : List.of("config.json", "tokenizer.json", "extra/notes.txt", "model.safetensors.index.json")) {
            assertEquals(-1, Files.mismatch(in.resolve(f), permuted.resolve(f)), f + " copied unchanged");
        }
        StateDict a = Checkpoints.read(in);
        StateDict b = Checkpoints.read(permuted);
        assertEquals(a.names(), b.names());
        assertFalse(a.get("conv2.weight").sameContent(b.get("conv2.weight")), "the permutation moved the weights");
        assertEquals(DType.BFLOAT16, b.get("conv2.weight").dtype());
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"),
                new ArrayList<>(Checkpoints.read(permuted.resolve(SHARD1)).names()), "each tensor stays in its shard");

        CliRun r = CliRun.of("resync", "--reference", in.toString(), "--suspect", permuted.toString(), "--out",
                fixed.toString(), "--secret", secret.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        assertEquals(files(in), files(fixed));
        for (String f : files(in)) {
            assertEquals(-1, Files.mismatch(in.resolve(f), fixed.resolve(f)), f + " restored byte for byte");
        }
        // the output folder is replaced as a whole, and no temporary folder is left behind
        CliRun again = CliRun.of("resync", "--reference", in.toString(), "--suspect", permuted.toString(), "--out",
                fixed.toString(), "--quiet");
        assertEquals(0, again.code(), again.err());
        try (Stream<Path> list = Files.list(dir)) {
            assertEquals(List.of("fixed", "in", "permuted", "secret.json"),
                    list.map(x -> x.getFileName().toString()).sorted().toList());
        }
    }

    /**
     * Other copies of the weights next to the ones Lady reads (pytorch_model.bin beside the safetensors, Meta's
     * original/ folder, ONNX exports) are left out of the written folder, and the command says so: copied, they would
     * keep the input's neuron order beside the permuted weights. Every other file is copied.
     */
    @Test
    void otherCopiesOfTheWeightsAreLeftOutAndNamed() throws IOException {
        Path in = folder(dir.resolve("in"), toynetBf16(6));
        Files.writeString(in.resolve("pytorch_model.bin"), "stale weights");
        Files.writeString(in.resolve("pytorch_model.bin.index.json"), "{}");
        Files.createDirectories(in.resolve("original"));
        Files.writeString(in.resolve("original/consolidated.00.pth"), "stale weights");
        Files.writeString(in.resolve("original/params.json"), "{}");
        assertEquals(List.of("original/consolidated.00.pth", "pytorch_model.bin", "pytorch_model.bin.index.json"),
                Checkpoints.weightsLeftOut(in));
        Path out = dir.resolve("out");
        CliRun p = CliRun.of("permute", "--model", in.toString(), "--out", out.toString(), "--secret",
                dir.resolve("secret.json").toString(), "--seed", "4");
        assertEquals(0, p.code(), p.err());
        assertTrue(p.err().contains("left out 3 other weight files of the input folder"), p.err());
        List<String> expected = new ArrayList<>(files(in));
        expected.removeAll(Checkpoints.weightsLeftOut(in));
        assertEquals(expected, files(out));
        assertEquals(-1, Files.mismatch(in.resolve("original/params.json"), out.resolve("original/params.json")));
    }

    @Test
    void badFoldersAreClearErrors() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(empty.resolve("config.json"), "{}");
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.read(empty));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("not a Hugging Face model folder"), e.getMessage());

        Path escape = folder(dir.resolve("escape"), toynetBf16(3));
        Files.writeString(escape.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"conv1.weight\": \"../" + SHARD1 + "\"}}");
        e = assertThrows(LadyException.class, () -> Checkpoints.read(escape));
        assertTrue(e.getMessage().contains("not a file name of the folder"), e.getMessage());

        Path missing = folder(dir.resolve("missing"), toynetBf16(3));
        String index = Files.readString(missing.resolve("model.safetensors.index.json"));
        Files.writeString(missing.resolve("model.safetensors.index.json"),
                index.replace("\"fc2.bias\"", "\"fc3.bias\": \"" + SHARD2 + "\", \"fc2.bias\""));
        e = assertThrows(LadyException.class, () -> Checkpoints.read(missing));
        assertTrue(e.getMessage().contains("lists tensor 'fc3.bias', which its shard " + SHARD2 + " does not hold"),
                e.getMessage());

        // an unknown architecture: the usual error, nothing written
        Path alien = Files.createDirectories(dir.resolve("alien"));
        StateDict sd = new StateDict();
        sd.put("model.embed_tokens.weight", HostTensor.allocate(DType.BFLOAT16, 8, 4));
        Checkpoints.write(alien.resolve("model.safetensors"), sd, Checkpoints.Format.SAFETENSORS);
        CliRun p = CliRun.of("permute", "--model", alien.toString(), "--out", dir.resolve("o").toString(), "--secret",
                dir.resolve("s.json").toString());
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), p.code(), p.err());
        assertTrue(p.err().contains("model.embed_tokens.weight"), p.err());
        assertFalse(Files.exists(dir.resolve("o")));

        // a write that fails (a tensor the layout has no place for) leaves nothing behind
        Path good = folder(dir.resolve("good"), toynetBf16(5));
        StateDict more = Checkpoints.read(good);
        more.put("new.weight", HostTensor.view(HostMemory.allocate(4), 0, DType.FLOAT32, 1));
        e = assertThrows(LadyException.class, () -> Checkpoints.writeLike(dir.resolve("out"), more, good));
        assertTrue(e.getMessage().contains("new.weight"), e.getMessage());
        try (Stream<Path> list = Files.list(dir)) {
            assertTrue(list.noneMatch(x -> x.getFileName().toString().startsWith(".")), "no temporary folder left");
        }
    }
}
