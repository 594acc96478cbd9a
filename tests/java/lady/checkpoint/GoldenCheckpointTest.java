package lady.checkpoint;

import static lady.checkpoint.CheckpointTestSupport.golden;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import lady.LadyException;
import lady.report.Json;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** Checkpoints written by real PyTorch (tests/python/make_golden.py) are read exactly. */
class GoldenCheckpointTest {
    private static Map<?, ?> files;

    @BeforeAll
    static void load() throws IOException {
        Torch.init();
        Map<?, ?> expected = (Map<?, ?>) Json.parse(Files.readString(golden("expected.json")));
        files = (Map<?, ?>) expected.get("files");
    }

    @ParameterizedTest
    @ValueSource(strings = {"state_dict.pt", "plain_dict.pt", "authors.pt", "training_checkpoint.pt", "whole_model.pt",
        "script_model.pt", "legacy.pt", "dtypes.pt", "views.pt", "dtypes.safetensors"})
    void readsExactlyWhatPyTorchWrote(String file) {
        StateDict sd = Checkpoints.read(golden(file));
        Map<?, ?> want = (Map<?, ?>) files.get(file);
        assertEquals(new ArrayList<>(want.keySet()), new ArrayList<>(sd.names()), file + ": names and order");
        for (Map.Entry<?, ?> e : want.entrySet()) {
            String name = (String) e.getKey();
            Map<?, ?> w = (Map<?, ?>) e.getValue();
            HostTensor t = sd.get(name);
            String where = file + " " + name;
            assertEquals(w.get("dtype"), t.dtype().name().toLowerCase(Locale.ROOT), where);
            List<?> shape = (List<?>) w.get("shape");
            assertArrayEquals(shape.stream().mapToLong(x -> (Long) x).toArray(), sd.shape(name), where);
            assertEquals(w.get("sha256"), CheckpointTestSupport.sha256(t), where + " bytes");
            double[] v = CheckpointTestSupport.values(t);
            double sum = 0;
            for (double x : v) {
                sum += x;
            }
            double wantSum = ((Number) w.get("sum")).doubleValue();
            assertEquals(wantSum, sum, 1e-9 * Math.max(1, Math.abs(wantSum)), where + " sum");
            List<?> first = (List<?>) w.get("first");
            for (int i = 0; i < first.size(); i++) {
                assertEquals(((Number) first.get(i)).doubleValue(), v[i], 0.0, where + " element " + i);
            }
        }
        assertEquals(file.endsWith(".pt") ? Checkpoints.Format.TORCH_ZIP : Checkpoints.Format.SAFETENSORS,
                Checkpoints.formatOf(golden(file)));
    }

    @Test
    void sharedStorageViewsDoNotAlias() {
        StateDict sd = Checkpoints.read(golden("views.pt"));
        Tensor a = TorchTensors.view(sd.get("shared_a")); // writes through
        double before = CheckpointTestSupport.values(sd.get("shared_b"))[0];
        a.mul_(new org.bytedeco.pytorch.Scalar(0.0));
        assertEquals(before, CheckpointTestSupport.values(sd.get("shared_b"))[0], 0.0);
    }

    /**
     * A checkpoint saved from a GPU by PyTorch 1.6 to 1.10 names its storages' types {@code torch.cuda.FloatStorage}
     * (location "cuda:0"): read as the CPU one. It was refused ("persistent id names torch.cuda.FloatStorage, not a
     * storage type").
     */
    @Test
    void aCheckpointSavedFromAGpuReadsAsTheCpuOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        java.util.Map<String, byte[]> entries = new java.util.LinkedHashMap<>();
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(golden("state_dict.pt").toFile())) {
            for (java.util.zip.ZipEntry e : java.util.Collections.list(z.entries())) {
                byte[] b = z.getInputStream(e).readAllBytes();
                if (e.getName().endsWith("/data.pkl")) {
                    String pkl = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
                    assertTrue(pkl.contains("ctorch\nFloatStorage") && pkl.contains("X\u0003\u0000\u0000\u0000cpu"));
                    b = pkl.replace("ctorch\nFloatStorage", "ctorch.cuda\nFloatStorage")
                            .replace("X\u0003\u0000\u0000\u0000cpu", "X\u0006\u0000\u0000\u0000cuda:0")
                            .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
                }
                entries.put(e.getName(), b);
            }
        }
        java.nio.file.Path gpu = dir.resolve("gpu.pt");
        java.nio.file.Files.write(gpu, CheckpointTestSupport.zip(entries));
        assertTrue(Checkpoints.read(gpu).sameTensors(Checkpoints.read(golden("state_dict.pt"))));
    }

    /** A pickle that torch.save did not write (its first value is not the legacy format's magic number) is refused. */
    @Test
    void aPickleThatIsNoCheckpointIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        java.nio.file.Path p = dir.resolve("plain.pkl");
        java.nio.file.Files.write(p, new byte[] {(byte) 0x80, 2, '}', 'q', 0, '.'}); // pickle.dump({})
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.read(p));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("is a pickle but not a PyTorch checkpoint"), e.getMessage());
    }

    /**
     * A safetensors file whose header length's lowest byte is 0x80, the pickle opcode a legacy PyTorch file starts with
     * (one header length in 256; a 640-byte header here, as a Qwen2 shard written by the safetensors library had), is
     * read as safetensors.
     */
    @Test
    void safetensorsWhoseFirstByteIsThePickleOpcodeIsRead(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        StringBuilder header = new StringBuilder("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        while (header.length() < 640) {
            header.append(' ');
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 640 + 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(640).put(header.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putFloat(1.5f)
                .putFloat(-2f);
        assertEquals((byte) 0x80, b.get(0), "the first byte is the pickle opcode");
        java.nio.file.Path file = dir.resolve("w.safetensors");
        Files.write(file, b.array());
        StateDict sd = Checkpoints.read(file);
        assertArrayEquals(new float[] {1.5f, -2f}, sd.get("w").readFloats());
    }
}
