package lady.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.LadyException;
import lady.tensor.HostTensor;

/**
 * Experts fused in one 3-D tensor per layer and projection (transformers 5's layout) are read as one view per expert
 * and written back fused: the same bytes when nothing moved, the experts' slices in their new places when they did.
 */
class FusedExpertsTest {
    @TempDir
    Path dir;

    private static final String FUSED = "model.layers.0.mlp.experts.gate_up_proj";
    private static final int EXPERTS = 3;

    private static StateDict sample() {
        StateDict sd = new StateDict();
        float[] v = new float[EXPERTS * 4 * 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        sd.put("model.embed_tokens.weight", HostTensor.ofFloats(new float[] {7, 8}, 1, 2));
        sd.put(FUSED, HostTensor.ofFloats(v, EXPERTS, 4, 2));
        sd.put("model.norm.weight", HostTensor.ofFloats(new float[] {1, 2}, 2));
        return sd;
    }

    private static String part(int e) {
        return "model.layers.0.mlp.experts." + e + ".gate_up_proj";
    }

    @Test
    void readAsOneViewPerExpertAndWrittenBackFused() throws IOException {
        Path a = dir.resolve("a.safetensors");
        Checkpoints.write(a, sample(), Checkpoints.Format.SAFETENSORS);
        StateDict read = Checkpoints.read(a);
        assertEquals(List.of("model.embed_tokens.weight", part(0), part(1), part(2), "model.norm.weight"),
                List.copyOf(read.names()));
        assertEquals(List.of("model.embed_tokens.weight", FUSED, "model.norm.weight"), read.storageNames());
        for (int e = 0; e < EXPERTS; e++) {
            HostTensor p = read.get(part(e));
            assertArrayEquals(new long[] {4, 2}, p.shape());
            assertTrue(p.mapped(), "a view of the mapped file, not a copy");
            assertEquals(8f * e, p.readFloats()[0], 0f);
        }
        Path b = dir.resolve("b.safetensors");
        Checkpoints.write(b, read, Checkpoints.Format.SAFETENSORS);
        assertEquals(-1, Files.mismatch(a, b), "the same bytes back");

        // experts 0 and 2 trade places: the stored tensor holds their slices swapped
        StateDict moved = Checkpoints.read(a);
        moved.rename(Map.of(part(0), part(2), part(2), part(0)));
        Path c = dir.resolve("c.safetensors");
        Checkpoints.write(c, moved, Checkpoints.Format.SAFETENSORS);
        StateDict back = Checkpoints.read(c);
        assertEquals(16f, back.get(part(0)).readFloats()[0], 0f);
        assertEquals(8f, back.get(part(1)).readFloats()[0], 0f);
        assertEquals(0f, back.get(part(2)).readFloats()[0], 0f);
        assertArrayEquals(new long[] {EXPERTS, 4, 2}, back.storedShape(FUSED));

        // a shard of a folder holding the stored name carries its parts
        StateDict shard = read.select(List.of(FUSED));
        assertEquals(List.of(FUSED), shard.storageNames());
        assertEquals(EXPERTS, shard.names().size());
    }

    @Test
    void pytorchsZipFormatIsRefusedForFusedExperts() throws IOException {
        Path a = dir.resolve("a.safetensors");
        Checkpoints.write(a, sample(), Checkpoints.Format.SAFETENSORS);
        StateDict read = Checkpoints.read(a);
        Path pt = dir.resolve("x.pt");
        LadyException e = assertThrows(LadyException.class, () -> Checkpoints.write(pt, read,
                Checkpoints.Format.TORCH_ZIP));
        assertTrue(e.getMessage().contains("fused experts are written as safetensors"), e.getMessage());
        assertFalse(Files.exists(pt), "nothing written");
    }
}
