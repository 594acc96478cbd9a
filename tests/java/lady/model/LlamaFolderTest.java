package lady.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import lady.LadyException;
import lady.checkpoint.Checkpoints;
import lady.checkpoint.PythonTorch;
import lady.checkpoint.StateDict;
import lady.cli.CliRun;
import lady.report.Json;
import lady.torch.Torch;

/**
 * Hugging Face Llama, Mistral and Qwen2 folders made by tests/python/llama_family.py (random weights, no
 * download, no transformers: the script writes safetensors by hand and computes the forward pass as
 * transformers does, RoPE, GQA, SwiGLU, RMSNorm): config.json reaches the recognition, `lady permute
 * --groups all --verify` keeps the script's own logits, Lady's forward equals the script's, and a folder
 * permuted by the script (every symmetry independently, with its secret) is restored tensor for tensor by
 * `lady resync`, Psi 100 in every group (nested groups in the resync's frame).
 */
class LlamaFolderTest {
    @TempDir
    Path dir;

    static final String SCRIPT = "llama_family.py";

    private Path make(String name, String... options) throws IOException, InterruptedException {
        Path out = dir.resolve(name);
        List<String> args = new ArrayList<>(List.of("make", out.toString()));
        args.addAll(List.of(options));
        assertNull(PythonTorch.run(SCRIPT, args.toArray(String[]::new)));
        return out;
    }

    private Map<String, Object> forward(Path folder, String name) throws IOException, InterruptedException {
        return forward(List.of(folder), name);
    }

    private Map<String, Object> forward(List<Path> folders, String name) throws IOException, InterruptedException {
        return forward(SCRIPT, folders, name);
    }

    /** Script {@code script}'s forward pass of {@code folders} (with several: their logits by folder). */
    @SuppressWarnings("unchecked")
    private Map<String, Object> forward(String script, List<Path> folders, String name)
            throws IOException, InterruptedException {
        Path out = dir.resolve(name + ".json");
        List<String> args = new ArrayList<>(List.of("forward"));
        folders.forEach(f -> args.add(f.toString()));
        args.addAll(List.of("--tokens-seed", "3", "--out", out.toString()));
        assertNull(PythonTorch.run(script, args.toArray(String[]::new)));
        return (Map<String, Object>) Json.parse(Files.readString(out));
    }

    /** Flattened numbers of a nested JSON list. */
    private static List<Double> flat(Object o) {
        List<Double> out = new ArrayList<>();
        if (o instanceof List<?> l) {
            l.forEach(x -> out.addAll(flat(x)));
        } else {
            out.add(((Number) o).doubleValue());
        }
        return out;
    }

    private static double maxAbs(List<Double> a) {
        return a.stream().mapToDouble(Math::abs).max().orElse(0);
    }

