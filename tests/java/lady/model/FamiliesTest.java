package lady.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;

/**
 * The torchvision families beyond VGG and ResNet (MobileNetV3, ViT, DeepLabV3, DenseNet) without Python:
 * torchvision's parameter counts and shapes, recognition from names and shapes alone (any classes, any
 * width), the groups the graph gives, the errors for checkpoints that fit no family, and a permutation of
 * every group keeping a new model's outputs. {@code PythonFamiliesTest} checks the same families against
 * torchvision itself.
 */
class FamiliesTest {
    private static final List<String> NAMES = List.of("mobilenet_v3_large", "mobilenet_v3_small", "vit_b_16", "vit_b_32",
            "vit_l_16", "vit_l_32", "vit_h_14", "deeplabv3_resnet50", "deeplabv3_resnet101", "densenet121", "densenet161",
            "densenet169", "densenet201", "alexnet", "squeezenet1_0", "squeezenet1_1", "googlenet", "inception_v3");

    @BeforeAll
    static void oneThread() {
        ModelTesting.singleThread();
    }

    @AfterAll
    static void threadsBack() {
        ModelTesting.restoreThreads();
    }

    private static long parameters(Map<String, long[]> shapes) {
        return shapes.entrySet().stream().filter(e -> !e.getKey().contains("running_") && !e.getKey().endsWith("tracked")
                && !e.getKey().endsWith("relative_position_index") && !e.getKey().endsWith("relative_coords_table")) // (buffers)
                .mapToLong(e -> Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b)).sum();
    }

    @Test
    void parameterCountsAreTorchvisions() {
        // torchvision 0.14's num_params of each ImageNet model at 224 x 224
        Map<String, Long> expected = new LinkedHashMap<>();
        expected.put("mobilenet_v3_large", 5_483_032L);
        expected.put("mobilenet_v3_small", 2_542_856L);
        expected.put("vit_b_16", 86_567_656L);
        expected.put("vit_b_32", 88_224_232L);
        expected.put("vit_l_16", 304_326_632L);
        expected.put("vit_l_32", 306_535_400L);
        expected.put("vit_h_14", 632_045_800L);
        expected.put("densenet121", 7_978_856L);
        expected.put("densenet161", 28_681_000L);
        expected.put("densenet169", 14_149_480L);
        expected.put("densenet201", 20_013_928L);
        expected.put("convnext_tiny", 28_589_128L);
        expected.put("convnext_small", 50_223_688L);
        expected.put("convnext_base", 88_591_464L);
        expected.put("convnext_large", 197_767_336L);
        expected.put("alexnet", 61_100_840L);
        expected.put("squeezenet1_0", 1_248_424L);
        expected.put("squeezenet1_1", 1_235_496L);
        expected.put("mnasnet0_5", 2_218_512L);
        expected.put("mnasnet0_75", 3_170_208L);
        expected.put("mnasnet1_0", 4_383_312L);
        expected.put("mnasnet1_3", 6_282_256L);
        expected.put("googlenet", 13_004_888L); // with the two auxiliary heads, as a new torchvision model has them
        expected.put("inception_v3", 27_161_264L); // with AuxLogits
        expected.put("shufflenet_v2_x0_5", 1_366_792L);
        expected.put("shufflenet_v2_x1_0", 2_278_604L);
        expected.put("shufflenet_v2_x1_5", 3_503_624L);
        expected.put("shufflenet_v2_x2_0", 7_393_996L);
        expected.put("swin_t", 28_288_354L);
        expected.put("swin_s", 49_606_258L);
        expected.put("swin_b", 87_768_224L);
        expected.put("swin_v2_t", 28_351_570L);
        expected.put("swin_v2_s", 49_737_442L);
        expected.put("swin_v2_b", 87_930_848L);
        long[] efficientnets = {5_288_548L, 7_794_184L, 9_109_994L, 12_233_232L, 19_341_616L, 30_389_784L, 43_040_704L,
            66_347_960L};
        for (int v = 0; v < efficientnets.length; v++) {
            expected.put("efficientnet_b" + v, efficientnets[v]);
        }
        expected.put("maxvit_t", 30_919_624L);
        expected.put("efficientnet_v2_s", 21_458_488L);
        expected.put("efficientnet_v2_m", 54_139_356L);
        expected.put("efficientnet_v2_l", 118_515_272L);
        expected.put("r3d_18", 33_371_472L + 512 * 600 + 600); // torchvision's counts of the video ResNets are for Kinetics-400's 400 classes
        expected.put("mc3_18", 11_695_440L + 512 * 600 + 600);
        expected.put("r2plus1d_18", 31_505_325L + 512 * 600 + 600);
        expected.forEach((name, count) -> assertEquals(count, parameters(Models.describe(name,
                ModelOptions.defaults().withClasses(1000).withInput(3, 224)).tensorShapes()), name));
        // DeepLabV3 (COCO weights: 21 classes, 42,004,074 and 60,996,202 with the aux head): a new model has no
        // aux head (torchvision's default), which is 1024*256*9 + 2*256 + 256*21 + 21 = 2,365,205 parameters
        assertEquals(42_004_074L - 2_365_205L, parameters(Models.describe("deeplabv3_resnet50",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
        assertEquals(60_996_202L - 2_365_205L, parameters(Models.describe("deeplabv3_resnet101",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
        // the dilated MobileNetV3-Large under DeepLabV3's head (without the aux head) and LR-ASPP, 21 classes
        assertEquals(11_025_477L, parameters(Models.describe("deeplabv3_mobilenet_v3_large",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
        assertEquals(3_221_538L, parameters(Models.describe("lraspp_mobilenet_v3_large",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
        // torchvision's detectors: COCO's 91 classes (Keypoint R-CNN: 2 classes, 17 keypoints)
        Map<String, Long> detectors = new LinkedHashMap<>();
        detectors.put("fasterrcnn_resnet50_fpn", 41_808_406L);
        detectors.put("fasterrcnn_resnet50_fpn_v2", 43_712_278L);
        detectors.put("maskrcnn_resnet50_fpn", 44_454_513L);
        detectors.put("maskrcnn_resnet50_fpn_v2", 46_359_409L);
        detectors.put("keypointrcnn_resnet50_fpn", 59_190_378L);
        detectors.put("retinanet_resnet50_fpn", 34_068_119L);
        detectors.put("retinanet_resnet50_fpn_v2", 38_198_935L);
        detectors.put("fcos_resnet50_fpn", 32_322_720L);
        detectors.put("fasterrcnn_mobilenet_v3_large_fpn", 19_410_754L); // and _320_fpn: the same weights
        detectors.put("ssd300_vgg16", 35_641_826L);
        detectors.put("ssdlite320_mobilenet_v3_large", 3_440_060L); // (its backbone's reduced tail)
        detectors.forEach((name, count) -> assertEquals(count, parameters(Models.describe(name, ModelOptions.defaults()
                .withClasses(name.startsWith("keypoint") ? 2 : 91).withInput(3, 300)).tensorShapes()), name));
        // FCN (COCO weights: 35,322,218 and 54,314,346 with the aux head)
        assertEquals(35_322_218L - 2_365_205L, parameters(Models.describe("fcn_resnet50",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
        assertEquals(54_314_346L - 2_365_205L, parameters(Models.describe("fcn_resnet101",
                ModelOptions.defaults().withClasses(21)).tensorShapes()));
    }

    @Test
    void everyNameIsRecognizedFromItsShapesWithItsClassesAndWidths() {
        for (String name : NAMES) {
            for (double width : new double[] {1.0, 0.5}) {
                ModelOptions options = ModelOptions.defaults().withClasses(7).withWidth(width);
                Map<String, long[]> shapes = Models.describe(name, options).tensorShapes();
                ModelConfig config = Models.infer(shapes, null);
                assertEquals(name, config.architecture(), name + " width " + width);
                assertEquals(7, config.options().numClasses(), name);
                assertEquals(7, config.description().numClasses(), name);
                Map<String, long[]> back = config.description().tensorShapes();
                assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
                shapes.forEach((t, s) -> assertArrayEquals(s, back.get(t), name + " width " + width + ": " + t));
            }
        }
    }

    /** The single-shot detectors are recognized from their shapes, with their classes (anchors times classes rows). */
    @Test
    void singleShotDetectorsAreRecognizedWithTheirClasses() {
        for (String name : List.of("ssd300_vgg16", "ssdlite320_mobilenet_v3_large")) {
            Map<String, long[]> shapes = Models.describe(name, ModelOptions.defaults().withClasses(7).withInput(3, 300))
                    .tensorShapes();
            ModelConfig config = Models.infer(shapes, null);
            assertEquals(name, config.architecture());
            assertEquals(7, config.options().numClasses(), name);
            Map<String, long[]> back = config.description().tensorShapes();
            assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
            shapes.forEach((t, s) -> assertArrayEquals(s, back.get(t), name + ": " + t));
        }
        LadyException e = assertThrows(LadyException.class, () -> Models.describe("ssd300_vgg16", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("at least 268 pixels"), e.getMessage());
    }

    /**
     * CLIP and SigLIP (openai/clip-vit-base-patch32's and google/siglip-base-patch16-224's sizes) and their towers are
     * recognized from their shapes; their heads come from config.json (text_config's and vision_config's), and weights
     * without it are refused in one line saying so.
     */
    @Test
    void clipIsRecognizedWithItsConfigsHeads() {
        Map<String, Object> config = Map.of("text_config", Map.of("num_attention_heads", 8), "vision_config",
                Map.of("num_attention_heads", 12));
        for (String name : List.of("clip", "clip_text", "clip_vision", "siglip", "siglip_text", "siglip_vision")) {
            Map<String, long[]> shapes = Models.describe(name, ModelOptions.defaults().withInput(3, 224)).tensorShapes();
            ModelConfig c = Models.infer(shapes, null, name.endsWith("_vision") ? Map.of("num_attention_heads", 12)
                    : name.equals("clip_text") ? Map.of("num_attention_heads", 8) : name.equals("siglip_text")
                    ? Map.of("num_attention_heads", 12) : config);
            assertEquals(name, c.architecture());
            Map<String, long[]> back = c.description().tensorShapes();
            assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
            LadyException e = assertThrows(LadyException.class, () -> Models.infer(shapes, null));
            assertTrue(e.getMessage().contains("no config.json came with these weights"), e.getMessage());
        }
        // a CLIPModel's heads: 8 of 64 in the text tower, 12 of 64 in the vision tower
        Map<String, long[]> shapes = Models.describe("clip", ModelOptions.defaults().withInput(3, 224)).tensorShapes();
        PermutationSpec spec = Models.infer(shapes, null, config).description().permutationSpec();
        assertEquals(8, spec.group("text_model.encoder.layers.0.self_attn.kv_heads").orElseThrow().size());
        assertEquals(12, spec.group("vision_model.encoder.layers.0.self_attn.kv_heads").orElseThrow().size());
    }

    /**
     * T5's encoder (t5-small's sizes) is recognized from its shapes with config.json's heads; a whole T5 (t5-small: its
     * decoder, the head tied) too, with t5-small's parameter count, one order of heads per stack's self-attention (the
     * bias tables) and one per block's cross-attention, and one residual stream for both stacks.
     */
    @Test
    void t5EncoderAndWholeT5AreRecognized() {
        Map<String, long[]> shapes = Models.describe("t5_encoder", ModelOptions.defaults()).tensorShapes();
        ModelConfig c = Models.infer(shapes, null, Map.of("num_heads", 8));
        assertEquals("t5_encoder", c.architecture());
        assertEquals(List.copyOf(shapes.keySet()), List.copyOf(c.description().tensorShapes().keySet()));
        // the heads share block 0's bias table: one group for every block's heads
        assertEquals(1, c.description().permutationSpec().groups().stream().filter(g -> g.members().stream()
                .anyMatch(m -> m.tensor().endsWith("relative_attention_bias.weight"))).count());
        Map<String, long[]> whole = Models.describe("t5", ModelOptions.defaults()).tensorShapes();
        assertEquals(60_506_624L, parameters(whole)); // transformers' t5-small (the head tied to shared)
        ModelConfig w = Models.infer(whole, null, Map.of("num_heads", 8));
        assertEquals("t5", w.architecture());
        PermutationSpec spec = w.description().permutationSpec();
        assertEquals(2, spec.groups().stream().filter(g -> g.members().stream()
                .anyMatch(m -> m.tensor().endsWith("relative_attention_bias.weight"))).count());
        for (int i = 0; i < 6; i++) {
            assertEquals(8, spec.group("decoder.block." + i + ".layer.1.EncDecAttention.kv_heads").orElseThrow().size());
        }
        // the stream: the embedding's columns, every norm's weight in both stacks, every cross-attention's k columns
        lady.permutation.Group stream = spec.groups().stream().filter(g -> g.members().stream()
                .anyMatch(m -> m.tensor().equals("shared.weight"))).findFirst().orElseThrow();
        assertTrue(stream.members().stream().anyMatch(m -> m.tensor().equals("encoder.final_layer_norm.weight")));
        assertTrue(stream.members().stream().anyMatch(m -> m.tensor().equals("decoder.final_layer_norm.weight")));
        assertTrue(stream.members().stream().anyMatch(m -> m.tensor().equals(
                "decoder.block.5.layer.1.EncDecAttention.k.weight") && m.axis() == 1));
    }

    /**
     * BART (bart-base's sizes: its parameter count, plus the final_logits_bias buffer) is recognized with config.json's
     * heads, not as OPT (whose decoder names it shares); mBART, PEGASUS and Marian by their layout where config.json gives
     * no model type; a Marian checkpoint without its sinusoidal positions is refused in a line saying why.
     */
    @Test
    void bartLineageIsRecognized() {
        Map<String, long[]> shapes = Models.describe("bart", ModelOptions.defaults()).tensorShapes();
        assertEquals(139_420_416L + 50_265L, parameters(shapes));
        Map<String, Object> heads = Map.of("encoder_attention_heads", 12, "decoder_attention_heads", 12);
        ModelConfig c = Models.infer(shapes, null, heads);
        assertEquals("bart", c.architecture());
        assertEquals(List.copyOf(shapes.keySet()), List.copyOf(c.description().tensorShapes().keySet()));
        PermutationSpec spec = c.description().permutationSpec();
        assertEquals(12, spec.group("model.decoder.layers.5.encoder_attn.kv_heads").orElseThrow().size());
        assertEquals(3072, spec.group("model.encoder.layers.0.fc1").orElseThrow().size());
        for (String name : List.of("mbart", "pegasus", "marian")) {
            assertEquals(name, Models.infer(Models.describe(name, ModelOptions.defaults()).tensorShapes(), null, heads)
                    .architecture());
        }
        Map<String, long[]> marian = new LinkedHashMap<>(Models.describe("marian", ModelOptions.defaults()).tensorShapes());
        marian.remove("model.decoder.embed_positions.weight");
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(marian, null, Map.of("model_type", "marian",
                "encoder_attention_heads", 12, "decoder_attention_heads", 12)));
        assertTrue(e.getMessage().contains("sinusoidal positions") && e.getMessage().lines().count() <= 2, e.getMessage());
        Map<String, long[]> classifier = new LinkedHashMap<>(Models.describe("bart", ModelOptions.defaults()).tensorShapes());
        classifier.remove("lm_head.weight");
        classifier.put("classification_head.out_proj.weight", new long[] {3, 768});
        LadyException c3 = assertThrows(LadyException.class, () -> Models.infer(classifier, null, heads));
        assertTrue(c3.getMessage().contains("sequence classifier") && c3.getMessage().lines().count() <= 2,
                c3.getMessage());
        // M2M100 (NLLB): its sinusoids computed, not saved, fix the stream's order; the rest moves
        ModelConfig m2m = Models.infer(Models.describe("m2m100", ModelOptions.defaults()).tensorShapes(), null, heads);
        assertEquals("m2m100", m2m.architecture());
        PermutationSpec fixedStream = m2m.description().permutationSpec();
        assertTrue(fixedStream.groups().stream().noneMatch(g -> g.members().stream()
                .anyMatch(m -> m.tensor().equals("model.shared.weight"))));
        assertTrue(fixedStream.notes().stream().anyMatch(n -> n.contains("sinusoidal positions computed")));
        assertEquals(3072, fixedStream.group("model.decoder.layers.5.fc1").orElseThrow().size());
    }

    /**
     * Whisper (whisper-tiny's sizes: its parameter count) is recognized with config.json's heads: its log-mel input a
     * sequence of 80 channels and 3000 frames, the first convolution's channels a group, the encoder's stream (the
     * second convolution's rows, the sinusoids' columns) and the decoder's (its embedding) two groups.
     */
    @Test
    void whisperIsRecognized() {
        Map<String, long[]> shapes = Models.describe("whisper", ModelOptions.defaults()).tensorShapes();
        assertEquals(37_760_640L, parameters(shapes)); // transformers' whisper-tiny (proj_out tied)
        ModelConfig c = Models.infer(shapes, null, Map.of("encoder_attention_heads", 6, "decoder_attention_heads", 6));
        assertEquals("whisper", c.architecture());
        assertEquals(List.copyOf(shapes.keySet()), List.copyOf(c.description().tensorShapes().keySet()));
        lady.graph.Graph.Input in = c.description().graph().inputs().get(0);
        assertEquals(List.of(lady.graph.Graph.Input.Kind.SEQUENCE, 80L, 3000L), List.of(in.kind(), in.channels(),
                in.size()));
        PermutationSpec spec = c.description().permutationSpec();
        assertEquals(384, spec.group("model.encoder.conv1").orElseThrow().size());
        lady.permutation.Group encoder = spec.groups().stream().filter(g -> g.members().stream()
                .anyMatch(m -> m.tensor().equals("model.encoder.conv2.weight") && m.axis() == 0)).findFirst().orElseThrow();
        assertTrue(encoder.members().stream().anyMatch(m -> m.tensor().equals("model.encoder.embed_positions.weight")
                && m.axis() == 1));
        assertTrue(encoder.members().stream().noneMatch(m -> m.tensor().equals("model.decoder.embed_tokens.weight")));
    }

    /**
     * MaxViT-T is recognized by its sizes; at half its width it is "maxvit", read with its own sizes (the same tensors
     * back, in the state-dict order), and its probe side is the smallest its partitions allow (7 x 2^5 = 224).
     */
    @Test
    void maxvitIsRecognizedByItsSizes() {
        for (double width : new double[] {1.0, 0.5}) {
            Map<String, long[]> shapes = Models.describe("maxvit_t", ModelOptions.defaults().withClasses(7).withWidth(width))
                    .tensorShapes();
            ModelConfig config = Models.infer(shapes, null);
            assertEquals(width == 1.0 ? "maxvit_t" : "maxvit", config.architecture());
            assertEquals(7, config.options().numClasses());
            assertEquals(224, config.options().inputSize());
            Map<String, long[]> back = config.description().tensorShapes();
            assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), "width " + width + ": state-dict order");
            shapes.forEach((t, s) -> assertArrayEquals(s, back.get(t), "width " + width + ": " + t));
        }
    }

    /** Swin's named sizes are recognized by their widths, depths and heads, with the state-dict order; groups of swin_t. */
    @Test
    void swinSizesAreRecognizedByName() {
        for (String name : List.of("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b")) {
            for (double width : new double[] {1.0, 0.5}) {
                Map<String, long[]> shapes = Models.describe(name, ModelOptions.defaults().withClasses(7).withWidth(width))
                        .tensorShapes();
                ModelConfig config = Models.infer(shapes, null);
                assertEquals(width == 1.0 ? name : name.contains("v2") ? "swin_v2" : "swin", config.architecture(),
                        name + " width " + width);
                // a width multiplier scales the embedding once: each merging doubles it, the MLPs are 4 times it
                long c = shapes.get("features.0.0.weight")[0];
                assertEquals(2 * c, shapes.get("features.2.reduction.weight")[0], name);
                assertEquals(8 * c, shapes.get("features.3.0.mlp.0.weight")[0], name);
                Map<String, long[]> back = config.description().tensorShapes();
                assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
                shapes.forEach((t, sh) -> assertArrayEquals(sh, back.get(t), name + " width " + width + ": " + t));
            }
        }
        PermutationSpec t = Models.describe("swin_t", ModelOptions.defaults()).permutationSpec();
        // 4 streams; per block the heads, each head's q/k and v dimensions, the MLP
        long blocks = 2 + 2 + 6 + 2;
        long headGroups = 2 * 3 + 2 * 6 + 6 * 12 + 2 * 24;
        assertEquals(4 + 2 * blocks + 2 * headGroups, t.groups().size());
        assertTrue(t.notes().isEmpty(), t.notes().toString());
        Group heads = t.group("features.5.3.attn.kv_heads").orElseThrow();
        assertEquals(12, heads.size());
        assertTrue(heads.members().stream().anyMatch(m -> m.tensor().equals("features.5.3.attn.relative_position_bias_table")
                && m.axis() == 1), heads.members().toString());
        // the merging's norm and reduction read the stage's stream at four offsets
        Group stream = t.group("stream.features.3").orElseThrow();
        assertEquals(4, stream.members().stream().filter(m -> m.tensor().equals("features.4.reduction.weight")).count());
    }

    /**
     * EfficientNetV2's sizes are told apart by their stage counts and stem widths, EfficientNet-B0..B7 by their stem
     * and last widths and block counts, MNASNet's by their stem widths, with the state-dict order.
     */
    @Test
    void efficientnetV2AndMnasnetSizesAreRecognizedByName() {
        for (String name : List.of("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l", "efficientnet_b0",
                "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5",
                "efficientnet_b6", "efficientnet_b7", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3",
                "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0")) {
            Map<String, long[]> shapes = Models.describe(name, ModelOptions.defaults().withClasses(7)).tensorShapes();
            ModelConfig config = Models.infer(shapes, null);
            assertEquals(name, config.architecture());
            Map<String, long[]> back = config.description().tensorShapes();
            assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
            shapes.forEach((t, sh) -> assertArrayEquals(sh, back.get(t), name + ": " + t));
        }
    }

    /** ConvNeXt's named sizes are recognized by their widths and depths; any other sizes as "convnext", exactly. */
    @Test
    void convnextSizesAreRecognizedByName() {
        for (String name : List.of("convnext_tiny", "convnext_small", "convnext_base", "convnext_large")) {
            for (double width : new double[] {1.0, 0.5}) {
                Map<String, long[]> shapes = Models.describe(name, ModelOptions.defaults().withClasses(7).withWidth(width))
                        .tensorShapes();
                ModelConfig config = Models.infer(shapes, null);
                // (half of convnext_large is convnext_small, widths and depths alike)
                // a width multiplier scales the stages once: the MLPs stay 4 times their stage
                assertEquals(4 * shapes.get("features.5.0.block.0.weight")[0], shapes.get("features.5.0.block.3.weight")[0]);
                String expected = width == 1.0 ? name : name.equals("convnext_large") ? "convnext_small" : "convnext";
                assertEquals(expected, config.architecture(), name + " width " + width);
                Map<String, long[]> back = config.description().tensorShapes();
                assertEquals(List.copyOf(shapes.keySet()), List.copyOf(back.keySet()), name + ": state-dict order");
                shapes.forEach((t, sh) -> assertArrayEquals(sh, back.get(t), name + " width " + width + ": " + t));
            }
        }
        PermutationSpec tiny = Models.describe("convnext_tiny", ModelOptions.defaults()).permutationSpec();
        assertEquals(4 + 18, tiny.groups().size(), tiny.groups().stream().map(Group::name).toList().toString()); // streams, blocks
        assertTrue(tiny.notes().isEmpty(), tiny.notes().toString());
        assertEquals(768, tiny.group("stream.features.7").orElseThrow().size());
        assertEquals(4 * 384, tiny.group("features.5.8.block.3").orElseThrow().size());
        LadyException e = assertThrows(LadyException.class, () -> Models.describe("convnext", ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("checkpoint"), e.getMessage());
    }

    @Test
    void vitInputSizeComesFromThePositionEmbedding() {
        Map<String, long[]> shapes = Models.describe("vit_b_16", ModelOptions.defaults().withInput(3, 64)).tensorShapes();
        assertArrayEquals(new long[] {1, 17, 768}, shapes.get("encoder.pos_embedding"));
        ModelConfig config = Models.infer(shapes, null);
        assertEquals(64, config.options().inputSize());
        assertTrue(config.description().fixedInputSize());
        // an odd size is rounded down to whole patches, as torchvision asks for
        assertEquals(48, Models.describe("vit_b_16", ModelOptions.defaults().withInput(3, 63)).inputSize());
    }

    @Test
    void groupsFollowTheGraphs() {
        // (ViT-B/16: per block the heads, inside each of its 12 heads the q/k and the v dimensions, the MLP)
        Map<String, Integer> groups = Map.of("vit_b_16", 1 + 12 * (1 + 2 * 12 + 1), "densenet121", 1 + 58 * 2 + 3,
                "deeplabv3_resnet50", 37 + 5 + 1 + 1, "mobilenet_v3_small", 27, "mobilenet_v3_large", 30);
        groups.forEach((name, count) -> {
            PermutationSpec spec = Models.describe(name, ModelOptions.defaults()).permutationSpec();
            assertEquals(count, spec.groups().size(), name + ": " + spec.groups().stream().map(Group::name).toList());
            assertTrue(spec.notes().isEmpty(), name + ": " + spec.notes());
        });
        PermutationSpec vit = Models.describe("vit_b_16", ModelOptions.defaults()).permutationSpec();
        Group heads = vit.group("encoder.layers.encoder_layer_3.self_attention.heads").orElseThrow();
        assertEquals(12, heads.size());
        assertEquals(7, heads.members().size()); // q, k, v rows and biases, out_proj columns
        Group qk = vit.group("encoder.layers.encoder_layer_3.self_attention.qk_pass.11").orElseThrow();
        assertEquals(64, qk.size());
        assertEquals(4, qk.members().size()); // q and k rows and biases of head 11
        assertEquals(768, vit.groups().get(0).size());
        // the ASPP projection reads the five branches at their offsets
        PermutationSpec deeplab = Models.describe("deeplabv3_resnet50", ModelOptions.defaults()).permutationSpec();
        for (int branch = 0; branch < 5; branch++) {
            String producer = "classifier.0.convs." + branch + (branch == 4 ? ".1" : ".0");
            long offset = 256L * branch;
            assertTrue(deeplab.group(producer).orElseThrow().members().stream().anyMatch(m -> m.tensor().equals(
                    "classifier.0.project.0.weight") && m.axis() == 1 && m.offset() == offset), producer);
        }
    }

    @Test
    void checkpointsOfNoFamilyGetAShortErrorNamingTheNearest() {
        Map<String, long[]> shapes = new LinkedHashMap<>(Models.describe("mobilenet_v3_small", ModelOptions.defaults())
                .tensorShapes());
        shapes.keySet().removeIf(t -> t.startsWith("features.11."));
        LadyException e = assertThrows(LadyException.class, () -> Models.infer(shapes, null));
        assertTrue(e.getMessage().lines().count() <= 3, e.getMessage());
        assertTrue(e.getMessage().contains("nearest family: mobilenet_v3_"), e.getMessage());
        assertTrue(e.getMessage().contains("--spec"), e.getMessage());

        // no name in common with any family: said so, not a "nearest" family sharing nothing
        Map<String, long[]> strange = new LinkedHashMap<>();
        strange.put("trunk.w0", new long[] {4, 4});
        e = assertThrows(LadyException.class, () -> Models.infer(strange, null));
        assertTrue(e.getMessage().contains("no network Lady knows has any of these tensor names"), e.getMessage());
        assertFalse(e.getMessage().contains("nearest"), e.getMessage());
        // a torchvision detector, and a video network's 3-D convolutions, are named as such
        Map<String, long[]> detector = new LinkedHashMap<>();
        Models.describe("resnet50", ModelOptions.defaults()).tensorShapes().forEach((t, s) -> detector.put("backbone.body."
                + t, s));
        detector.put("backbone.fpn.inner_blocks.0.0.weight", new long[] {256, 256, 1, 1});
        e = assertThrows(LadyException.class, () -> Models.infer(detector, null));
        assertTrue(e.getMessage().contains("a torchvision detector") && e.getMessage().contains("ONNX export"),
                e.getMessage());
        Map<String, long[]> video = new LinkedHashMap<>();
        video.put("stem.0.weight", new long[] {64, 3, 3, 7, 7});
        video.put("fc.weight", new long[] {400, 512});
        e = assertThrows(LadyException.class, () -> Models.infer(video, null));
        assertTrue(e.getMessage().contains("'stem.0.weight' is a 3-D convolution's weight") && e.getMessage().contains("ONNX"),
                e.getMessage());
        assertTrue(e.getMessage().lines().count() <= 3, e.getMessage());

        Map<String, long[]> misshaped = new LinkedHashMap<>(Models.describe("densenet121", ModelOptions.defaults())
                .tensorShapes());
        misshaped.put("classifier.weight", new long[] {10, 1000});
        e = assertThrows(LadyException.class, () -> Models.infer(misshaped, null));
        assertTrue(e.getMessage().startsWith("the checkpoint does not match densenet121: mis-shaped 1: classifier.weight"),
                e.getMessage());
        assertTrue(e.getMessage().lines().count() <= 3, e.getMessage());
    }

    private static boolean distinct(float[] v) {
        for (float x : v) {
            if (x != v[0]) {
                return true;
            }
        }
        return false;
    }

    /**
     * SSD300's L2 normalization ({@link lady.graph.Op#L2_NORM}) in a small graph: each pixel's channels divided by their
     * length, times the weight; the weight is a member of the channels' group, and a permutation that leaves it out
     * changes the outputs.
     */
    /** The sum of the squares of an image's channels at each pixel ({@code N x 1 x H x W}). */
    private static Tensor squaresOverChannels(Tensor x) {
        return x.mul(x).mean(new long[] {1}, true, new org.bytedeco.pytorch.ScalarTypeOptional())
                .mul(new org.bytedeco.pytorch.Scalar(x.size(1)));
    }

    @Test
    void l2NormScalesEachPixelToUnitLengthAndItsWeightMovesWithTheChannels() {
        Model model = l2NormNetwork(true); // (its output's channels cannot move)
        StateDict state = model.stateDict();
        float[] scale = state.get("scale").readFloats();
        assertArrayEquals(new float[] {20, 20, 20, 20, 20, 20}, scale); // torchvision's initial scale_weight
        state.put("scale", lady.tensor.HostTensor.ofFloats(new float[] {0.5f, 1, 2, 3, 5, 8}, 6));
        model.load(state);
        model.train(false);
        Tensor probe = model.probe(2, 5);
        try (org.bytedeco.pytorch.NoGradGuard guard = new org.bytedeco.pytorch.NoGradGuard()) {
            Tensor c = model.forwardTo(probe, "conv1");
            Tensor unit = model.outputs(probe).get(0).div(lady.torch.TorchTensors.view(state.get("scale"))
                    .reshape(-1, 1, 1));
            Tensor length = squaresOverChannels(c).sqrt();
            // unit length at every pixel, and the same direction as the conv's output
            assertTrue(squaresOverChannels(unit).sub(new org.bytedeco.pytorch.Scalar(1)).abs().max().item_double() < 1e-5);
            assertTrue(unit.mul(length).sub(c).abs().max().item_double() < 1e-5 * c.abs().max().item_double());
        }
        model = l2NormNetwork(false);
        model.load(state);
        PermutationSpec spec = model.permutationSpec();
        Group group = spec.groups().stream().filter(g -> g.members().stream().anyMatch(m -> m.tensor().equals("scale")))
                .findFirst().orElseThrow();
        assertTrue(group.members().stream().anyMatch(m -> m.tensor().equals("conv1.weight") && m.axis() == 0));
        java.util.Map<String, lady.permutation.Permutation> perms = Permuter.random(spec, Permuter.select(spec, "all"), 3);
        PermutationCheck.verify(model, Permuter.apply(state, spec, perms, Backend.CPU), probe);
        PermutationSpec without = new PermutationSpec(spec.architecture(), List.of(new Group(group.name(), group.size(),
                group.members().stream().filter(m -> !m.tensor().equals("scale")).toList())), spec.fixed());
        StateDict wrong = Permuter.apply(state, without, perms, Backend.CPU);
        Model permuted = model;
        assertThrows(LadyException.class, () -> PermutationCheck.verify(permuted, wrong, probe));
    }

    /** A 3x3 conv of 6 channels, their L2 norm, a 1x1 conv; outputs: the norm's (with {@code normOut}) and the last conv's. */
    private static Model l2NormNetwork(boolean normOut) {
        lady.graph.GraphBuilder b = new lady.graph.GraphBuilder("l2");
        String x = b.image("input", 3, 6, false);
        x = b.conv("conv1", x, 6, 3, 1, 1, true);
        String norm = b.l2Norm("norm", x, "scale", 1e-12, 20);
        x = b.conv("conv2", norm, 4, 1, 1, 0, true);
        return Models.create(new Architecture("l2", normOut ? b.build(norm, x) : b.build(x),
                Architecture.Init.PYTORCH_DEFAULT));
    }

    @Test
    void everyGroupPermutedKeepsTheOutputsOfNewModels() {
        // the detectors: heads shared by the pyramid's levels (their spaces tied), group norms, transposed convs
        for (String name : List.of("mobilenet_v3_small", "vit_b_16", "densenet121", "convnext_tiny", "swin_t", "swin_v2_t",
                "retinanet_resnet50_fpn_v2", "maskrcnn_resnet50_fpn")) {
            ModelOptions options = ModelOptions.defaults().withClasses(5).withWidth(name.startsWith("mobilenet") ? 1.0 : 0.25);
            Model model = Models.create(name, options);
            StateDict state = model.stateDict();
            PermutationSpec spec = model.permutationSpec();
            StateDict permuted = Permuter.apply(state, spec, Permuter.random(spec, Permuter.select(spec, "all"), 3),
                    Backend.CPU);
            Tensor probe = model.probe(2, 5);
            PermutationCheck.verify(model, permuted, probe); // throws beyond 1e-4 relative to the largest output
            // a new model's norms are all ones and zeros, ConvNeXt's layer scales all 1e-6: count the weights (rank >= 2)
            // that hold more than one value
            List<String> weights = state.names().stream().filter(t -> state.shape(t).length >= 2
                    && distinct(state.get(t).readFloats())).toList();
            long moved = weights.stream().filter(t -> !state.get(t).sameContent(permuted.get(t))).count();
            assertTrue(moved >= 0.9 * weights.size(), name + ": " + moved + " of " + weights.size() + " weights moved");
            assertFalse(model.stateDict().names().isEmpty());
        }
    }
}
