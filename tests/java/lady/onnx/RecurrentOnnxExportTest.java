package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.model.Models;
import lady.permutation.PermutationSpec;

/**
 * {@link PyTorchPermutationChecks} on {@code CrnnNet} and {@code RnnClsNet} (tests/python/onnx_export.py): recurrent
 * layers as PyTorch 1.13 exports them, bidirectional and stacked, read through their outputs (CRNN) or their last hidden
 * states (a classifier on h_n[-2] and h_n[-1]). The folded export stores each layer's weights [2, gates x H, in] (Lady
 * reads them per direction); the kept one computes them from the state dict's tensors by slices into ONNX's gate order
 * and concatenations. Both export modes permuted with every group (ONNX Runtime and PyTorch keep the function, at least
 * 95 % of the weights move) and independently permuted copies resynchronized byte for byte.
 */
class RecurrentOnnxExportTest extends PyTorchPermutationChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("crnn_net", 16, "rnn_cls_net", 16);
    }

    /** Each direction of each recurrent layer is a group of its own, in both export modes, and nothing is pinned. */
    @Test
    void eachDirectionOfEachLayerIsAGroup() {
        for (String mode : MODES) {
            Path c = file("rnn_cls_net", mode);
            PermutationSpec cls = Models.spec(Onnx.read(c).stateDict(), null, null, c);
            assertEquals(List.of(), cls.notes(), mode);
            assertEquals(List.of("/lstm/LSTM:20", "/lstm/LSTM.reverse:20", "/lstm/LSTM_1:20", "/lstm/LSTM_1.reverse:20"),
                    PyTorchPermutationChecks.sizes(cls).stream().filter(g -> g.startsWith("/lstm/")).toList(), mode);
            Path p = file("crnn_net", mode);
            PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
            assertEquals(List.of(), spec.notes(), mode);
            assertEquals(List.of(20L, 20L, 20L, 20L, 12L, 12L), spec.groups().stream().filter(g -> g.name().startsWith("/lstm/")
                    || g.name().startsWith("/gru/")).map(g -> (long) g.size()).toList(), mode + " " + PyTorchPermutationChecks.sizes(spec));
            assertEquals(2, spec.groups().stream().filter(g -> g.name().endsWith(".reverse") && g.name().startsWith("/lstm/"))
                    .count(), mode);
        }
    }
}
