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
import lady.permutation.Role;

/**
 * {@link PyTorchPermutationChecks} on two small networks of the kinds users bring (tests/python/onnx_export.py), both
 * export modes permuted with every group (ONNX Runtime and PyTorch keep the function, at least 95 % of the weights
 * move) and independently permuted copies resynchronized byte for byte:
 * <ul>
 *   <li>{@code GroupedNet}: grouped convolutions the ways ResNeXt and RegNet use them (a grouped 3x3 conv of 3 groups
 *       with a squeeze-excitation on its output, one of 4 groups whose inputs and outputs differ in width). The groups
 *       trade places whole (the reducing conv's rows in blocks of a group's inputs) and the channels inside each group
 *       move (nested in the whole groups).</li>
 *   <li>{@code YoloNet}: a YOLOv8-style detector (C2f blocks that chunk a conv's output in two, SPPF, a nearest
 *       upsample, concatenations of two scales, a head per scale flattened and concatenated). Every channel moves:
 *       each chunk is a group of its own.</li>
 * </ul>
 */
class UserNetworksOnnxExportTest extends PyTorchPermutationChecks {
    @Override
    Map<String, Integer> models() {
        return Map.of("grouped_net", 32, "yolo_net", 32);
    }

    /** Every channel of the detector moves: the chunks of each C2f are groups, and nothing is left in place. */
    @Test
    void theDetectorsChunksAreGroupsAndNothingStays() {
        for (String mode : MODES) {
            Path p = file("yolo_net", mode);
            PermutationSpec spec = Models.spec(Onnx.read(p).stateDict(), null, null, p);
            assertEquals(List.of(), spec.notes(), mode);
            // b1's cv1 (16 channels) chunked in two: its rows 0..7 in one group, 8..15 in another (with the residuals);
            // (the folded export renames the convs' weights)
            for (long half : mode.equals("kept") ? new long[] {0, 8} : new long[0]) {
                assertEquals(1, spec.groups().stream().filter(g -> g.size() == 8 && g.members(Role.PRODUCER_WEIGHT).stream()
                        .anyMatch(m -> m.tensor().equals("b1.cv1.conv.weight") && m.offset() == half)).count(), mode + " " + half);
            }
        }
    }

    @Test
    void wholeGroupsAndTheChannelsInsideEachGroupAreGroups() {
        Path kept = file("grouped_net", "kept");
        PermutationSpec spec = Models.spec(Onnx.read(kept).stateDict(), null, null, kept);
        Map<String, String> outers = Nesting.of(spec).outers();
        for (String[] c : new String[][] {{"/a_reduce/a_reduce.0/Conv", "/a_grouped/a_grouped.0/Conv", "3", "8", "8"},
                {"/b_reduce/b_reduce.0/Conv", "/b_grouped/b_grouped.0/Conv", "4", "6", "8"}}) {
            int groups = Integer.parseInt(c[2]);
            Group whole = spec.group(c[0]).orElseThrow();
            assertEquals(groups, whole.size(), c[0]);
            assertTrue(whole.members().stream().anyMatch(m -> m.tensor().equals(c[0].split("/")[1] + ".0.weight")
                    && m.axis() == 0 && m.block() == Long.parseLong(c[3])), c[0] + ": " + whole.members());
            for (int k = 0; k < groups; k++) {
                Group inner = spec.group(c[1] + ".group." + k).orElseThrow();
                assertEquals(Long.parseLong(c[4]), inner.size(), inner.name());
                assertEquals(c[0], outers.get(inner.name()), inner.name());
            }
        }
        // the excitation's rows and columns move with the first grouped conv's channels, its hidden units are a group
        Group first = spec.group("/a_grouped/a_grouped.0/Conv.group.1").orElseThrow();
        assertTrue(first.members().stream().anyMatch(m -> m.tensor().equals("a_se_fc2.weight") && m.offset() == 8),
                first.members().toString());
        assertTrue(spec.group("/a_se_fc1/Conv").isPresent(), spec.groups().stream().map(Group::name).toList().toString());
        assertEquals(List.of(), spec.notes());
    }
}
