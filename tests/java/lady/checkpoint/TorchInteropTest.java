package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.report.Json;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/**
 * Round trip against real PyTorch: Lady writes, Python's torch.load reads (and load_state_dict
 * strict=True into a module); Python writes, Lady reads. Skipped, with the reason, where
 * /usr/bin/python3 with torch is not installed.
 */
class TorchInteropTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static Map<String, Object> describe(StateDict sd) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String n : sd.names()) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("dtype", sd.get(n).dtype().name().toLowerCase(Locale.ROOT));
            d.put("shape", sd.shape(n));
            d.put("sha256", CheckpointTestSupport.sha256(sd.get(n)));
            m.put(n, d);
        }
        return m;
    }

    @Test
    void pytorchReadsWhatLadyWritesAndLadyReadsWhatPytorchWrites() throws Exception {
        PythonTorch.assumeInstalled();

        // a state dict of make_golden.Net with new values, and tensors of every dtype
        StateDict net = Checkpoints.read(CheckpointTestSupport.golden("state_dict.pt"));
        for (String n : net.names()) {
            Tensor t = TorchTensors.view(net.get(n)); // writes through to the (copy-on-write) mapped tensor
            if (n.endsWith("weight") || n.endsWith("bias")) { // not the BN statistics (variance > 0)
                t.mul_(new Scalar(-1.5));
            }
        }
        StateDict mixed = CheckpointRoundTripTest.sample();
        Checkpoints.write(dir.resolve("net.pt"), net, Checkpoints.Format.TORCH_ZIP);
        Checkpoints.write(dir.resolve("mixed.pt"), mixed, Checkpoints.Format.TORCH_ZIP);
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("net.pt", describe(net));
        expected.put("mixed.pt", describe(mixed));
        Files.writeString(dir.resolve("expected.json"), Json.write(expected));

        String failure = PythonTorch.run("torch_roundtrip.py", dir.toString());
        assertEquals(null, failure, "the Python side failed");

        StateDict back = Checkpoints.read(dir.resolve("from_python.pt"));
        for (String n : mixed.names()) {
            Tensor want = TorchTensors.copy(mixed.get(n));
            HostTensor got = back.get(n);
            Tensor expect = want.scalar_type().value == torch.ScalarType.Bool.value ? want.logical_not()
                    : want.is_floating_point() ? want.mul(new Scalar(2)) : want.add(new Scalar(1));
            assertEquals(CheckpointTestSupport.sha256(TorchTensors.own(expect)), CheckpointTestSupport.sha256(got), n);
        }
        assertArrayEquals(new double[] {0, 3, 1, 4, 2, 5}, CheckpointTestSupport.values(back.get("t")), 0.0);
    }
}
