package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.StateDict;
import lady.torch.TorchTensors;

/**
 * Parity with torchvision itself: Debian's PyTorch 1.13 + torchvision 0.14 (/usr/bin/python3, the
 * python3-torchvision package) builds VGG16-BN (width 1/8), a VGG16 with the CIFAR head (width
 * 1/8), ResNet18 and ResNet18 with the CIFAR stem, with randomized BN statistics, and writes their
 * state dicts, an input batch and the eval-mode logits (tests/resources/lady/model/
 * torchvision_reference.py). Lady infers each architecture from the state dict alone, loads it and
 * must reproduce the logits. Skipped when python3-torchvision is not installed; slow (Python start).
 */
@Tag("slow")
class TorchvisionParityTest {
    private static final String PYTHON = "/usr/bin/python3";

    @BeforeAll
    static void oneThread() {
        ModelTesting.singleThread();
    }

    @AfterAll
    static void threadsBack() {
        ModelTesting.restoreThreads();
    }

    @Test
    void ladyReproducesTorchvisionLogits(@TempDir Path dir) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(Path.of(PYTHON)), "no " + PYTHON);
        Process probe = new ProcessBuilder(PYTHON, "-c", "import torchvision").redirectErrorStream(true).start();
        assumeTrue(probe.waitFor(120, TimeUnit.SECONDS) && probe.exitValue() == 0, "python3-torchvision not installed");

        Path script = dir.resolve("torchvision_reference.py");
        try (InputStream in = TorchvisionParityTest.class.getResourceAsStream("torchvision_reference.py")) {
            Files.copy(in, script);
        }
        Process p = new ProcessBuilder(PYTHON, script.toString(), dir.resolve("out").toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "reference script timed out");
        assertEquals(0, p.exitValue(), log);

        for (String arch : List.of("vgg16_bn", "vgg16_cifar", "resnet18", "resnet18_cifar")) {
            Path d = dir.resolve("out").resolve(arch);
            StateDict state = read(d);
            ModelConfig config = Models.infer(state);
            assertEquals(arch, config.architecture());
            Model model = Models.fromStateDict(state);
            model.train(false);
            Tensor x = floats(d.resolve("input.bin"), new long[] {2, 3, 32, 32});
            Tensor expected = floats(d.resolve("logits.bin"), new long[] {2, 10});
            double diff = ModelTesting.maxAbsDiff(model.forward(x), expected);
            assertTrue(diff < 1e-4, arch + ": logits differ from torchvision's by " + diff);
            assertEquals(List.copyOf(state.names()), List.copyOf(model.stateDict().names()), arch);
        }
    }

    private static StateDict read(Path d) throws IOException {
        StateDict state = new StateDict();
        List<String> lines = Files.readAllLines(d.resolve("manifest.txt"));
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split(" ");
            long[] shape = Arrays.stream(f, 2, f.length).mapToLong(Long::parseLong).toArray();
            Path file = d.resolve(i + ".bin");
            TorchTensors.put(state, f[0], f[1].equals("int64") ? longs(file, shape) : floats(file, shape));
        }
        return state;
    }

    private static Tensor floats(Path file, long[] shape) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        b.asFloatBuffer().get(v);
        return torch.from_blob(new FloatPointer(v), shape, new TensorOptions(torch.ScalarType.Float)).clone();
    }

    private static Tensor longs(Path file, long[] shape) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long[] v = new long[b.remaining() / 8];
        b.asLongBuffer().get(v);
        return torch.from_blob(new LongPointer(v), shape, new TensorOptions(torch.ScalarType.Long)).clone();
    }
}
