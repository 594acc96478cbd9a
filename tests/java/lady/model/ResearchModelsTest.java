package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import lady.checkpoint.PythonTorch;
import lady.cli.CliRun;
import lady.torch.Torch;

/**
 * State dicts of the implementations research code trains other than torchvision's, each written out in its test
 * script as its library defines it (neither library is installable here), random weights with measured batch-norm
 * statistics:
 * <ul>
 *   <li>timm's Vision Transformer (tests/python/timm_vit.py): {@code timm_vit_tiny} at width 192, another width read as
 *       {@code timm_vit_base} (heads of 64);</li>
 *   <li>the CIFAR ResNets and VGGs of kuangliu's pytorch-cifar (tests/python/cifar_zoo.py: {@code shortcut},
 *       {@code linear}, one Linear {@code classifier}): {@code resnet18_kuangliu}, {@code resnet50_kuangliu},
 *       {@code vgg16_bn_kuangliu}; and the pre-activation Wide ResNet of WideResNet-pytorch and RobustBench:
 *       {@code wrn_16_4};</li>
 *   <li>Hugging Face's ResNet (tests/python/hf_resnet.py: {@code ResNetForImageClassification} in a folder with its
 *       config.json): {@code resnet18_hf}, {@code resnet50_hf}.</li>
 *   <li>Hugging Face's Swin (tests/python/hf_swin.py: {@code SwinForImageClassification} and {@code SwinModel}):
 *       {@code swin_hf}; and Swin V2 (tests/python/hf_swinv2.py, slow): {@code swinv2_hf};</li>
 *   <li>Hugging Face's ConvNeXt (tests/python/hf_convnext.py: {@code ConvNextForImageClassification} and
 *       {@code ConvNextModel}): {@code convnext_hf}.</li>
 *   <li>Hugging Face's DINOv2 (tests/python/hf_dinov2.py: {@code Dinov2Model}, GELU and SwiGLU): {@code dinov2}.</li>
 * </ul>
 * Lady recognizes each by its names; {@code permute --groups all --verify} writes weights with which the library's own
 * forward gives the same outputs (relative 1e-4) with at least 95 % of the weight tensors moved; a wrong permutation
 * changes them; {@code resync} gives back every tensor. Before, none of these was recognized ("cannot recognize the
 * architecture") without an ONNX export.
 */
class ResearchModelsTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void save() throws Exception {
        Torch.init();
        save("timm_vit.py");
        save("cifar_zoo.py", "resnet18", "vgg16", "wrn16_4");
        save("hf_resnet.py", "resnet18hf");
        save("hf_convnext.py");
        save("hf_dinov2.py");
        save("hf_swin.py");
        save("hf_clip.py", "clip", "siglip", "openclip.pt");
        save("hf_t5.py", "t5enc", "t5");
        save("hf_bart.py", "bart");
    }

    /** The script's models ({@code names}: only those; the slow tests save theirs themselves). */
    private static void save(String script, String... names) throws Exception {
        Path out = Files.createDirectories(dir.resolve(script));
        String[] args = new String[names.length + 3];
        args[0] = "save";
        args[1] = out.toString();
        args[2] = "2";
        System.arraycopy(names, 0, args, 3, names.length);
        String err = PythonTorch.run(script, args);
        assertNull(err, err);
    }

    @Test
    void timmVisionTransformers() throws Exception {
        roundTrip("timm_vit.py", "tiny", "timm_vit_tiny: 17 groups");
        roundTrip("timm_vit.py", "narrow", "timm_vit_base: 13 groups");
        roundTrip("timm_vit.py", "distilled", "timm_vit_base: 37 groups"); // DeiT's distillation token and second classifier
        // no class token (class_token=False): every token's mean through fc_norm
        roundTrip("timm_vit.py", "gap", "timm_vit_base: 37 groups");
    }

    /**
     * timm's other ViT variants: LayerScale, register tokens with positions over the patches only and no head, the
     * patches' mean through fc_norm, and every token's mean after the final norm (no class token, fc_norm=False).
     */
    @Test
    @Tag("slow")
    void timmVisionTransformerVariants() throws Exception {
        roundTrip("timm_vit.py", "layerscale", "timm_vit_base: 21 groups"); // LayerScale's gammas move with the stream
        // register tokens, positions over the patches only, no head (the class token's features, compared as such)
        roundTrip("timm_vit.py", "registers", "timm_vit_small: ");
        roundTrip("timm_vit.py", "avgpool", "timm_vit_base: 33 groups"); // the patches' mean through fc_norm
        roundTrip("timm_vit.py", "gapnorm", "timm_vit_base: 41 groups");
    }

    @Test
    void pytorchCifarResNet18() throws Exception {
        roundTrip("cifar_zoo.py", "resnet18", "resnet18_kuangliu: 12 groups");
    }

    @Test
    @Tag("slow")
    void pytorchCifarVgg16() throws Exception {
        roundTrip("cifar_zoo.py", "vgg16", "vgg16_bn_kuangliu: 13 groups");
    }

    @Test
    void wideResNet() throws Exception {
        roundTrip("cifar_zoo.py", "wrn16_4", "wrn_16_4: ");
    }

    @Test
    @Tag("slow")
    void pytorchCifarResNet50() throws Exception {
        save("cifar_zoo.py", "resnet50");
        roundTrip("cifar_zoo.py", "resnet50", "resnet50_kuangliu: 37 groups");
    }

    @Test
    void huggingFaceResNets() throws Exception { // Hugging Face folders: config.json and pytorch_model.bin
        roundTrip("hf_resnet.py", "resnet18hf", "resnet18_hf: 12 groups");
    }

    /**
     * Hugging Face's ConvNeXt (tests/python/hf_convnext.py): the classifier, and ConvNextModel without a head, whose
     * pooled features' channel order is free (Lady's --verify and the script compare them by their inner products; the
     * final norm moves with the last stream).
     */
    @Test
    void huggingFaceConvNext() throws Exception {
        roundTrip("hf_convnext.py", "convnexthf", "convnext_hf: 10 groups");
        roundTrip("hf_convnext.py", "convnextmodelhf", "convnext_hf: 10 groups");
    }

    /**
     * Hugging Face's Swin (tests/python/hf_swin.py): torchvision's Swin under other names, with separate query, key and
     * value projections and a square saved position index; the classifier, and SwinModel without a head (its pooled
     * features compared by their inner products).
     */
    @Test
    void huggingFaceSwin() throws Exception {
        roundTrip("hf_swin.py", "swinhf", "swin_hf: 71 groups");
    }

    /**
     * Hugging Face's Swin V2 (tests/python/hf_swinv2.py): cosine attention with a scale per head, the position-bias MLP
     * (its offsets scaled by config.json's pretrained windows in the classifier), the norms after the attention and the
     * MLP, the merging that reduces first; no saved tables. The classifier and Swinv2Model.
     */
    @Test
    @Tag("slow")
    void huggingFaceSwinV2() throws Exception {
        save("hf_swinv2.py");
        roundTrip("hf_swinv2.py", "swinv2hf", "swinv2_hf: 77 groups");
        roundTrip("hf_swinv2.py", "swinv2modelhf", "swinv2_hf: 77 groups");
    }

    /**
     * Hugging Face's CLIPModel (tests/python/hf_clip.py): a causal text tower and a vision tower with its class
     * embedding and pre-norm; the projections' rows one space (the logits multiply them channel by channel), the logit
     * scale left in place; the script's forward gives the same embeddings' inner products and logits after {@code lady
     * permute} (Lady's own forward runs the text tower on fixed token ids).
     */
    @Test
    void huggingFaceClip() throws Exception {
        roundTrip("hf_clip.py", "clip", "clip: 39 groups");
    }

    /**
     * Hugging Face's SiglipModel: every token seeing every token, the text tower's head, the vision tower's attention
     * pooling (a learned probe's query over the tokens, its heads moving), the logit scale and bias left in place; the
     * vision stream and the text head's rows are one space (the logits multiply them channel by channel).
     */
    @Test
    void huggingFaceSiglip() throws Exception {
        roundTrip("hf_clip.py", "siglip", "siglip: 41 groups");
    }

    /**
     * OpenAI's and open_clip's CLIP in their own names (the weights alone, as open_clip_pytorch_model.bin holds them):
     * nn.MultiheadAttention blocks, causal in the text tower, projections stored [in, out], heads of 64.
     */
    @Test
    void openClip() throws Exception {
        roundTrip("hf_clip.py", "openclip", "open_clip: 31 groups");
    }

    /**
     * Hugging Face's T5EncoderModel (tests/python/hf_t5.py; Stable Diffusion 3's and FLUX's text encoder): RMS norms,
     * unscaled attention with block 0's relative position bias for every block (one order of heads for all), T5 v1.1's
     * gated-gelu feed-forward; the tied embedding saved twice.
     */
    @Test
    void t5Encoder() throws Exception {
        roundTrip("hf_t5.py", "t5enc", "t5_encoder: 20 groups");
    }

    /**
     * A whole T5 as t5-small is (T5ForConditionalGeneration, tests/python/hf_t5.py): the decoder's causal self-attention
     * with its one-sided buckets, its cross-attention over the encoder's output, the head tied to the embedding (the
     * decoder's output rescaled), every tie saved; Lady's forward runs the decoder on its own token ids. Resync without
     * the secret gives back every tensor.
     */
    @Test
    void t5Whole() throws Exception {
        roundTrip("hf_t5.py", "t5", "t5: 75 groups", false);
    }

    /** flan-t5's layout (gated-gelu, its own lm_head, only shared.weight saved of the ties) and UMT5's per-block bias. */
    @Test
    @Tag("slow")
    void t5WholeFlanAndUmt5() throws Exception {
        save("hf_t5.py", "flant5", "umt5");
        roundTrip("hf_t5.py", "flant5", "t5: 75 groups", false);
        roundTrip("hf_t5.py", "umt5", "t5: 78 groups", false); // each block's own heads in its self-attention
    }

    /**
     * BartForConditionalGeneration (tests/python/hf_bart.py): post-norm layers, learned positions from row 2, the
     * decoder's causal self-attention and cross-attention with biases, the head tied and every tie saved,
     * final_logits_bias; resync without the secret gives back every tensor.
     */
    @Test
    void bart() throws Exception {
        roundTrip("hf_bart.py", "bart", "bart: 54 groups", false);
    }

    /**
     * mBART (pre-norm, scaled embeddings, only shared saved of the ties), Marian (sinusoidal positions saved, swish,
     * each stack its own embedding: two streams), PEGASUS (pre-norm, sinusoids, relu), BartModel (no head) and M2M100
     * (NLLB's layout: sinusoids computed, not saved, so the stream stays and everything else moves).
     */
    @Test
    @Tag("slow")
    void bartLineage() throws Exception {
        save("hf_bart.py", "mbart", "marian", "pegasus", "bartbase");
        roundTrip("hf_bart.py", "mbart", "mbart: 54 groups", false);
        roundTrip("hf_bart.py", "marian", "marian: 55 groups", false);
        roundTrip("hf_bart.py", "pegasus", "pegasus: 54 groups", false);
        roundTrip("hf_bart.py", "bartbase", "bart: 54 groups", false);
        save("hf_bart.py", "m2m100");
        roundTrip("hf_bart.py", "m2m100", "m2m100: 53 groups", false); // computed sinusoids: the stream stays
    }

    /** T5's ReLU feed-forward (wi, wo). */
    @Test
    @Tag("slow")
    void t5EncoderRelu() throws Exception {
        save("hf_t5.py", "t5encrelu");
        roundTrip("hf_t5.py", "t5encrelu", "t5_encoder: 20 groups");
    }

    /** open_clip's LayerScale (ls_1, ls_2): its gammas move with the stream. */
    @Test
    @Tag("slow")
    void openClipLayerScale() throws Exception {
        save("hf_clip.py", "openclipls.pt");
        roundTrip("hf_clip.py", "openclipls", "open_clip: 27 groups");
    }

    /**
     * The towers alone: CLIPTextModel (Stable Diffusion's text encoder; position_ids saved), CLIPVisionModelWithProjection
     * (position_ids saved), CLIPVisionModel and SiglipVisionModel; their features compared by their inner products.
     */
    @Test
    @Tag("slow")
    void huggingFaceClipTowers() throws Exception {
        save("hf_clip.py", "cliptext", "clipvision", "clipvisionbase", "siglipvision");
        roundTrip("hf_clip.py", "cliptext", "clip_text: 21 groups");
        roundTrip("hf_clip.py", "clipvision", "clip_vision: 18 groups");
        roundTrip("hf_clip.py", "clipvisionbase", "clip_vision: 17 groups");
        roundTrip("hf_clip.py", "siglipvision", "siglip_vision: 20 groups");
    }

    /** Hugging Face's headless SwinModel: its pooled features, compared by their inner products. */
    @Test
    @Tag("slow")
    void huggingFaceSwinModel() throws Exception {
        roundTrip("hf_swin.py", "swinmodelhf", "swin_hf: 71 groups");
    }

    /**
     * Hugging Face's DINOv2 classifier (tests/python/hf_dinov2.py): layer scales, the mask token saved with the
     * embeddings, the classifier on the class token and the patch tokens' mean.
     */
    @Test
    void huggingFaceDinov2() throws Exception {
        roundTrip("hf_dinov2.py", "dinov2cls", "dinov2: 13 groups"); // the classifier on the class token and the mean
    }

    /** The headless backbones (GELU and SwiGLU MLPs), their features compared by their inner products. */
    @Test
    @Tag("slow")
    void huggingFaceDinov2Backbones() throws Exception {
        roundTrip("hf_dinov2.py", "dinov2", "dinov2: 13 groups");
        roundTrip("hf_dinov2.py", "dinov2swiglu", "dinov2: 13 groups");
    }

    @Test
    @Tag("slow")
    void huggingFaceResNet50() throws Exception {
        save("hf_resnet.py", "resnet50hf");
        roundTrip("hf_resnet.py", "resnet50hf", "resnet50_hf: 37 groups");
    }

    /**
     * spec, permute --groups all --verify, resync, then the script's check of the three models with its own forward
     * ({@code name}.pt, or the folder {@code name}: the outputs are then folders too).
     */
    private static void roundTrip(String script, String name, String spec) throws Exception {
        roundTrip(script, name, spec, true);
    }

    /** As {@link #roundTrip(String, String, String)}; {@code withSecret} false: resync finds the permutation itself. */
    private static void roundTrip(String script, String name, String spec, boolean withSecret) throws Exception {
        Path in = dir.resolve(script);
        boolean folder = Files.isDirectory(in.resolve(name));
        String ext = folder ? "" : ".pt";
        String model = in.resolve(name + ext).toString();
        CliRun s = CliRun.of("spec", "--model", model);
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().startsWith(spec), s.out());
        String permuted = in.resolve(name + "-p" + ext).toString();
        String secret = in.resolve(name + "-s.json").toString();
        CliRun p = CliRun.of("permute", "--model", model, "--groups", "all", "--seed", "4", "--verify", "--out", permuted,
                "--secret", secret, "--quiet");
        assertEquals(0, p.code(), p.err());
        String restored = in.resolve(name + "-r" + ext).toString();
        CliRun r = withSecret ? CliRun.of("resync", "--reference", model, "--suspect", permuted, "--out", restored,
                "--secret", secret, "--quiet") : CliRun.of("resync", "--reference", model, "--suspect", permuted, "--out",
                restored, "--quiet");
        assertEquals(0, r.code(), r.err());
        String err = PythonTorch.run(script, "check", model, permuted, restored);
        assertNull(err, name + ": " + err);
    }
}
