#!/usr/bin/python3
"""Hugging Face Llama-family folders (Llama, Mistral, Qwen2, Qwen3, Gemma 1-3, Phi-3, Granite, StarCoder2, StableLM, Cohere) written and run without
transformers, for Lady's tests (tests/java/lady/model/LlamaFolderTest.java) and benchmarks (bench/llm/).

    llama_family.py make OUT --variant llama|mistral|qwen2|qwen3|gemma|gemma2|gemma3_text|phi3|mixtral|qwen2_moe|qwen3_moe|olmo2|olmoe|granite|starcoder2|stablelm|cohere
                             [--seed S]
                    [--dtype F32|BF16|F16] [--shards N]
                    [--tied [--tied-saved]] [--inv-freq] [--hidden D --layers L --heads H --kv-heads K --head-dim d
                    --inter I --vocab V] [--mlp-bias] [--attention-bias] [--no-head-dim] [--no-kv-heads]
                    [--rope-scaling none|llama3|linear|dynamic|yarn] [--hidden-act silu|...]
                    [--header-order offsets|shuffled] [--no-header-pad] [--headless]
    llama_family.py permute IN OUT --seed S --secret SECRET.json
    llama_family.py forward DIR [DIR...] --tokens-seed S [--batch B --length T] --out LOGITS.json
    llama_family.py case OUT [make options] --permute-seed P --tokens-seed S

make     a random folder laid out as transformers 4.4x's save_pretrained writes it: config.json (every field
         of the variant's configuration class, sorted keys, indent 2), model.safetensors as the safetensors
         library writes it (header "__metadata__": {"format": "pt"} first, then the tensors sorted by name, data
         in that order, header padded with spaces to 8 bytes), or shards model-0000k-of-0000N.safetensors cut
         in state_dict order by size (huggingface_hub's rule, a size limit of total / N + the largest tensor) with
         model.safetensors.index.json ({"metadata": {"total_size": ...}, "weight_map": {...}}, sorted keys);
         generation_config.json and tokenizer files beside them. Tensors are drawn per tensor from the seed
         (normal, std 1/sqrt(fan-in); RMS norm weights 1 + 0.1 normal, biases 0.1 normal), written tensor by
         tensor (a 7B folder needs no more memory than its largest tensor).
         Variants of the configuration: --mlp-bias (Llama's mlp_bias: gate/up/down biases), --attention-bias
         (Llama's attention_bias: q/k/v and o biases; Qwen2 always has q/k/v biases and no o bias), --tied
         (tie_word_embeddings, lm_head not saved; --tied-saved saves it anyway, equal to the embedding),
         --no-head-dim / --no-kv-heads (older configurations without head_dim / num_key_value_heads: MHA),
         --rope-scaling (rope_scaling null or Llama 3.1's llama3, linear, dynamic, yarn), --hidden-act.
         Layout variants: --header-order shuffled (the header's entries in another order than the data's,
         as older safetensors versions wrote them), --no-header-pad (header length not a multiple of 8).
permute  the attacker's side, written independently of Lady: every symmetry of the family permuted with its
         own random permutation, tensor by tensor, the other files copied:
         - the residual stream (D): embedding columns, every RMS norm weight, the q/k/v/gate/up input
           columns, the o/down output rows, lm_head columns;
         - per layer, the MLP units: gate and up rows, down columns;
         - per layer, the KV heads: k and v rows (and biases) in blocks of head_dim, the q rows of their
           query group in blocks of rep * head_dim, the o columns of the group;
         - then, per KV-head position g (after the KV heads moved), the query heads of the group: q rows in
           blocks of head_dim inside the group's block, the o columns of those heads;
         - and the value dimensions of the KV head at position g: v rows (and bias) one by one inside its
           block, and the same columns of o inside every query head of the group.
         Dimensions inside a query/key head never move (RoPE pairs dimension i with i + d/2).
         SECRET.json is Lady's secret format: per group p with new neuron j = old neuron p[j]; the query
         head and value dimension groups named after position g are relative to the positions after the
         KV-head permutation (the convention Lady documents in lady.permutation.Nesting).
forward  the logits of the folder's model on seeded token ids, computed as transformers does (RMSNorm
         in float, rotate_half RoPE with inv_freq = theta^(-2i/d) and rope_scaling's llama3, linear or dynamic
         frequencies, grouped-query attention by repeat_kv, causal softmax, gated MLP (silu, gelu, gelu_pytorch_tanh, relu), every bias the
         folder has, tied or separate lm_head), in float64; written as JSON
         {"tokens": [[...]], "logits": [[[...]]]} for one folder, {"tokens", "logits": {DIR: ...}} for several.
case     a test case in one run (one interpreter start): make OUT/ref, permute it into OUT/attacked with
         OUT/secret.json, and OUT/logits.json holding the forward of both.
Exit code 0 on success, 3 when torch cannot be imported.
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys

NO_TORCH_EXIT = 3
try:
    import torch
except ImportError as e:  # pragma: no cover
    print("no torch: %s" % e)
    sys.exit(NO_TORCH_EXIT)

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "BOOL": torch.bool, "I64": torch.int64}
BYTES = {"F32": 4, "BF16": 2, "F16": 2, "BOOL": 1, "I64": 8}
MODEL_TYPES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
               "qwen3": "Qwen3ForCausalLM", "gemma": "GemmaForCausalLM", "gemma2": "Gemma2ForCausalLM",
               "gemma3_text": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM", "mixtral": "MixtralForCausalLM",
               "qwen2_moe": "Qwen2MoeForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM", "olmo2": "Olmo2ForCausalLM",
               "olmoe": "OlmoeForCausalLM", "granite": "GraniteForCausalLM", "starcoder2": "Starcoder2ForCausalLM",
               "stablelm": "StableLmForCausalLM", "cohere": "CohereForCausalLM"}
GEMMAS = ("gemma", "gemma2", "gemma3_text")
# the mixtures of experts (and OLMo 2, Granite) and the dense variant whose attention and configuration they share
MOE_BASE = {"mixtral": "mistral", "qwen2_moe": "qwen2", "qwen3_moe": "qwen3", "olmo2": "llama", "olmoe": "llama",
            "granite": "llama", "starcoder2": "mistral", "stablelm": "llama", "cohere": "llama"}
# StarCoder2 (Starcoder2Config): LayerNorms with biases (norm_epsilon), biases on every projection (use_bias), an MLP
# without gate (c_fc, gelu_pytorch_tanh, c_proj)
STARCODER2 = "starcoder2"
# StableLM 2 (StableLmConfig): LayerNorms with biases (layer_norm_eps), q/k/v biases per use_qkv_bias, a quarter of each
# head rotated; use_parallel_residual: one norm read by the attention and the MLP, added together
STABLELM = "stablelm"
# Cohere (CohereConfig): LayerNorms without bias, one norm read by the attention and the MLP (added together), RoPE on
# interleaved pairs (2i, 2i + 1), the logits times logit_scale
COHERE = "cohere"
NORM_BIASES = (STARCODER2, STABLELM)  # the variants whose norms are LayerNorms with biases
LAYER_NORMS = NORM_BIASES + (COHERE,)  # and Cohere's, without
# GraniteConfig's multipliers (as granite-3.x-2b-instruct has them, the attention's and the logits' scaled to the
# script's small widths)
GRANITE_MULTIPLIERS = {"embedding_multiplier": 12.0, "attention_multiplier": 0.09, "residual_multiplier": 0.22,
                       "logits_scaling": 3.0}
# OLMo 2 and OLMoE: an RMSNorm of the whole q and k projections (a weight per row); OLMo 2 normalizes outputs only
FULL_QK_NORM = ("olmo2", "olmoe")


# ---------------------------------------------------------------- configuration and names

ROPE_SCALING = {
    "none": None,
    "llama3": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 256,
               "rope_type": "llama3"},
    "linear": {"factor": 2.0, "type": "linear"},  # the older spelling, "type"
    "dynamic": {"factor": 2.0, "rope_type": "dynamic"},
    "yarn": {"factor": 4.0, "original_max_position_embeddings": 1024, "rope_type": "yarn"},
    # Phi-3's 128k variants, Phi-3.5, Phi-4-mini: per-frequency factors (filled in by make, one per rotated pair)
    "longrope": {"type": "longrope"},
}


def make_config(variant, hidden, layers, heads, kv_heads, head_dim, inter, vocab, tied, dtype, mlp_bias=False,
                attention_bias=False, no_head_dim=False, no_kv_heads=False, rope_scaling="none", hidden_act="silu"):
    """config.json as transformers 4.46's LlamaConfig / MistralConfig / Qwen2Config / GemmaConfig / Gemma2Config (4.50's
    Gemma3TextConfig, 4.51's Qwen3Config).to_dict() has it; the Gemmas' sliding windows and soft caps small enough to
    matter on a few tokens. A mixture of experts (MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig) starts from its dense
    variant's; moe_config adds its keys."""
    model_type = variant
    variant = MOE_BASE.get(variant, variant)
    c = {
        "architectures": [MODEL_TYPES[model_type]],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": [2, 3] if variant == "llama" else 2,  # Llama 3.1 lists several
        "hidden_act": hidden_act,
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inter,
        "max_position_embeddings": 4096,
        "model_type": model_type,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-5 if variant in ("llama", "mistral", "phi3") else 1e-6,
        "rope_theta": {"llama": 500000.0, "mistral": 1000000.0, "qwen2": 1000000.0, "qwen3": 1000000.0,
                       "gemma": 10000.0, "gemma2": 10000.0, "gemma3_text": 1000000.0, "phi3": 10000.0}[variant],
        "tie_word_embeddings": tied,
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype],
        "transformers_version": "4.46.3",
        "use_cache": True,
        "vocab_size": vocab,
        "lady_unknown_key": {"ignored": [1, None]},  # a key no configuration class has
    }
    if variant == "llama":
        c.update({"attention_bias": attention_bias, "mlp_bias": mlp_bias, "head_dim": head_dim, "pretraining_tp": 1,
                  "rope_scaling": ROPE_SCALING[rope_scaling]})
    elif variant in GEMMAS:
        assert not mlp_bias, "mlp_bias is Llama's option"
        c.update({"attention_bias": attention_bias, "head_dim": head_dim, "pad_token_id": 0})
        c["hidden_act"] = "gelu"  # Gemma's forward uses hidden_activation (gelu_pytorch_tanh when it is None)
        # (the Gemmas' own default, gelu_pytorch_tanh, where the script's default silu was not changed)
        c["hidden_activation"] = None if variant == "gemma" else "gelu_pytorch_tanh" if hidden_act == "silu" else hidden_act
        if variant != "gemma":
            c.update({"query_pre_attn_scalar": 3 * head_dim, "sliding_window": 3})
        if variant == "gemma2":
            c.update({"attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0, "cache_implementation": "hybrid"})
        if variant == "gemma3_text":
            c.update({"attn_logit_softcapping": None, "final_logit_softcapping": None, "rope_local_base_freq": 10000.0,
                      "rope_scaling": ROPE_SCALING[rope_scaling], "sliding_window_pattern": 2})
    elif variant == "phi3":  # Phi3Config: no head_dim (hidden / heads), q/k/v and gate/up fused
        assert not attention_bias and not mlp_bias, "attention_bias and mlp_bias are Llama's options"
        assert head_dim * heads == hidden, "Phi-3's heads are hidden_size / num_attention_heads wide"
        c.update({"embd_pdrop": 0.0, "original_max_position_embeddings": 4096, "resid_pdrop": 0.0,
                  "rope_scaling": ROPE_SCALING[rope_scaling], "sliding_window": 2047})
    elif variant == "qwen3":
        assert not mlp_bias, "mlp_bias is Llama's option"
        c.update({"attention_bias": attention_bias, "head_dim": head_dim, "max_window_layers": 28,
                  "rope_scaling": ROPE_SCALING[rope_scaling], "sliding_window": None, "use_sliding_window": False})
    else:
        assert not attention_bias and not mlp_bias, "attention_bias and mlp_bias are Llama's options"
    if model_type == "granite":
        c.update(GRANITE_MULTIPLIERS)
    if model_type == STABLELM:
        for k in ("rms_norm_eps", "attention_bias", "mlp_bias", "pretraining_tp"):
            del c[k]
        c.update({"layer_norm_eps": 1e-5, "use_qkv_bias": attention_bias, "qk_layernorm": False,
                  "use_parallel_residual": False, "partial_rotary_factor": 0.25, "hidden_dropout": 0.0,
                  "rope_theta": 10000.0})
    if model_type == COHERE:
        for k in ("rms_norm_eps", "mlp_bias", "pretraining_tp", "head_dim"):
            del c[k]
        c.update({"layer_norm_eps": 1e-5, "logit_scale": 0.25, "use_qk_norm": False, "rope_theta": 10000.0})
    if model_type == STARCODER2:
        del c["rms_norm_eps"]
        c.update({"norm_epsilon": 1e-5, "use_bias": True, "residual_dropout": 0.0, "embedding_dropout": 0.0,
                  "hidden_act": "gelu_pytorch_tanh" if hidden_act == "silu" else hidden_act, "rope_theta": 100000.0})
    if variant == "mistral":
        c.update({"head_dim": head_dim, "sliding_window": 4096})
    if variant == "qwen2":
        c.update({"max_window_layers": 28, "rope_scaling": ROPE_SCALING[rope_scaling], "sliding_window": 4096,
                  "use_sliding_window": False})
    if no_head_dim:
        assert head_dim * heads == hidden, "without head_dim the heads are hidden_size / num_attention_heads wide"
        c.pop("head_dim", None)
    if no_kv_heads:
        assert kv_heads == heads, "without num_key_value_heads every query head has its KV head (MHA)"
        del c["num_key_value_heads"]
    return c


def moe_config(c, experts, top_k, moe_inter, shared_inter, mlp_only_layers, norm_topk):
    """The keys of a mixture of experts: Mixtral's every MLP (intermediate_size is an expert's width, the top k always
    renormalized); Qwen2-MoE's and Qwen3-MoE's (moe_intermediate_size, norm_topk_prob, the dense layers in
    mlp_only_layers; Qwen2-MoE's shared expert)."""
    t = c["model_type"]
    if t == "mixtral":
        c.update({"num_local_experts": experts, "num_experts_per_tok": top_k, "intermediate_size": moe_inter,
                  "output_router_logits": False, "router_aux_loss_coef": 0.02, "router_jitter_noise": 0.0,
                  "sliding_window": None})
    elif t == "olmoe":  # OlmoeConfig: the experts' width is intermediate_size
        c.update({"num_experts": experts, "num_experts_per_tok": top_k, "intermediate_size": moe_inter,
                  "norm_topk_prob": norm_topk, "output_router_logits": False, "router_aux_loss_coef": 0.01})
    elif t in ("qwen2_moe", "qwen3_moe"):
        c.update({"num_experts": experts, "num_experts_per_tok": top_k, "moe_intermediate_size": moe_inter,
                  "norm_topk_prob": norm_topk, "decoder_sparse_step": 1, "mlp_only_layers": mlp_only_layers,
                  "output_router_logits": False, "router_aux_loss_coef": 0.001})
        if t == "qwen2_moe":
            c["shared_expert_intermediate_size"] = shared_inter


def expert_width(c):
    """An expert's width: intermediate_size for Mixtral and OLMoE, moe_intermediate_size for the Qwens."""
    return c["intermediate_size"] if c["model_type"] in ("mixtral", "olmoe") else c["moe_intermediate_size"]


def moe_layer(c, i):
    """Whether layer i's MLP is a mixture of experts (transformers' rule: not in mlp_only_layers, and every
    decoder_sparse_step-th layer)."""
    if c["model_type"] == "mixtral":
        return True
    if c["model_type"] == "olmoe":
        return True
    if c["model_type"] not in ("qwen2_moe", "qwen3_moe"):
        return False
    return i not in c.get("mlp_only_layers", []) and (i + 1) % c.get("decoder_sparse_step", 1) == 0


def moe_names(c, i):
    """(module, router, [(gate, up, down) per expert], shared (gate, up, down, its gate) or None) of layer i."""
    p = "model.layers.%d." % i
    if c["model_type"] == "mixtral":
        m = p + "block_sparse_moe"
        experts = [tuple("%s.experts.%d.%s.weight" % (m, e, w) for w in ("w1", "w3", "w2"))
                   for e in range(c["num_local_experts"])]
        return m, m + ".gate.weight", experts, None
    m = p + "mlp"
    experts = [tuple("%s.experts.%d.%s_proj.weight" % (m, e, w) for w in ("gate", "up", "down"))
               for e in range(c["num_experts"])]
    shared = tuple("%s.shared_expert.%s_proj.weight" % (m, w) for w in ("gate", "up", "down")) + (
        m + ".shared_expert_gate.weight",) if c["model_type"] == "qwen2_moe" else None
    return m, m + ".gate.weight", experts, shared


# a multimodal model (--multimodal): its language model under language_model. (transformers 4.50's save), a small
# vision tower and projector beside it, config.json's text_config holding the language model's configuration
MM_PREFIX = "language_model."
MM_PREFIX_NEW = "model.language_model."  # transformers 4.52's layout: the towers under model. too, lm_head at the top
VISION_WIDTH = 12


def text_config(c):
    """The language model's configuration: a multimodal model's text_config, else the configuration itself."""
    return c.get("text_config", c)


def is_text(n):
    """Whether stored tensor n belongs to the language model (not a multimodal model's vision tower or projector)."""
    return not n.startswith(("vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                             "model.multi_modal_projector.", "visual.", "model.visual."))


def canonical(n):
    """A stored name as the language model alone has it (language_model.model.X and model.language_model.X ->
    model.X)."""
    if n.startswith(MM_PREFIX_NEW):
        return "model." + n[len(MM_PREFIX_NEW):]
    return n[len(MM_PREFIX):] if n.startswith(MM_PREFIX) else n


def stored_name(n, layout):
    """The language model's tensor n (model.X, lm_head.weight) as a multimodal model of this layout stores it."""
    if layout == "qwen-old":  # Qwen2-VL before transformers 4.52: the language model's own names, the tower beside
        return n
    if layout in ("new", "qwen-new"):
        return MM_PREFIX_NEW + n[len("model."):] if n.startswith("model.") else n
    return MM_PREFIX + n


def multimodal_wrap(c, s, layout="old"):
    """(config.json, tensor -> shape) of the multimodal model around language model c with tensors s: Gemma 3's
    (mm_input_projection_weight [vision, hidden], used as x W) for gemma3_text, LLaVA's (linear_1, linear_2) otherwise."""
    d, v = c["hidden_size"], VISION_WIDTH
    if layout.startswith("qwen"):
        return qwen_vl_wrap(c, s, layout)
    gemma = c["model_type"] == "gemma3_text"
    top = {"architectures": ["Gemma3ForConditionalGeneration" if gemma else "LlavaForConditionalGeneration"],
           "model_type": "gemma3" if gemma else "llava", "text_config": c, "image_token_index": 3,
           "transformers_version": "4.50.0",
           "vision_config": {"hidden_size": v, "model_type": "siglip_vision_model" if gemma else "clip_vision_model",
                             "num_hidden_layers": 1, "patch_size": 4}}
    out = {stored_name(n, layout): shape for n, shape in s.items()}
    t = "model." if layout == "new" else ""  # where the towers are
    out[t + "vision_tower.vision_model.embeddings.patch_embedding.weight"] = (v, 3, 4, 4)
    out[t + "vision_tower.vision_model.post_layernorm.weight"] = (v,)
    if gemma:
        out[t + "multi_modal_projector.mm_soft_emb_norm.weight"] = (v,)
        out[t + "multi_modal_projector.mm_input_projection_weight"] = (v, d)
    else:
        out[t + "multi_modal_projector.linear_1.weight"] = (d, v)
        out[t + "multi_modal_projector.linear_1.bias"] = (d,)
        out[t + "multi_modal_projector.linear_2.weight"] = (d, d)
        out[t + "multi_modal_projector.linear_2.bias"] = (d,)
    return top, out


def qwen_vl_wrap(c, s, layout):
    """Qwen2.5-VL around Qwen2 language model c: its vision tower under visual. (model.visual. in transformers 4.52's
    layout), the merger's last layer visual.merger.mlp.2 writing image tokens into the residual stream; M-RoPE
    (rope_scaling mrope, the head's pairs split between temporal, height and width positions: equal for text)."""
    assert c["model_type"] == "qwen2", "Qwen2-VL's language model is a Qwen2"
    d, v = c["hidden_size"], VISION_WIDTH
    half = head_dim_of(c) // 2
    c["rope_scaling"] = {"type": "mrope", "mrope_section": [half - 2 * (half // 4), half // 4, half // 4]}
    vision = {"hidden_size": v, "out_hidden_size": d, "depth": 1, "model_type": "qwen2_5_vl", "patch_size": 4,
              "spatial_merge_size": 2}
    if layout == "qwen-old":  # the text's keys at the top
        top = dict(c, architectures=["Qwen2_5_VLForConditionalGeneration"], model_type="qwen2_5_vl",
                   vision_config=vision, image_token_id=3, transformers_version="4.50.0")
    else:
        text = dict(c, model_type="qwen2_5_vl_text")
        top = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "text_config": text,
               "vision_config": vision, "image_token_id": 3, "transformers_version": "4.52.0"}
    out = {stored_name(n, layout): shape for n, shape in s.items()}
    t = "model.visual." if layout == "qwen-new" else "visual."
    out[t + "patch_embed.proj.weight"] = (v, 3, 2, 4, 4)
    out[t + "blocks.0.norm1.weight"] = (v,)
    out[t + "merger.ln_q.weight"] = (v,)
    out[t + "merger.mlp.0.weight"] = (4 * v, 4 * v)
    out[t + "merger.mlp.0.bias"] = (4 * v,)
    out[t + "merger.mlp.2.weight"] = (d, 4 * v)
    out[t + "merger.mlp.2.bias"] = (d,)
    return top, out


def permute_projector(n, t, s):
    """A multimodal model's tensor outside the language model: the projector's outputs are in the residual stream."""
    n = n[len("model."):] if n.startswith("model.") else n
    if n == "multi_modal_projector.mm_input_projection_weight":  # x W: its columns
        return t[:, s]
    if n in ("multi_modal_projector.linear_2.weight", "multi_modal_projector.linear_2.bias",  # its rows
             "visual.merger.mlp.2.weight", "visual.merger.mlp.2.bias"):
        return t[s]
    return t


def full_name(n):
    """A tensor's name as XForCausalLM has it: a base model's (XModel: embedding models) lack the "model." prefix."""
    return n if n.startswith(("model.", "lm_head.")) else "model." + n


def head_dim_of(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def kv_heads_of(c):
    return c.get("num_key_value_heads") or c["num_attention_heads"]


def parallel(c):
    """Whether one norm feeds the attention and the MLP, their outputs added together (Cohere; StableLM's
    use_parallel_residual)."""
    return c["model_type"] == COHERE or bool(c.get("use_parallel_residual"))


def biases(c):
    """(q/k/v bias, o bias, MLP biases) as the variant's modules have them."""
    if c["model_type"] in ("qwen2", "qwen2_moe"):
        return True, False, False
    if c["model_type"] == STARCODER2:
        return (c["use_bias"],) * 3
    if c["model_type"] == STABLELM:
        return c["use_qkv_bias"], False, False
    attention = bool(c.get("attention_bias", False))
    return attention, attention, bool(c.get("mlp_bias", False))


def shapes(c, inv_freq=False, tied_saved=False):
    """Tensor name -> shape, in the order transformers' state_dict() has them; with inv_freq, each layer's
    self_attn.rotary_emb.inv_freq buffer too (older transformers versions saved it); with tied_saved, lm_head.weight
    even when the embeddings are tied."""
    d, hd = c["hidden_size"], head_dim_of(c)
    h, kv, inter, v = c["num_attention_heads"], kv_heads_of(c), c["intermediate_size"], c["vocab_size"]
    qkv_bias, o_bias, mlp_bias = biases(c)
    out = {"model.embed_tokens.weight": (v, d)}
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        fused = c["model_type"] == "phi3"
        if fused:  # Phi-3: o_proj, then q, k, v stacked in one tensor
            out[p + "self_attn.o_proj.weight"] = (d, h * hd)
            out[p + "self_attn.qkv_proj.weight"] = ((h + 2 * kv) * hd, d)
        for k, rows in (("q", h * hd), ("k", kv * hd), ("v", kv * hd)) if not fused else ():
            out[p + "self_attn.%s_proj.weight" % k] = (rows, d)
            if qkv_bias:
                out[p + "self_attn.%s_proj.bias" % k] = (rows,)
        out[p + "self_attn.o_proj.weight"] = (d, h * hd)
        if o_bias:
            out[p + "self_attn.o_proj.bias"] = (d,)
        if c["model_type"] in ("qwen3", "qwen3_moe", "gemma3_text"):  # RMSNorm of each q and k head over its dimensions
            out[p + "self_attn.q_norm.weight"] = (hd,)
            out[p + "self_attn.k_norm.weight"] = (hd,)
        if c["model_type"] in FULL_QK_NORM:  # RMSNorm of the whole q and k projections
            out[p + "self_attn.q_norm.weight"] = (h * hd,)
            out[p + "self_attn.k_norm.weight"] = (kv * hd,)
        if inv_freq:
            out[p + "self_attn.rotary_emb.inv_freq"] = (hd // 2,)
        if moe_layer(c, i):  # the router, then each expert's (and the shared expert's) weights, in module order
            _, router, experts, shared = moe_names(c, i)
            w = expert_width(c)
            out[router] = (len(experts), d)
            for gate, up, down in experts:
                for name, shape in sorted(((gate, (w, d)), (up, (w, d)), (down, (d, w)))):  # Mixtral: w1, w2, w3
                    out[name] = shape
            if shared:
                sw = c["shared_expert_intermediate_size"]
                out[shared[0]], out[shared[1]], out[shared[2]], out[shared[3]] = (sw, d), (sw, d), (d, sw), (1, d)
        mlp = () if moe_layer(c, i) else (("gate_up_proj", (2 * inter, d)), ("down_proj", (d, inter))) if fused else (
            ("c_fc", (inter, d)), ("c_proj", (d, inter))) if c["model_type"] == STARCODER2 else (
            ("gate_proj", (inter, d)), ("up_proj", (inter, d)), ("down_proj", (d, inter)))
        for k, shape in mlp:
            out[p + "mlp.%s.weight" % k] = shape
            if mlp_bias:
                out[p + "mlp.%s.bias" % k] = shape[:1]
        norms = ("post_attention_layernorm",) if c["model_type"] == "olmo2" else ("input_layernorm",) if parallel(
            c) else ("input_layernorm", "post_attention_layernorm")  # (OLMo 2: the outputs only)
        for n in norms:
            out[p + n + ".weight"] = (d,)
            if c["model_type"] in NORM_BIASES:
                out[p + n + ".bias"] = (d,)
        if c["model_type"] in ("gemma2", "gemma3_text"):  # norms of the MLP's input and output too
            out[p + "pre_feedforward_layernorm.weight"] = (d,)
        if c["model_type"] in ("gemma2", "gemma3_text", "olmo2"):
            out[p + "post_feedforward_layernorm.weight"] = (d,)
    out["model.norm.weight"] = (d,)
    if c["model_type"] in NORM_BIASES:
        out["model.norm.bias"] = (d,)
    if not c["tie_word_embeddings"] or tied_saved:
        out["lm_head.weight"] = (v, d)
    return out


def draw(name, shape, seed, index):
    """The random tensor `name` of a folder made from `seed` (float32; depends on the seed and its index only)."""
    g = torch.Generator().manual_seed(seed * 100003 + index)
    if name.endswith("norm.weight"):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    if name.endswith(".bias"):
        return 0.1 * torch.randn(shape, generator=g)
    return torch.randn(shape, generator=g) / math.sqrt(shape[-1])


# ---------------------------------------------------------------- safetensors by hand

# the safetensors library's order of dtypes (its Dtype enum); it writes the largest first, then by name
DTYPE_RANK = {"BOOL": -1, "F16": 0, "BF16": 1, "F32": 2, "I64": 3}


def library_order(items):
    """items in the order the safetensors library (Rust) writes them: dtype descending, then name."""
    return sorted(items, key=lambda it: (-DTYPE_RANK[it[1]], it[0]))


def header_of(items, header_order="offsets", pad=True):
    """items: [(name, dtype string, shape)] in data order -> the header bytes (length prefix included):
    "__metadata__" first, then the entries in data order (header_order "shuffled": in reverse, as older
    versions of the library could write them), padded with spaces to a multiple of 8 bytes (pad)."""
    entries = {}
    off = 0
    for name, dt, shape in items:
        n = BYTES[dt]
        for s in shape:
            n *= s
        entries[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    names = list(entries) if header_order == "offsets" else list(reversed(entries))
    h = {"__metadata__": {"format": "pt"}}
    for name in names:
        h[name] = entries[name]
    js = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js


def raw_bytes(t, dt):
    t = t.to(DTYPES[dt]).contiguous()
    if dt == "BF16":
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, items, produce, header_order="offsets", pad=True):
    """Writes `items` ([(name, dtype, shape)], in data order) to `path`, each tensor from produce(name) at its turn."""
    with open(path + ".tmp", "wb") as f:
        f.write(header_of(items, header_order, pad))
        for name, dt, shape in items:
            t = produce(name)
            assert tuple(t.shape) == tuple(shape), (name, t.shape, shape)
            f.write(raw_bytes(t, dt))
    os.replace(path + ".tmp", path)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h, 8 + n


def read_tensor(path, name, entry, start):
    dt = entry["dtype"]
    b, e = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(start + b)
        data = bytearray(f.read(e - b))
    if dt == "BF16":
        t = torch.frombuffer(data, dtype=torch.int16).view(torch.bfloat16)
    else:
        t = torch.frombuffer(data, dtype=DTYPES[dt])
    return t.reshape(entry["shape"]).clone()


def shard_files(folder):
    """[(file, header, data start)] of a folder's weights (single file or the index's shards)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = []
    for fn in files:
        h, start = read_header(os.path.join(folder, fn))
        out.append((fn, h, start))
    return out


def read_folder(folder):
    weights = {}
    for fn, h, start in shard_files(folder):
        for name, entry in h.items():
            weights[name] = read_tensor(os.path.join(folder, fn), name, entry, start)
    return weights


# ---------------------------------------------------------------- make

def make(args):
    c = make_config(args.variant, args.hidden, args.layers, args.heads, args.kv_heads, args.head_dim, args.inter,
                    args.vocab, args.tied, args.dtype, args.mlp_bias, args.attention_bias, args.no_head_dim,
                    args.no_kv_heads, args.rope_scaling, args.hidden_act)
    moe_config(c, args.experts, args.top_k, args.moe_inter, args.shared_inter,
               [int(x) for x in args.mlp_only_layers.split(",") if x], args.norm_topk)
    if args.partial_rotary != 1.0:  # Phi-4-mini rotates the first 3/4 of each head's dimensions
        c["partial_rotary_factor"] = args.partial_rotary
    if args.parallel_residual:  # StableLM's use_parallel_residual
        c["use_parallel_residual"] = True
    if args.rope_scaling == "longrope":  # factors for the rotated pairs; a context 32x the original: attention factor
        pairs = int(head_dim_of(c) * args.partial_rotary) // 2
        c["rope_scaling"] = {"long_factor": [1.0 + 0.5 * i for i in range(pairs)],
                             "short_factor": [1.0 + 0.05 * i for i in range(pairs)], "type": "longrope"}
        c["original_max_position_embeddings"] = 4096
        c["max_position_embeddings"] = 131072
    os.makedirs(args.out, exist_ok=True)
    s = shapes(c, args.inv_freq, args.tied_saved)
    if args.headless:  # a base model (XModel): no head, names without "model."
        c["architectures"] = [MODEL_TYPES[args.variant].replace("ForCausalLM", "Model")]
        s = {n[len("model."):]: shape for n, shape in s.items() if n.startswith("model.")}
    top = c
    if args.multimodal:
        top, s = multimodal_wrap(c, s, args.multimodal)
    names = list(s)
    index = {n: i for i, n in enumerate(names)}
    if args.fused_experts:  # transformers 5's layout: every expert of a layer in one tensor per projection
        per_expert = {n: draw(full_name(n), s[n], args.seed, index[n]) for n in names}
        fused = to_fused(per_expert, c)
        s = {n: tuple(t.shape) for n, t in fused.items()}
        names = list(s)
        index = {n: i for i, n in enumerate(names)}
        drawn = fused
    hd, theta = head_dim_of(c), c["rope_theta"]
    buffer = (1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd)))

    def produce(n):
        if args.fused_experts:
            return drawn[n]
        if n.endswith("rotary_emb.inv_freq"):
            return buffer
        shape, at = s[n], index[n]
        if n == "lm_head.weight" and c["tie_word_embeddings"]:  # saved although tied: the embedding's values
            n = "model.embed_tokens.weight"
            shape, at = s[n], index[n]
        return draw(full_name(n) if is_text(n) else n, shape, args.seed, at)
    layout = dict(header_order=args.header_order, pad=not args.no_header_pad)
    if args.shards <= 1:
        write_safetensors(os.path.join(args.out, "model.safetensors"),
                          library_order([(n, args.dtype, s[n]) for n in names]), produce, **layout)
    else:
        # huggingface_hub's split_torch_state_dict_into_shards: state_dict order, a new shard when the next tensor
        # would pass the limit (here total / N plus the largest tensor: every shard but the last holds more than
        # total / N, so there are at most N shards, N unless a tensor is very large)
        size = {n: BYTES[args.dtype] * math.prod(s[n]) for n in names}
        limit = (sum(size.values()) + args.shards - 1) // args.shards + max(size.values())
        parts, current, used = [], [], 0
        for n in names:
            if current and used + size[n] > limit:
                parts.append(current)
                current, used = [], 0
            current.append(n)
            used += size[n]
        parts.append(current)
        wm = {}
        for k, part in enumerate(parts):
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, len(parts))
            write_safetensors(os.path.join(args.out, fn), library_order([(n, args.dtype, s[n]) for n in part]),
                              produce, **layout)
            wm.update({n: fn for n in part})
        index_json = {"metadata": {"total_size": sum(size.values())}, "weight_map": wm}
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            f.write(json.dumps(index_json, indent=2, sort_keys=True) + "\n")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        f.write(json.dumps(top, indent=2, sort_keys=True) + "\n")
    generation = {"_from_model_config": True, "bos_token_id": c["bos_token_id"], "eos_token_id": c["eos_token_id"],
                  "transformers_version": c["transformers_version"]}
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        f.write(json.dumps(generation, indent=2, sort_keys=True) + "\n")
    # the tokenizer's files, as a tokenizer's save_pretrained leaves them beside the weights
    vocab = {"<s>": 1, "</s>": 2, "<unk>": 0}
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": []}}, f, indent=2,
                  ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "model_max_length": 4096,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
    with open(os.path.join(args.out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=2)


# ---------------------------------------------------------------- permute (the attacker)

def randperm(n, g):
    """A random permutation of n that is not the identity (n >= 2): every symmetry really moves."""
    while True:
        p = torch.randperm(n, generator=g)
        if n < 2 or not torch.equal(p, torch.arange(n)):
            return p


def draw_permutations(c, seed):
    g = torch.Generator().manual_seed(seed)
    h, kv, hd = c["num_attention_heads"], kv_heads_of(c), head_dim_of(c)
    rep = h // kv
    perms = {"stream": randperm(c["hidden_size"], g), "layers": []}
    for i in range(c["num_hidden_layers"]):
        moe = moe_layer(c, i)
        perms["layers"].append({
            "mlp": None if moe else randperm(c["intermediate_size"], g),
            "kv": randperm(kv, g),
            "q": [randperm(rep, g) if rep > 1 else None for _ in range(kv)],
            "v": [randperm(hd, g) for _ in range(kv)],
        })
        rd = int(hd * c.get("partial_rotary_factor", 1.0))
        if rd < hd and c["model_type"] not in ("qwen3", "qwen3_moe", "gemma3_text"):  # the unrotated q/k dimensions
            perms["layers"][-1]["pass"] = [randperm(hd - rd, g) for _ in range(kv)]
        if moe:  # the experts' order, then each expert's units: the units of the expert now at place j (as Lady's
            # nested groups: applied after the experts moved), and the shared expert's
            _, _, experts, shared = moe_names(c, i)
            w = expert_width(c)
            lp = perms["layers"][-1]
            lp["experts"] = randperm(len(experts), g)
            lp["units"] = [randperm(w, g) for _ in experts]
            lp["shared"] = randperm(c["shared_expert_intermediate_size"], g) if shared else None
    return perms


def fused_names(c, i):
    """transformers 5's fused layout of layer i's experts: (router, gate_up [E, 2I, D], down [E, D, I]); Mixtral's module
    is mlp there too."""
    m = "model.layers.%d.mlp" % i
    return m + ".gate.weight", m + ".experts.gate_up_proj", m + ".experts.down_proj"


def is_fused(names):
    return any(n.endswith(".experts.gate_up_proj") for n in names)


def layer_of(n):
    """The layer index of tensor model.layers.I.*, or -1."""
    parts = n.split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1


def both_layouts(c, i):
    """Layer i's router and experts (moe_names), and its fused names (fused_names)."""
    _, router, experts, _ = moe_names(c, i)
    return router, experts, fused_names(c, i)


def to_fused(w, c):
    """Per-expert tensors (moe_names) -> the fused layout; every other tensor as it is, in order."""
    out = {}
    for n, t in w.items():
        i = layer_of(n)
        if i < 0 or not moe_layer(c, i):
            out[n] = t
            continue
        router, experts, (f_router, f_gate_up, f_down) = both_layouts(c, i)
        if n == router:
            out[f_router] = t
        elif n in experts[0]:  # the first expert's tensors stand for the fused ones
            if n == experts[0][0]:
                out[f_gate_up] = torch.stack([torch.cat((w[g], w[u])) for g, u, _ in experts])
                out[f_down] = torch.stack([w[d] for _, _, d in experts])
        elif not any(n in e for e in experts):
            out[n] = t
    return out


def from_fused(w, c):
    """The fused layout -> per-expert tensors (moe_names)."""
    out = {}
    for n, t in w.items():
        i = layer_of(n)
        if i < 0 or not moe_layer(c, i) or n not in fused_names(c, i):
            out[n] = t
            continue
        router, experts, (f_router, f_gate_up, f_down) = both_layouts(c, i)
        if n == f_router:
            out[router] = t
        elif n == f_gate_up:
            half = t.shape[1] // 2
            for e, (g, u, _) in enumerate(experts):
                out[g], out[u] = t[e, :half], t[e, half:]
        else:
            for e, (_, _, d) in enumerate(experts):
                out[d] = t[e]
    return out


def moe_source(name, c, perms):
    """The tensor whose values a permuted expert tensor takes (the same place in the expert that moved there), or
    name itself."""
    parts = full_name(name).split(".")
    if len(parts) < 3 or not parts[2].isdigit() or not moe_layer(c, int(parts[2])):
        return name
    i = int(parts[2])
    _, _, experts, _ = moe_names(c, i)
    for j, ws in enumerate(experts):
        if full_name(name) in ws:
            src = experts[int(perms["layers"][i]["experts"][j])][ws.index(full_name(name))]
            return src if name.startswith("model.") else src[len("model."):]
    return name


def permute_moe(name, t, c, lp):
    """A tensor of a layer's mixture of experts, already the one that moved to this place (moe_source); None for
    another tensor."""
    s = lp["stream"]
    i = int(name.split(".")[2])
    _, router, experts, shared = moe_names(c, i)
    if name == router:
        return t[lp["experts"]][:, s]
    for j, (gate, up, down) in enumerate(experts + ([shared[:3]] if shared else [])):
        units = lp["units"][j] if j < len(experts) else lp["shared"]
        if name in (gate, up):
            return t[units][:, s]
        if name == down:
            return t[s][:, units]
    if shared and name == shared[3]:  # the shared expert's gate: one row, stream columns
        return t[:, s]
    return None


def attention_maps(c, lp):
    """Full index maps (new index -> old index) of the q rows, k/v rows and o columns of one layer."""
    h, kv, hd = c["num_attention_heads"], kv_heads_of(c), head_dim_of(c)
    rep = h // kv
    q_map, kv_map, v_map, o_map = [], [], [], []
    rd = int(hd * c.get("partial_rotary_factor", 1.0))
    for g in range(kv):
        src = int(lp["kv"][g])  # the KV head now at position g
        qp = lp["q"][g]
        vp = lp["v"][g]
        # the rotated dimensions inside a head never move; a partial rotary's others move alike in q and k
        dims = list(range(rd)) + ([rd + int(x) for x in lp["pass"][g]] if "pass" in lp else list(range(rd, hd)))
        for r in range(rep):
            head = src * rep + (int(qp[r]) if qp is not None else r)  # query head now at (g, r)
            q_map += [head * hd + t for t in dims]
            o_map += [head * hd + int(vp[t]) for t in range(hd)]  # o columns follow the value dims too
        kv_map += [src * hd + t for t in dims]
        v_map += [src * hd + int(vp[t]) for t in range(hd)]
    return (torch.tensor(q_map), torch.tensor(kv_map), torch.tensor(v_map), torch.tensor(o_map))


def permute_tensor(name, t, c, perms):
    s = perms["stream"]
    if name == "model.embed_tokens.weight" or name == "lm_head.weight":
        return t[:, s]
    if name in ("model.norm.weight", "model.norm.bias"):
        return t[s]
    parts = name.split(".")
    layer = int(parts[2])
    lp = perms["layers"][layer]
    rest = ".".join(parts[3:])
    if rest in ("self_attn.q_norm.weight", "self_attn.k_norm.weight") and c["model_type"] in FULL_QK_NORM:
        q_map, kv_map, _, _ = attention_maps(c, lp)  # a weight per row of the projection: it follows the rows
        return t[q_map if rest.startswith("self_attn.q") else kv_map]
    if rest in ("self_attn.rotary_emb.inv_freq", "self_attn.q_norm.weight", "self_attn.k_norm.weight"):
        return t  # the frequencies of pair positions, Qwen3's per-head norms: on dimensions inside a head, never moved
    moved = permute_moe(name, t, c, dict(lp, stream=s)) if moe_layer(c, layer) else None
    if moved is not None:
        return moved
    q_map, kv_map, v_map, o_map = attention_maps(c, lp)
    if rest.endswith("layernorm.weight") or rest.endswith("layernorm.bias"):
        return t[s]
    if rest in ("mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.c_fc.weight"):
        return t[lp["mlp"]][:, s]
    if rest == "mlp.gate_up_proj.weight":  # both halves by the units' permutation
        return t[torch.cat((lp["mlp"], lp["mlp"] + t.shape[0] // 2))][:, s]
    if rest == "self_attn.qkv_proj.weight":  # the q, k and v rows in their segments
        hq, hk = c["num_attention_heads"] * head_dim_of(c), kv_heads_of(c) * head_dim_of(c)
        return t[torch.cat((q_map, hq + kv_map, hq + hk + v_map))][:, s]
    if rest in ("mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.c_fc.bias"):
        return t[lp["mlp"]]
    if rest in ("mlp.down_proj.weight", "mlp.c_proj.weight"):
        return t[s][:, lp["mlp"]]
    if rest in ("mlp.down_proj.bias", "self_attn.o_proj.bias", "mlp.c_proj.bias"):  # outputs in the residual stream
        return t[s]
    rows = {"q": q_map, "k": kv_map, "v": v_map}
    kind = rest.split(".")[1][0]  # self_attn.X_proj.*
    if rest.endswith(".bias"):
        return t[rows[kind]]
    if kind == "o":
        return t[s][:, o_map]
    return t[rows[kind]][:, s]


def secret(c, perms, seed, prefix="model.", fused=False, stream=None):
    """Lady's secret: group name -> p (new j = old p[j]); inner groups relative to positions after the KV heads'."""
    groups = {stream or "stream.%slayers" % prefix: perms["stream"].tolist()}
    for i, lp in enumerate(perms["layers"]):
        a = "%slayers.%d.self_attn" % (prefix, i)
        groups[a + ".kv_heads"] = lp["kv"].tolist()
        for g, qp in enumerate(lp["q"]):
            if qp is not None:
                groups[a + ".q_heads.%d" % g] = qp.tolist()
        for g, pp in enumerate(lp.get("pass", [])):
            groups[a + ".qk_pass.%d" % g] = pp.tolist()
        for g, vp in enumerate(lp["v"]):
            groups[a + ".v_dims.%d" % g] = vp.tolist()
        if moe_layer(c, i):
            module = ("model.layers.%d.mlp" % i if fused else moe_names(c, i)[0])[len("model."):]
            groups[prefix + module + ".experts"] = lp["experts"].tolist()
            for j, u in enumerate(lp["units"]):
                groups[prefix + module + ".experts.%d" % j] = u.tolist()
            if lp["shared"] is not None:
                groups[prefix + module + ".shared_expert"] = lp["shared"].tolist()
            continue
        # the MLP's first (fused) layer
        mlp = "gate_up_proj" if c["model_type"] == "phi3" else "c_fc" if c["model_type"] == STARCODER2 else "gate_proj"
        groups["%slayers.%d.mlp.%s" % (prefix, i, mlp)] = lp["mlp"].tolist()
    return {"format": "lady-secret", "format_version": 1, "tool_version": "llama_family.py",
            "architecture": c["model_type"], "seed": seed,
            "convention": "applying p to a group: new neuron j is old neuron p[j]", "permutations": groups}


def size_options(m, variants):
    """The make options gpt_family.py and encoder_family.py share: the folder, the variant (the first by default), the
    seed, the dtype and the sizes."""
    m.add_argument("out")
    m.add_argument("--variant", default=variants[0], choices=variants)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--dtype", default="F32", choices=["F32", "BF16", "F16"])
    m.add_argument("--hidden", type=int, default=32)
    m.add_argument("--layers", type=int, default=2)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--inter", type=int, default=48)
    m.add_argument("--vocab", type=int, default=64)


def write_folder(a, c, s, draw):
    """A single-file folder of config c and shapes s (name -> (dtype or None for a.dtype, shape)), each tensor
    draw(name, shape, seed, index, c), in the safetensors library's order: the make command of gpt_family.py and
    encoder_family.py."""
    index = {n: i for i, n in enumerate(s)}
    os.makedirs(a.out, exist_ok=True)
    items = library_order([(n, dt or a.dtype, shape) for n, (dt, shape) in s.items()])
    write_safetensors(os.path.join(a.out, "model.safetensors"), items, lambda n: draw(n, s[n][1], a.seed, index[n], c))
    with open(os.path.join(a.out, "config.json"), "w") as f:
        f.write(json.dumps(c, indent=2, sort_keys=True) + "\n")


def permute_file(a, prefix_of, draw, permute_tensor, secret):
    """The permute command of a script whose folders hold one weights file (gpt_family.py, encoder_family.py):
    draw(config, seed, header) the permutations, each tensor through permute_tensor(name, t, config, perms, prefix),
    written in the input's data order; the other files copied; secret(config, perms, seed, prefix) to a.secret."""
    c = json.load(open(os.path.join(a.inp, "config.json")))
    (fn, h, start), = shard_files(a.inp)
    perms = draw(c, a.seed, h)
    os.makedirs(a.out, exist_ok=True)
    p = prefix_of(c, h)
    src = os.path.join(a.inp, fn)
    items = [(n, e["dtype"], tuple(e["shape"])) for n, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]
    write_safetensors(os.path.join(a.out, fn), items,
                      lambda n: permute_tensor(n, read_tensor(src, n, h[n], start), c, perms, p))
    copy_others(a.inp, a.out)
    with open(a.secret, "w") as f:
        json.dump(secret(c, perms, a.seed, p), f)


def copy_others(inp, out):
    """Every file of folder inp but the weights (config.json, tokenizer files), copied into out."""
    for fn in os.listdir(inp):
        if not fn.endswith(".safetensors"):
            shutil.copy(os.path.join(inp, fn), os.path.join(out, fn))


def permute(args):
    top = json.load(open(os.path.join(args.inp, "config.json")))
    c = text_config(top)
    perms = draw_permutations(c, args.seed)
    os.makedirs(args.out, exist_ok=True)
    where = {n: (os.path.join(args.inp, fn), e, start) for fn, h, start in shard_files(args.inp) for n, e in h.items()}
    if is_fused(where):  # permuted one expert at a time, then fused again
        flat = from_fused(read_folder(args.inp), c)
        done = to_fused({n: permute_tensor(full_name(n), flat[moe_source(n, c, perms)], c, perms) for n in flat}, c)
        for fn, h, start in shard_files(args.inp):
            items = [(n, e["dtype"], tuple(e["shape"])) for n, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]
            write_safetensors(os.path.join(args.out, fn), items, lambda n: done[n])
        copy_others(args.inp, args.out)
        with open(args.secret, "w") as f:
            json.dump(secret(c, perms, args.seed, "model.", fused=True), f)
        return

    def read(n):  # an expert's tensor from the expert that moves to its place, in whichever shard it is
        m = moe_source(n, c, perms)
        return read_tensor(where[m][0], m, where[m][1], where[m][2])

    def produce(n):
        if not is_text(n):  # a multimodal model's vision tower and projector
            return permute_projector(n, read_tensor(where[n][0], n, where[n][1], where[n][2]), perms["stream"])
        if canonical(n) != n:  # a multimodal model's language model
            layout = "new" if n.startswith(MM_PREFIX_NEW) else "old"
            m = stored_name(moe_source(canonical(n), c, perms), layout)
            return permute_tensor(canonical(n), read_tensor(where[m][0], m, where[m][1], where[m][2]), c, perms)
        return permute_tensor(full_name(n), read(n), c, perms)
    for fn, h, start in shard_files(args.inp):
        items = [(n, e["dtype"], tuple(e["shape"])) for n, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]
        # exact in every dtype: values are moved, never recomputed
        write_safetensors(os.path.join(args.out, fn), items, produce)
    copy_others(args.inp, args.out)
    stored = {n for _, h, _ in shard_files(args.inp) for n in h}
    headless = "embed_tokens.weight" in stored
    with open(args.secret, "w") as f:
        if "text_config" in top:  # Lady's names: the language model's prefix; the stream's from its producers
            p = MM_PREFIX_NEW if any(n.startswith(MM_PREFIX_NEW) for n in stored) else MM_PREFIX + "model."
            json.dump(secret(c, perms, args.seed, p, stream="stream." + p[:-1]), f)
        elif any(not is_text(n) for n in stored):  # Qwen2-VL's tower beside model.: named as a multimodal one's
            json.dump(secret(c, perms, args.seed, "model.", stream="stream.model"), f)
        else:
            json.dump(secret(c, perms, args.seed, "" if headless else "model."), f)


def noise(args):
    """A derived copy whose weights moved: Gaussian noise of FACTOR x each matrix's standard deviation added to every
    2-D tensor (embedding, projections, lm_head) in float32, stored in the tensor's own dtype (rounded to nearest)."""
    g = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for fn, h, start in shard_files(args.inp):
        src = os.path.join(args.inp, fn)
        items = [(n, e["dtype"], tuple(e["shape"])) for n, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]

        def produce(n):
            t = read_tensor(src, n, h[n], start)
            if t.dim() != 2:
                return t
            x = t.float()
            return x + torch.randn(x.shape, generator=g) * (args.factor * x.std().item())
        write_safetensors(os.path.join(args.out, fn), items, produce)
    copy_others(args.inp, args.out)


# ---------------------------------------------------------------- forward (as transformers computes it)

def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x):
    """The rotation of interleaved pairs (2i, 2i + 1) (GPT-J's, Cohere's): (-x[2i + 1], x[2i]) in each pair."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2)


def rope_inv_freq(c, hd, seq_len):
    """The rotary frequencies as transformers' ROPE_INIT_FUNCTIONS compute them (modeling_rope_utils), in float64:
    default theta^(-2i/d); linear: divided by the factor; dynamic (NTK): the base grown for sequences longer
    than max_position_embeddings; llama3 (Llama 3.1): long wavelengths divided by the factor, short ones kept,
    a smooth blend between."""
    theta = c["rope_theta"]
    scaling = c.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "dynamic":
        factor, max_pos = scaling["factor"], c["max_position_embeddings"]
        seq = max(seq_len, max_pos)
        theta = theta * ((factor * seq / max_pos) - (factor - 1)) ** (hd / (hd - 2))
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).double() / hd))
    if kind == "longrope":  # the long factors past the original length, else the short ones
        original = scaling.get("original_max_position_embeddings", c.get("original_max_position_embeddings"))
        ext = scaling["long_factor"] if seq_len > original else scaling["short_factor"]
        inv_freq = inv_freq / torch.tensor(ext, dtype=torch.float64)
    elif kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) * ~(wavelen > old / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind not in ("default", "dynamic", "mrope"):  # (mrope: Qwen2-VL's; on text the default frequencies, its
        # temporal, height and width positions being one)
        raise ValueError("rope_scaling %r is not computed here" % kind)
    return inv_freq


def rope_scale(c):
    """LongRoPE's scale of cos and sin (its attention factor), 1 for the other kinds."""
    scaling = c.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) != "longrope":
        return 1.0
    if scaling.get("attention_factor"):
        return scaling["attention_factor"]
    original = scaling.get("original_max_position_embeddings", c.get("original_max_position_embeddings"))
    factor = scaling.get("factor") or c["max_position_embeddings"] / original
    return 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))


ACT = {"silu": torch.nn.functional.silu, "gelu": torch.nn.functional.gelu, "relu": torch.nn.functional.relu,
       "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh")}


def sliding(c, i):
    """Whether layer i attends within sliding_window (Gemma 2: even layers; Gemma 3: layer_types, or the pattern)."""
    if not c.get("sliding_window") or c["model_type"] not in GEMMAS:
        return False
    if c.get("layer_types"):
        return c["layer_types"][i] == "sliding_attention"
    if c["model_type"] == "gemma2":
        return i % 2 == 0
    if c["model_type"] == "gemma3_text":
        return bool((i + 1) % c.get("sliding_window_pattern", 6))
    return False


def forward(w, c, ids):
    """The logits, or a base model's (no head, no "model." prefix) last hidden state."""
    if "text_config" in c:  # a multimodal model: its language model alone (the tokens are text)
        c = c["text_config"]
    w = {canonical(k): v for k, v in w.items() if is_text(k)}
    headless = "embed_tokens.weight" in w
    w = {full_name(k): v for k, v in w.items()}
    if is_fused(w):
        w = from_fused(w, c)
    gemma = c["model_type"] in GEMMAS
    act = ACT[(c.get("hidden_activation") or "gelu_pytorch_tanh") if gemma else c.get("hidden_act", "silu")]
    w = {k: v.double() for k, v in w.items()}
    b, t = ids.shape
    h, kv, hd = c["num_attention_heads"], kv_heads_of(c), head_dim_of(c)
    starcoder2 = c["model_type"] == STARCODER2
    cohere = c["model_type"] == COHERE
    eps = c["norm_epsilon"] if starcoder2 else c["layer_norm_eps"] if c["model_type"] in (STABLELM, COHERE) \
        else c["rms_norm_eps"]
    offset = 1.0 if gemma else 0.0  # Gemma's RMSNorm scales by 1 + weight

    def norm(y, name):
        if c["model_type"] in LAYER_NORMS:  # LayerNorm (name: its weight's)
            return torch.nn.functional.layer_norm(y, y.shape[-1:], w[name], w.get(name[:-len("weight")] + "bias"), eps)
        return rms_norm(y, w[name] + offset, eps)

    rd = int(hd * c.get("partial_rotary_factor", 1.0))  # the rotated dimensions of a head (Phi-4-mini: 3/4)

    def rope(local):
        cc = dict(c, rope_theta=c["rope_local_base_freq"], rope_scaling=None) if local else c
        freqs = torch.outer(torch.arange(t).double(), rope_inv_freq(cc, rd, t))
        # (Cohere: each frequency twice in a row, for the pairs 2i, 2i + 1)
        emb = freqs.repeat_interleave(2, -1) if cohere else torch.cat((freqs, freqs), dim=-1)
        return emb.cos() * rope_scale(cc), emb.sin() * rope_scale(cc)

    def rotate(x, cos, sin):
        r = x[..., :rd]
        turned = rotate_every_two(r) if cohere else rotate_half(r)
        return torch.cat((r * cos + turned * sin, x[..., rd:]), dim=-1)
    causal = torch.ones(t, t, dtype=torch.bool).triu(1)
    x = w["model.embed_tokens.weight"][ids]
    if gemma:
        x = x * math.sqrt(c["hidden_size"])
    granite = c["model_type"] == "granite"  # GraniteForCausalLM: its multipliers
    if granite:
        x = x * c["embedding_multiplier"]
    scale = c["query_pre_attn_scalar"] ** -0.5 if c.get("query_pre_attn_scalar") else 1 / math.sqrt(hd)
    if granite:
        scale = c["attention_multiplier"]
    residual = c["residual_multiplier"] if granite else 1.0

    def linear(y, name):
        out = y @ w[name + ".weight"].T
        bias = w.get(name + ".bias")
        return out if bias is None else out + bias
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        local = sliding(c, i)
        cos, sin = rope(local and c["model_type"] == "gemma3_text")
        masked = causal | torch.ones(t, t, dtype=torch.bool).tril(-c["sliding_window"]) if local else causal
        mask = torch.zeros(t, t, dtype=torch.float64).masked_fill(masked, float("-inf"))
        y = norm(x, p + "input_layernorm.weight") if c["model_type"] != "olmo2" else x
        if p + "self_attn.qkv_proj.weight" in w:  # Phi-3: q, k, v stacked
            qkv = linear(y, p + "self_attn.qkv_proj")
            q, k, v = qkv[..., :h * hd], qkv[..., h * hd:(h + kv) * hd], qkv[..., (h + kv) * hd:]
        else:
            q, k, v = (linear(y, p + "self_attn.%s_proj" % n) for n in "qkv")
        if c["model_type"] in FULL_QK_NORM:  # OLMo 2, OLMoE: the whole projections normalized, before the heads
            q = norm(q, p + "self_attn.q_norm.weight")
            k = norm(k, p + "self_attn.k_norm.weight")
        q = q.reshape(b, t, h, hd).transpose(1, 2)
        k = k.reshape(b, t, kv, hd).transpose(1, 2)
        v = v.reshape(b, t, kv, hd).transpose(1, 2)
        if p + "self_attn.q_norm.weight" in w and c["model_type"] not in FULL_QK_NORM:  # Qwen3, Gemma 3: each head
            q = norm(q, p + "self_attn.q_norm.weight")
            k = norm(k, p + "self_attn.k_norm.weight")
        q = rotate(q, cos, sin)
        k = rotate(k, cos, sin)
        rep = h // kv  # repeat_kv: query head j reads KV head j // rep
        k = k[:, :, None].expand(b, kv, rep, t, hd).reshape(b, h, t, hd)
        v = v[:, :, None].expand(b, kv, rep, t, hd).reshape(b, h, t, hd)
        scores = q @ k.transpose(2, 3) * scale
        if c.get("attn_logit_softcapping"):
            cap = c["attn_logit_softcapping"]
            scores = torch.tanh(scores / cap) * cap
        a = torch.softmax(scores + mask, dim=-1)
        attn = linear((a @ v).transpose(1, 2).reshape(b, t, h * hd), p + "self_attn.o_proj")
        sandwich = p + "pre_feedforward_layernorm.weight" in w  # Gemma 2, 3: norms around the attention and the MLP
        if c["model_type"] == "olmo2":  # OLMo 2: the attention's and the MLP's outputs normalized, their inputs not
            x = x + norm(attn, p + "post_attention_layernorm.weight")
            y = x
        elif sandwich:
            x = x + norm(attn, p + "post_attention_layernorm.weight")
            y = norm(x, p + "pre_feedforward_layernorm.weight")
        elif parallel(c):  # StableLM, Cohere: the MLP reads the input norm's output too; both added
            x = x + attn
        else:
            x = x + attn * residual
            y = norm(x, p + "post_attention_layernorm.weight")
        if moe_layer(c, i):
            mlp = moe_forward(w, c, i, y, act)
        elif starcoder2:  # no gate
            mlp = linear(act(linear(y, p + "mlp.c_fc")), p + "mlp.c_proj")
        elif p + "mlp.gate_up_proj.weight" in w:  # Phi-3: gate and up stacked
            gate, up = linear(y, p + "mlp.gate_up_proj").chunk(2, dim=-1)
            mlp = linear(act(gate) * up, p + "mlp.down_proj")
        else:
            gate, up = linear(y, p + "mlp.gate_proj"), linear(y, p + "mlp.up_proj")
            mlp = linear(act(gate) * up, p + "mlp.down_proj")
        x = x + (norm(mlp, p + "post_feedforward_layernorm.weight") if p + "post_feedforward_layernorm.weight" in w
                 else mlp * residual)
    x = norm(x, "model.norm.weight")
    if headless:
        return x
    # transformers ties lm_head to the embedding when tie_word_embeddings is true, a saved lm_head.weight or not
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings", False) else w["lm_head.weight"]
    logits = x @ head.T
    if c.get("final_logit_softcapping"):
        cap = c["final_logit_softcapping"]
        logits = torch.tanh(logits / cap) * cap
    if granite:
        logits = logits / c["logits_scaling"]
    if cohere:
        logits = logits * c["logit_scale"]
    return logits


def moe_forward(w, c, i, y, act):
    """MixtralSparseMoeBlock / Qwen2MoeSparseMoeBlock / Qwen3MoeSparseMoeBlock: softmax of the router's logits, each
    token's top k experts (their weights renormalized by Mixtral always, by the Qwens when norm_topk_prob), their
    outputs weighted and summed, one token at a time; Qwen2-MoE adds its shared expert times sigmoid(its gate)."""
    _, router, experts, shared = moe_names(c, i)
    probs = torch.softmax(y @ w[router].T, dim=-1)
    top, chosen = torch.topk(probs, c["num_experts_per_tok"], dim=-1)
    if c["model_type"] == "mixtral" or c.get("norm_topk_prob"):
        top = top / top.sum(dim=-1, keepdim=True)

    def expert(x, names):
        gate, up, down = names
        return (act(x @ w[gate].T) * (x @ w[up].T)) @ w[down].T
    out = torch.zeros_like(y)
    for bi in range(y.shape[0]):
        for ti in range(y.shape[1]):
            x = y[bi, ti]
            for k in range(chosen.shape[-1]):
                out[bi, ti] += top[bi, ti, k] * expert(x, experts[int(chosen[bi, ti, k])])
    if shared:
        out = out + torch.sigmoid(y @ w[shared[3]].T) * expert(y, shared[:3])
    return out


def run_forward(args, fwd=None):
    """The forward command: fwd(weights, config, ids) (this script's forward by default) of each folder."""
    fwd = fwd or forward
    c = json.load(open(os.path.join(args.dir[0], "config.json")))
    g = torch.Generator().manual_seed(args.tokens_seed)
    images = "image_size" in c  # (a vision model: a batch of standard normal images of its size)
    ids = torch.randn(args.batch, c["num_channels"], c["image_size"], c["image_size"], generator=g,
                      dtype=torch.float64) if images else \
        torch.randint(0, text_config(c)["vocab_size"], (args.batch, args.length), generator=g)
    logits = {d: fwd(read_folder(d), json.load(open(os.path.join(d, "config.json"))), ids).tolist()
              for d in args.dir}
    with open(args.out, "w") as f:
        json.dump({"images" if images else "tokens": ids.tolist(),
                   "logits": logits[args.dir[0]] if len(args.dir) == 1 else logits}, f)


def run_case(args, mk=None, perm=None, fwd=None):
    """The case command, with a script's own make, permute and forward (this script's by default)."""
    root = args.out
    args.out = os.path.join(root, "ref")
    (mk or make)(args)
    (perm or permute)(argparse.Namespace(inp=args.out, out=os.path.join(root, "attacked"), seed=args.permute_seed,
                                         secret=os.path.join(root, "secret.json")))
    run_forward(argparse.Namespace(dir=[os.path.join(root, "ref"), os.path.join(root, "attacked")],
                                   tokens_seed=args.tokens_seed, batch=2, length=7,
                                   out=os.path.join(root, "logits.json")), fwd)


def make_options(m):
    m.add_argument("out")
    m.add_argument("--variant", default="llama", choices=sorted(MODEL_TYPES))
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--dtype", default="F32", choices=sorted(DTYPES))
    m.add_argument("--shards", type=int, default=1)
    m.add_argument("--tied", action="store_true")
    m.add_argument("--inv-freq", action="store_true", help="also each layer's self_attn.rotary_emb.inv_freq buffer")
    m.add_argument("--hidden", type=int, default=32)
    m.add_argument("--layers", type=int, default=2)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--kv-heads", type=int, default=2)
    m.add_argument("--head-dim", type=int, default=8)
    m.add_argument("--inter", type=int, default=48)
    m.add_argument("--vocab", type=int, default=64)
    m.add_argument("--mlp-bias", action="store_true", help="Llama's mlp_bias: gate/up/down biases")
    m.add_argument("--attention-bias", action="store_true", help="Llama's attention_bias: q/k/v and o biases")
    m.add_argument("--tied-saved", action="store_true", help="with --tied, lm_head.weight saved too (equal values)")
    m.add_argument("--no-head-dim", action="store_true", help="config.json without head_dim")
    m.add_argument("--no-kv-heads", action="store_true", help="config.json without num_key_value_heads (MHA)")
    m.add_argument("--rope-scaling", default="none", choices=sorted(ROPE_SCALING))
    m.add_argument("--hidden-act", default="silu")
    m.add_argument("--partial-rotary", type=float, default=1.0, help="partial_rotary_factor (Phi-4-mini: 0.75)")
    m.add_argument("--parallel-residual", action="store_true", help="stablelm: use_parallel_residual")
    m.add_argument("--header-order", default="offsets", choices=["offsets", "shuffled"])
    m.add_argument("--no-header-pad", action="store_true", help="safetensors headers not padded to 8 bytes")
    m.add_argument("--experts", type=int, default=4, help="mixtures of experts: the experts of a layer")
    m.add_argument("--top-k", type=int, default=2, help="mixtures of experts: num_experts_per_tok")
    m.add_argument("--moe-inter", type=int, default=24, help="mixtures of experts: an expert's width")
    m.add_argument("--shared-inter", type=int, default=40, help="Qwen2-MoE: the shared expert's width")
    m.add_argument("--mlp-only-layers", default="", help="Qwen MoE: the dense layers, e.g. 1,3")
    m.add_argument("--norm-topk", action="store_true", help="Qwen MoE: norm_topk_prob")
    m.add_argument("--multimodal", choices=["old", "new", "qwen-old", "qwen-new"], help="inside a multimodal model: Gemma 3's around gemma3_text, "
                   "LLaVA's around the others (a vision tower, a projector into the stream); old: transformers 4.50's "
                   "names (language_model.model.), new: 4.52's (model.language_model.); qwen-old, qwen-new: Qwen2.5-VL's "
                   "around qwen2 (visual. beside model., or model.visual. beside model.language_model.)")
    m.add_argument("--fused-experts", action="store_true", help="mixtures of experts in transformers 5's fused layout: "
                   "mlp.experts.gate_up_proj [E, 2I, D], mlp.experts.down_proj [E, D, I]")
    m.add_argument("--headless", action="store_true", help="a base model (XModel, as embedding models are saved): no "
                   "lm_head, names without 'model.'")


def main(options=None, mk=None, perm=None, fwd=None):
    """The command line: make, case, permute, noise, forward; a script of another family passes its own make options,
    make, permute and forward (noise reads any folder)."""
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    c = sub.add_parser("case")
    c.add_argument("--permute-seed", type=int, required=True)
    c.add_argument("--tokens-seed", type=int, default=0)
    for m in (m, c):
        (options or make_options)(m)
    p = sub.add_parser("permute")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--secret", required=True)
    z = sub.add_parser("noise")
    z.add_argument("inp")
    z.add_argument("out")
    z.add_argument("--factor", type=float, required=True)
    z.add_argument("--seed", type=int, required=True)
    f = sub.add_parser("forward")
    f.add_argument("dir", nargs="+")
    f.add_argument("--tokens-seed", type=int, default=0)
    f.add_argument("--batch", type=int, default=2)
    f.add_argument("--length", type=int, default=7)
    f.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    {"make": mk or make, "permute": perm or permute, "noise": noise, "forward": lambda a: run_forward(a, fwd),
     "case": lambda a: run_case(a, mk, perm, fwd)}[args.cmd](args)


if __name__ == "__main__":
    main()
