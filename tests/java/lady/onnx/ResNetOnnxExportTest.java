package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.checkpoint.Checkpoints;
import lady.checkpoint.StateDict;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;

/**
 * {@link PyTorchExportChecks} on torchvision's ResNet18 (32 x 32 inputs), a network Lady has a family for: the
 * spec derived from each export's graph is the family's. With batch norm kept the groups are the same member for
 * member (the family's "stream.layer1" is the graph's "stream./layer1"); folded, group by group the same sizes and
 * the same numbers of producers and consumers, without the batch norms. 45 MB per export: about 50 s on a busy
 * 2-core machine (most of it the export checks' writes and reads), so tagged slow.
 */
@Tag("slow")
class ResNetOnnxExportTest extends PyTorchExportChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("resnet18", 32);
    }

    @Test
    void theSpecOfEitherExportIsTheFamilys() {
        StateDict state = Checkpoints.read(file("resnet18", "state"));
        PermutationSpec family = Models.infer(state, null).description().permutationSpec();
        Path kept = file("resnet18", "kept");
        PermutationSpec k = Models.spec(Onnx.read(kept).stateDict(), null, null, kept);
        assertEquals(PyTorchPermutationChecks.partition(family), PyTorchPermutationChecks.partition(k));
        assertEquals(List.of("stream./layer1", "stream./layer2", "stream./layer3", "stream./layer4"),
                k.groups().stream().map(Group::name).filter(n -> n.startsWith("stream.")).toList());
        Path folded = file("resnet18", "folded");
        PermutationSpec f = Models.spec(Onnx.read(folded).stateDict(), null, null, folded);
        assertEquals(structure(family), structure(f));
        assertEquals(0, f.groups().stream().mapToLong(g -> g.members(Role.RUNNING_MEAN).size()).sum());
    }

    /** Per group, in order: its size and its numbers of producers and consumers. */
    private static List<String> structure(PermutationSpec spec) {
        return spec.groups().stream().map(g -> g.size() + ":" + g.members(Role.PRODUCER_WEIGHT).size() + ":"
                + g.members(Role.CONSUMER_WEIGHT).size()).toList();
    }
}
