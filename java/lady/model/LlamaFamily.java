package lady.model;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;
import lady.report.Json;

/**
 * The Llama family of Hugging Face transformers (also Mistral, Qwen2 with q/k/v biases, Qwen3 with an RMSNorm of
 * each q and k head: q_norm, k_norm, and Gemma 1, 2 and 3 (text): RMSNorm by 1 + weight, the embedding times
 * sqrt(hidden_size), Gemma 2's and 3's norms around the attention and the MLP, Gemma 2's soft caps, sliding layers,
 * Gemma 3's head norms and local rope; Phi-3 with q, k, v in one qkv_proj and gate, up in one gate_up_proj; Granite's
 * multipliers; StarCoder2's, StableLM's and Cohere's LayerNorms, StarCoder2's MLP without gate, StableLM's and Cohere's
 * parallel block, Cohere's interleaved RoPE), with
 * Hugging Face's tensor names: model.embed_tokens, per layer input_layernorm (RMS), self_attn (q_proj,
 * k_proj, v_proj, o_proj: grouped-query attention with rotary embeddings, {@link Op#ATTENTION_GQA}),
 * residual add, post_attention_layernorm, mlp (down_proj(act(gate_proj x) * up_proj x)), residual add;
 * model.norm, lm_head (or the embedding matrix when the embeddings are tied and lm_head is not saved); or the same
 * decoder saved without its head and without the {@code model.} prefix (transformers' LlamaModel, Qwen3Model, ...: as
 * embedding models are saved), whose output is its last hidden state.
 * Widths and biases come from the shapes (every bias a checkpoint has is used: Qwen2's q/k/v, Llama's
 * {@code attention_bias} on q/k/v/o, Llama's {@code mlp_bias} on gate/up/down); heads, KV heads (default:
 * the heads, MHA), head dimension (default: the q rows / heads), RMS eps, RoPE base and scaling, activation
 * from config.json ({@code num_attention_heads}, {@code num_key_value_heads}, {@code head_dim}, {@code
 * rms_norm_eps}, {@code rope_theta}, {@code rope_scaling}: {@link LlamaRope}, {@code partial_rotary_factor}, {@code
 * hidden_act}); every other
 * key is ignored. A layer's {@code self_attn.rotary_emb.inv_freq} (saved by older transformers versions) is
 * accepted, kept in place and used. What Lady's forward pass cannot compute (a rope_scaling type or an
 * activation it does not have) is recorded on the node ({@link Op#FORWARD_UNSUPPORTED}): only the commands
 * that run the model refuse it; the groups do not depend on it.
 */
final class LlamaFamily implements Family {
    private static final double DEFAULT_EPS = 1e-6;
    /** config.json's hidden_act -> the activation Lady computes (transformers' ACT2FN names). */
    static final Map<String, Op.Activation> ACTIVATIONS = Map.of("silu", Op.Activation.SILU, "swish",
            Op.Activation.SILU, "gelu", Op.Activation.GELU, "gelu_pytorch_tanh", Op.Activation.GELU_TANH, "gelu_new",
            Op.Activation.GELU_TANH, "relu", Op.Activation.RELU, "quick_gelu", Op.Activation.QUICK_GELU);

    @Override
    public List<String> modelTypes() {
        List<String> types = new java.util.ArrayList<>(names());
        types.addAll(QWEN_VL_TYPES);
        return List.copyOf(types);
    }

    @Override
    public List<String> names() {
        return NAMES;
    }

    /**
     * By the shapes alone: Gemma 2 and 3 normalize the attention's and the MLP's outputs too (pre/post_feedforward
     * norms), Gemma 3 and Qwen3 each q and k head (q_norm, k_norm); Qwen2 has q/k/v biases and no o bias; Llama's
     * attention_bias puts one on o too. Gemma (1) has Llama's shapes: config.json's model_type names it.
     */
    @Override
    public String recognize(Map<String, long[]> s) {
        String p = prefix(s::containsKey);
        if (p == null) {
            return null;
        }
        if (s.containsKey(p + "layers.0.self_attn.qkv_proj.weight")) { // q, k, v and gate, up fused
            return PHI3;
        }
        if (s.containsKey(p + "layers.0.mlp.c_fc.weight")) { // an MLP without gate, LayerNorms
            return STARCODER2;
        }
        if (s.containsKey(p + "layers.0.input_layernorm.bias")) { // LayerNorms, a gated MLP
            return STABLELM;
        }
        if (s.containsKey(p + "layers.0.input_layernorm.weight")
                && !s.containsKey(p + "layers.0.post_attention_layernorm.weight")) { // one norm, a parallel block
            return COHERE;
        }
        boolean headNorms = s.containsKey(p + "layers.0.self_attn.q_norm.weight");
        // OLMo 2's and OLMoE's q norm spans the whole projection (every head), Qwen3's and Gemma 3's one head
        boolean fullNorms = headNorms && s.get(p + "layers.0.self_attn.q_norm.weight")[0]
                == s.get(p + "layers.0.self_attn.q_proj.weight")[0];
        for (int i = 0; s.containsKey(p + "layers." + i + ".self_attn.q_proj.weight"); i++) { // a layer of experts
            Moe moe = Moe.at(s::containsKey, p + "layers." + i);
            if (moe != null) {
                return moe.mixtral() ? MIXTRAL : fullNorms ? OLMOE : headNorms ? "qwen3_moe" : "qwen2_moe";
            }
        }
        if (!s.containsKey(p + "layers.0.input_layernorm.weight")
                && s.containsKey(p + "layers.0.post_feedforward_layernorm.weight")) { // norms of the outputs only
            return OLMO2;
        }
        if (s.containsKey(p + "layers.0.pre_feedforward_layernorm.weight")) { // norms around the attention and MLP
            return headNorms ? "gemma3_text" : "gemma2";
        }
        if (headNorms) {
            return "qwen3";
        }
        return s.containsKey(p + "layers.0.self_attn.q_proj.bias")
                && !s.containsKey(p + "layers.0.self_attn.o_proj.bias") ? "qwen2" : "llama";
    }

