package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.Nesting;
import lady.permutation.PermutationSpec;

/**
 * {@link PyTorchPermutationChecks} on {@code GnNet} (tests/python/onnx_export.py): group norms as PyTorch 1.13 exports
 * {@code nn.GroupNorm} (opset 17 has no GroupNormalization: a Reshape into the groups, InstanceNormalization, a Reshape
 * back, the affine Mul and Add), both export modes permuted with every group (ONNX Runtime and PyTorch keep the function,
 * at least 95 % of the weights move) and independently permuted copies resynchronized byte for byte.
 */
class GroupNormOnnxExportTest extends PyTorchPermutationChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("gn_net", 16);
    }

    @Override
    boolean batchNorm() {
        return false;
    }

    /**
     * A strided conv's 6 groups of 4 trade places whole and its channels move inside them; GroupNorm(12) after a
     * depthwise conv is one group of the 12 channels (GroupNorm(1) before it holds none in place); the stream's two
     * group norms of the same 4 groups let the stream's whole groups trade places too (one outer group for both), and
     * its channels move inside them.
     */
    @Test
    void channelsMoveInsideTheirGroupsAndWholeGroupsTradePlaces() {
        for (String mode : MODES) {
            Path p = file("gn_net", mode);
            PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
            Map<String, String> outers = Nesting.of(spec).outers();
            assertEquals(6, spec.group("/gn3/InstanceNormalization").orElseThrow().size(), mode);
            assertEquals(6, outers.values().stream().filter("/gn3/InstanceNormalization"::equals).count(), mode);
            assertEquals(12, spec.group("/gn5/InstanceNormalization").orElseThrow().size(), mode);
            assertEquals(4, spec.groups().stream().filter(g -> g.name().startsWith("stream.") && g.size() == 4).count(),
                    spec.groups().stream().map(Group::name).toList().toString());
            assertEquals(4, spec.group("/gn0/InstanceNormalization").orElseThrow().size(), mode);
            assertEquals(4, spec.groups().stream().filter(g -> g.name().startsWith("stream.")
                    && "/gn0/InstanceNormalization".equals(outers.get(g.name()))).count(), mode + " " + outers);
            assertEquals(List.of(), spec.notes(), mode);
        }
    }
}
