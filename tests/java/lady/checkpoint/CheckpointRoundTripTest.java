package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import lady.LadyException;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/** Lady writes, Lady reads back the same tensors; re-writing gives the same bytes. */
class CheckpointRoundTripTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** One tensor of every dtype, a scalar, an empty tensor and a non-contiguous input. */
    static StateDict sample() {
        torch.manual_seed(7);
        StateDict sd = new StateDict();
        Tensor base = torch.randn(3, 4, 5);
        TorchTensors.put(sd, "conv.weight", base);
        TorchTensors.put(sd, "half", base.to(torch.ScalarType.Half));
        TorchTensors.put(sd, "bf16", base.to(torch.ScalarType.BFloat16));
        TorchTensors.put(sd, "double", base.to(torch.ScalarType.Double).mul(new Scalar(1e-3)));
        TorchTensors.put(sd, "long", torch.arange(new Scalar(-3_000_000_000L), new Scalar(3_000_000_000L), new Scalar(500_000_000L),
                new TensorOptions(torch.ScalarType.Long)));
        TorchTensors.put(sd, "int", torch.arange(new Scalar(-7), new Scalar(7), new TensorOptions(torch.ScalarType.Int)));
        TorchTensors.put(sd, "short", torch.arange(new Scalar(-7), new Scalar(7), new TensorOptions(torch.ScalarType.Short)));
        TorchTensors.put(sd, "char", torch.arange(new Scalar(-7), new Scalar(7), new TensorOptions(torch.ScalarType.Char)));
        TorchTensors.put(sd, "byte", torch.arange(new Scalar(0), new Scalar(250), new Scalar(7), new TensorOptions(torch.ScalarType.Byte)));
        TorchTensors.put(sd, "bool", base.gt(new Scalar(0)));
        TorchTensors.put(sd, "scalar", torch.randn(new long[0]));
        TorchTensors.put(sd, "empty", torch.randn(0, 3));
        TorchTensors.put(sd, "transposed", base.select(0, 1).t()); // non-contiguous input: written contiguous
        TorchTensors.put(sd, "big.dims", torch.randn(70000).reshape(1, 70000)); // sizes and numel beyond BININT2
        return sd;
    }

    static void assertSame(StateDict want, StateDict got) {
        assertEquals(new ArrayList<>(want.names()), new ArrayList<>(got.names()));
        for (String n : want.names()) {
            HostTensor a = want.get(n);
            HostTensor b = got.get(n);
            assertEquals(a.dtype(), b.dtype(), n + " dtype");
            assertArrayEquals(want.shape(n), got.shape(n), n + " shape");
            assertEquals(CheckpointTestSupport.sha256(a), CheckpointTestSupport.sha256(b), n + " bytes");
        }
    }

    /** The formats a state dict alone is written in (an ONNX file is written from its model: lady.onnx's tests). */
    private static final List<Checkpoints.Format> STATE_DICT_FORMATS =
            java.util.Arrays.stream(Checkpoints.Format.values()).filter(Checkpoints.Format::standalone).toList();

    @ParameterizedTest
    @EnumSource(value = Checkpoints.Format.class, names = "ONNX", mode = EnumSource.Mode.EXCLUDE)
    void writeThenReadIsIdenticalAndDeterministic(Checkpoints.Format format) throws IOException {
        StateDict sd = sample();
        Path a = dir.resolve("a.ckpt");
        Path b = dir.resolve("b.ckpt");
        Checkpoints.write(a, sd, format);
        assertEquals(format, Checkpoints.formatOf(a));
        StateDict back = Checkpoints.read(a);
        assertSame(sd, back);
        Checkpoints.write(b, back, format);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same state dict, same bytes");
        Checkpoints.write(a, sample(), format); // overwrite in place
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        try (var files = Files.list(dir)) {
            assertEquals(List.of("a.ckpt", "b.ckpt"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary files left");
        }
    }

    @Test
    void zipLayoutIsWhatTorchWrites() throws IOException {
        Path p = dir.resolve("m.pt");
        Checkpoints.write(p, sample(), Checkpoints.Format.TORCH_ZIP);
        List<String> names = new ArrayList<>();
        try (var z = new java.util.zip.ZipFile(p.toFile())) {
            z.stream().forEach(e -> {
                names.add(e.getName());
                assertEquals(java.util.zip.ZipEntry.STORED, e.getMethod());
            });
            assertEquals("3\n", new String(z.getInputStream(z.getEntry("archive/version")).readAllBytes()));
            assertEquals("little", new String(z.getInputStream(z.getEntry("archive/byteorder")).readAllBytes()));
        }
        assertEquals("archive/data.pkl", names.get(0));
        assertTrue(names.contains("archive/data/0") && names.contains("archive/data/13"), names.toString());
    }

    @Test
    void goldenFilesRewriteToTheirOwnContent() {
        for (String f : List.of("state_dict.pt", "authors.pt", "views.pt", "dtypes.safetensors")) {
            StateDict sd = Checkpoints.read(CheckpointTestSupport.golden(f));
            for (Checkpoints.Format format : STATE_DICT_FORMATS) {
                Path p = dir.resolve(f + "." + format);
                Checkpoints.write(p, sd, format);
                assertSame(sd, Checkpoints.read(p));
            }
        }
    }

    /**
     * The module versions PyTorch pickles with a state dict (its OrderedDict's _metadata) are read and written back:
     * the golden state dict's, and a hand-made set of every value type, through a write and a read.
     */
    @Test
    void moduleVersionsSurviveARewrite(@TempDir Path dir) {
        StateDict golden = Checkpoints.read(CheckpointTestSupport.golden("state_dict.pt"));
        assertEquals(Map.of("version", 1L), golden.moduleMetadata().get(""), golden.moduleMetadata().toString());
        assertEquals(Map.of("version", 2L), golden.moduleMetadata().get("features.1"), golden.moduleMetadata().toString());
        Path out = dir.resolve("again.pt");
        Checkpoints.write(out, golden, Checkpoints.Format.TORCH_ZIP);
        assertEquals(golden.moduleMetadata(), Checkpoints.read(out).moduleMetadata());

        StateDict s = sample();
        Map<String, Map<String, Object>> meta = new java.util.LinkedHashMap<>();
        meta.put("", Map.of("version", 3L));
        meta.put("a.b", new java.util.LinkedHashMap<>(Map.of("flag", true)));
        meta.put("c", Map.of("name", "x"));
        meta.put("d", Map.of());
        s.setModuleMetadata(meta);
        Checkpoints.write(out, s, Checkpoints.Format.TORCH_ZIP);
        StateDict back = Checkpoints.read(out);
        assertEquals(meta, back.moduleMetadata());
        assertSame(s, back);
    }

    @Test
    void complexTensorsAreRefused() {
        LadyException e = assertThrows(LadyException.class,
                () -> TorchTensors.put(new StateDict(), "complex", torch.randn(2).to(torch.ScalarType.ComplexFloat)));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
    }

    /** What neither format can hold, failing after the first bytes were written: a safetensors tensor named
     * __metadata__; a lazily permuted tensor whose rows are longer than Lady gathers at once (2 GiB: the
     * 4 GiB block is never touched, so it costs no memory). */
    private static StateDict unwritable(Checkpoints.Format format) {
        StateDict bad = new StateDict();
        bad.put("ok", HostTensor.ofFloats(new float[] {1, 2}, 2));
        if (format == Checkpoints.Format.SAFETENSORS) {
            bad.put("__metadata__", HostTensor.ofFloats(new float[] {1, 2}, 2));
            return bad;
        }
        long columns = (1L << 29) + 1;
        bad.put("huge", HostTensor.allocate(DType.FLOAT32, 2, columns));
        bad.permuteLazily("huge", 0, new long[] {1, 0});
        return bad;
    }

    /** 65535 tensors need zip64's entry count: written, and read back. */
    @Test
    void aZipOf65535TensorsIsWrittenWithZip64Records() {
        int count = 0xFFFF;
        StateDict sd = new StateDict();
        HostMemory block = HostMemory.allocate(4L * count);
        HostTensor all = HostTensor.view(block, 0, DType.FLOAT32, count);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = i;
        }
        all.writeFloats(v);
        for (int i = 0; i < count; i++) {
            sd.put("t" + i, HostTensor.view(block, 4L * i, DType.FLOAT32, 1));
        }
        Path p = dir.resolve("many.pt");
        Checkpoints.write(p, sd, Checkpoints.Format.TORCH_ZIP);
        StateDict back = Checkpoints.read(p);
        assertEquals(count, back.size());
        assertTrue(sd.sameTensors(back));
    }

    @Test
    void failedWriteLeavesNoFileAndKeepsTheOldOne() throws IOException {
        for (Checkpoints.Format format : STATE_DICT_FORMATS) {
            StateDict bad = unwritable(format);
            Path p = dir.resolve("x." + format);
            LadyException e = assertThrows(LadyException.class, () -> Checkpoints.write(p, bad, format));
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
            assertTrue(Files.notExists(p));
            Files.writeString(p, "old");
            assertThrows(LadyException.class, () -> Checkpoints.write(p, bad, format));
            assertEquals("old", Files.readString(p));
        }
        try (var files = Files.list(dir)) {
            assertEquals(2, files.count(), "only the two 'old' files, no temporaries");
        }
    }

    @Test
    void missingFileIsAnIoError() {
        Path p = dir.resolve("nope.pt");
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.read(p));
        assertEquals(LadyException.Kind.IO, e.kind());
        assertEquals("no such file: " + p, e.getMessage());
        LadyException w = assertThrows(LadyException.class,
                () -> Checkpoints.write(dir.resolve("no/such/dir.pt"), sample(), Checkpoints.Format.TORCH_ZIP));
        assertEquals(LadyException.Kind.IO, w.kind());
    }

    @Test
    void readTensorsAreIndependentOfEachOther() {
        Path p = dir.resolve("s.safetensors");
        StateDict sd = new StateDict();
        TorchTensors.put(sd, "a", torch.ones(3));
        TorchTensors.put(sd, "b", torch.ones(3));
        Checkpoints.write(p, sd, Checkpoints.Format.SAFETENSORS);
        StateDict back = Checkpoints.read(p);
        TorchTensors.view(back.get("a")).mul_(new Scalar(5));
        assertEquals(3.0, TorchTensors.get(back, "b").sum().item_double(), 0.0);
        assertEquals(15.0, TorchTensors.get(back, "a").sum().item_double(), 0.0);
        assertEquals(3.0, TorchTensors.get(Checkpoints.read(p), "a").sum().item_double(), 0.0,
                "writing a read tensor in place never changes the file (copy-on-write mapping)");
    }
}
