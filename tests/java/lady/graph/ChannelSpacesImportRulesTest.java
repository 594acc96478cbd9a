package lady.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;

/** Rules of {@link ChannelSpaces} that the families do not exercise (imported graphs use them). */
class ChannelSpacesImportRulesTest {

    private static TreeSet<String> members(PermutationSpec spec, String group) {
        TreeSet<String> out = new TreeSet<>();
        for (Member m : Permuter.group(spec, group).members()) {
            out.add(m.tensor() + "[" + m.axis() + "]@" + m.offset() + "/" + m.block());
        }
        return out;
    }

    /**
     * A squeeze-excitation scaling a concatenation: the excitation's last layer opens one space of 6 neurons,
     * the concatenation is 4 + 2; tying them splits the excitation's rows (0..3 with the first branch, 4..5
     * with the second) instead of pinning both.
     */
    @Test
    void aProductWithAConcatenationSplitsTheOtherSpace() {
        GraphBuilder b = new GraphBuilder("se-after-concat");
        String x = b.image("input", 3, 8, false);
        String a = b.conv("a", x, 4, 3, 1, 1, true);
        String c = b.conv("c", x, 2, 3, 1, 1, true);
        String cat = b.concat("cat", List.of(a, c), 1, true);
        String s = b.flatten("squeeze", b.adaptiveAvgPool("pool", cat, 1), 1);
        s = b.act("fc1_relu", b.linear("fc1", s, 3, true), Op.Activation.RELU);
        s = b.act("gate", b.linear("fc2", s, 6, true), Op.Activation.SIGMOID);
        String y = b.mul("excite", cat, s);
        y = b.conv("out", y, 5, 1, 1, 0, false);
        PermutationSpec spec = ChannelSpaces.derive(b.build(y));
        assertEquals(List.of("a:4", "c:2", "fc1:3"), spec.groups().stream().map(g -> g.name() + ":" + g.size()).toList());
        assertEquals(new TreeSet<>(List.of("a.weight[0]@0/1", "a.bias[0]@0/1", "fc1.weight[1]@0/1", "fc2.weight[0]@0/1",
                "fc2.bias[0]@0/1", "out.weight[1]@0/1")), members(spec, "a"));
        assertEquals(new TreeSet<>(List.of("c.weight[0]@0/1", "c.bias[0]@0/1", "fc1.weight[1]@4/1", "fc2.weight[0]@4/1",
                "fc2.bias[0]@4/1", "out.weight[1]@4/1")), members(spec, "c"));
    }

    /** Layouts of different lengths cannot be lined up: both stay in place, with a note. */
    @Test
    void aProductOfDifferentWidthsPinsBoth() {
        GraphBuilder b = new GraphBuilder("mismatch");
        String x = b.image("input", 3, 8, false);
        String a = b.conv("a", x, 4, 3, 1, 1, true);
        String c = b.conv("c", x, 6, 3, 1, 1, true);
        String y = b.conv("out", b.mul("m", a, c), 5, 1, 1, 0, false);
        PermutationSpec spec = ChannelSpaces.derive(b.build(y));
        assertEquals(List.of(), spec.groups());
        assertTrue(spec.notes().stream().anyMatch(n -> n.startsWith("node 'm'")), spec.notes().toString());
    }
}