    /** The language model's names: under {@code model.} (XForCausalLM, with its head). */
    private static final String CAUSAL_LM = "model.";
    /**
     * A multimodal model's language model (Gemma3ForConditionalGeneration, LlavaForConditionalGeneration,
     * Mistral3ForConditionalGeneration as transformers 4.4x-4.51 save them: {@code language_model.model.},
     * head {@code language_model.lm_head}; from 4.52: {@code model.language_model.}, head {@code lm_head}); the
     * vision tower and projector beside it ({@link #imagePath}).
     */
    private static final String MULTIMODAL = "language_model.model.";
    private static final String MULTIMODAL_NEW = "model.language_model.";
    /**
     * Qwen2-VL's and Qwen2.5-VL's projector's last layer (the vision tower under {@code visual.}, beside the language
     * model under {@code model.}; from transformers 4.52 under {@code model.visual.}, beside {@code
     * model.language_model.}): its rows are the residual stream's channels.
     */
    private static final String QWEN_VL_MERGER = "visual.merger.mlp.2";
    /** The model types of Qwen2-VL and Qwen2.5-VL (and of their language models' text_config): Qwen2 inside. */
    private static final List<String> QWEN_VL_TYPES = List.of("qwen2_vl", "qwen2_5_vl", "qwen2_vl_text",
            "qwen2_5_vl_text");

    /** The name of the head's module of the language model whose names start with {@code m}. */
    private static String headModule(String m) {
        return m.equals(MULTIMODAL) ? "language_model.lm_head" : "lm_head";
    }