    /**
     * The inner products of the vectors of {@code width} values {@code v} holds, in order (a base model's hidden
     * states: what a permutation of their dimensions keeps).
     */
    private static List<Double> gram(List<Double> v, int width) {
        int n = v.size() / width;
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < width; k++) {
                    dot += v.get(i * width + k) * v.get(j * width + k);
                }
                out.add(dot);
            }
        }
        return out;
    }

    private static double maxDiff(List<Double> a, List<Double> b) {
        assertEquals(a.size(), b.size());
        double d = 0;
        for (int i = 0; i < a.size(); i++) {
            d = Math.max(d, Math.abs(a.get(i) - b.get(i)));
        }
        return d;
    }

    /**
     * One folder per variant of what transformers writes (the script lays it out as save_pretrained does: config.json
     * with every field of the configuration class, the safetensors library's header and tensor order, shards cut by
     * size with their index, generation and tokenizer files). The options after the first three columns are the
     * script's make options.
     */
    @ParameterizedTest(name = "{0} {1} {2} shard(s) {3}")
    @CsvSource(delimiter = '|', value = {
        "llama|F32|1|--inv-freq",
        // head_dim * heads != hidden (as Mistral-Nemo), one KV head for 4 queries, tied embeddings, sliding_window
        "mistral|F32|2|--tied --hidden 24 --heads 4 --kv-heads 1 --head-dim 8",
        "qwen2|F32|1|",
        // Llama's mlp_bias and attention_bias (q/k/v and o biases), Llama 3.1's rope_scaling, three shards
        "llama|F32|3|--mlp-bias --attention-bias --rope-scaling llama3",
        // an older configuration: no head_dim, no num_key_value_heads (MHA), rope_scaling {"type": "linear"}; tied
        // with lm_head saved anyway; a header whose entries are not in data order, not padded to 8 bytes
        "llama|F32|1|--tied --tied-saved --no-head-dim --no-kv-heads --heads 4 --kv-heads 4 --rope-scaling linear "
                + "--header-order shuffled --no-header-pad",
        // Qwen3: an RMSNorm of each q and k head (q_norm, k_norm: never moved), heads wider than the stream (as
        // Qwen3-0.6B: 16 heads of 128 on a stream of 1024), tied
        "qwen3|F32|1|--tied --hidden 24 --heads 4 --kv-heads 2 --head-dim 16",
        // Gemma: RMSNorm by 1 + weight, the embedding times sqrt(hidden), gelu_pytorch_tanh; Gemma 2: norms around the
        // attention and the MLP, soft caps, sliding layers (a window of 3 tokens); Gemma 3: head norms, a local rope
        "gemma|F32|1|--tied --hidden 32 --heads 4 --kv-heads 1 --head-dim 16",
        "gemma2|F32|1|--tied --hidden 32 --heads 4 --kv-heads 2 --head-dim 16",
        "gemma3_text|F32|2|--tied --hidden 32 --heads 4 --kv-heads 2 --head-dim 16 --rope-scaling linear",
        // a base model without its head or the "model." prefix (Qwen3Model, as embedding models are saved): its
        // output is the last hidden state, whose dimensions may move (its inner products are kept)
        "qwen3|F32|1|--headless --tied --hidden 32 --heads 4 --kv-heads 2 --head-dim 16",
        // Phi-3: q, k, v in one qkv_proj, gate and up in one gate_up_proj (nested groups inside one packed tensor)
        "phi3|F32|2|--hidden 32 --heads 4 --kv-heads 2 --head-dim 8",
        // Phi-4-mini's and Phi-3.5's rotary: 3/4 of each head's dimensions rotated (partial_rotary_factor; the other 4
        // are unpaired and move alike in q and k: a group per KV head, qk_pass), LongRoPE's per-frequency factors and
        // its attention factor (a context 32x the original)
        "phi3|F32|1|--hidden 32 --heads 2 --kv-heads 2 --head-dim 16 --rope-scaling longrope --partial-rotary 0.75",
        // mixtures of experts: the experts' order (router rows, each expert's tensors moved whole to another expert's
        // names) with each expert's units nested in it. Mixtral (its experts across two shards); Qwen2-MoE with its
        // shared expert and its gate; Qwen3-MoE with head norms, a dense layer (mlp_only_layers), norm_topk_prob
        "mixtral|F32|2|--experts 4 --top-k 2",
        "qwen2_moe|F32|1|--experts 4 --top-k 2",
        "qwen3_moe|F32|2|--tied --experts 6 --top-k 3 --mlp-only-layers 1 --norm-topk",
        // the same families with their experts fused, one 3-D tensor per layer and projection (transformers 5's layout:
        // mlp.experts.gate_up_proj [E, 2I, D], mlp.experts.down_proj [E, D, I]), read one per expert, written fused
        "qwen3_moe|F32|2|--experts 4 --top-k 2 --mlp-only-layers 1 --norm-topk --fused-experts",
        // OLMo 2: an RMSNorm of the whole q and k projections (a weight per row: it moves with the heads), norms of the
        // attention's and the MLP's outputs only; OLMoE: the same q and k norms, Llama's norms, a mixture of experts
        "olmo2|F32|1|--tied --hidden 32 --heads 4 --kv-heads 2 --head-dim 8",
        "olmoe|F32|2|--experts 4 --top-k 2 --norm-topk",
        // Granite: Llama's shapes, config.json's embedding, attention, residual and logits multipliers in the forward
        "granite|BF16|1|--tied",
        // StarCoder2: LayerNorms with biases, biases on every projection, an MLP without gate (c_fc, c_proj)
        "starcoder2|BF16|1|--tied",
        // StableLM 2 (its parallel residual with q/k/v biases; a quarter of each head rotated): LayerNorms with biases
        "stablelm|BF16|1|--parallel-residual --attention-bias",
        // Cohere: LayerNorms without bias, the parallel block, RoPE on interleaved pairs, the logits scaled
        "cohere|BF16|1|--tied",
        // language models inside multimodal ones (config.json's text_config; names under language_model.): Gemma 3's,
        // whose projector writes image tokens into the stream by x W, and LLaVA's (linear_2 rows); the vision towers
        // stay in place
        "gemma3_text|F32|2|--multimodal old --tied --hidden 32 --heads 4 --kv-heads 2 --head-dim 16",
        "llama|F32|1|--multimodal new",
        // Qwen2.5-VL: its tower under visual. beside model. (or model.visual. beside model.language_model.), the merger's
        // last layer (visual.merger.mlp.2) writing into the stream; M-RoPE, which is the default rotary on text
        "qwen2|BF16|1|--multimodal qwen-new",
    })
    void permuteKeepsTheFunctionAndResyncUndoesTheScriptsPermutation(String variant, String dtype, int shards,
            String options) throws IOException, InterruptedException {
        List<String> make = new ArrayList<>(List.of("--shards", "" + shards));
        make.addAll(options == null ? List.of() : List.of(options.trim().split("\\s+")));
        checkCase(SCRIPT, variant, dtype, make);
    }

    /**
     * More of the same cases, in the slow run: a small Qwen2 (tied embeddings, dynamic rope scaling, sharded), Llama's
     * gelu_pytorch_tanh with attention biases, Qwen3 with attention biases, Mixtral's fused experts, StableLM 2's
     * sequential layers, Qwen2.5-VL's older layout (its tower under visual. beside model.).
     */
    @ParameterizedTest(name = "{0} {1} {2} shard(s) {3}")
    @Tag("slow")
    @CsvSource(delimiter = '|', value = {
        "qwen2|F32|2|--tied --rope-scaling dynamic",
        "llama|F32|1|--hidden-act gelu_pytorch_tanh --attention-bias",
        "qwen3|F32|2|--attention-bias",
        "mixtral|F32|1|--experts 4 --top-k 2 --fused-experts",
        "stablelm|F32|1|",
        "qwen2|F32|1|--multimodal qwen-old --tied",
    })
    void moreVariantsInTheSlowRun(String variant, String dtype, int shards, String options) throws IOException,
            InterruptedException {
        permuteKeepsTheFunctionAndResyncUndoesTheScriptsPermutation(variant, dtype, shards, options);
    }

    /**
     * GPT-2, GPT-NeoX (Pythia), OPT, Phi, GPT-BigCode, BLOOM, GPT-J and Falcon folders made by
     * tests/python/gpt_family.py, checked as the Llama family's are:
     * GPT-2's Conv1D matrices stored [in, out], learned positions, no rotary embedding (every dimension inside a head
     * moves, q and k alike: the heads are first matched on their rows sorted within those dimensions, the case of 2
     * heads of 12 failed without it); GPT-NeoX's q, k, v rows per head, a quarter of each head rotated, the parallel
     * residual; OPT's; Phi's; GPT-BigCode's one KV head; BLOOM's ALiBi; GPT-J's rotary pairs; Falcon's KV groups.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource(delimiter = '|', value = {
        // the hub's gpt2 layout: names without "transformer.", the causal mask buffers older versions saved (BOOL),
        // scale_attn_by_inverse_layer_idx; bfloat16
        "gpt2|BF16|--no-prefix --buffers --inv-layer-scale",
        "gpt2|F32|--hidden 24 --heads 2 --inter 96 --act relu",
        "gpt_neox|F32|--buffers",
        // a sequential residual, half of each head rotated, the head tied to the embedding
        "gpt_neox|F32|--sequential --rotary-pct 0.5 --tied --heads 2",
        // OPT: q, k, v apart with biases, positions from row 2, relu; OPT-350m's layout: each norm after its residual
        // add, an embedding narrower than the width (project_in, project_out: its own group, the tied head's too)
        // the hub's OPT weights: under decoder. without lm_head, config.json naming OPTForCausalLM (the head tied)
        "opt|F32|--no-prefix",
        "opt|BF16|--post-norm --project 24",
        // Phi (1, 1.5, 2): one norm read by the attention and the MLP, summed into the stream together, a part of each
        // head rotated (Phi-2: 0.4 of 80), the head's bias
        "phi|BF16|--hidden 40 --heads 4 --rotary-pct 0.4",
        // GPT-BigCode (StarCoder): GPT-2's names on linear layers; multi_query (one KV head: the query heads and the
        // q/k and v dimensions move once for all heads), and without it (each head's q, k, v rows in turn)
        "gpt_bigcode|F32|",
        "gpt_bigcode|BF16|--mha",
        // BLOOM: ALiBi fixes the heads (their slopes go by index), the dimensions inside them move; the released
        // layout: names without "transformer.", the width under n_embed; apply_residual_connection_post_layernorm
        "bloom|BF16|--no-prefix --n-embed --post-residual --heads 6 --hidden 36",
        // GPT-J: its rotary dimensions in pairs (2i, 2i + 1), the rest of each head free; one norm for the parallel
        // attention and MLP; the causal-mask buffers
        "gptj|F32|--rotary-pct 0.5 --buffers",
        // Falcon: query_key_value per KV head (its query heads' rows, its k, its v); Falcon-40B's layout (2 KV heads of
        // 2 query heads, ln_attn and ln_mlp); Falcon-7B's (one KV head, one norm) and the sequential one tagged slow
        "falcon|F32|--falcon new --heads 4 --kv-heads 2",
        // MPT: LayerNorms without bias, Wqkv stacked, ALiBi with MPT's slopes (the heads stay), clip_qkv
        "mpt|F32|--inter 64 --clip 0.5",
    })
    void gptFoldersToo(String variant, String dtype, String options) throws IOException, InterruptedException {
        checkCase("gpt_family.py", variant, dtype, options == null ? List.of() : List.of(options.trim().split("\\s+")));
    }

    /** The same families in their plainest layouts (slow: the default run has each family in a harder layout). */
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource(delimiter = '|', value = {"gpt2|F32|", "opt|F32|", "phi|F32|--rotary-pct 0.5", "bloom|F32|",
        "gptj|BF16|--rotary-pct 0.25", "falcon|BF16|--falcon mq", "falcon|F32|--falcon seq", "mpt|BF16|--heads 8"})
    @org.junit.jupiter.api.Tag("slow")
    void gptFoldersInPlainLayouts(String variant, String dtype, String options) throws IOException, InterruptedException {
        gptFoldersToo(variant, dtype, options);
    }

    /** The script of BERT, RoBERTa and DistilBERT folders. */
    static final String ENCODERS = "encoder_family.py";

    /**
     * BERT, RoBERTa, ELECTRA, DistilBERT and ViT folders with their task heads (tests/python/encoder_family.py):
     * bidirectional attention, post-norm layers, token types, RoBERTa's positions that skip padding (--pad 57: a token
     * the probe holds), masked-LM heads tied to the embedding or not, poolers, classification heads on the first token,
     * ELECTRA's embeddings narrower than the width (--embed 16) and its discriminator, ViT's patches (pre-norm), DeiT's
     * distillation token and its two classifiers.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource(delimiter = '|', value = {"bert|F32|--head mlm --buffers", "bert|BF16|--head seq",
        // bert-base-uncased's layout: pre-training heads, the decoder saved although tied, its bias twice, position_ids
        // (3 layers: the 3 biases with a row per token or class, which stay, are under 5 % of the tensors)
        "bert|F32|--head pretraining --tied-saved --buffers --layers 3",
        "roberta|F32|--head mlm --pad 57", "roberta|F32|--headless --no-prefix --model-type xlm-roberta",
        "distilbert|F16|--head seq", "vit|F32|--head seq --positions 3", "electra|F32|--head pretraining --embed 16",
        "deit|F32|--head teacher --positions 3"})
    void encoderFolders(String variant, String dtype, String options) throws IOException, InterruptedException {
        // (ViT: images of 3 x 3 patches of 4 pixels)
        checkCase(ENCODERS, variant, dtype, List.of(options.trim().split("\\s+")));
    }

    /** The other heads and layouts: BERT's pre-training, a label per token, question answering, untied heads. */
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource(delimiter = '|', value = {"roberta|F32|--head mlm --tied-saved",
        "distilbert|F32|--head mlm --tied-saved",
        "electra|F32|--head mlm --embed 16 --untied", "bert|F32|--head tokens", "roberta|F32|--head qa",
        "distilbert|BF16|--head qa", "bert|F32|--head mlm --untied --act gelu_new", "roberta|F32|--head mlm --untied",
        "bert|F32|--headless --no-prefix", "roberta|F32|--head seq", "distilbert|F32|--head mlm --untied",
        "vit|BF16|--headless --no-prefix --positions 3", "electra|F32|--head mlm --embed 16", "electra|BF16|--head seq",
        "deit|F32|--head seq --positions 3"})
    @org.junit.jupiter.api.Tag("slow")
    void encoderFoldersWithOtherHeads(String variant, String dtype, String options)
            throws IOException, InterruptedException {
        encoderFolders(variant, dtype, options);
    }

    private void checkCase(String python, String variant, String dtype, List<String> make)
            throws IOException, InterruptedException {
        boolean invFreq = make.contains("--inv-freq");
        boolean libraryLayout = !make.contains("--header-order") && !make.contains("--no-header-pad");
        List<String> args = new ArrayList<>(List.of("case", dir.toString(), "--variant", variant, "--dtype", dtype,
                "--seed", "11", "--permute-seed", "5", "--tokens-seed", "3"));
        args.addAll(make);
        // one interpreter start: the reference, the script's own attack of every symmetry (with its secret), logits
        assertNull(PythonTorch.run(python, args.toArray(String[]::new)));
        Path ref = dir.resolve("ref");
        Path attacked = dir.resolve("attacked");
        Map<?, ?> script = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("logits.json")));
        List<Double> before = flat(((Map<?, ?>) script.get("logits")).get(ref.toString()));
        List<Double> attackedLogits = flat(((Map<?, ?>) script.get("logits")).get(attacked.toString()));
        StateDict refState = Checkpoints.read(ref);
        // a base model's function: the inner products of its hidden states (their dimensions move with the stream)
        int width = !make.contains("--headless") ? 0 : (int) (long) refState.names().stream().filter(n ->
                n.endsWith("embed_tokens.weight") || n.endsWith("word_embeddings.weight")
                || n.endsWith("patch_embeddings.projection.weight")).findFirst()
                .map(n -> n.endsWith("projection.weight") ? refState.shape(n)[0] : refState.shape(n)[1]).orElseThrow();
        java.util.function.UnaryOperator<List<Double>> function = v -> width > 0 ? gram(v, width) : v;
        double scale = Math.max(1, maxAbs(function.apply(before)));
        double rawScale = Math.max(1, maxAbs(before));
        assertTrue(maxDiff(function.apply(before), function.apply(attackedLogits)) < 1e-9 * scale,
                "the script's permutation keeps its function");
        assertEquals(width > 0, maxDiff(before, attackedLogits) > 1e-3 * rawScale, "a base model's outputs moved");
        assertEquals(variant, Models.infer(refState, null).architecture(), "config.json's model_type names the variant");

        // Lady's forward (GraphNetwork, float32) equals the script's (float64)
        List<Double> lady = ladyLogits(refState, script.containsKey("images") ? script.get("images")
                : script.get("tokens"));
        assertTrue(maxDiff(lady, before) < 1e-4 * rawScale, "Lady's logits differ from the script's by "
                + maxDiff(lady, before));

        // lady permute: every group, checked in libtorch; the script's own forward keeps its logits
        Path permuted = dir.resolve("permuted");
        CliRun p = CliRun.of("permute", "--model", ref.toString(), "--groups", "all", "--seed", "7", "--out",
                permuted.toString(), "--secret", dir.resolve("lady-secret.json").toString(), "--verify");
        assertEquals(0, p.code(), p.err());
        List<Double> after = flat(forward(python, List.of(permuted), "after").get("logits"));
        assertTrue(maxDiff(function.apply(before), function.apply(after)) < 1e-9 * scale, "the script's logits after "
                + "lady permute differ by " + maxDiff(function.apply(before), function.apply(after)));
        StateDict permState = Checkpoints.read(permuted);
        // buffers: the rotary frequencies; GPT-2's and GPT-NeoX's causal masks and their fill values
        // BERT's position_ids
        List<String> buffers = refState.names().stream().filter(n -> n.endsWith(".rotary_emb.inv_freq")
                || n.endsWith(".attn.bias") || n.endsWith(".attention.bias") || n.endsWith(".masked_bias")
                || n.endsWith("embeddings.position_ids")).toList();
        // (with --buffers: a causal mask and its fill value; GPT-NeoX's rotary frequencies too; an encoder's one
        // position_ids)
        int perLayer = !make.contains("--buffers") ? invFreq ? 1 : 0 : variant.equals("gpt_neox") ? 3 : 2;
        assertEquals(python.equals(ENCODERS) ? make.contains("--buffers") ? 1 : 0 : 2 * perLayer, buffers.size(),
                "the buffers");
        // on dimensions inside a head: RoPE fixes them (OLMo's norms of the whole projections move with its rows)
        List<String> headNorms = Set.of("olmo2", "olmoe").contains(variant) ? List.of() : refState.names().stream()
                .filter(n -> n.endsWith(".self_attn.q_norm.weight") || n.endsWith(".self_attn.k_norm.weight")).toList();
        assertEquals(Set.of("qwen3", "gemma3_text", "qwen3_moe").contains(variant) ? 4 : 0, headNorms.size(),
                "Qwen3's and Gemma 3's q_norm and k_norm in each layer");
        for (String b : java.util.stream.Stream.concat(buffers.stream(), headNorms.stream()).toList()) {
            assertTrue(refState.get(b).sameContent(permState.get(b)), b + " kept in place");
        }
        boolean multimodal = make.contains("--multimodal"); // its vision tower stays in place, its language model moves
        boolean qwen = make.contains("qwen-old") || make.contains("qwen-new"); // (Qwen2.5-VL's: visual., model.visual.)
        List<String> weights = refState.names().stream().filter(n -> !buffers.contains(n) && !headNorms.contains(n)
                && (!multimodal || n.startsWith("language_model.") || n.startsWith("model.language_model.")
                        || qwen && !n.startsWith("visual.") && !n.startsWith("model.visual."))).toList();
        long moved = weights.stream().filter(n -> !refState.get(n).sameContent(permState.get(n))).count();
        assertTrue(moved >= 0.95 * weights.size(), moved + " of " + weights.size() + " weight tensors moved");
        if (multimodal) { // the projector's outputs are embeddings in the stream: its last layer moves with it
            // transformers 4.52 puts the towers under model.
            String at = make.contains("new") || make.contains("qwen-new") ? "model." : "";
            String out = at + (qwen ? "visual.merger.mlp.2.weight"
                    : refState.contains(at + "multi_modal_projector.linear_2.weight")
                    ? "multi_modal_projector.linear_2.weight" : "multi_modal_projector.mm_input_projection_weight");
            assertFalse(refState.get(out).sameContent(permState.get(out)), out + " moved with the stream");
            String tower = at + (qwen ? "visual.patch_embed.proj.weight"
                    : "vision_tower.vision_model.embeddings.patch_embedding.weight");
            assertTrue(refState.get(tower).sameContent(permState.get(tower)), tower + " kept");
        }

        // resync of the script's attack restores every tensor, Psi 100 in every group (the script's secret)
        Path fixed = dir.resolve("fixed");
        Path report = dir.resolve("report.json");
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", attacked.toString(), "--out",
                fixed.toString(), "--secret", dir.resolve("secret.json").toString(), "--report", report.toString(),
                "--quiet");
        assertEquals(0, r.code(), r.err());
        StateDict fixedState = Checkpoints.read(fixed);
        assertEquals(refState.names(), fixedState.names());
        for (String n : refState.names()) {
            assertTrue(refState.get(n).sameContent(fixedState.get(n)), n + " restored");
        }
        try (var files = Files.list(ref)) {
            for (Path file : files.toList()) { // every other file copied unchanged; the weights' files too when the
                // input was written as the safetensors library writes (Lady writes the header in data order, padded)
                boolean weightFile = file.getFileName().toString().endsWith(".safetensors");
                if (!weightFile || libraryLayout) {
                    assertEquals(-1, Files.mismatch(file, fixed.resolve(file.getFileName())), file + " restored byte for byte");
                }
            }
        }
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(report));
        for (Object g : (List<?>) json.get("groups")) {
            Map<?, ?> gm = (Map<?, ?>) g;
            assertEquals(100.0, ((Number) gm.get("psi")).doubleValue(), 0.0, "Psi of " + gm.get("name"));
        }
    }

    /** A reference with one tensor per expert and a suspect with its experts fused are refused, saying why. */
    @Test
    void expertsStoredInAnotherLayoutAreNamedInTheRefusal() throws IOException, InterruptedException {
        Path ref = make("ref", "--variant", "qwen3_moe", "--seed", "4");
        Path sus = make("sus", "--variant", "qwen3_moe", "--seed", "4", "--fused-experts");
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--out",
                dir.resolve("fixed").toString(), "--quiet");
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), r.code(), r.err());
        assertTrue(r.err().contains("the suspect stores its experts fused"), r.err());
        assertFalse(Files.exists(dir.resolve("fixed")), "nothing written");
    }

    /**
     * The report does not depend on --threads: the prefilter's passes over axis-1 members (the embedding's columns)
     * summed one part of rows per thread, so the bound margins of a 1-thread and a 2-thread run differed in their
     * last digits; the parts are now fixed by the shapes.
     */
    @Test
    @SuppressWarnings("unchecked")
    void theReportDoesNotDependOnTheThreadCount() throws IOException, InterruptedException {
        Path ref = make("ref", "--variant", "llama", "--dtype", "BF16", "--seed", "1", "--hidden", "64", "--layers", "2",
                "--heads", "4", "--kv-heads", "2", "--head-dim", "16", "--inter", "128", "--vocab", "4096");
        Path sus = dir.resolve("sus");
        assertNull(PythonTorch.run(SCRIPT, "permute", ref.toString(), sus.toString(), "--seed", "2", "--secret",
                dir.resolve("secret.json").toString()));
        String property = System.getProperty("lady.threads");
        int kernelThreads = lady.kernels.Kernels.threads();
        List<Map<String, Object>> reports = new ArrayList<>();
        try {
            for (String threads : List.of("1", "2")) {
                Path report = dir.resolve("report" + threads + ".json");
                CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--out",
                        dir.resolve("fixed" + threads).toString(), "--prefilter", "on", "--margins", "bound", "--threads",
                        threads, "--report", report.toString(), "--quiet");
                assertEquals(0, r.code(), r.err());
                Map<String, Object> json = (Map<String, Object>) Json.parse(Files.readString(report));
                for (String timing : List.of("timings", "seconds", "cpu_seconds", "structural")) {
                    json.remove(timing);
                }
                reports.add(json);
            }
        } finally {
            lady.kernels.Kernels.setThreads(kernelThreads);
            if (property == null) {
                System.clearProperty("lady.threads");
            } else {
                System.setProperty("lady.threads", property);
            }
        }
        assertTrue(((List<?>) reports.get(0).get("groups")).stream()
                .anyMatch(g -> Boolean.TRUE.equals(((Map<String, Object>) g).get("prefiltered"))), "some group prefiltered");
        assertEquals(reports.get(0), reports.get(1));
    }

    /**
     * What Lady's forward pass does not compute (rope_scaling yarn, an activation it does not have) is refused by
     * --verify in one line, before anything is written; permute and resync, which do not run the model, work.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"--rope-scaling yarn|rope_scaling of type 'yarn'",
        "--hidden-act xielu|hidden_act \"xielu\""})
    void whatTheForwardCannotComputeIsRefusedByVerifyOnly(String option, String named)
            throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--variant", "llama", "--seed", "6"));
        args.addAll(List.of(option.split(" ")));
        Path ref = make("ref", args.toArray(String[]::new));
        Path sus = dir.resolve("sus");
        assertNull(PythonTorch.run(SCRIPT, "permute", ref.toString(), sus.toString(), "--seed", "3", "--secret",
                dir.resolve("secret.json").toString()));
        CliRun v = CliRun.of("permute", "--model", ref.toString(), "--groups", "all", "--out", dir.resolve("v").toString(),
                "--secret", dir.resolve("v.json").toString(), "--verify");
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), v.code(), v.err());
        assertTrue(v.err().contains(named) && v.err().contains("forward pass"), v.err());
        assertEquals(1, v.err().strip().lines().filter(l -> l.startsWith("lady: error")).count(), v.err());
        assertFalse(Files.exists(dir.resolve("v")) || Files.exists(dir.resolve("v.json")), "nothing written");

        Path permuted = dir.resolve("permuted");
        CliRun p = CliRun.of("permute", "--model", ref.toString(), "--groups", "all", "--seed", "7", "--out",
                permuted.toString(), "--secret", dir.resolve("lady-secret.json").toString());
        assertEquals(0, p.code(), p.err());
        StateDict a = Checkpoints.read(ref);
        StateDict b = Checkpoints.read(permuted);
        long moved = a.names().stream().filter(n -> !a.get(n).sameContent(b.get(n))).count();
        assertTrue(moved >= 0.95 * a.size(), moved + " of " + a.size() + " tensors moved");
        StateDict c = resynced(ref, sus, dir.resolve("secret.json"), dir.resolve("fixed"), "--quiet");
        for (String n : a.names()) {
            assertTrue(a.get(n).sameContent(c.get(n)), n + " restored");
        }
    }

    @Test
    void bf16ShardsAreRestoredBitForBit() throws IOException, InterruptedException {
        assertNull(PythonTorch.run(SCRIPT, "case", dir.toString(), "--variant", "llama", "--dtype", "BF16", "--shards",
                "3", "--seed", "2", "--heads", "8", "--kv-heads", "2", "--head-dim", "4", "--permute-seed", "9",
                "--mlp-bias", "--attention-bias"));
        Path ref = dir.resolve("ref");
        Path attacked = dir.resolve("attacked");
        Path secret = dir.resolve("secret.json");
        Path fixed = dir.resolve("fixed");
        resynced(ref, attacked, secret, fixed, "--quiet");
        try (var files = Files.list(ref)) {
            for (Path file : files.toList()) {
                assertEquals(-1, Files.mismatch(file, fixed.resolve(file.getFileName())), file + " restored byte for byte");
            }
        }
    }

    @Test
    void theConfigurationDecidesWhatTheShapesCannot() throws IOException, InterruptedException {
        Path ref = make("ref", "--variant", "llama", "--seed", "4");
        CliRun spec = CliRun.of("spec", "--model", ref.resolve("model.safetensors").toString());
        assertEquals(0, spec.code(), spec.err()); // the single file finds config.json beside it
        assertTrue(spec.out().contains("model.layers.1.self_attn.q_heads.1"), spec.out());
        Path config = ref.resolve("config.json");
        String text = Files.readString(config);

        Files.writeString(config, text.replace("\"num_attention_heads\"", "\"heads\""));
        LadyException e = org.junit.jupiter.api.Assertions.assertThrows(LadyException.class,
                () -> Models.infer(Checkpoints.read(ref), null));
        assertTrue(e.getMessage().contains("num_attention_heads"), e.getMessage());
        Files.writeString(config, text.replaceFirst("\"num_attention_heads\": *\\d+", "\"num_attention_heads\": 1000"));
        LadyException other = org.junit.jupiter.api.Assertions.assertThrows(LadyException.class,
                () -> Models.infer(Checkpoints.read(ref), null));
        assertTrue(other.getMessage().contains("config.json gives 1000 attention heads")
                && other.getMessage().contains("disagree"), "names the disagreement: " + other.getMessage());
        Files.delete(config);
        CliRun alone = CliRun.of("spec", "--model", ref.resolve("model.safetensors").toString());
        assertEquals(3, alone.code(), alone.err());
        assertTrue(alone.err().contains("no config.json came with these weights"), "names what is missing: " + alone.err());

        Files.writeString(config, text);
        Path tied = make("tied", "--variant", "llama", "--seed", "4", "--tied");
        Path tiedConfig = tied.resolve("config.json");
        Files.writeString(tiedConfig, Files.readString(tiedConfig).replace("\"tie_word_embeddings\": true",
                "\"tie_word_embeddings\": false"));
        CliRun p = CliRun.of("permute", "--model", tied.toString(), "--out", dir.resolve("o").toString(), "--secret",
                dir.resolve("s.json").toString());
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), p.code(), p.err());
        assertTrue(p.err().contains("tie_word_embeddings"), p.err());
        assertFalse(Files.exists(dir.resolve("o")));

        // a config.json that contradicts the weights (another model's): refused by name, nothing written
        for (String[] lie : new String[][] {{"hidden_size", "64"}, {"num_hidden_layers", "3"}, {"num_hidden_layers", "1"},
                {"intermediate_size", "40"}, {"vocab_size", "65"}}) {
            Files.writeString(config, text.replaceFirst("\"" + lie[0] + "\": [0-9]+", "\"" + lie[0] + "\": " + lie[1]));
            CliRun lied = CliRun.of("permute", "--model", ref.toString(), "--out", dir.resolve("o").toString(),
                    "--secret", dir.resolve("s.json").toString());
            assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), lied.code(), lied.err());
            assertTrue(lied.err().contains("config.json says " + lie[0] + " " + lie[1] + ", but the checkpoint has"),
                    lied.err());
            assertFalse(Files.exists(dir.resolve("o")));
        }
        Files.writeString(config, text);
        assertEquals(0, CliRun.of("spec", "--model", ref.toString()).code(), "the true config.json is accepted");

        Files.writeString(config, "{\"num_attention_heads\": ");
        CliRun bad = CliRun.of("spec", "--model", ref.toString());
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), bad.code(), bad.err());
        assertTrue(bad.err().contains("config.json"), bad.err());
    }

    /** A structural attack widens the MLPs and writes the width into config.json; the undo brings both back. */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "llama_family.py|llama|model.layers.N.mlp.gate_proj.weight|0|intermediate_size",
        // GPT-2's Conv1D: the MLP's units are the columns of c_fc (its rows on axis 1), the width n_inner
        "gpt_family.py|gpt2|transformer.h.N.mlp.c_fc.weight|1|n_inner",
        // BERT's post-norm layers, its pre-training heads (a pooler the attack widens too; the decoder saved, tied)
        "encoder_family.py|bert --head pretraining --tied-saved|bert.encoder.layer.N.intermediate.dense.weight|0|"
            + "intermediate_size",
    })
    void aStructuralAttackWritesAFolderWhoseConfigDescribesItsWeights(String python, String variant, String fc, int axis,
            String key) throws IOException, InterruptedException {
        structuralAttackAndUndo(python, variant, fc, axis, key);
    }

    /** The same on the other GPT-like families (slow). */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "gpt_family.py|gpt_neox|gpt_neox.layers.N.mlp.dense_h_to_4h.weight|0|intermediate_size",
        "gpt_family.py|opt|model.decoder.layers.N.fc1.weight|0|ffn_dim",
        "gpt_family.py|phi|model.layers.N.mlp.fc1.weight|0|intermediate_size",
        "gpt_family.py|gpt_bigcode|transformer.h.N.mlp.c_fc.weight|0|n_inner",
        "gpt_family.py|gptj|transformer.h.N.mlp.fc_in.weight|0|n_inner",
        "gpt_family.py|falcon|transformer.h.N.mlp.dense_h_to_4h.weight|0|ffn_hidden_size",
        "encoder_family.py|distilbert|distilbert.transformer.layer.N.ffn.lin1.weight|0|hidden_dim",
        // (BLOOM's configuration has no MLP width: transformers makes it 4 x the width, so a widened BLOOM is read by
        // Lady from its shapes only; its config.json is not checked here)
    })
    @org.junit.jupiter.api.Tag("slow")
    void aStructuralAttackOnTheOtherGptFamilies(String python, String variant, String fc, int axis, String key)
            throws IOException, InterruptedException {
        structuralAttackAndUndo(python, variant, fc, axis, key);
    }

    @SuppressWarnings("unchecked")
    private void structuralAttackAndUndo(String python, String variant, String fc, int axis, String key)
            throws IOException, InterruptedException {
        Path ref = dir.resolve("ref");
        List<String> make = new ArrayList<>(List.of("make", ref.toString(), "--seed", "5", "--variant"));
        make.addAll(List.of(variant.split(" "))); // (the variant, then any make options)
        assertNull(PythonTorch.run(python, make.toArray(String[]::new)));
        Path attacked = dir.resolve("nso");
        CliRun a = CliRun.of("attack", "--model", ref.toString(), "--attack", "nso", "--seed", "5", "--out",
                attacked.toString(), "--quiet");
        assertEquals(0, a.code(), a.err());
        StateDict sd = Checkpoints.read(attacked);
        long width = sd.get(fc.replace("N", "0")).shape()[axis];
        assertNotEquals(48L, width, "nso adds MLP units");
        assertEquals(width, sd.get(fc.replace("N", "1")).shape()[axis]);
        assertEquals(width, ((Number) sd.config().get(key)).longValue(), "config.json's " + key + " follows the MLP's "
                + "new width");
        Map<String, Object> before0 = new java.util.HashMap<>((Map<String, Object>) Json.parse(Files.readString(ref.resolve("config.json"))));
        Map<String, Object> after0 = new java.util.HashMap<>((Map<String, Object>) Json.parse(Files.readString(attacked.resolve("config.json"))));
        before0.remove(key);
        after0.remove(key);
        assertEquals(before0, after0, "nothing else of config.json changed");
        // the script's own forward pass reads the attacked folder and computes the reference's function
        Map<String, Object> both = forward(python, List.of(ref, attacked), "both");
        List<Double> before = flat(((Map<?, ?>) both.get("logits")).get(ref.toString()));
        List<Double> after = flat(((Map<?, ?>) both.get("logits")).get(attacked.toString()));
        assertTrue(maxDiff(before, after) < 1e-6 * Math.max(1, maxAbs(before)), "differ by " + maxDiff(before, after));
        // the undo brings the reference's width back, and its config.json with it
        Path fixed = dir.resolve("fixed");
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", attacked.toString(), "--out",
                fixed.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        assertEquals(Json.parse(Files.readString(ref.resolve("config.json"))),
                Json.parse(Files.readString(fixed.resolve("config.json"))));
        // and every tensor of the reference, up to the rounding of the merged columns
        double diff = lady.structure.StateDiff.max(Checkpoints.read(ref), Checkpoints.read(fixed));
        assertTrue(diff <= lady.structure.StateDiff.SAME_REL, "restored within " + diff + " relative");
    }

    /**
     * A suspect of another network (a layer more; no q/k/v biases against a Qwen2 reference that has them) is refused
     * by name: aligning the reference's groups would leave the suspect's other tensors in its own order, or read
     * tensors it does not have.
     */
    /**
     * A suspect's weights file found without its folder has no config.json: the attention heads are read from the
     * reference's, the widths from its own shapes, and the report says so.
     */
    @Test
    void aSuspectsWeightsFileWithoutItsFolderIsReadWithTheReferencesConfiguration() throws IOException, InterruptedException {
        assertNull(PythonTorch.run(SCRIPT, "case", dir.toString(), "--variant", "llama", "--dtype", "BF16", "--seed", "3",
                "--heads", "8", "--kv-heads", "2", "--head-dim", "4", "--permute-seed", "5"));
        Path lone = Files.createDirectories(dir.resolve("lone")).resolve("weights.safetensors");
        Files.copy(dir.resolve("attacked").resolve("model.safetensors"), lone);
        Path fixed = dir.resolve("fixed.safetensors");
        Path report = dir.resolve("r.json");
        CliRun r = CliRun.of("resync", "--reference", dir.resolve("ref").toString(), "--suspect", lone.toString(),
                "--secret", dir.resolve("secret.json").toString(), "--out", fixed.toString(), "--report", report.toString(),
                "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("read with the reference's config.json"), r.out());
        assertEquals(-1, Files.mismatch(dir.resolve("ref").resolve("model.safetensors"), fixed), "restored byte for byte");
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(report));
        assertEquals(100.0, ((Number) json.get("psi")).doubleValue());
        assertTrue(String.valueOf(json.get("suspect_config")).contains("reference's config.json"), json.toString());

        CliRun images = CliRun.of("resync", "--reference", dir.resolve("ref").toString(), "--suspect", lone.toString(),
                "--signal", "activations", "--data", "digits", "--quiet");
        assertEquals(LadyException.Kind.USAGE.exitCode(), images.code(), images.err());
        assertTrue(images.err().contains("reads token ids; use --signal weights"), images.err());

        Path canon = dir.resolve("canon.json"); // the owner's canonical order saves the configuration
        assertEquals(0, CliRun.of("canon", "--model", dir.resolve("ref").toString(), "--layer", "all", "--out",
                canon.toString(), "--quiet").code());
        CliRun aligned = CliRun.of("canon", "--model", lone.toString(), "--from", canon.toString(), "--out",
                dir.resolve("aligned.safetensors").toString(), "--secret", dir.resolve("secret.json").toString(), "--quiet");
        assertEquals(0, aligned.code(), aligned.err());
        assertTrue(aligned.err().contains("read with the configuration saved in"), aligned.err());
        assertTrue(aligned.out().contains("Psi_rank over the groups: 100.00 %"), aligned.out());
    }

    @Test
    void aSuspectOfAnotherNetworkIsRefused() throws IOException, InterruptedException {
        Path llama = make("ref", "--variant", "llama", "--seed", "6");
        Path deeper = make("deeper", "--variant", "llama", "--seed", "6", "--layers", "3");
        Path qwen = make("qwen", "--variant", "qwen2", "--seed", "6");
        for (Path[] pair : new Path[][] {{llama, deeper}, {qwen, llama}}) {
            String named = pair[1] == deeper ? "groups only the suspect has: model.layers.2." : "in the reference only";
            for (String structural : List.of("--quiet", "--no-structural")) {
                CliRun r = CliRun.of("resync", "--reference", pair[0].toString(), "--suspect", pair[1].toString(), "--out",
                        dir.resolve("fixed").toString(), "--report", dir.resolve("r.json").toString(), structural);
                assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), r.code(), r.err());
                assertTrue(r.err().contains("the suspect is not the reference's network") && r.err().contains(named),
                        r.err());
                assertFalse(Files.exists(dir.resolve("fixed")) || Files.exists(dir.resolve("r.json")));
            }
        }
    }

    /**
     * Biases only the suspect has (a Qwen2 copy of a model without q/k/v biases: biases added, zero or not, as a
     * structural disguise) are tensors the reference does not hold: they move with their groups, and every tensor of
     * the reference comes back.
     */
    @Test
    void biasesOnlyTheSuspectHasMoveWithTheirGroups() throws IOException, InterruptedException {
        Path qwen = make("qwen", "--variant", "qwen2", "--seed", "6");
        Path sus = dir.resolve("qwen-p");
        assertNull(PythonTorch.run(SCRIPT, "permute", qwen.toString(), sus.toString(), "--seed", "7", "--secret",
                dir.resolve("qsec.json").toString()));
        StateDict full = Checkpoints.read(qwen);
        List<String> kept = full.names().stream().filter(n -> !n.endsWith("_proj.bias")).toList();
        assertTrue(kept.size() < full.size(), "the Qwen2 folder has q/k/v biases");
        Path ref = Files.createDirectories(dir.resolve("no-bias"));
        Checkpoints.write(ref.resolve("model.safetensors"), full.select(kept),
                Checkpoints.formatOf(qwen.resolve("model.safetensors")));
        Files.copy(qwen.resolve("config.json"), ref.resolve("config.json"));
        StateDict got = resynced(ref, sus, dir.resolve("qsec.json"), dir.resolve("fixed"), "--quiet");
        for (String name : full.names()) {
            assertTrue(full.get(name).sameContent(got.get(name)), name + (kept.contains(name) ? "" : " (carried)"));
        }
    }

    /**
     * A tied lm_head.weight saved on one side only (transformers' older versions, or a save that kept it).
     * <ul>
     *   <li>Saved by the suspect: the head, a tensor only the suspect holds, moves with the residual stream, so the
     *       written folder's head is its restored embedding again; every tensor of the reference comes back.</li>
     *   <li>Saved by the reference: the head, a tensor the suspect lacks and a copy of the embedding, is left out of
     *       the comparison (the output says so); every tensor of the suspect's folder comes back to the reference's
     *       order. (Tensors the suspect lacks that are no such copy, Qwen2's biases, are still refused:
     *       aSuspectOfAnotherNetworkIsRefused.)</li>
     * </ul>
     */
    @Test
    void aTiedHeadSavedOnOneSideOnly() throws IOException, InterruptedException {
        Path plain = make("tref", "--variant", "llama", "--seed", "8", "--tied");
        Path saved = make("tsaved", "--variant", "llama", "--seed", "8", "--tied", "--tied-saved");
        for (boolean suspectSaved : new boolean[] {true, false}) {
            Path ref = suspectSaved ? plain : saved;
            Path sus = dir.resolve("tsus-" + suspectSaved);
            Path secret = dir.resolve("tsec-" + suspectSaved + ".json");
            assertNull(PythonTorch.run(SCRIPT, "permute", (suspectSaved ? saved : plain).toString(), sus.toString(),
                    "--seed", "9", "--secret", secret.toString()));
            StateDict want = Checkpoints.read(plain);
            for (String structural : List.of("--quiet", "--no-structural")) {
                StateDict got = resynced(ref, sus, secret, dir.resolve("tfix-" + suspectSaved + structural), structural);
                for (String name : want.names()) {
                    assertTrue(want.get(name).sameContent(got.get(name)), suspectSaved + structural + ": " + name);
                }
                if (suspectSaved) {
                    assertTrue(got.get("lm_head.weight").sameContent(got.get("model.embed_tokens.weight")),
                            structural + ": the saved head is the restored embedding");
                } else {
                    assertEquals(want.names(), got.names(), "the suspect's layout");
                }
            }
        }
        CliRun r = CliRun.of("resync", "--reference", saved.toString(), "--suspect", dir.resolve("tsus-false").toString(),
                "--out", dir.resolve("tfix-log").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("left out of the comparison (a saved tie the suspect does not hold): lm_head.weight"),
                r.out());
    }

    /**
     * A copy of the folder {@code folder} with {@code extra} rows of random values appended to its embedding and its
     * head, and config.json's vocab_size saying so: a fine-tune that added tokens.
     */
    private Path withTokens(Path folder, String name, int extra, long seed) {
        StateDict s = Checkpoints.read(folder);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        long vocab = 0;
        for (String t : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            if (!s.contains(t)) {
                continue;
            }
            float[] v = s.get(t).readFloats();
            long[] shape = s.shape(t);
            float[] grown = java.util.Arrays.copyOf(v, v.length + extra * (int) shape[1]);
            for (int i = v.length; i < grown.length; i++) {
                grown[i] = (float) (rnd.nextGaussian() * 0.02);
            }
            vocab = shape[0] + extra;
            s.put(t, lady.tensor.HostTensor.ofFloats(grown, vocab, shape[1]));
        }
        return writtenWithVocabulary(s, vocab, folder, name);
    }

    /** {@code s} written as a folder {@code name} like {@code folder}, its config.json's vocab_size {@code vocab}. */
    private Path writtenWithVocabulary(StateDict s, long vocab, Path folder, String name) {
        Map<String, Object> config = new java.util.LinkedHashMap<>(s.config());
        config.put("vocab_size", vocab);
        s.setConfig(config);
        Path out = dir.resolve(name);
        Checkpoints.writeLike(out, s, folder);
        return out;
    }

    /**
     * A suspect whose fine-tune added tokens (8 rows more in its embedding and head), or a reference that did
     * (the suspect is the base): compared on the tokens both have, every tensor of the reference comes back on those
     * rows, and the suspect keeps its own: its other rows are moved as the rest of its residual stream (the same
     * column order), and the report says which rows were compared.
     */
    @Test
    void aVocabularyWithTokensAddedIsComparedOnTheTokensBothHave() throws IOException, InterruptedException {
        Path ref = make("vref", "--variant", "llama", "--dtype", "F32", "--seed", "6");
        Path sus = dir.resolve("vsus");
        Path secret = dir.resolve("vsec.json");
        assertNull(PythonTorch.run(SCRIPT, "permute", ref.toString(), sus.toString(), "--seed", "7", "--secret",
                secret.toString()));
        Path grownSus = withTokens(sus, "vsus-grown", 8, 1);
        Path grownRef = withTokens(ref, "vref-grown", 8, 2);
        StateDict want = Checkpoints.read(ref);
        long vocab = want.shape("model.embed_tokens.weight")[0];
        for (Path[] pair : new Path[][] {{ref, grownSus}, {grownRef, sus}}) {
            String label = pair[1] == grownSus ? "the suspect added tokens" : "the reference added tokens";
            Path out = dir.resolve("vfix-" + (pair[1] == grownSus));
            Path report = dir.resolve("vr-" + (pair[1] == grownSus) + ".json");
            CliRun r = CliRun.of("resync", "--reference", pair[0].toString(), "--suspect", pair[1].toString(), "--out",
                    out.toString(), "--secret", secret.toString(), "--report", report.toString());
            assertEquals(0, r.code(), label + ": " + r.err());
            assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), label + ": " + r.out());
            long theirs = pair[1] == grownSus ? vocab + 8 : vocab;
            assertTrue(r.out().contains("vocabulary: the suspect has " + theirs + " tokens, the reference "
                    + (vocab + 8 - theirs + vocab) + ": compared on the first " + vocab), label + ": " + r.out());
            Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(report));
            assertEquals(vocab, ((Number) ((Map<?, ?>) json.get("vocabulary")).get("compared_tokens")).longValue());
            assertEquals(Boolean.TRUE, ((Map<?, ?>) json.get("vocabulary")).get("rows_correspond"), label);
            StateDict got = Checkpoints.read(out);
            StateDict suspect = Checkpoints.read(pair[1]);
            assertEquals(theirs, ((Number) got.config().get("vocab_size")).longValue(), label + ": its own vocabulary");
            for (String name : want.names()) {
                float[] w = want.get(name).readFloats();
                float[] g = got.get(name).readFloats();
                assertTrue(g.length >= w.length, name);
                assertTrue(java.util.Arrays.equals(w, 0, w.length, g, 0, w.length), label + ": " + name);
                if (g.length > w.length) { // the added rows: the suspect's, in the order of the stream's columns
                    int d = (int) want.shape(name)[1];
                    float[] own = suspect.get(name).readFloats();
                    for (int j = 0; j < d; j++) {
                        int from = -1; // the suspect's column that became column j (its first rows are random values)
                        for (int c = 0; c < d && from < 0; c++) {
                            boolean same = true;
                            for (int row = 0; row < vocab && same; row++) {
                                same = own[row * d + c] == g[row * d + j];
                            }
                            from = same ? c : -1;
                        }
                        assertTrue(from >= 0, name + " column " + j);
                        for (long row = vocab; row < theirs; row++) {
                            assertEquals(own[(int) row * d + from], g[(int) row * d + j], name + " added row " + row);
                        }
                    }
                }
            }
        }
        Path md = dir.resolve("vr.md"); // the readable reports say it too
        assertEquals(0, CliRun.of("resync", "--reference", ref.toString(), "--suspect", grownSus.toString(), "--report",
                md.toString(), "--quiet").code());
        assertTrue(Files.readString(md).contains("- **vocabulary**: reference\\_tokens " + vocab), Files.readString(md));
        // without the reference: the owner's canonical order ranks a suspect with tokens added on the order's tokens
        Path canon = dir.resolve("vcanon.json");
        assertEquals(0, CliRun.of("canon", "--model", ref.toString(), "--layer", "all", "--out", canon.toString(),
                "--quiet").code());
        CliRun aligned = CliRun.of("canon", "--model", grownSus.toString(), "--from", canon.toString(), "--out",
                dir.resolve("valigned").toString(), "--secret", secret.toString(), "--quiet");
        assertEquals(0, aligned.code(), aligned.err());
        assertTrue(aligned.out().contains("Psi_rank over the groups: 100.00 %"), aligned.out());
        assertTrue(aligned.err().contains("ranked on the first " + vocab), aligned.err());
        Path grownCanon = dir.resolve("vcanon-grown.json"); // an order made on more tokens than the suspect has
        assertEquals(0, CliRun.of("canon", "--model", grownRef.toString(), "--layer", "all", "--out",
                grownCanon.toString(), "--quiet").code());
        CliRun fewer = CliRun.of("canon", "--model", sus.toString(), "--from", grownCanon.toString(), "--out",
                dir.resolve("vfewer").toString(), "--quiet");
        assertEquals(LadyException.Kind.INVALID_INPUT.exitCode(), fewer.code(), fewer.err());
        assertTrue(fewer.err().contains("fewer than the " + (vocab + 8)), fewer.err());
        assertFalse(Files.exists(dir.resolve("vfewer")));
    }

    /**
     * A copy of the folder {@code folder} whose vocabulary holds the rows {@code index} of its own (trimmed, reordered)
     * in that order, each value moved by Gaussian noise of {@code noise} (0: none, a fine-tune that left the embedding
     * alone), and config.json's vocab_size saying so.
     */
    private Path withRows(Path folder, String name, long[] index, double noise, long seed) {
        StateDict s = Checkpoints.read(folder);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        for (String t : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            lady.tensor.HostTensor rows = s.get(t).selectRows(index);
            float[] v = rows.readFloats();
            for (int i = 0; i < v.length && noise > 0; i++) {
                v[i] += (float) (rnd.nextGaussian() * noise);
            }
            s.put(t, lady.tensor.HostTensor.ofFloats(v, rows.shape()));
        }
        return writtenWithVocabulary(s, index.length, folder, name);
    }

    /**
     * A suspect whose vocabulary was trimmed (its first 8 tokens gone) and reordered (token ids shuffled with the
     * tokenizer: the same function), its embedding left as it was: its rows are paired with the reference's by their
     * values, the verdict sees the copy, every other tensor comes back exactly and the vocabulary rows stay the
     * suspect's, in its order; a bfloat16 copy of it is paired on its values rounded alike. Retrained as well (every
     * value of those rows moved), the rows cannot be paired, and the report says the embedding and head gave no
     * evidence.
     */
    @Test
    void aVocabularyTrimmedAndReorderedIsPairedByItsRowsValues() throws IOException, InterruptedException {
        Path ref = make("wref", "--variant", "llama", "--dtype", "F32", "--seed", "8", "--vocab", "96");
        Path sus = dir.resolve("wsus");
        Path secret = dir.resolve("wsec.json");
        assertNull(PythonTorch.run(SCRIPT, "permute", ref.toString(), sus.toString(), "--seed", "9", "--secret",
                secret.toString()));
        StateDict want = Checkpoints.read(ref);
        long vocab = want.shape("model.embed_tokens.weight")[0];
        List<Long> kept = new ArrayList<>();
        for (long i = 8; i < vocab; i++) {
            kept.add(i);
        }
        java.util.Collections.shuffle(kept, new java.util.Random(3));
        long[] index = kept.stream().mapToLong(Long::longValue).toArray();
        Path moved = withRows(sus, "wsus-moved", index, 0, 1);
        Path out = dir.resolve("wfix");
        Path report = dir.resolve("wr.json");
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", moved.toString(), "--out",
                out.toString(), "--secret", secret.toString(), "--report", report.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        assertTrue(r.out().contains("verdict: DERIVED"), r.out());
        assertTrue(r.out().contains("compared on the " + index.length + " rows both hold with the same values (paired "
                + "by content"), r.out());
        Map<?, ?> v = (Map<?, ?>) ((Map<?, ?>) Json.parse(Files.readString(report))).get("vocabulary");
        assertEquals("content", v.get("paired_by"));
        assertEquals(8L, ((Number) v.get("unpaired_reference_tokens")).longValue());
        assertEquals(Boolean.TRUE, v.get("rows_correspond"));
        StateDict got = Checkpoints.read(out);
        assertEquals((long) index.length, ((Number) got.config().get("vocab_size")).longValue());
        for (String name : want.names()) {
            lady.tensor.HostTensor w = want.get(name);
            if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
                w = w.selectRows(index); // the suspect's own tokens, in its order, in the reference's columns
            }
            assertTrue(w.sameContent(got.get(name)), name);
        }
        // a wrong pairing is seen: the same rows shifted by one are not the suspect's
        assertFalse(want.get("lm_head.weight").selectRows(java.util.Arrays.stream(index).map(i -> i == vocab - 1 ? 8
                : i + 1).toArray()).sameContent(got.get("lm_head.weight")));
        StateDict half = Checkpoints.read(moved); // released in bfloat16: paired on the values rounded alike
        for (String name : half.names()) {
            half.put(name, half.get(name).converted(lady.tensor.DType.BFLOAT16));
        }
        Path movedHalf = dir.resolve("wsus-moved-bf16");
        Checkpoints.writeLike(movedHalf, half, moved);
        CliRun h = CliRun.of("resync", "--reference", ref.toString(), "--suspect", movedHalf.toString(), "--secret",
                secret.toString());
        assertEquals(0, h.code(), h.err());
        assertTrue(h.out().contains("Psi (neuron-weighted) 100.00 %") && h.out().contains("verdict: DERIVED"), h.out());
        assertTrue(h.out().contains("rows both hold with the same values (rounded to bfloat16)"), h.out());
        Path retrained = withRows(sus, "wsus-retrained", index, 0.02, 2);
        CliRun t = CliRun.of("resync", "--reference", ref.toString(), "--suspect", retrained.toString(), "--report",
                report.toString(), "--quiet");
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("those rows did not correspond after the resync"), t.out());
        v = (Map<?, ?>) ((Map<?, ?>) Json.parse(Files.readString(report))).get("vocabulary");
        assertEquals("position", v.get("paired_by"));
        assertEquals(Boolean.FALSE, v.get("rows_correspond"));
    }

    /** {@code lady resync} of {@code sus} against {@code ref} into {@code out}: exit 0, Psi 100 (the secret's); what it wrote. */
    private static StateDict resynced(Path ref, Path sus, Path secret, Path out, String option) {
        CliRun r = CliRun.of("resync", "--reference", ref.toString(), "--suspect", sus.toString(), "--out", out.toString(),
                "--secret", secret.toString(), option);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Psi (neuron-weighted) 100.00 %"), r.out());
        return Checkpoints.read(out);
    }

    /** Lady's logits (GraphNetwork) for the script's token ids [B, T], or its images [B, C, H, W] (float). */
    @SuppressWarnings("try")
    private static List<Double> ladyLogits(StateDict state, Object input) {
        Torch.init();
        Model m = Models.fromStateDict(state, null);
        List<Long> shape = new ArrayList<>();
        for (Object o = input; o instanceof List<?> l; o = l.get(0)) {
            shape.add((long) l.size());
        }
        List<Double> values = flat(input);
        boolean images = shape.size() == 4;
        torch.ScalarType type = images ? torch.ScalarType.Float : torch.ScalarType.Long;
        Tensor x = torch.empty(shape.stream().mapToLong(Long::longValue).toArray(), new org.bytedeco.pytorch.TensorOptions()
                .dtype(new org.bytedeco.pytorch.ScalarTypeOptional(type)), new org.bytedeco.pytorch.MemoryFormatOptional());
        for (int i = 0; i < values.size(); i++) {
            if (images) {
                x.data_ptr_float().put(i, values.get(i).floatValue());
            } else {
                x.data_ptr_long().put(i, values.get(i).longValue());
            }
        }
        List<Double> out = new ArrayList<>();
        try (NoGradGuard g = new NoGradGuard()) {
            m.train(false);
            Tensor y = m.outputs(x).get(0).to(torch.ScalarType.Double).contiguous();
            long n = y.numel();
            for (long i = 0; i < n; i++) {
                out.add(y.data_ptr_double().get(i));
            }
        }
        return out;
    }
}
