package lady.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Nesting;
import lady.permutation.PermutationSpec;

/**
 * {@link ChannelSpaces} on small hand-made graphs, one rule each: every group and every member (tensor,
 * axis, offset, block, role) exactly, and what stays in place. A member is written
 * {@code tensor@axis+offset/block:ROLE}.
 */
class ChannelSpacesTest {

    @Test
    void residualAdditionTiesTheStream() {
        GraphBuilder b = new GraphBuilder("residual");
        String x = b.image("input", 3, 8, false);
        String s = b.act("block.relu0", b.batchNorm("block.bn1", b.conv("block.conv1", x, 4, 3, 1, 1, false)),
                Op.Activation.RELU);
        String y = b.conv("block.conv2", s, 4, 3, 1, 1, false);
        y = b.act("block.relu", b.add("block.add", b.batchNorm("block.bn2", y), s), Op.Activation.RELU);
        y = b.conv("block.conv3", y, 5, 1, 1, 0, true);
        y = b.flatten("flatten", b.adaptiveAvgPool("pool", b.act("relu3", y, Op.Activation.RELU), 1), 1);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.linear("fc", y, 2, true)));

        assertGroups(spec, "stream.block", "block.conv3");
        assertMembers(spec, "stream.block", 4, "block.conv1.weight@0+0/1:PRODUCER_WEIGHT",
                "block.bn1.weight@0+0/1:NORM_WEIGHT", "block.bn1.bias@0+0/1:NORM_BIAS",
                "block.bn1.running_mean@0+0/1:RUNNING_MEAN", "block.bn1.running_var@0+0/1:RUNNING_VAR",
                "block.conv2.weight@1+0/1:CONSUMER_WEIGHT", "block.conv2.weight@0+0/1:PRODUCER_WEIGHT",
                "block.bn2.weight@0+0/1:NORM_WEIGHT", "block.bn2.bias@0+0/1:NORM_BIAS",
                "block.bn2.running_mean@0+0/1:RUNNING_MEAN", "block.bn2.running_var@0+0/1:RUNNING_VAR",
                "block.conv3.weight@1+0/1:CONSUMER_WEIGHT");
        assertMembers(spec, "block.conv3", 5, "block.conv3.weight@0+0/1:PRODUCER_WEIGHT",
                "block.conv3.bias@0+0/1:PRODUCER_BIAS", "fc.weight@1+0/1:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().contains("fc.weight[0]") && spec.fixed().contains("fc.bias")
                && spec.fixed().contains("block.conv1.weight[1]"), "the classes and the input channels stay: " + spec.fixed());
    }

    /**
     * One head applied to two levels of a pyramid ({@link GraphBuilder#reuse}: the same tensors, nodes of their own):
     * the levels' channels are one space (the head's columns read both), and so are the head's outputs on both levels
     * (its rows write both); each shared tensor is listed once.
     */
    @Test
    void aTensorSharedByTwoNodesTiesTheirSpaces() {
        GraphBuilder b = new GraphBuilder("shared");
        String x = b.image("input", 3, 8, false);
        String p3 = b.conv("p3", x, 4, 3, 1, 1, true);
        String p4 = b.conv("p4", p3, 4, 3, 2, 1, true);
        List<String> outs = new java.util.ArrayList<>();
        for (String level : List.of(p3, p4)) {
            b.reuse(level == p3 ? "" : "@1");
            String t = b.act("head.relu", b.conv("head.conv", level, 6, 3, 1, 1, true), Op.Activation.RELU);
            outs.add(b.conv("head.logits", t, 2, 1, 1, 0, true));
        }
        b.reuse("");
        PermutationSpec spec = ChannelSpaces.derive(b.build(outs.toArray(String[]::new)));

        assertGroups(spec, "p3", "head.conv");
        assertMembers(spec, "p3", 4, "p3.weight@0+0/1:PRODUCER_WEIGHT", "p3.bias@0+0/1:PRODUCER_BIAS",
                "p4.weight@1+0/1:CONSUMER_WEIGHT", "head.conv.weight@1+0/1:CONSUMER_WEIGHT",
                "p4.weight@0+0/1:PRODUCER_WEIGHT", "p4.bias@0+0/1:PRODUCER_BIAS");
        assertMembers(spec, "head.conv", 6, "head.conv.weight@0+0/1:PRODUCER_WEIGHT",
                "head.conv.bias@0+0/1:PRODUCER_BIAS", "head.logits.weight@1+0/1:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().contains("head.logits.weight[0]") && spec.fixed().contains("head.logits.bias"),
                "the outputs stay: " + spec.fixed());
    }

    @Test
    void concatenationPlacesEachSpaceAtItsOffset() {
        GraphBuilder b = new GraphBuilder("concat");
        String x = b.image("input", 3, 8, false);
        String a1 = b.conv("a", x, 4, 1, 1, 0, false);
        String a2 = b.conv("b", x, 6, 3, 1, 1, false);
        String y = b.concat("cat", List.of(a1, a2), 1, true);
        y = b.act("relu", b.batchNorm("bn", y), Op.Activation.RELU);
        y = b.conv("c", y, 5, 1, 1, 0, false);
        PermutationSpec spec = ChannelSpaces.derive(b.build(y));

        assertGroups(spec, "a", "b");
        assertMembers(spec, "a", 4, "a.weight@0+0/1:PRODUCER_WEIGHT", "bn.weight@0+0/1:NORM_WEIGHT",
                "bn.bias@0+0/1:NORM_BIAS", "bn.running_mean@0+0/1:RUNNING_MEAN", "bn.running_var@0+0/1:RUNNING_VAR",
                "c.weight@1+0/1:CONSUMER_WEIGHT");
        assertMembers(spec, "b", 6, "b.weight@0+0/1:PRODUCER_WEIGHT", "bn.weight@0+4/1:NORM_WEIGHT",
                "bn.bias@0+4/1:NORM_BIAS", "bn.running_mean@0+4/1:RUNNING_MEAN", "bn.running_var@0+4/1:RUNNING_VAR",
                "c.weight@1+4/1:CONSUMER_WEIGHT");
    }

    @Test
    void depthwiseConvolutionMovesWithItsInput() {
        GraphBuilder b = new GraphBuilder("depthwise");
        String x = b.image("input", 3, 8, false);
        String y = b.act("relu1", b.batchNorm("bn1", b.conv("expand", x, 6, 1, 1, 0, false)), Op.Activation.RELU);
        // channel multiplier 2: each input channel owns 2 consecutive rows of the depthwise conv and of what follows
        y = b.conv("dw", y, 12, new long[] {3, 3}, 1, 1, 1, 6, true);
        y = b.act("relu2", b.batchNorm("bn2", y), Op.Activation.RELU);
        y = b.conv("project", y, 4, 1, 1, 0, false);
        PermutationSpec spec = ChannelSpaces.derive(b.build(y));

        assertGroups(spec, "expand");
        assertMembers(spec, "expand", 6, "expand.weight@0+0/1:PRODUCER_WEIGHT", "bn1.weight@0+0/1:NORM_WEIGHT",
                "bn1.bias@0+0/1:NORM_BIAS", "bn1.running_mean@0+0/1:RUNNING_MEAN", "bn1.running_var@0+0/1:RUNNING_VAR",
                "dw.weight@0+0/2:CHANNEL_WEIGHT", "dw.bias@0+0/2:CHANNEL_BIAS", "bn2.weight@0+0/2:NORM_WEIGHT",
                "bn2.bias@0+0/2:NORM_BIAS", "bn2.running_mean@0+0/2:RUNNING_MEAN", "bn2.running_var@0+0/2:RUNNING_VAR",
                "project.weight@1+0/2:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().contains("dw.weight[1]"), "the depthwise conv's single input column: " + spec.fixed());
    }

    @Test
    void squeezeExcitationJoinsTheSpaceItScales() {
        GraphBuilder b = new GraphBuilder("se");
        String x = b.image("input", 3, 8, false);
        String y = b.act("relu", b.conv("expand", x, 8, 1, 1, 0, false), Op.Activation.RELU);
        String s = b.adaptiveAvgPool("se.avgpool", y, 1);
        s = b.act("se.activation", b.conv("se.fc1", s, 2, 1, 1, 0, true), Op.Activation.RELU);
        s = b.act("se.scale_activation", b.conv("se.fc2", s, 8, 1, 1, 0, true), Op.Activation.HARDSIGMOID);
        y = b.conv("project", b.mul("se.mul", y, s), 4, 1, 1, 0, false);
        PermutationSpec spec = ChannelSpaces.derive(b.build(y));

        assertGroups(spec, "expand", "se.fc1");
        assertMembers(spec, "expand", 8, "expand.weight@0+0/1:PRODUCER_WEIGHT",
                "se.fc1.weight@1+0/1:CONSUMER_WEIGHT", "se.fc2.weight@0+0/1:PRODUCER_WEIGHT",
                "se.fc2.bias@0+0/1:PRODUCER_BIAS", "project.weight@1+0/1:CONSUMER_WEIGHT");
        assertMembers(spec, "se.fc1", 2, "se.fc1.weight@0+0/1:PRODUCER_WEIGHT", "se.fc1.bias@0+0/1:PRODUCER_BIAS",
                "se.fc2.weight@1+0/1:CONSUMER_WEIGHT");
    }

    @Test
    void packedAttentionHeadsAndTheTokenStream() {
        GraphBuilder b = new GraphBuilder("vit");
        String x = b.image("input", 3, 8, true);
        b.tensor("class_token", 1, 1, 8);
        x = b.toTokens("tokens", b.conv("conv_proj", x, 8, new long[] {4, 4}, 4, 0, 1, 1, true));
        String cls = b.param("class_token", "class_token", new long[] {1, 1, 8}, x);
        x = b.concat("cat", List.of(cls, x), 1, false);
        x = b.add("pos_add", x, b.param("pos_embedding", "pos_embedding", new long[] {1, 5, 8}, null));
        String y = b.attention("block.attn", b.layerNorm("block.ln", x, 1e-6), 2);
        x = b.add("block.add", y, x);
        y = b.select("token0", x, 1, 0);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.linear("head", y, 3, true)));

        assertGroups(spec, "stream.block", "block.attn.heads", "block.attn.qk_pass.0", "block.attn.qk_pass.1",
                "block.attn.v_dims.0", "block.attn.v_dims.1");
        // inside head 1: its q and k dimensions alike; its v dimensions with out_proj's columns
        assertMembers(spec, "block.attn.qk_pass.1", 4, "block.attn.in_proj_weight@0+4/1:PRODUCER_WEIGHT",
                "block.attn.in_proj_bias@0+4/1:PRODUCER_BIAS", "block.attn.in_proj_weight@0+12/1:PRODUCER_WEIGHT",
                "block.attn.in_proj_bias@0+12/1:PRODUCER_BIAS");
        assertMembers(spec, "block.attn.v_dims.1", 4, "block.attn.in_proj_weight@0+20/1:PRODUCER_WEIGHT",
                "block.attn.in_proj_bias@0+20/1:PRODUCER_BIAS", "block.attn.out_proj.weight@1+4/1:CONSUMER_WEIGHT");
        assertMembers(spec, "block.attn.heads", 2, "block.attn.in_proj_weight@0+0/4:PRODUCER_WEIGHT",
                "block.attn.in_proj_weight@0+8/4:PRODUCER_WEIGHT", "block.attn.in_proj_weight@0+16/4:PRODUCER_WEIGHT",
                "block.attn.in_proj_bias@0+0/4:PRODUCER_BIAS", "block.attn.in_proj_bias@0+8/4:PRODUCER_BIAS",
                "block.attn.in_proj_bias@0+16/4:PRODUCER_BIAS", "block.attn.out_proj.weight@1+0/4:CONSUMER_WEIGHT");
        assertMembers(spec, "stream.block", 8, "conv_proj.weight@0+0/1:PRODUCER_WEIGHT",
                "conv_proj.bias@0+0/1:PRODUCER_BIAS", "class_token@2+0/1:PARAMETER", "pos_embedding@2+0/1:PARAMETER",
                "block.ln.weight@0+0/1:NORM_WEIGHT", "block.ln.bias@0+0/1:NORM_BIAS",
                "block.attn.in_proj_weight@1+0/1:CONSUMER_WEIGHT", "block.attn.out_proj.weight@0+0/1:PRODUCER_WEIGHT",
                "block.attn.out_proj.bias@0+0/1:PRODUCER_BIAS", "head.weight@1+0/1:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().contains("pos_embedding[1]"), "positions stay in place: " + spec.fixed());
    }

    @Test
    void flattenMakesBlocksOfTheSpatialSize() {
        GraphBuilder b = new GraphBuilder("flatten");
        String x = b.image("input", 1, 6, true);
        x = b.maxPool("pool", b.act("relu", b.conv("conv", x, 4, 3, 1, 1, true), Op.Activation.RELU), 2, 2, 0);
        x = b.act("relu_fc", b.linear("fc1", b.flatten("flatten", x, 9), 7, true), Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.linear("fc2", x, 2, true)));

        assertGroups(spec, "conv", "fc1");
        assertMembers(spec, "conv", 4, "conv.weight@0+0/1:PRODUCER_WEIGHT", "conv.bias@0+0/1:PRODUCER_BIAS",
                "fc1.weight@1+0/9:CONSUMER_WEIGHT");
        assertMembers(spec, "fc1", 7, "fc1.weight@0+0/1:PRODUCER_WEIGHT", "fc1.bias@0+0/1:PRODUCER_BIAS",
                "fc2.weight@1+0/1:CONSUMER_WEIGHT");
    }

    @Test
    void anOpaqueNodePinsEverythingItTouches() {
        GraphBuilder b = new GraphBuilder("opaque");
        String x = b.image("input", 3, 8, false);
        String a = b.act("relu_a", b.conv("a", x, 4, 3, 1, 1, true), Op.Activation.RELU);
        String y = b.opaque("mystery", List.of(a), "Einsum", Map.of(), 4);
        y = b.act("relu_c", b.conv("c", y, 5, 3, 1, 1, true), Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", y, 2, 1, 1, 0, true)));

        assertGroups(spec, "c");
        assertMembers(spec, "c", 5, "c.weight@0+0/1:PRODUCER_WEIGHT", "c.bias@0+0/1:PRODUCER_BIAS",
                "d.weight@1+0/1:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().containsAll(List.of("a.weight[0]", "a.bias", "c.weight[1]")), "fixed: " + spec.fixed());
        assertTrue(spec.notes().stream().anyMatch(n -> n.contains("'mystery'") && n.contains("Einsum")), "notes: " + spec.notes());
    }

    @Test
    void aGroupedConvolutionMovesWholeGroupsAndTheChannelsInsideEachGroup() {
        GraphBuilder b = new GraphBuilder("grouped");
        String x = b.image("input", 3, 8, false);
        String y = b.act("relu_a", b.batchNorm("bn_a", b.conv("a", x, 4, 1, 1, 0, false)), Op.Activation.RELU);
        // 2 groups: 2 input channels each, 3 output channels each
        y = b.act("relu_g", b.batchNorm("bn_g", b.conv("g", y, 6, new long[] {3, 3}, 1, 1, 1, 2, true)), Op.Activation.RELU);
        y = b.act("relu_c", b.conv("c", y, 5, 1, 1, 0, false), Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", y, 2, 1, 1, 0, false)));

        assertGroups(spec, "a", "g.group.0", "g.group.1", "c");
        // whole groups: a's rows and bn_a in blocks of 2, g's rows and what reads them in blocks of 3
        assertMembers(spec, "a", 2, "a.weight@0+0/2:PRODUCER_WEIGHT", "bn_a.weight@0+0/2:NORM_WEIGHT",
                "bn_a.bias@0+0/2:NORM_BIAS", "bn_a.running_mean@0+0/2:RUNNING_MEAN",
                "bn_a.running_var@0+0/2:RUNNING_VAR", "g.weight@0+0/3:PRODUCER_WEIGHT", "g.bias@0+0/3:PRODUCER_BIAS",
                "bn_g.weight@0+0/3:NORM_WEIGHT", "bn_g.bias@0+0/3:NORM_BIAS", "bn_g.running_mean@0+0/3:RUNNING_MEAN",
                "bn_g.running_var@0+0/3:RUNNING_VAR", "c.weight@1+0/3:CONSUMER_WEIGHT");
        for (int k = 0; k < 2; k++) {
            String at = "+" + 3 * k + "/1";
            assertMembers(spec, "g.group." + k, 3, "g.weight@0" + at + ":PRODUCER_WEIGHT", "g.bias@0" + at + ":PRODUCER_BIAS",
                    "bn_g.weight@0" + at + ":NORM_WEIGHT", "bn_g.bias@0" + at + ":NORM_BIAS",
                    "bn_g.running_mean@0" + at + ":RUNNING_MEAN", "bn_g.running_var@0" + at + ":RUNNING_VAR",
                    "c.weight@1" + at + ":CONSUMER_WEIGHT");
        }
        assertEquals(Map.of("g.group.0", "a", "g.group.1", "a"), Nesting.of(spec).outers());
        // the input channels inside a group stay: the weight's second axis
        assertTrue(spec.fixed().contains("g.weight[1]"), "fixed: " + spec.fixed());
        assertTrue(spec.notes().isEmpty(), "notes: " + spec.notes());
    }

    @Test
    void groupsTiedToDifferentSpacesStayInPlaceButTheirChannelsMove() {
        GraphBuilder b = new GraphBuilder("grouped_tied");
        String x = b.image("input", 3, 8, false);
        String y = b.act("relu_a", b.conv("a", x, 4, 1, 1, 0, false), Op.Activation.RELU);
        y = b.conv("g", y, 6, new long[] {3, 3}, 1, 1, 1, 2, false);
        // group 0's channels are added to p's, group 1's to q's: swapping the groups would swap p and q
        String z = b.concat("cat", List.of(b.conv("p", x, 3, 1, 1, 0, false), b.conv("q", x, 3, 3, 1, 1, false)), 1, true);
        y = b.act("relu", b.add("add", y, z), Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", y, 2, 1, 1, 0, false)));

        assertGroups(spec, "stream.g.group.0", "stream.g.group.1");
        assertMembers(spec, "stream.g.group.1", 3, "g.weight@0+3/1:PRODUCER_WEIGHT", "q.weight@0+0/1:PRODUCER_WEIGHT",
                "d.weight@1+3/1:CONSUMER_WEIGHT");
        assertTrue(spec.fixed().containsAll(List.of("a.weight[0]", "g.weight[1]")), "fixed: " + spec.fixed());
        assertTrue(spec.notes().stream().anyMatch(n -> n.contains("'g'") && n.contains("not alike")), "notes: " + spec.notes());
    }

    @Test
    void aStreamCutByTheGroupsOfAGroupedConvolutionHasOneNamePerPiece() {
        GraphBuilder b = new GraphBuilder("grouped_into_stream");
        String x = b.image("input", 3, 8, false);
        String s = b.conv("p", x, 4, 1, 1, 0, false);
        String y = b.act("relu_a", b.conv("a", x, 4, 1, 1, 0, false), Op.Activation.RELU);
        // the grouped conv's output added to p's: p's channels are cut into the conv's two groups
        y = b.add("add", b.conv("g", y, 4, new long[] {3, 3}, 1, 1, 1, 2, false), s);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", b.act("relu", y, Op.Activation.RELU), 2, 1, 1, 0,
                false)));

        assertGroups(spec, "a", "stream.p[0:2]", "stream.p[2:4]");
        assertMembers(spec, "stream.p[2:4]", 2, "p.weight@0+2/1:PRODUCER_WEIGHT", "g.weight@0+2/1:PRODUCER_WEIGHT",
                "d.weight@1+2/1:CONSUMER_WEIGHT");
        // whole groups: a's rows in blocks of 2 with g's and p's rows and d's columns
        assertMembers(spec, "a", 2, "a.weight@0+0/2:PRODUCER_WEIGHT", "g.weight@0+0/2:PRODUCER_WEIGHT",
                "p.weight@0+0/2:PRODUCER_WEIGHT", "d.weight@1+0/2:CONSUMER_WEIGHT");
    }

    @Test
    void twoGroupedConvolutionsAddedTogetherMoveTheirGroupsAlike() {
        GraphBuilder b = new GraphBuilder("grouped_pair");
        String x = b.image("input", 3, 8, false);
        String y1 = b.conv("g1", b.act("r1", b.conv("a1", x, 4, 1, 1, 0, false), Op.Activation.RELU), 6,
                new long[] {3, 3}, 1, 1, 1, 2, false);
        String y2 = b.conv("g2", b.act("r2", b.conv("a2", x, 4, 1, 1, 0, false), Op.Activation.RELU), 6,
                new long[] {3, 3}, 1, 1, 1, 2, false);
        String y = b.act("relu", b.add("add", y1, y2), Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", y, 2, 1, 1, 0, false)));

        // group k of g1 and group k of g2 are one space: the whole groups of both convs' inputs move together
        assertGroups(spec, "a1", "stream.g1.group.0", "stream.g1.group.1");
        assertMembers(spec, "a1", 2, "a1.weight@0+0/2:PRODUCER_WEIGHT", "a2.weight@0+0/2:PRODUCER_WEIGHT",
                "g1.weight@0+0/3:PRODUCER_WEIGHT", "g2.weight@0+0/3:PRODUCER_WEIGHT", "d.weight@1+0/3:CONSUMER_WEIGHT");
        assertMembers(spec, "stream.g1.group.1", 3, "g1.weight@0+3/1:PRODUCER_WEIGHT", "g2.weight@0+3/1:PRODUCER_WEIGHT",
                "d.weight@1+3/1:CONSUMER_WEIGHT");
    }

    @Test
    void aGroupedConvolutionOfAConcatenationKeepsItsGroupsInPlace() {
        GraphBuilder b = new GraphBuilder("grouped_concat");
        String x = b.image("input", 3, 8, false);
        String y = b.concat("cat", List.of(b.conv("a1", x, 2, 1, 1, 0, false), b.conv("a2", x, 2, 1, 1, 0, false)), 1, true);
        y = b.act("relu_g", b.conv("g", b.act("relu", y, Op.Activation.RELU), 4, new long[] {3, 3}, 1, 1, 1, 2, false),
                Op.Activation.RELU);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("d", y, 2, 1, 1, 0, false)));

        assertGroups(spec, "g.group.0", "g.group.1");
        assertTrue(spec.fixed().containsAll(List.of("a1.weight[0]", "a2.weight[0]", "g.weight[1]")), "fixed: " + spec.fixed());
        assertTrue(spec.notes().stream().anyMatch(n -> n.contains("'g'") && n.contains("cannot cut")), "notes: " + spec.notes());
    }

    @Test
    void aSliceOfTheChannelsCutsTheirSpaceInTwo() {
        // YOLO's C2f: a conv's output chunked in two; the second half feeds a residual block; the halves and the
        // block's output are concatenated
        GraphBuilder b = new GraphBuilder("chunk");
        String x = b.image("input", 3, 8, false);
        String y = b.act("relu_a", b.batchNorm("bn_a", b.conv("a", x, 6, 1, 1, 0, false)), Op.Activation.RELU);
        String first = b.sliceChannels("chunk", y, 0, 2);
        String second = b.sliceChannels("chunk_1", y, 2, 4);
        String m = b.act("relu_m", b.conv("m", second, 4, 3, 1, 1, false), Op.Activation.RELU);
        m = b.add("m_add", second, b.conv("m2", m, 4, 3, 1, 1, false));
        y = b.concat("cat", List.of(first, second, m), 1, true);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("c", y, 5, 1, 1, 0, false)));

        assertGroups(spec, "a[0:2]", "stream.a", "m");
        assertMembers(spec, "a[0:2]", 2, "a.weight@0+0/1:PRODUCER_WEIGHT", "bn_a.weight@0+0/1:NORM_WEIGHT",
                "bn_a.bias@0+0/1:NORM_BIAS", "bn_a.running_mean@0+0/1:RUNNING_MEAN", "bn_a.running_var@0+0/1:RUNNING_VAR",
                "c.weight@1+0/1:CONSUMER_WEIGHT");
        // the second half: a's rows 2..5, the block reading it, the block's output added to it (read twice by c)
        assertMembers(spec, "stream.a", 4, "a.weight@0+2/1:PRODUCER_WEIGHT", "bn_a.weight@0+2/1:NORM_WEIGHT",
                "bn_a.bias@0+2/1:NORM_BIAS", "bn_a.running_mean@0+2/1:RUNNING_MEAN", "bn_a.running_var@0+2/1:RUNNING_VAR",
                "m.weight@1+0/1:CONSUMER_WEIGHT", "m2.weight@0+0/1:PRODUCER_WEIGHT", "c.weight@1+2/1:CONSUMER_WEIGHT",
                "c.weight@1+6/1:CONSUMER_WEIGHT");
        assertTrue(spec.notes().isEmpty(), "notes: " + spec.notes());
    }

    @Test
    void aSliceThatCutsABlockKeepsItsChannelsInPlace() {
        GraphBuilder b = new GraphBuilder("chunk_block");
        String x = b.image("input", 3, 8, false);
        // a depthwise conv with channel multiplier 2: each neuron owns 2 channels; a slice of 3 cuts one
        String y = b.conv("dw", b.conv("a", x, 4, 1, 1, 0, false), 8, new long[] {3, 3}, 1, 1, 1, 4, false);
        y = b.sliceChannels("slice", y, 0, 3);
        PermutationSpec spec = ChannelSpaces.derive(b.build(b.conv("c", y, 5, 1, 1, 0, false)));

        assertGroups(spec);
        assertTrue(spec.notes().stream().anyMatch(n -> n.contains("'slice'") && n.contains("cuts a neuron's block")),
                "notes: " + spec.notes());
    }

    private static void assertGroups(PermutationSpec spec, String... names) {
        assertEquals(List.of(names), spec.groups().stream().map(Group::name).toList());
    }

    private static void assertMembers(PermutationSpec spec, String group, long size, String... members) {
        Group g = spec.group(group).orElseThrow();
        assertEquals(size, g.size(), group);
        TreeSet<String> actual = new TreeSet<>();
        for (Member m : g.members()) {
            actual.add(m.tensor() + "@" + m.axis() + "+" + m.offset() + "/" + m.block() + ":" + m.role());
        }
        assertEquals(new TreeSet<>(List.of(members)), actual, group);
        assertEquals(members.length, g.members().size(), group + ": a member listed twice");
    }
}
