package lady.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.model.ModelOptions;
import lady.model.Models;
import lady.permutation.PermutationSpec;

/** What the graph says about rescaling, adding and merging neurons, group by group (no libtorch). */
class StructuralRulesTest {

    private static Map<String, StructuralRules.Rule> rules(Graph g) {
        PermutationSpec spec = ChannelSpaces.derive(g);
        return StructuralRules.of(g, spec);
    }

    @Test
    void vggWithoutBatchNormScalesInTheConsumersEverywhere() {
        Graph g = Models.describe("vgg16_cifar", ModelOptions.defaults().withWidth(0.125)).graph();
        Map<String, StructuralRules.Rule> r = rules(g);
        assertEquals(15, r.size());
        for (StructuralRules.Rule rule : r.values()) {
            assertEquals(StructuralRules.Scaling.COMPENSATED, rule.scaling(), rule.group());
            assertTrue(rule.canWiden() && rule.homogeneous(), rule.group());
            assertEquals(1, rule.producers().size());
            assertFalse(rule.canRescaleAffine(), "no batch norm: " + rule.group());
        }
    }

    /**
     * RetinaNet's P6 reads the pyramid's last level and writes a level of its own, which the heads read with the same
     * weights as the others: one group holds P6's rows and columns, and no edit but the permutation keeps it (the other
     * groups, the heads' convs included, can be widened).
     */
    @Test
    void aLayerFromAGroupsChannelsToThemselvesRefusesEditsButThePermutation() {
        Graph g = Models.describe("retinanet_resnet50_fpn", ModelOptions.defaults().withWidth(0.25)).graph();
        Map<String, StructuralRules.Rule> r = rules(g);
        List<StructuralRules.Rule> refused = r.values().stream().filter(rule -> !rule.canWiden()).toList();
        assertEquals(1, refused.size(), refused.toString());
        assertTrue(refused.get(0).wideningRefusal().contains("layer 'backbone.fpn.extra_blocks.p6.weight' reads and "
                + "writes the group's channels"), refused.get(0).wideningRefusal());
        assertFalse(refused.get(0).canScale());
        assertTrue(r.get("head.classification_head.conv.0.0").canWiden());
    }

    @Test
    void batchNormAbsorbsTheScalingAndResidualStreamsToo() {
        for (String arch : new String[] {"vgg16_bn_cifar", "resnet18_cifar"}) {
            Graph g = Models.describe(arch, ModelOptions.defaults().withWidth(0.125)).graph();
            for (StructuralRules.Rule rule : rules(g).values()) {
                if (rule.group().startsWith("classifier") || rule.group().equals("fc")) {
                    assertEquals(StructuralRules.Scaling.COMPENSATED, rule.scaling(), arch + " " + rule.group());
                    continue;
                }
                assertEquals(StructuralRules.Scaling.ABSORBED, rule.scaling(), arch + " " + rule.group());
                assertTrue(rule.canWiden() && rule.canRescaleAffine() && rule.homogeneous(), arch + " " + rule.group());
                assertTrue(rule.producers().stream().allMatch(StructuralRules.Producer::hasNorm));
            }
        }
        Graph resnet = Models.describe("resnet18_cifar", ModelOptions.defaults().withWidth(0.125)).graph();
        // stream.layer2: downsample + two conv2, each with its batch norm
        assertEquals(3, rules(resnet).get("stream.layer2").producers().size());
    }

    /** conv -> ACT(fn) -> conv -> flatten -> linear, optionally with batch norm after the first conv. */
    private static Graph chain(Op.Activation fn, boolean bn) {
        GraphBuilder b = new GraphBuilder("toy");
        String x = b.image("input", 3, 8, true);
        x = b.conv("conv1", x, 8, 3, 1, 1, true);
        if (bn) {
            x = b.batchNorm("bn1", x);
        }
        x = b.act("act1", x, fn);
        x = b.conv("conv2", x, 4, 3, 1, 1, true);
        x = b.act("act2", x, Op.Activation.RELU);
        x = b.flatten("flatten", x, 64);
        return b.build(b.linear("fc", x, 10, true));
    }

    @Test
    void geluAndFriendsRefuseScalingButNotWidening() {
        for (Op.Activation fn : new Op.Activation[] {Op.Activation.GELU, Op.Activation.SILU, Op.Activation.HARDSWISH,
                Op.Activation.SIGMOID}) {
            StructuralRules.Rule rule = rules(chain(fn, false)).get("conv1");
            assertEquals(StructuralRules.Scaling.REFUSED, rule.scaling(), fn.name());
            assertTrue(rule.scalingRefusal().contains(fn.name()) && rule.scalingRefusal().contains("positively homogeneous"),
                    rule.scalingRefusal());
            assertTrue(rule.canWiden(), "identical incoming weights give identical activations: " + fn);
            assertFalse(rule.homogeneous());
            LadyException e = assertThrows(LadyException.class, () -> rule.requireScaling("scale"));
            assertEquals(LadyException.Kind.USAGE, e.kind());
            assertTrue(e.getMessage().contains("'conv1'") && e.getMessage().contains(fn.name()), e.getMessage());
            // with batch norm after the conv, its statistics absorb the rows' scale: any activation will do, but
            // gamma and beta cannot be rescaled against the consumers
            StructuralRules.Rule withBn = rules(chain(fn, true)).get("conv1");
            assertEquals(StructuralRules.Scaling.ABSORBED, withBn.scaling(), fn.name());
            assertFalse(withBn.canRescaleAffine());
            assertFalse(withBn.homogeneous());
        }
        StructuralRules.Rule relu = rules(chain(Op.Activation.RELU, false)).get("conv1");
        assertEquals(StructuralRules.Scaling.COMPENSATED, relu.scaling());
        assertNull(relu.scalingRefusal());
    }

    @Test
    void layerNormRefusesEverything() {
        GraphBuilder b = new GraphBuilder("ln");
        String x = b.image("input", 3, 4, true);
        x = b.flatten("flatten", x, 16);
        x = b.linear("fc1", x, 8, true);
        x = b.layerNorm("ln", x, 1e-5);
        x = b.act("act", x, Op.Activation.RELU);
        Graph g = b.build(b.linear("fc2", x, 2, true));
        StructuralRules.Rule rule = rules(g).get("fc1");
        assertFalse(rule.canScale());
        assertFalse(rule.canWiden());
        assertTrue(rule.wideningRefusal().contains("layer_norm 'ln'"), rule.wideningRefusal());
        assertThrows(LadyException.class, () -> rule.requireWidening("dummy"));
    }
}
