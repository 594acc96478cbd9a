package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * Hugging Face's Whisper (tests/python/hf_whisper.py, its modules written out from transformers' modeling_whisper.py):
 * log-mel frames through two 1-D convolutions (20 mel bins: input channels that are not a multiple of oneDNN's channel
 * block, computed on padded channels as 2-D convolutions are, so the test runs again as on an AVX2 machine: tag
 * cpu-sensitive), the saved sinusoids, pre-norm layers whose k projections have no bias, the decoder's
 * cross-attention, the head tied to the decoder's embedding and left out. {@code permute --groups all --verify} writes
 * weights with which the script's forward gives the same logits with every weight tensor moved, a wrong permutation
 * changes them, and {@code resync} without the secret gives back every tensor; a structurally obfuscated copy keeps
 * the function and is undone.
 */
@Tag("cpu-sensitive")
class SpeechModelsTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void whisper() throws Exception {
        roundTrip("whisper");
        // structurally obfuscated (dummy, split and scaled neurons: the first convolution's channels widened too),
        // checked by Lady's forward, then undone: every group back to the reference's width
        String model = dir.resolve("whisper").toString();
        CliRun a = CliRun.of("attack", "--model", model, "--attack", "nso", "--seed", "3", "--verify", "--out",
                model + "-a");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("the function is kept"), a.out());
        CliRun r = CliRun.of("resync", "--reference", model, "--suspect", model + "-a", "--out", model + "-ar");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("structural model.encoder.conv1 ") && r.out().contains("-> 64 neurons"), r.out());
        assertTrue(r.out().contains("verdict: DERIVED"), r.out());
    }

    /** WhisperModel: no prefix, no head; its decoder's last hidden state compared by its inner products. */
    @Test
    @Tag("slow")
    void whisperWithoutHead() throws Exception {
        roundTrip("whisperbase");
    }

    private static void roundTrip(String name) throws Exception {
        String err = PythonTorch.run("hf_whisper.py", "save", dir.toString(), "2", name);
        assertNull(err, err);
        String model = dir.resolve(name).toString();
        CliRun s = CliRun.of("spec", "--model", model);
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().startsWith("whisper: 56 groups"), s.out());
        String permuted = model + "-p";
        CliRun p = CliRun.of("permute", "--model", model, "--groups", "all", "--seed", "4", "--verify", "--out", permuted,
                "--secret", model + "-s.json", "--quiet");
        assertEquals(0, p.code(), p.err());
        String restored = model + "-r";
        CliRun r = CliRun.of("resync", "--reference", model, "--suspect", permuted, "--out", restored, "--quiet");
        assertEquals(0, r.code(), r.err());
        err = PythonTorch.run("hf_whisper.py", "check", model, permuted, restored);
        assertNull(err, name + ": " + err);
    }
}
