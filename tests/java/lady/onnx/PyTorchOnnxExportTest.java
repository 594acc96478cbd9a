package lady.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.data.Digits;
import lady.model.Models;
import lady.paper.Paper;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.report.Json;

/**
 * {@link PyTorchExportChecks} on a small network no library ships (residual add, concatenation of two
 * branches one of which has a depthwise conv, squeeze-excitation, pool -> flatten -> linear; trained for a
 * few steps on the built-in digits) and torchvision's MobileNetV3-Small (64 x 64 inputs), plus
 * {@code lady eval} on the small network's exports against PyTorch's error on the same test digits. Its
 * folded export has a fixed batch of 2, so the evaluation also runs through padded chunks. With
 * {@link PyTorchPermutationChecks} (permute, resync, specs) and the small network's spec written out by hand.
 * About a minute; skipped without python3-torch, -torchvision and -onnx.
 */
class PyTorchOnnxExportTest extends PyTorchPermutationChecks {
    private static final int EVAL_IMAGES = 500;
    /** ONNX Runtime and PyTorch may disagree on an arg-max near a tie: at most one image of 500. */
    private static final int MAX_FLIPS = 1;

    @Override
    Map<String, Integer> models() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("lady_net", 32);
        m.put("mobilenet_v3_small", 64);
        return m;
    }

    @Override
    void moreParams(Map<String, Object> p) {
        p.put("static_batch", List.of("lady_net-folded"));
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("train", PythonTorch.root().resolve("resources" + Digits.TRAIN_RESOURCE).toString());
        d.put("test", PythonTorch.root().resolve("resources" + Digits.TEST_RESOURCE).toString());
        d.put("mean", floats(Paper.CIFAR_MEAN));
        d.put("std", floats(Paper.CIFAR_STD));
        d.put("train_images", 2048);
        d.put("steps", 80);
        d.put("batch_size", 32);
        d.put("lr", Paper.DIGITS_RECIPE_LR);
        d.put("momentum", Paper.TRAIN_MOMENTUM);
        d.put("eval_images", EVAL_IMAGES);
        p.put("digits", d);
    }

    private static List<Double> floats(float[] v) {
        List<Double> l = new java.util.ArrayList<>();
        for (float f : v) {
            l.add((double) f);
        }
        return l;
    }

    /**
     * The groups of the small network, written out by hand: the residual stream (stem, the residual branch's
     * last conv, the depthwise conv that reads it), the residual branch's inner conv, the two concatenated
     * branches, each with its share of the excitation's rows (fc2 rows 0..15 and 16..23) and of the columns of
     * the layers that read the concatenation, the excitation's hidden units, and the last conv, whose channels
     * own blocks of 4 x 4 columns of fc. Folding batch norm leaves the same groups with the convs' new biases.
     */
    @Test
    void theSmallNetworksGroupsAreTheHandWrittenOnes() {
        Map<String, List<String>> want = new LinkedHashMap<>();
        want.put("stream./res_conv2:16", List.of("stem.0.weight[0]@0/1", "stem.1.*", "res_conv1.0.weight[1]@0/1",
                "res_conv2.weight[0]@0/1", "res_bn2.*", "branch_a.0.weight[1]@0/1", "branch_b_dw.0.weight[0]@0/1",
                "branch_b_dw.1.*", "branch_b_pw.0.weight[1]@0/1"));
        want.put("/res_conv1/res_conv1.0/Conv:16", List.of("res_conv1.0.weight[0]@0/1", "res_conv1.1.*",
                "res_conv2.weight[1]@0/1"));
        want.put("/branch_a/branch_a.0/Conv:16", List.of("branch_a.0.weight[0]@0/1", "branch_a.1.*", "se_fc1.weight[1]@0/1",
                "se_fc2.weight[0]@0/1", "se_fc2.bias[0]@0/1", "down.0.weight[1]@0/1"));
        want.put("/branch_b_pw/branch_b_pw.0/Conv:8", List.of("branch_b_pw.0.weight[0]@0/1", "branch_b_pw.1.*",
                "se_fc1.weight[1]@16/1", "se_fc2.weight[0]@16/1", "se_fc2.bias[0]@16/1", "down.0.weight[1]@16/1"));
        want.put("/se_fc1/Gemm:8", List.of("se_fc1.weight[0]@0/1", "se_fc1.bias[0]@0/1", "se_fc2.weight[1]@0/1"));
        want.put("/down/down.0/Conv:32", List.of("down.0.weight[0]@0/1", "down.1.*", "fc.weight[1]@0/16"));
        Path kept = file("lady_net", "kept");
        PermutationSpec spec = Models.spec(Onnx.read(kept).stateDict(), null, null, kept);
        Map<String, List<String>> got = new LinkedHashMap<>();
        for (Group g : spec.groups()) {
            List<String> members = new ArrayList<>();
            for (Member m : g.members()) {
                String bn = m.role().isNorm() ? m.tensor().substring(0, m.tensor().lastIndexOf('.')) + ".*" : null;
                String s = bn != null ? bn : m.tensor() + "[" + m.axis() + "]@" + m.offset() + "/" + m.block();
                if (!members.contains(s)) {
                    members.add(s);
                }
            }
            got.put(g.name() + ":" + g.size(), members);
        }
        assertEquals(want, got);
        assertEquals(Set.of("stem.0.weight[1]", "branch_b_dw.0.weight[1]", "fc.weight[0]", "fc.bias"), spec.fixed());
        assertEquals(List.of(), spec.notes());
    }

    @Test
    @SuppressWarnings("unchecked")
    void ladyEvalOnTheExportsGivesPyTorchsError() {
        Map<String, Object> py = (Map<String, Object>) manifest.get("eval");
        int pyErrors = ((Number) py.get("errors")).intValue();
        assertEquals(EVAL_IMAGES, ((Number) py.get("images")).intValue());
        assertTrue(pyErrors < EVAL_IMAGES * 0.5, "the network learned nothing (" + pyErrors + " errors): a weak comparison");
        for (String mode : MODES) {
            CliRun r = CliRun.of("eval", "--model", file("lady_net", mode).toString(), "--data", "digits", "--limit",
                    Integer.toString(EVAL_IMAGES), "--format", "json");
            assertEquals(0, r.code(), r.err());
            Map<String, Object> lady = (Map<String, Object>) Json.parse(r.out().trim());
            assertEquals("onnx", lady.get("architecture"));
            assertEquals(EVAL_IMAGES, ((Number) lady.get("images")).intValue());
            int errors = ((Number) lady.get("errors")).intValue();
            System.err.printf("lady_net %s: lady eval %d errors, PyTorch %d, of %d test digits%n", mode, errors, pyErrors,
                    EVAL_IMAGES);
            assertTrue(Math.abs(errors - pyErrors) <= MAX_FLIPS, mode + ": lady eval " + errors + ", PyTorch " + pyErrors);
        }
    }
}