    /**
     * A multimodal model's image path (its tensors outside the language model): the vision tower and the projector's
     * first layers as one opaque node (their channels stay in place), then the projector's last layer, whose outputs
     * are embeddings in the language model's residual stream: Gemma 3's {@code mm_input_projection_weight} [vision,
     * hidden] (x W), or LLaVA's and Mistral 3's {@code linear_2} [hidden, ...] (x W^T + b), or Qwen2-VL's {@link
     * #QWEN_VL_MERGER} (x W^T + b). Its tokens join the text's
     * (a concatenation along the tokens ties their channels). Lady runs text only ({@link Op#IMAGE_FEATURES}).
     * Returns the image tokens' value, or null for a model without one.
     */
    private static String imagePath(String name, GraphBuilder b, Dims d, String m, long hidden, String ids) {
        // Qwen2-VL's and Qwen2.5-VL's tower beside a language model under model. (transformers before 4.52)
        boolean qwenBeside = m.equals(CAUSAL_LM) && d.has(QWEN_VL_MERGER + ".weight", false);
        if (!m.equals(MULTIMODAL) && !m.equals(MULTIMODAL_NEW) && !qwenBeside) {
            return null;
        }
        String outer = m.equals(MULTIMODAL_NEW) ? "model." : ""; // where the towers sit beside the language model
        String gemma = outer + "multi_modal_projector.mm_input_projection_weight";
        String llava = outer + "multi_modal_projector.linear_2.weight";
        String qwen = outer + QWEN_VL_MERGER + ".weight";
        String out = d.has(gemma, false) ? gemma : d.has(llava, false) ? llava : d.has(qwen, false) ? qwen : null;
        String outBias = out == null || out.equals(gemma) ? null : out.substring(0, out.length() - "weight".length())
                + "bias";
        String head = headModule(m) + ".weight";
        List<String> others = d.names().stream().filter(t -> !t.startsWith(m) && !t.equals(head) && !t.equals(out)
                && !t.equals(outBias)).sorted().toList();
        if (out == null) {
            throw LadyException.invalidInput(name + ": a multimodal model whose projector into the language model Lady "
                    + "does not know (it reads Gemma 3's multi_modal_projector.mm_input_projection_weight, LLaVA's "
                    + "multi_modal_projector.linear_2 and Qwen2-VL's visual.merger.mlp.2); beside its language model it "
                    + "has " + lady.util.Text.list(others, 4));
        }
        List<String> unplaced = others.stream().filter(t -> !t.startsWith(outer + "vision_tower.")
                && !t.startsWith(outer + "multi_modal_projector.") && !t.startsWith(outer + "visual.")).toList();
        if (!unplaced.isEmpty()) { // (LLaVA-NeXT's image_newline is a token in the stream: it would have to move)
            throw LadyException.invalidInput(name + ": a multimodal model with tensors beside its language model, vision "
                    + "tower and projector that Lady does not place: " + lady.util.Text.list(unplaced, 4));
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (String t : others) {
            b.tensor(t, d.shape(t));
            params.put(t, t);
        }
        boolean transposed = gemma.equals(out);
        long width = transposed ? d.size(out, 0, 0) : d.size(out, 1, 0);
        String features = b.node(new lady.graph.Node(outer + "vision_tower", Op.IMAGE_FEATURES, List.of(ids),
                outer + "vision_features", params, Map.of("width", width)), width);
        String projector = outer + "multi_modal_projector";
        if (transposed) { // x W with W [vision, hidden]: its columns are the stream's channels
            b.tensor(out, width, hidden);
            return b.node(new lady.graph.Node(projector, Op.LINEAR, List.of(features), projector, Map.of("weight", out),
                    Map.of("transposed", 1L)), hidden);
        }
        return b.linear(out.substring(0, out.length() - ".weight".length()), features, out,
                d.has(outBias, false) ? outBias : null, hidden);
    }

    /**
     * The prefix of the decoder's tensor names: {@link #CAUSAL_LM}, or none for a base model saved without its head
     * (transformers' LlamaModel, Qwen3Model, ...: embedding models are); null when neither holds a Llama decoder.
     */
    private static String prefix(java.util.function.Predicate<String> has) {
        for (String p : List.of(CAUSAL_LM, "", MULTIMODAL, MULTIMODAL_NEW)) {
            String layer = p + "layers.0.";
            if (has.test(p + "embed_tokens.weight")
                    && (has.test(layer + "self_attn.q_proj.weight") || has.test(layer + "self_attn.qkv_proj.weight"))
                    && (has.test(layer + "mlp.gate_proj.weight") || has.test(layer + "mlp.gate_up_proj.weight")
                            || has.test(layer + "mlp.c_fc.weight")
                            || Moe.at(has, p + "layers.0") != null)) {
                return p;
            }
        }
        return null;
    }

    /** Phi-3's name: q, k, v in one tensor (qkv_proj), gate and up in one (gate_up_proj). */
    private static final String PHI3 = "phi3";
    /** Mixtral's name: Mistral with a mixture of experts (block_sparse_moe) for every MLP. */
    private static final String MIXTRAL = "mixtral";
    /** OLMo 2: RMSNorm of the whole q and k projections, norms of the attention's and the MLP's outputs only. */
    private static final String OLMO2 = "olmo2";
    /** OLMoE: Llama's norms, OLMo 2's q and k norms, a mixture of experts (its width in intermediate_size). */
    private static final String OLMOE = "olmoe";
    /**
     * IBM's Granite (3.x): Llama's shapes, config.json's multipliers in the forward: the embedding times
     * embedding_multiplier, the scores times attention_multiplier (for 1 / sqrt(head_dim)), each block's output times
     * residual_multiplier before its residual add, the logits divided by logits_scaling.
     */
    private static final String GRANITE = "granite";
    /**
     * StarCoder2: Llama's attention (GQA, RoPE, biases on q/k/v and o per use_bias), LayerNorms with biases
     * (norm_epsilon), an MLP without gate (c_fc, gelu_pytorch_tanh, c_proj, with biases), the head tied by default.
     */
    private static final String STARCODER2 = "starcoder2";
    /**
     * StableLM (2): Llama's names with LayerNorms with biases (layer_norm_eps), q/k/v biases per use_qkv_bias, a part
     * of each head rotated (partial_rotary_factor), and with use_parallel_residual one norm read by the attention and
     * the MLP, added together (no post_attention_layernorm). Its qk_layernorm (per-head norms) is not read.
     */
    private static final String STABLELM = "stablelm";
    /**
     * Cohere (Command R, Aya): LayerNorms without bias (layer_norm_eps), one input_layernorm read by the attention and
     * the MLP, added together; RoPE on interleaved pairs (2i, 2i + 1); the logits times logit_scale; the head tied by
     * default. Its use_qk_norm per-head norms are not read.
     */
    private static final String COHERE = "cohere";
    /** CohereConfig's default logit_scale. */
    private static final double COHERE_LOGIT_SCALE = 0.0625;

    /** Whether the {@code p} (q or k) norm of attention {@code attn} spans the whole projection, not one head. */
    private static boolean fullNorm(Dims d, String attn, String p, long headDim) {
        return d.size(attn + "." + p + "_norm.weight", 0, headDim) != headDim;
    }

    /**
     * The tensors of a layer's mixture of experts ({@link Op#MOE}): Mixtral's {@code block_sparse_moe} (router {@code
     * gate}, experts' {@code w1} gate, {@code w3} up, {@code w2} down) or Qwen2-MoE's and Qwen3-MoE's {@code mlp} (router
     * {@code gate}, experts' {@code gate_proj}, {@code up_proj}, {@code down_proj}; Qwen2-MoE's {@code shared_expert}
     * and {@code shared_expert_gate}).
     *
     * @param module  the module ({@code model.layers.3.block_sparse_moe})
     * @param experts per expert, its gate, up and down weights; or, for experts fused in the checkpoint (read as one
     *                view per expert by lady.checkpoint.FusedExperts), its gate_up (gate rows, then up rows) and down
     * @param shared  the shared expert's gate, up, down and gate-of-its-output weights, or null
     */
    private record Moe(String module, boolean mixtral, List<String[]> experts, String[] shared) {
        String router() {
            return module + ".gate.weight";
        }

        /** Whether each expert's gate and up rows are one tensor (fused experts: {@code {gate_up, down}} per expert). */
        boolean gateUp() {
            return experts.get(0).length == 2;
        }

        /** The mixture of experts of {@code layer} ({@code model.layers.3}), or null when its MLP is dense. */
        static Moe at(java.util.function.Predicate<String> has, String layer) {
            String f = layer + ".mlp"; // experts fused in the checkpoint, read one per expert (lady.checkpoint.FusedExperts)
            if (has.test(f + ".gate.weight") && has.test(f + ".experts.0.gate_up_proj")) {
                List<String[]> experts = new java.util.ArrayList<>();
                for (int e = 0; has.test(f + ".experts." + e + ".gate_up_proj"); e++) {
                    experts.add(new String[] {f + ".experts." + e + ".gate_up_proj", f + ".experts." + e + ".down_proj"});
                }
                return new Moe(f, false, experts, sharedExpert(has, f));
            }
            for (boolean mixtral : new boolean[] {true, false}) {
                String m = layer + (mixtral ? ".block_sparse_moe" : ".mlp");
                String[] names = mixtral ? new String[] {".w1", ".w3", ".w2"}
                        : new String[] {".gate_proj", ".up_proj", ".down_proj"};
                if (!has.test(m + ".gate.weight")) {
                    continue;
                }
                List<String[]> experts = new java.util.ArrayList<>();
                for (int e = 0; has.test(m + ".experts." + e + names[0] + ".weight"); e++) {
                    String x = m + ".experts." + e;
                    experts.add(new String[] {x + names[0] + ".weight", x + names[1] + ".weight", x + names[2] + ".weight"});
                }
                if (experts.isEmpty()) {
                    continue;
                }
                return new Moe(m, mixtral, experts, mixtral ? null : sharedExpert(has, m));
            }
            return null;
        }

        /** Qwen2-MoE's shared expert of module {@code m}: its gate, up, down and output-gate weights; null without one. */
        private static String[] sharedExpert(java.util.function.Predicate<String> has, String m) {
            String sh = m + ".shared_expert";
            return has.test(sh + ".gate_proj.weight") ? new String[] {sh + ".gate_proj.weight", sh + ".up_proj.weight",
                    sh + ".down_proj.weight", m + ".shared_expert_gate.weight"} : null;
        }

        /**
         * Adds this mixture's widths to {@code widths} (config.json's key -> the widths it holds): each expert's, under
         * intermediate_size for Mixtral and OLMoE, moe_intermediate_size for the Qwens; the shared expert's under
         * shared_expert_intermediate_size. Returns the experts' widths, in order.
         */
        long[] addWidths(String name, java.util.function.Function<String, long[]> shape, Map<String, Set<Long>> widths) {
            String key = name.equals(MIXTRAL) || name.equals(OLMOE) ? "intermediate_size" : "moe_intermediate_size";
            long[] w = new long[experts.size()];
            for (int e = 0; e < w.length; e++) {
                w[e] = shape.apply(experts.get(e)[0])[0] / (gateUp() ? 2 : 1);
                widths.computeIfAbsent(key, k -> new HashSet<>()).add(w[e]);
            }
            if (shared != null) {
                widths.computeIfAbsent("shared_expert_intermediate_size", k -> new HashSet<>())
                        .add(shape.apply(shared[0])[0]);
            }
            return w;
        }
    }

    /** transformers' defaults of num_experts_per_tok (MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig). */
    private static final Map<String, Long> DEFAULT_TOP_K = Map.of(MIXTRAL, 2L, "qwen2_moe", 4L, "qwen3_moe", 8L,
            OLMOE, 8L);

    /** The MLP's width of layer {@code layer} (its gate's rows; half a fused gate_up's), or 0 when it has none. */
    private static long mlpWidth(java.util.function.Function<String, long[]> shape, String layer) {
        long[] gate = shape.apply(layer + ".mlp.gate_proj.weight");
        long[] fused = shape.apply(layer + ".mlp.gate_up_proj.weight");
        long[] fc = shape.apply(layer + ".mlp.c_fc.weight"); // (StarCoder2)
        return gate != null ? gate[0] : fused != null ? fused[0] / 2 : fc != null ? fc[0] : 0;
    }

    /** config.json's {@code model_type} names the variant when it is one of {@link #names()}; else the shapes do. */
    @Override
    public String recognize(Map<String, long[]> s, Map<String, ?> config) {
        String byShapes = recognize(s);
        if ("qwen2".equals(byShapes) && config.get("model_type") instanceof String t && QWEN_VL_TYPES.contains(t)) {
            return byShapes; // (its language model is a Qwen2's)
        }
        if (byShapes != null && config.get("model_type") instanceof String type && names().contains(type)) {
            return type;
        }
        return byShapes;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = prefix(s::containsKey);
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, (p == null ? CAUSAL_LM : p)
                + "embed_tokens.weight", 0, 32000)), 1.0, 0, 1, 1);
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireCheckpoint(name, d);
        String found = prefix(t -> d.has(t, false));
        String m = found == null ? CAUSAL_LM : found; // (none: the size reads below name what is missing)
        String embedding = m + "embed_tokens.weight";
        long vocab = d.size(embedding, 0, 0);
        long hidden = d.size(embedding, 1, 0);
        agree(name, d, "vocab_size", vocab, embedding);
        agree(name, d, "hidden_size", hidden, embedding);
        long heads = d.configLong("num_attention_heads", 0);
        if (heads < 1 && !d.hasConfig()) {
            throw LadyException.invalidInput(name + ": no config.json came with these weights, and the attention heads "
                    + "cannot be told from the shapes; give the Hugging Face folder with its config.json");
        }
        if (heads < 1) {
            throw LadyException.invalidInput(name + ": config.json gives no num_attention_heads; the attention heads "
                    + "cannot be told from the shapes");
        }
        long kvHeads = d.configLong("num_key_value_heads", heads);
        String packed = m + "layers.0.self_attn.qkv_proj.weight";
        boolean fused = d.has(packed, false);
        String qTensor = fused ? packed : m + "layers.0.self_attn.q_proj.weight";
        long qRows = fused ? d.size(packed, 0, 0) - 2 * kvHeads * (d.size(packed, 0, 0) / (heads + 2 * kvHeads))
                : d.size(qTensor, 0, hidden);
        long headDim = d.configLong("head_dim", qRows % heads == 0 ? qRows / heads : hidden / heads);
        if (qRows % heads != 0 || qRows / heads != headDim
                || (fused && d.size(packed, 0, 0) != (heads + 2 * kvHeads) * headDim)) {
            // else the graph's q (or q, k, v) rows would not be the tensor's
            throw LadyException.invalidInput(name + ": config.json gives " + heads + " attention heads, " + kvHeads
                    + " KV heads" + (d.config("head_dim") != null ? " of head_dim " + headDim : "") + ", but " + qTensor
                    + " has " + d.size(qTensor, 0, 0) + " rows; the folder's config.json and weights disagree (a "
                    + "config.json from another model?)");
        }
        String epsKey = name.equals(STARCODER2) ? "norm_epsilon"
                : name.equals(STABLELM) || name.equals(COHERE) ? "layer_norm_eps" : "rms_norm_eps";
        double eps = d.configDouble(epsKey, DEFAULT_EPS);
        if (!(eps > 0) || Double.isInfinite(eps)) { // RMSNorm divides by sqrt(mean square + eps)
            throw LadyException.invalidInput(name + ": config.json gives " + epsKey + " " + eps + ", not a positive number");
        }
        LlamaRope rope = LlamaRope.of(d);
        boolean gemma = name.startsWith(GEMMA);
        double normOffset = gemma ? 1 : 0; // Gemma's RMSNorm scales by 1 + weight
        // Gemma's activation is hidden_activation (transformers takes gelu_pytorch_tanh when it is absent)
        Object act = !gemma ? d.config("hidden_act")
                : d.config("hidden_activation") != null ? d.config("hidden_activation") : "gelu_pytorch_tanh";
        Op.Activation fn = ACTIVATIONS.getOrDefault(act == null ? "silu" : act, null);
        String actUnsupported = fn != null ? null : unsupportedActivation("hidden_act", act);
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String image = imagePath(name, b, d, m, hidden, ids); // a multimodal model's image tokens (first: the stream's name)
        boolean granite = name.equals(GRANITE);
        double residualScale = granite ? positive(name, d, "residual_multiplier", 1) : 1;
        String h = b.embedding(m + "embed_tokens", ids, embedding, vocab, hidden, gemma ? Math.sqrt(hidden)
                : granite ? positive(name, d, "embedding_multiplier", 1) : 1);
        if (image != null) { // the image tokens take their places among the text's: their channels are the stream's
            h = b.concat(m + "merge_image_tokens", List.of(image, h), 1, false);
        }
        Map<String, Object> gemmaAttrs = new LinkedHashMap<>(); // Gemma 2 and 3's attention: its scale, its soft cap
        if (granite) {
            gemmaAttrs.put("attn_scale", positive(name, d, "attention_multiplier", 1 / Math.sqrt(headDim)));
        }
        if (gemma && !name.equals(GEMMA)) {
            gemmaAttrs.put("attn_scale", 1 / Math.sqrt(positive(name, d, "query_pre_attn_scalar", headDim)));
            if (d.config("attn_logit_softcapping") != null) {
                gemmaAttrs.put("logit_softcap", positive(name, d, "attn_logit_softcapping", 0));
            }
        }
        // Phi-4-mini rotates the first partial_rotary_factor of each head's dimensions (transformers: int(hd * f))
        double partial = partialRotary(d);
        long rotaryDim = (long) (headDim * partial);
        // StableLM's use_parallel_residual, Cohere's block: one norm read by the attention and the MLP, their outputs
        // added to the stream together
        boolean parallel = name.equals(COHERE) || name.equals(STABLELM)
                && Boolean.TRUE.equals(d.config("use_parallel_residual"));
        int layers = 0;
        Set<Long> widths = new HashSet<>();
        Map<String, Set<Long>> expertWidths = new LinkedHashMap<>();
        for (int i = 0; d.has(m + "layers." + i + ".self_attn.q_proj.weight", false)
                || d.has(m + "layers." + i + ".self_attn.qkv_proj.weight", false); i++) {
            String layer = m + "layers." + i;
            String attn = layer + ".self_attn";
            boolean preNorm = !name.equals(OLMO2); // OLMo 2 normalizes outputs only (the others' norms are required)
            String x = preNorm ? norm(b, d, name, layer + ".input_layernorm", h, eps, normOffset, false) : h;
            String normed = x;
            Map<String, String> names = new LinkedHashMap<>();
            if (d.has(attn + ".qkv_proj.weight", false)) {
                names.put("qkv_weight", attn + ".qkv_proj.weight");
            }
            for (String p : List.of("q", "k", "v", "o")) {
                if (!d.has(attn + ".qkv_proj.weight", false) || p.equals("o")) {
                    names.put(p + "_weight", attn + "." + p + "_proj.weight");
                }
                if (d.has(attn + "." + p + "_proj.bias", false)) {
                    names.put(p + "_bias", attn + "." + p + "_proj.bias");
                }
            }
            for (String p : List.of("q", "k")) {
                String norm = attn + "." + p + "_norm.weight";
                if (d.has(norm, false)) { // Qwen3, Gemma 3: of each head (its dimensions never move); OLMo 2, OLMoE: of
                    // the whole projection (its weight moves with the rows)
                    names.put(p + (fullNorm(d, attn, p, headDim) ? "_norm_full" : "_norm"), norm);
                }
            }
            if (d.has(attn + ".rotary_emb.inv_freq", false)) { // a buffer older transformers versions saved
                names.put("rope_inv_freq", attn + ".rotary_emb.inv_freq");
            }
            boolean sliding = sliding(name, d, i);
            LlamaRope layerRope = sliding && name.equals("gemma3_text")
                    ? rope.local(d.configDouble("rope_local_base_freq", LlamaRope.DEFAULT_THETA)) : rope;
            Map<String, Object> attrs = layerRope.attrs();
            if (name.equals(COHERE)) {
                attrs.put("rope_interleaved", 1L); // (pairs 2i, 2i + 1)
            }
            attrs.putAll(gemmaAttrs);
            if (sliding) {
                attrs.put("sliding_window", d.configLong("sliding_window", 0));
            }
            if (names.containsKey("q_norm") || names.containsKey("k_norm") || names.containsKey("q_norm_full")
                    || names.containsKey("k_norm_full")) {
                attrs.put("qk_norm_eps", eps);
                if (gemma) {
                    attrs.put("qk_norm_offset", normOffset);
                }
            }
            if (!(partial > 0 && partial <= 1) || rotaryDim < 2 || rotaryDim % 2 != 0) {
                attrs.put(Op.FORWARD_UNSUPPORTED, "partial_rotary_factor " + partial + " (" + rotaryDim + " of "
                        + headDim + " dimensions rotated, not a positive even number) is not computed by Lady's forward pass");
            } else if (layerRope.unsupported(rotaryDim) != null) {
                attrs.put(Op.FORWARD_UNSUPPORTED, layerRope.unsupported(rotaryDim));
            }
            if (rotaryDim > 0 && rotaryDim < headDim) {
                attrs.put("rotary_dim", rotaryDim); // (the unrotated dimensions are a group: ChannelSpaces)
            }
            x = b.attentionGqa(attn, x, names, heads, kvHeads, headDim, attrs);
            // Gemma 2 and 3 normalize the attention's output before the residual add, and the MLP's input and output
            // (OLMo 2 has no norm of the inputs: its post_attention_layernorm normalizes the attention's output)
            boolean sandwich = d.has(layer + ".pre_feedforward_layernorm.weight", false);
            if (!parallel) {
                if (sandwich || !preNorm) {
                    x = norm(b, d, name, layer + ".post_attention_layernorm", x, eps, normOffset, false);
                }
                if (residualScale != 1) { // Granite
                    x = b.scale(layer + ".attn_scaled", x, residualScale);
                }
                h = b.add(layer + ".attn_residual", h, x);
            }
            String y = parallel ? normed
                    : sandwich ? norm(b, d, name, layer + ".pre_feedforward_layernorm", h, eps, normOffset, false)
                    : preNorm ? norm(b, d, name, layer + ".post_attention_layernorm", h, eps, normOffset, false) : h;
            String mlp = layer + ".mlp";
            Moe moe = Moe.at(t -> d.has(t, false), layer);
            String down;
            if (moe != null) {
                down = moe(name, b, d, moe, y, expertWidths, fn, actUnsupported);
            } else {
                long inter = mlpWidth(t -> d.has(t, false) ? new long[] {d.size(t, 0, 0)} : null, layer);
                widths.add(inter);
                down = denseMlp(b, d, mlp, y, inter, hidden, fn, actUnsupported);
            }
            if (sandwich || !preNorm) { // Gemma 2 and 3, OLMo 2
                down = norm(b, d, name, layer + ".post_feedforward_layernorm", down, eps, normOffset, false);
            }
            if (residualScale != 1) {
                down = b.scale(layer + ".mlp_scaled", down, residualScale);
            }
            h = parallel ? b.add(layer + ".residual", h, b.add(layer + ".attn_mlp", x, down))
                    : b.add(layer + ".mlp_residual", h, down);
            layers = i + 1;
        }
        agree(name, d, "num_hidden_layers", layers, m + "layers.N.self_attn.q_proj.weight");
        if (widths.size() == 1) { // layers of different widths (a structural edit's) have no single intermediate_size
            agree(name, d, "intermediate_size", widths.iterator().next(), m + "layers.N.mlp.gate_proj.weight");
        }
        agreeExperts(name, d, expertWidths);
        return head(name, b, d, m, h, eps, normOffset, embedding, vocab, gemma);
    }

    /**
     * Norm {@code module} of {@code x}: an RMSNorm (by weight, or 1 + weight: {@code offset}), or a LayerNorm where the
     * checkpoint holds its bias (StarCoder2's, StableLM's), or Cohere's LayerNorm without bias; {@code freeChannels}: it
     * writes an output whose channel order is free.
     */
    private static String norm(GraphBuilder b, Dims d, String variant, String module, String x, double eps,
            double offset, boolean freeChannels) {
        boolean cohere = variant.equals(COHERE);
        return d.has(module + ".bias", false) || cohere ? b.layerNorm(module, x, eps, freeChannels, !cohere)
                : b.rmsNorm(module, x, eps, offset, freeChannels);
    }

    /** A dense MLP: down(act(gate y) * up y), or Phi-3's fused gate_up; the value it writes. */
    private static String denseMlp(GraphBuilder b, Dims d, String mlp, String y, long inter, long hidden, Op.Activation fn,
            String actUnsupported) {
        if (d.has(mlp + ".c_fc.weight", false)) { // StarCoder2: c_proj(act(c_fc y)), not gated
            String fc = b.linear(mlp + ".c_fc", y, inter, d.has(mlp + ".c_fc.bias", false));
            fc = actUnsupported == null ? b.act(mlp + ".act", fc, fn)
                    : b.act(mlp + ".act", fc, Op.Activation.GELU_TANH, actUnsupported);
            return b.linear(mlp + ".c_proj", fc, hidden, d.has(mlp + ".c_proj.bias", false));
        }
        String gated;
        if (d.has(mlp + ".gate_up_proj.weight", false)) { // Phi-3: act(gate) * up from one tensor's two halves
            gated = b.gatedLinear(mlp + ".gate_up_proj", y, inter, d.has(mlp + ".gate_up_proj.bias", false),
                    fn != null ? fn : Op.Activation.SILU, actUnsupported);
        } else {
            String gateLinear = b.linear(mlp + ".gate_proj", y, inter, d.has(mlp + ".gate_proj.bias", false));
            String gate = actUnsupported == null ? b.act(mlp + ".act", gateLinear, fn)
                    : b.act(mlp + ".act", gateLinear, Op.Activation.SILU, actUnsupported);
            String up = b.linear(mlp + ".up_proj", y, inter, d.has(mlp + ".up_proj.bias", false));
            gated = b.mul(mlp + ".gated", gate, up);
        }
        return b.linear(mlp + ".down_proj", gated, hidden, d.has(mlp + ".down_proj.bias", false));
    }

    /**
     * A layer's mixture of experts ({@link Op#MOE}): the experts' count and their routing from config.json ({@code
     * num_local_experts} or {@code num_experts}, checked; {@code num_experts_per_tok}; {@code norm_topk_prob}, which
     * Mixtral always does); its widths added to {@code widths} (kind -> widths); the value it writes.
     */
    private static String moe(String name, GraphBuilder b, Dims d, Moe moe, String y, Map<String, Set<Long>> widths,
            Op.Activation fn, String actUnsupported) {
        long experts = moe.experts().size();
        boolean mixtral = name.equals(MIXTRAL); // (transformers 5 keeps Mixtral's fused experts under mlp)
        agree(name, d, mixtral ? "num_local_experts" : "num_experts", experts, moe.module() + ".experts.N");
        long topK = d.configLong("num_experts_per_tok", DEFAULT_TOP_K.getOrDefault(name, 2L));
        if (topK < 1 || topK > experts) {
            throw LadyException.invalidInput(name + ": config.json gives num_experts_per_tok " + topK + ", but "
                    + moe.module() + " has " + experts + " experts; the folder's config.json and weights disagree");
        }
        boolean norm = mixtral || Boolean.TRUE.equals(d.config("norm_topk_prob"));
        long[] w = moe.addWidths(name, t -> new long[] {d.size(t, 0, 0)}, widths);
        long sharedWidth = moe.shared() == null ? 0 : d.size(moe.shared()[0], 0, 0);
        return b.moe(moe.module(), y, moe.router(), moe.experts(), w, moe.shared(), sharedWidth, topK, norm,
                fn != null ? fn : Op.Activation.SILU, actUnsupported);
    }

    /** Each width of the experts that is one for every layer must be config.json's ({@link #agree}). */
    private static void agreeExperts(String name, Dims d, Map<String, Set<Long>> widths) {
        widths.forEach((key, w) -> {
            if (w.size() == 1) {
                agree(name, d, key, w.iterator().next(), "the experts' gate weights");
            }
        });
    }

    /** The final norm and the head (or a base model's last hidden state): the architecture. */
    private static Architecture head(String name, GraphBuilder b, Dims d, String m, String h, double eps,
            double normOffset, String embedding, long vocab, boolean gemma) {
        String lmHead = headModule(m);
        boolean base = m.isEmpty() && !d.has(lmHead + ".weight", false);
        // a base model's output is its last hidden state, used by its inner products (an embedding model's): the
        // residual stream's order there is free, as it is inside
        h = norm(b, d, name, m + "norm", h, eps, normOffset, base);
        if (base) {
            return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT, typeNote(name, d));
        }
        boolean tied = !d.has(lmHead + ".weight", false);
        if (tied && Boolean.FALSE.equals(d.config("tie_word_embeddings"))) {
            throw LadyException.invalidInput(name + ": config.json says tie_word_embeddings is false, but the checkpoint "
                    + "has no " + lmHead + ".weight (a shard missing from the folder?)");
        }
        String logits = tied ? b.linear(lmHead, h, embedding, null, vocab)
                : b.linear(lmHead, h, vocab, false);
        if (gemma && d.config("final_logit_softcapping") != null) { // Gemma 2: cap * tanh(logits / cap)
            logits = b.softcap(lmHead + ".softcap", logits, positive(name, d, "final_logit_softcapping", 0));
        }
        if (name.equals(GRANITE)) {
            logits = b.scale(lmHead + ".scaled", logits, 1 / positive(name, d, "logits_scaling", 1));
        }
        if (name.equals(COHERE)) {
            logits = b.scale(lmHead + ".scaled", logits, positive(name, d, "logit_scale", COHERE_LOGIT_SCALE));
        }
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT, typeNote(name, d));
    }

    /**
     * A note when config.json names a model type Lady does not know and the tensors were read as variant {@code name}
     * (MiniCPM, InternLM, Yi and others save Llama's names and shapes): the groups are that variant's, and so is Lady's
     * forward, which may not compute what the model's own code does (its multipliers, activations, norms).
     */
    private static List<String> typeNote(String name, Dims d) {
        if (!(d.config("model_type") instanceof String type) || NAMES.contains(type)
                || name.equals("qwen2") && QWEN_VL_TYPES.contains(type)) {
            return List.of();
        }
        return List.of("config.json's model_type " + lady.util.Text.quote(type) + " is not one Lady knows; its tensors "
                + "were read as " + name + "'s (the same names and shapes), and Lady's forward (--verify) computes "
                + name + "'s, which may differ from this model's own code");
    }

    /** config.json's partial_rotary_factor (also inside rope_parameters, where newer versions put it); 1 when absent. */
    private static double partialRotary(Dims d) {
        if (d.config("partial_rotary_factor") != null || !(d.config("rope_parameters") instanceof Map<?, ?> p)) {
            return d.configDouble("partial_rotary_factor", 1);
        }
        return p.get("partial_rotary_factor") instanceof Number n ? n.doubleValue() : 1;
    }

    /** config.json's {@code key} ({@code fallback} when absent), refused unless a positive number: it divides. */
    static double positive(String name, Dims d, String key, double fallback) {
        double v = d.configDouble(key, fallback);
        if (!(v > 0) || Double.isInfinite(v)) {
            throw LadyException.invalidInput(name + ": config.json gives " + key + " " + v + ", not a positive number");
        }
        return v;
    }

    /** The first of the Gemma variants' names (Gemma 1: Llama's shapes, Gemma's forward). */
    private static final String GEMMA = "gemma";
    /** The variants, by config.json's model_type. */
    private static final List<String> NAMES = List.of("llama", "mistral", "qwen2", "qwen3", GEMMA, "gemma2",
            "gemma3_text", PHI3, MIXTRAL, "qwen2_moe", "qwen3_moe", OLMO2, OLMOE, GRANITE, STARCODER2, STABLELM, COHERE);
    /** Gemma 3's default: one layer in this many attends to the whole prefix, the others within sliding_window. */
    private static final long GEMMA3_SLIDING_PATTERN = 6;

    /**
     * Whether layer {@code i} of a Gemma attends within config.json's sliding_window: as its {@code layer_types} says
     * (newer transformers versions write it), else Gemma 2's even layers, Gemma 3's all but every {@code
     * sliding_window_pattern}-th. The other variants attend to the
     * whole causal prefix (Mistral's and Qwen2's sliding_window is not used: the same for sequences within it).
     */
    private static boolean sliding(String name, Dims d, int i) {
        if (!(d.config("sliding_window") instanceof Number) || !name.startsWith("gemma")) {
            return false;
        }
        if (d.config("layer_types") instanceof List<?> types && i < types.size()) { // newer transformers versions
            return "sliding_attention".equals(types.get(i));
        }
        if (name.equals("gemma2")) {
            return i % 2 == 0;
        }
        if (!name.equals("gemma3_text")) {
            return false;
        }
        long pattern = d.configLong("sliding_window_pattern", GEMMA3_SLIDING_PATTERN);
        return pattern > 0 && (i + 1) % pattern != 0;
    }

    /**
     * config.json with the widths of {@code shapes}: hidden_size, vocab_size, num_hidden_layers where it gives them,
     * and intermediate_size, which structural edits change (MLP units split or added, dummies dropped): the MLP's
     * width when every layer has the same, else left as it is (a Llama configuration has one width for every layer: a
     * folder whose layers differ is not one transformers can load; Lady reads it by its shapes, {@link #build}).
     */
    @Override
    public Map<String, Object> configFor(String name, Map<String, long[]> shapes, Map<String, Object> config) {
        if (config.get(Models.TEXT_CONFIG) instanceof Map<?, ?> text) { // a multimodal model's: its language model's
            Map<String, Object> inner = new LinkedHashMap<>();
            text.forEach((k, v) -> inner.put(String.valueOf(k), v));
            Map<String, Object> c = new LinkedHashMap<>(config);
            c.put(Models.TEXT_CONFIG, configFor(name, shapes, inner));
            return c;
        }
        Map<String, Object> c = new LinkedHashMap<>(config);
        String p = prefix(shapes::containsKey);
        String m = p == null ? CAUSAL_LM : p;
        long[] embedding = shapes.get(m + "embed_tokens.weight");
        if (embedding != null && embedding.length == 2) {
            c.computeIfPresent("vocab_size", (k, v) -> embedding[0]);
            c.computeIfPresent("hidden_size", (k, v) -> embedding[1]);
        }
        Map<String, Set<Long>> widths = new LinkedHashMap<>(); // config key -> the widths of its MLPs or experts
        long layers = 0;
        for (; shapes.containsKey(m + "layers." + layers + ".self_attn.q_proj.weight")
                || shapes.containsKey(m + "layers." + layers + ".self_attn.qkv_proj.weight"); layers++) {
            String layer = m + "layers." + layers;
            Moe moe = Moe.at(shapes::containsKey, layer);
            if (moe == null) {
                long w = mlpWidth(shapes::get, layer);
                if (w > 0) {
                    widths.computeIfAbsent("intermediate_size", k -> new HashSet<>()).add(w);
                }
                continue;
            }
            moe.addWidths(name, shapes::get, widths);
        }
        long n = layers;
        c.computeIfPresent("num_hidden_layers", (k, v) -> n);
        widths.forEach((key, w) -> {
            if (w.size() == 1) {
                long one = w.iterator().next();
                c.computeIfPresent(key, (k, v) -> one);
            }
        });
        return c;
    }

    /**
     * A width config.json gives must be the checkpoint's: a folder whose config.json belongs to another model would
     * be written back with it, and transformers would refuse the result (or, for the layer count, drop or invent
     * layers). A key config.json does not give is not checked.
     */
    /**
     * Refuses to create a model of {@code name} anew: the Hugging Face families read their models from folders only
     * (their sizes come from the checkpoint).
     */
    static void requireCheckpoint(String name, Dims d) {
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " models are read from Hugging Face folders "
                    + "(config.json + safetensors), not created new");
        }
    }

    /**
     * config.json's attention heads (key {@code key}), which the shapes cannot tell: refused when absent or when they do
     * not divide {@code width} (the width of {@code tensor}).
     */
    static long heads(String name, Dims d, String key, long width, String tensor) {
        long heads = d.configLong(key, 0);
        if (heads < 1) {
            throw LadyException.invalidInput(name + ": " + (d.hasConfig() ? "config.json gives no " + key
                    : "no config.json came with these weights") + "; the attention heads cannot be told from the shapes; "
                    + "give the Hugging Face folder with its config.json");
        }
        if (width % heads != 0) {
            throw LadyException.invalidInput(name + ": config.json gives " + heads + " attention heads, which do not "
                    + "divide the width " + width + " (" + tensor + "); the folder's config.json and weights disagree "
                    + "(a config.json from another model?)");
        }
        return heads;
    }

    /**
     * Why Lady's forward pass does not compute activation {@code fnName} (config.json's {@code what}): the reason an
     * {@link Op#FORWARD_UNSUPPORTED} node carries, naming those it computes ({@link #ACTIVATIONS}).
     */
    static String unsupportedActivation(String what, Object fnName) {
        return what + " " + Json.write(fnName) + " is not computed by Lady's forward pass (" + String.join(", ",
                new TreeSet<>(ACTIVATIONS.keySet())) + " are)";
    }

    static void agree(String name, Dims d, String key, long actual, String tensor) {
        Object given = d.config(key);
        if (given instanceof Number n && n.doubleValue() != actual) {
            throw LadyException.invalidInput(name + ": config.json says " + key + " " + Json.write(given) + ", but the "
                    + "checkpoint has " + actual + " (" + tensor + "); the folder's config.json and weights disagree "
                    + "(a config.json from another model?)");
        }
    }
}
