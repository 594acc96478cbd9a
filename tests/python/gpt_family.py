#!/usr/bin/python3
"""Hugging Face GPT-2, GPT-NeoX (Pythia), OPT, GPT-BigCode (StarCoder), BLOOM, GPT-J, Falcon, MPT and Phi (1, 1.5, 2) folders written and run without transformers, for Lady's tests
(tests/java/lady/model/LlamaFolderTest.java). The safetensors writing and reading are llama_family.py's.

    gpt_family.py make OUT --variant gpt2|gpt_neox|opt|phi|gpt_bigcode|bloom|gptj|falcon|mpt [--seed S] [--dtype F32|BF16|F16] [--hidden D --layers L
                  --heads H --inter I --vocab V --positions P] [--no-prefix] [--buffers] [--inv-layer-scale]
                  [--sequential] [--rotary-pct F] [--tied] [--act NAME] [--post-norm] [--project E] [--mha]
                  [--n-embed] [--post-residual] [--falcon mq|new|seq --kv-heads K] [--clip C]
    gpt_family.py permute IN OUT --seed S --secret SECRET.json
    gpt_family.py forward DIR [DIR...] --tokens-seed S [--batch B --length T] --out LOGITS.json
    gpt_family.py case OUT [make options] --permute-seed P --tokens-seed S
    gpt_family.py noise IN OUT --factor F --seed S    (llama_family.py's)

make     a random folder as transformers' save_pretrained writes it: config.json (the configuration class's fields),
         model.safetensors (the library's header and order). gpt2: GPT2LMHeadModel's names under "transformer."
         (--no-prefix: without it, as the hub's gpt2 is saved), every matrix a Conv1D [in, out], lm_head tied to wte
         and not saved; --inv-layer-scale sets scale_attn_by_inverse_layer_idx. gpt_neox: GPTNeoXForCausalLM's
         names, query_key_value with head h's q, k, v rows in turn, rotary on the first rotary_pct of each head,
         parallel residual (--sequential: use_parallel_residual false), embed_out (--tied: tied to embed_in, not
         saved). opt: OPTForCausalLM's names under "model.decoder.", q, k, v, out_proj with biases, learned
         positions from row 2, relu, lm_head tied and not saved; --post-norm: do_layer_norm_before false (OPT-350m:
         each LayerNorm after its residual add, no final_layer_norm); --project E: word_embed_proj_dim E, the
         embedding's width, with project_in and project_out (OPT-350m: 512 for a width of 1024). phi:
         PhiForCausalLM's names under "model.", one input_layernorm read by the attention (q, k, v, dense, with
         biases; the first partial_rotary_factor of each head rotated: --rotary-pct) and the MLP (fc1, gelu_new,
         fc2), summed into the residual together, final_layernorm, lm_head with a bias. gpt_bigcode: GPT-2's names
         with linear layers [out, in], gelu_pytorch_tanh, multi_query (one KV head: c_attn's k and v rows after its
         q rows; --mha: multi_query false, each head's q, k, v rows in turn). bloom: BloomForCausalLM's names under
         "transformer." (--no-prefix: without, as the released weights are), word_embeddings_layernorm, each head's
         q, k, v rows in turn, ALiBi (the heads are not permuted: their slopes are fixed by index), the head tied;
         --n-embed: the width under config.json's older key n_embed; --post-residual:
         apply_residual_connection_post_layernorm. gptj: GPTJForCausalLM's names, one ln_1 read by the attention (q,
         k, v, out_proj without biases; the first rotary_dim (--rotary-pct of the head) of each head rotated in
         pairs (2i, 2i + 1)) and the MLP (fc_in, gelu_new, fc_out), lm_head with a bias. falcon: FalconForCausalLM's
         names, query_key_value holding per KV head its query heads' rows, its k, its v (RoPE on whole heads); --falcon
         mq: Falcon-7B's one KV head, parallel attention and MLP on one norm, no biases; new: Falcon-40B's
         new_decoder_architecture, --kv-heads KV heads, ln_attn and ln_mlp; seq: one KV head per head, the attention and
         the MLP in turn (post_attention_layernorm), biases.
         mpt: MptForCausalLM's names under "transformer." (--no-prefix: MptModel's without it, and no head),
         LayerNorms without bias (norm_1, norm_2, norm_f), Wqkv (q, k, v stacked, no bias), out_proj, ALiBi with
         MPT's slopes (alibi_bias_max 8: the heads are not permuted), ffn up_proj, gelu, down_proj (expansion_ratio
         --inter / --hidden), the head tied to wte; --clip C: attn_config's clip_qkv.
         --buffers: the buffers older versions saved (a BOOL causal mask, masked_bias; GPT-NeoX's inv_freq).
permute  the attacker's side, written independently of Lady: every symmetry permuted with its own permutation:
         the residual stream (embedding and position columns, every LayerNorm weight and bias, the inputs of the
         attention and the MLP, the outputs of the attention's projection and the MLP's with their biases, the
         head's columns); per layer the MLP units; the heads (q, k, v and the output projection's inputs); inside each
         head (at its new position) the q/k dimensions RoPE leaves free (all of GPT-2's; GPT-NeoX's last
         1 - rotary_pct), the same in q and k, and the v dimensions with the output projection's inputs.
         SECRET.json in Lady's format (inner groups relative to the positions after the heads moved).
forward  the logits, computed as transformers does, in float64 (JSON as llama_family.py writes them).
Exit code 0 on success, 3 when torch cannot be imported.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_family as lf  # noqa: E402 (exits 3 without torch)

torch = lf.torch

def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))


ACTS = {"gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh,
        "gelu": torch.nn.functional.gelu, "relu": torch.relu, "silu": torch.nn.functional.silu}


def make_config(a):
    if a.variant == "gpt2":
        return {"activation_function": a.act or "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
                "bos_token_id": 0, "embd_pdrop": 0.1, "eos_token_id": 0, "initializer_range": 0.02,
                "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": a.hidden, "n_head": a.heads,
                "n_inner": a.inter if a.inter != 4 * a.hidden else None, "n_layer": a.layers,
                "n_positions": a.positions, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
                "scale_attn_by_inverse_layer_idx": a.inv_layer_scale, "scale_attn_weights": True,
                "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
                "summary_type": "cls_index", "summary_use_proj": True, "torch_dtype": "float32",
                "transformers_version": "4.46.3", "use_cache": True, "vocab_size": a.vocab}
    if a.variant == "opt":
        return {"_remove_final_layer_norm": False, "activation_dropout": 0.0, "activation_function": a.act or "relu",
                "architectures": ["OPTForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 2,
                "do_layer_norm_before": not a.post_norm, "dropout": 0.1, "enable_bias": True, "eos_token_id": 2,
                "ffn_dim": a.inter, "hidden_size": a.hidden, "init_std": 0.02, "layer_norm_elementwise_affine": True,
                "layerdrop": 0.0, "max_position_embeddings": a.positions, "model_type": "opt",
                "num_attention_heads": a.heads, "num_hidden_layers": a.layers, "pad_token_id": 1,
                "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "vocab_size": a.vocab,
                "word_embed_proj_dim": a.project or a.hidden}
    if a.variant == "gpt_bigcode":
        return {"activation_function": a.act or "gelu_pytorch_tanh", "architectures": ["GPTBigCodeForCausalLM"],
                "attention_softmax_in_fp32": True, "attn_pdrop": 0.1, "bos_token_id": 0, "embd_pdrop": 0.1,
                "eos_token_id": 0, "inference_runner": 0, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
                "max_batch_size": None, "max_sequence_length": None, "model_type": "gpt_bigcode",
                "multi_query": not a.mha, "n_embd": a.hidden, "n_head": a.heads,
                "n_inner": a.inter if a.inter != 4 * a.hidden else None, "n_layer": a.layers, "n_positions": a.positions,
                "pad_key_length": True, "pre_allocate_kv_cache": False, "resid_pdrop": 0.1,
                "scale_attention_softmax_in_fp32": True, "scale_attn_weights": True, "torch_dtype": "float32",
                "transformers_version": "4.46.3", "use_cache": True, "validate_runner_input": True,
                "vocab_size": a.vocab}
    if a.variant == "bloom":
        c = {"apply_residual_connection_post_layernorm": a.post_residual, "architectures": ["BloomForCausalLM"],
             "attention_dropout": 0.0, "attention_softmax_in_fp32": True, "bias_dropout_fusion": True, "bos_token_id": 1,
             "eos_token_id": 2, "hidden_dropout": 0.0, "hidden_size": a.hidden, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "masked_softmax_fusion": True, "model_type": "bloom", "n_head": a.heads,
             "n_layer": a.layers, "offset_alibi": 100, "pad_token_id": 3, "pretraining_tp": 1, "skip_bias_add": True,
             "skip_bias_add_qkv": False, "slow_but_exact": False, "torch_dtype": "float32",
             "transformers_version": "4.46.3", "unk_token_id": 0, "use_cache": True, "vocab_size": a.vocab}
        if a.n_embed:  # the released configurations' older key
            c["n_embed"] = c.pop("hidden_size")
        return c
    if a.variant == "gptj":
        return {"activation_function": a.act or "gelu_new", "architectures": ["GPTJForCausalLM"], "attn_pdrop": 0.0,
                "bos_token_id": 0, "embd_pdrop": 0.0, "eos_token_id": 0, "initializer_range": 0.02,
                "layer_norm_epsilon": 1e-05, "model_type": "gptj", "n_embd": a.hidden, "n_head": a.heads,
                "n_inner": a.inter if a.inter != 4 * a.hidden else None, "n_layer": a.layers, "n_positions": a.positions,
                "resid_pdrop": 0.0, "rotary_dim": int(a.hidden // a.heads * a.rotary_pct), "tie_word_embeddings": False,
                "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "vocab_size": a.vocab}
    if a.variant == "falcon":
        kv = {"mq": 1, "new": a.kv_heads, "seq": a.heads}[a.falcon]
        return {"activation": a.act or "gelu", "alibi": False, "apply_residual_connection_post_layernorm": False,
                "architectures": ["FalconForCausalLM"], "attention_dropout": 0.0, "bias": a.falcon == "seq",
                "bos_token_id": 11, "eos_token_id": 11, "ffn_hidden_size": None, "hidden_dropout": 0.0,
                "hidden_size": a.hidden,
                "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "max_position_embeddings": a.positions,
                "model_type": "falcon", "multi_query": a.falcon == "mq", "new_decoder_architecture": a.falcon == "new",
                "num_attention_heads": a.heads, "num_hidden_layers": a.layers, "num_kv_heads": kv,
                "parallel_attn": a.falcon != "seq", "rope_scaling": None, "rope_theta": 10000.0,
                "tie_word_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True,
                "vocab_size": a.vocab}
    if a.variant == "mpt":
        return {"architectures": ["MptModel" if a.no_prefix else "MptForCausalLM"],
                "attn_config": {"alibi": True, "alibi_bias_max": 8, "attn_impl": "torch", "attn_pdrop": 0.0,
                                "attn_type": "multihead_attention", "attn_uses_sequence_id": False,
                                "clip_qkv": a.clip, "prefix_lm": False, "qk_ln": False, "softmax_scale": None},
                "d_model": a.hidden, "emb_pdrop": 0.0, "embedding_fraction": 1.0,
                "expansion_ratio": max(1, a.inter // a.hidden), "layer_norm_epsilon": 1e-05, "learned_pos_emb": True,
                "logit_scale": None, "max_seq_len": a.positions, "model_type": "mpt", "n_heads": a.heads,
                "n_layers": a.layers, "no_bias": True, "norm_type": "low_precision_layernorm", "resid_pdrop": 0.0,
                "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "verbose": 0,
                "vocab_size": a.vocab}
    if a.variant == "phi":
        return {"architectures": ["PhiForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "embd_pdrop": 0.0,
                "eos_token_id": 2, "hidden_act": a.act or "gelu_new", "hidden_size": a.hidden, "initializer_range": 0.02,
                "intermediate_size": a.inter, "layer_norm_eps": 1e-05, "max_position_embeddings": a.positions,
                "model_type": "phi", "num_attention_heads": a.heads, "num_hidden_layers": a.layers,
                "num_key_value_heads": a.heads, "partial_rotary_factor": a.rotary_pct, "qk_layernorm": False,
                "resid_pdrop": 0.1, "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False,
                "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "vocab_size": a.vocab}
    return {"architectures": ["GPTNeoXForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
            "bos_token_id": 0, "classifier_dropout": 0.1, "eos_token_id": 0, "hidden_act": a.act or "gelu",
            "hidden_dropout": 0.0, "hidden_size": a.hidden, "initializer_range": 0.02, "intermediate_size": a.inter,
            "layer_norm_eps": 1e-05, "max_position_embeddings": a.positions, "model_type": "gpt_neox",
            "num_attention_heads": a.heads, "num_hidden_layers": a.layers, "rope_scaling": None,
            "rotary_emb_base": 10000, "rotary_pct": a.rotary_pct, "tie_word_embeddings": a.tied,
            "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True,
            "use_parallel_residual": not a.sequential, "vocab_size": a.vocab}


def prefix(c, names):
    if c["model_type"] in ("gpt2", "gpt_bigcode", "bloom", "gptj", "falcon", "mpt"):
        return "transformer." if any(n.startswith("transformer.") for n in names) else ""
    if c["model_type"] == "opt":
        return "model.decoder." if "model.decoder.embed_tokens.weight" in names else "decoder."
    return {"phi": "model.", "gpt_neox": "gpt_neox."}[c["model_type"]]


def rotary_dim(c):
    hd = hidden(c) // heads(c)
    if c["model_type"] == "phi":
        return int(hd * c["partial_rotary_factor"])
    if c["model_type"] == "gptj":
        return c["rotary_dim"] or hd
    if c["model_type"] == "falcon":
        return hd
    return int(hd * c["rotary_pct"]) if c["model_type"] == "gpt_neox" else 0


def hidden(c):
    return c.get("n_embd", c.get("hidden_size", c.get("n_embed", c.get("d_model"))))


def heads(c):
    return c.get("n_head", c.get("num_attention_heads", c.get("n_heads")))


def layers(c):
    return c.get("n_layer", c.get("num_hidden_layers", c.get("n_layers")))


def inter(c):
    return (c.get("intermediate_size") or c.get("ffn_dim") or c.get("n_inner") or c.get("ffn_hidden_size")
            or c.get("expansion_ratio", 4) * hidden(c))


def lin(s, name, out, inp):
    """A linear layer's weight [out, inp] and bias [out] in shapes s."""
    s[name + ".weight"] = (None, (out, inp))
    s[name + ".bias"] = (None, (out,))


def mask_buffers(s, attention, positions):
    """The buffers older versions saved with an attention module: its causal mask (BOOL) and the mask's fill value."""
    s[attention + ".bias"] = ("BOOL", (1, 1, positions, positions))
    s[attention + ".masked_bias"] = ("F32", ())


def norm(s, name, width):
    """A LayerNorm's weight and bias [width] in shapes s."""
    s[name + ".weight"] = s[name + ".bias"] = (None, (width,))


def shapes(c, p, buffers):
    """name -> (dtype or None for the folder's, shape), in state_dict order."""
    d, i_, v = hidden(c), inter(c), c["vocab_size"]
    s = {}
    if c["model_type"] == "mpt":  # no biases, LayerNorms without bias; the head tied
        s[p + "wte.weight"] = (None, (v, d))
        for i in range(layers(c)):
            h = "%sblocks.%d." % (p, i)
            s[h + "norm_1.weight"] = (None, (d,))
            s[h + "attn.Wqkv.weight"] = (None, (3 * d, d))
            s[h + "attn.out_proj.weight"] = (None, (d, d))
            s[h + "norm_2.weight"] = (None, (d,))
            s[h + "ffn.up_proj.weight"] = (None, (i_, d))
            s[h + "ffn.down_proj.weight"] = (None, (d, i_))
        s[p + "norm_f.weight"] = (None, (d,))
        return s
    if c["model_type"] == "falcon":  # (biases only with "bias"; the head tied)
        hd, kv = d // heads(c), kv_heads(c)
        b = c["bias"]

        def layer(name, out, inp):
            if b:
                lin(s, name, out, inp)
            else:
                s[name + ".weight"] = (None, (out, inp))
        s[p + "word_embeddings.weight"] = (None, (v, d))
        for i in range(layers(c)):
            h = "%sh.%d." % (p, i)
            for ln in (("ln_attn", "ln_mlp") if c["new_decoder_architecture"] else ("input_layernorm",)
                       if c["parallel_attn"] else ("input_layernorm", "post_attention_layernorm")):
                norm(s, h + ln, d)
            layer(h + "self_attention.query_key_value", (heads(c) + 2 * kv) * hd, d)
            layer(h + "self_attention.dense", d, d)
            layer(h + "mlp.dense_h_to_4h", i_, d)
            layer(h + "mlp.dense_4h_to_h", d, i_)
        norm(s, p + "ln_f", d)
        return s
    if c["model_type"] == "gptj":
        s[p + "wte.weight"] = (None, (v, d))
        for i in range(layers(c)):
            h = "%sh.%d." % (p, i)
            norm(s, h + "ln_1", d)
            if buffers:
                mask_buffers(s, h + "attn", c["n_positions"])
            for x in ("k", "v", "q", "out"):
                s[h + "attn.%s_proj.weight" % x] = (None, (d, d))
            lin(s, h + "mlp.fc_in", i_, d)
            lin(s, h + "mlp.fc_out", d, i_)
        norm(s, p + "ln_f", d)
        s["lm_head.weight"] = (None, (v, d))
        s["lm_head.bias"] = (None, (v,))
        return s
    if c["model_type"] == "bloom":
        s[p + "word_embeddings.weight"] = (None, (v, d))
        norm(s, p + "word_embeddings_layernorm", d)
        for i in range(layers(c)):
            h = "%sh.%d." % (p, i)
            norm(s, h + "input_layernorm", d)
            lin(s, h + "self_attention.query_key_value", 3 * d, d)
            lin(s, h + "self_attention.dense", d, d)
            norm(s, h + "post_attention_layernorm", d)
            lin(s, h + "mlp.dense_h_to_4h", 4 * d, d)
            lin(s, h + "mlp.dense_4h_to_h", d, 4 * d)
        norm(s, p + "ln_f", d)
        return s
    if c["model_type"] in ("gpt2", "gpt_bigcode"):  # the same names: GPT-2's Conv1D [in, out], BigCode's linear layers
        conv = c["model_type"] == "gpt2"
        kvd = d // heads(c) if c.get("multi_query") else d  # (multi-query: one k and one v head)

        def mat(out, inp):
            return (inp, out) if conv else (out, inp)
        s[p + "wte.weight"] = (None, (v, d))
        s[p + "wpe.weight"] = (None, (c["n_positions"], d))
        for i in range(layers(c)):
            h = "%sh.%d." % (p, i)
            norm(s, h + "ln_1", d)
            if buffers:
                mask_buffers(s, h + "attn", c["n_positions"])
            s[h + "attn.c_attn.weight"] = (None, mat(d + 2 * kvd, d))
            s[h + "attn.c_attn.bias"] = (None, (d + 2 * kvd,))
            s[h + "attn.c_proj.weight"] = (None, mat(d, d))
            s[h + "attn.c_proj.bias"] = (None, (d,))
            norm(s, h + "ln_2", d)
            s[h + "mlp.c_fc.weight"] = (None, mat(i_, d))
            s[h + "mlp.c_fc.bias"] = (None, (i_,))
            s[h + "mlp.c_proj.weight"] = (None, mat(d, i_))
            s[h + "mlp.c_proj.bias"] = (None, (d,))
        norm(s, p + "ln_f", d)
        return s
    if c["model_type"] == "phi":
        s[p + "embed_tokens.weight"] = (None, (v, d))
        for i in range(layers(c)):
            h = "%slayers.%d." % (p, i)
            for x in ("q", "k", "v"):
                lin(s, h + "self_attn.%s_proj" % x, d, d)
            lin(s, h + "self_attn.dense", d, d)
            lin(s, h + "mlp.fc1", i_, d)
            lin(s, h + "mlp.fc2", d, i_)
            norm(s, h + "input_layernorm", d)
        norm(s, p + "final_layernorm", d)
        s["lm_head.weight"] = (None, (v, d))
        s["lm_head.bias"] = (None, (v,))
        return s
    if c["model_type"] == "opt":
        e = c["word_embed_proj_dim"]
        s[p + "embed_tokens.weight"] = (None, (v, e))
        s[p + "embed_positions.weight"] = (None, (c["max_position_embeddings"] + 2, d))
        if e != d:
            s[p + "project_out.weight"] = (None, (e, d))
            s[p + "project_in.weight"] = (None, (d, e))
        if c["do_layer_norm_before"]:
            norm(s, p + "final_layer_norm", d)
        for i in range(layers(c)):
            h = "%slayers.%d." % (p, i)
            for x in ("k", "v", "q", "out"):
                lin(s, h + "self_attn.%s_proj" % x, d, d)
            norm(s, h + "self_attn_layer_norm", d)
            lin(s, h + "fc1", i_, d)
            lin(s, h + "fc2", d, i_)
            norm(s, h + "final_layer_norm", d)
        return s
    s[p + "embed_in.weight"] = (None, (v, d))
    for i in range(layers(c)):
        h = "%slayers.%d." % (p, i)
        for ln in ("input_layernorm", "post_attention_layernorm"):
            norm(s, h + ln, d)
        if buffers:
            mask_buffers(s, h + "attention", c["max_position_embeddings"])
            s[h + "attention.rotary_emb.inv_freq"] = ("F32", (rotary_dim(c) // 2,))
        lin(s, h + "attention.query_key_value", 3 * d, d)
        lin(s, h + "attention.dense", d, d)
        lin(s, h + "mlp.dense_h_to_4h", i_, d)
        lin(s, h + "mlp.dense_4h_to_h", d, i_)
    norm(s, p + "final_layer_norm", d)
    if not c["tie_word_embeddings"]:
        s["embed_out.weight"] = (None, (v, d))
    return s


def draw(name, shape, seed, index, c):
    g = torch.Generator().manual_seed(seed * 100003 + index)
    if name.endswith(".attn.bias") or name.endswith(".attention.bias"):  # the causal mask buffer
        return torch.ones(shape, dtype=torch.bool).tril()
    if name.endswith("masked_bias"):
        return torch.tensor(-1e4)
    if name.endswith("inv_freq"):
        rd = rotary_dim(c)
        return 1.0 / (c["rotary_emb_base"] ** (torch.arange(0, rd, 2).float() / rd))
    if "ln" in name.split(".")[-2] or "norm" in name:  # LayerNorm weights near 1, their biases small
        return (1 if name.endswith("weight") else 0) + 0.1 * torch.randn(shape, generator=g)
    if name.endswith(".bias"):
        return 0.1 * torch.randn(shape, generator=g)
    fan_in = shape[0] if c["model_type"] == "gpt2" else shape[-1]  # a Conv1D is stored [in, out]
    return torch.randn(shape, generator=g) / math.sqrt(fan_in)


def make(a):
    c = make_config(a)
    # --no-prefix: the base model's names (OPTModel's under "decoder."), as the hub's gpt2 and OPT weights are saved
    p = ("decoder." if a.variant == "opt" else "") if a.no_prefix else {
        "gpt2": "transformer.", "gpt_neox": "gpt_neox.", "opt": "model.decoder.", "phi": "model.",
        "gpt_bigcode": "transformer.", "bloom": "transformer.", "gptj": "transformer.", "falcon": "transformer.",
        "mpt": "transformer."}[a.variant]
    lf.write_folder(a, c, shapes(c, p, a.buffers), draw)


# ---------------------------------------------------------------- permute (the attacker)

def draw_permutations(c, seed):
    g = torch.Generator().manual_seed(seed)
    h = heads(c)
    hd = hidden(c) // h
    rd = rotary_dim(c)
    perms = {"stream": lf.randperm(hidden(c), g), "layers": []}
    if c.get("word_embed_proj_dim", hidden(c)) != hidden(c):  # OPT-350m's embedding width: a group of its own
        perms["embed"] = lf.randperm(c["word_embed_proj_dim"], g)
    kv = kv_heads(c)
    for _ in range(layers(c)):  # (one KV head: the query heads move inside it, its q/k and v dimensions once for all;
        # ALiBi: the heads stay)
        heads_perm = torch.arange(h) if c["model_type"] in ("bloom", "mpt") else lf.randperm(h, g)
        perms["layers"].append({"mlp": lf.randperm(inter(c), g), "heads": heads_perm,
                                "qk": [lf.randperm(hd - rd, g) for _ in range(kv)],
                                "v": [lf.randperm(hd, g) for _ in range(kv)]})
        if c["model_type"] == "falcon":  # the KV heads, then the query heads inside each (grouped-query)
            perms["layers"][-1]["kvp"] = lf.randperm(kv, g)
            perms["layers"][-1]["q"] = [lf.randperm(h // kv, g) for _ in range(kv)]
    return perms


def kv_heads(c):
    if c["model_type"] == "falcon":
        return 1 if c["multi_query"] else c["num_kv_heads"] if c["new_decoder_architecture"] else heads(c)
    return 1 if c.get("multi_query") else heads(c)


def head_maps(c, lp):
    """Index maps (new -> old) of one layer's attention: per new head position g, its q, k, v dimensions in the old
    head (q, k: the rotated ones in place, the others by qk[g]; v by v[g]) as (q, k, v, o inputs) offsets of the
    packed projection (GPT-2: segments of D; GPT-NeoX: head h's 3 hd rows) and of the output projection's inputs."""
    h = heads(c)
    d = hidden(c)
    hd = d // h
    rd = rotary_dim(c)
    q, k, v, o = [], [], [], []
    if c["model_type"] == "falcon":  # per KV head g (now at g): its query heads' rows, its k, its v
        kv = kv_heads(c)
        rep = h // kv
        packed = []
        for g in range(kv):
            src = int(lp["kvp"][g])
            base = src * (rep + 2) * hd
            vd = [int(x) for x in lp["v"][g]]
            for r in range(rep):
                qs = int(lp["q"][g][r])
                packed += [base + qs * hd + t for t in range(hd)]
                o += [(src * rep + qs) * hd + t for t in vd]
            packed += [base + rep * hd + t for t in range(hd)] + [base + (rep + 1) * hd + t for t in vd]
        return torch.tensor(packed), torch.tensor(o)
    if kv_heads(c) == 1 and h > 1:  # GPT-BigCode's multi_query: c_attn's q rows, then the one head's k, then its v
        dims = [int(x) for x in lp["qk"][0]]
        vd = [int(x) for x in lp["v"][0]]
        for g in range(h):
            src = int(lp["heads"][g])
            q += [src * hd + t for t in dims]
            o += [src * hd + t for t in vd]
        return torch.tensor(q + [d + t for t in dims] + [d + hd + t for t in vd]), torch.tensor(o)
    for g in range(h):
        src = int(lp["heads"][g])
        dims = list(range(rd)) + [rd + int(x) for x in lp["qk"][g]]
        vd = [int(x) for x in lp["v"][g]]
        if c["model_type"] in ("opt", "phi", "gptj"):  # separate q, k, v
            q += [src * hd + t for t in dims]
            k += [src * hd + t for t in dims]
            v += [src * hd + t for t in vd]
        elif c["model_type"] in ("gpt2", "mpt"):  # (MPT's Wqkv: the same stacking on a linear layer)
            q += [src * hd + t for t in dims]
            k += [d + src * hd + t for t in dims]
            v += [2 * d + src * hd + t for t in vd]
        else:  # head src's rows: q, then k, then v
            q += [src * 3 * hd + t for t in dims]
            k += [src * 3 * hd + hd + t for t in dims]
            v += [src * 3 * hd + 2 * hd + t for t in vd]
        o += [src * hd + t for t in vd]
    if c["model_type"] in ("opt", "phi", "gptj"):
        return {"q": torch.tensor(q), "k": torch.tensor(k), "v": torch.tensor(v)}, torch.tensor(o)
    packed = q + k + v if c["model_type"] in ("gpt2", "mpt") else [x for g in range(h) for part in (q, k, v)
                                                          for x in part[g * hd:(g + 1) * hd]]
    return torch.tensor(packed), torch.tensor(o)


def permute_tensor(name, t, c, perms, p):
    s = perms["stream"]
    if t.dtype == torch.bool or t.dim() == 0 or name.endswith("inv_freq"):
        return t  # buffers: a causal mask, its fill value, the rotary frequencies
    e = perms.get("embed", s)  # OPT's embedding width (the stream's unless project_in changes it)
    if name == p + "embed_tokens.weight":
        return t[:, e]
    if name == p + "project_in.weight":
        return t[s][:, e]
    if name == p + "project_out.weight":
        return t[e][:, s]
    if name in (p + "wte.weight", p + "wpe.weight", p + "embed_in.weight", "embed_out.weight",
                p + "embed_positions.weight", "lm_head.weight") or (name == p + "embed_tokens.weight"):
        return t[:, s]
    if name == "lm_head.bias":  # (Phi's head: one entry per token)
        return t
    if name == p + "word_embeddings.weight":
        return t[:, s]
    if name.startswith(p + "word_embeddings_layernorm."):
        return t[s]
    if t.dim() == 1 and (name.startswith(p + "ln_f.") or name.startswith(p + "final_layer_norm.")
                         or name.startswith(p + "norm_f.")
                         or name.startswith(p + "final_layernorm.")):
        return t[s]
    rest = name[len(p):].split(".", 2)[2]  # after h.I. / layers.I.
    lp = perms["layers"][int(name[len(p):].split(".")[1])]
    packed, o = head_maps(c, lp)
    u = lp["mlp"]
    if "ln_" in rest or "layernorm" in rest or "layer_norm" in rest or rest.startswith("norm_"):
        return t[s]
    if rest.split(".")[1] in ("q_proj", "k_proj", "v_proj"):  # OPT's and Phi's q, k, v
        rows = packed[rest.split(".")[1][0]]
        return t[rows] if rest.endswith(".bias") else t[rows][:, s]
    if rest in ("self_attn.out_proj.weight", "self_attn.dense.weight", "self_attention.dense.weight",
                "attn.out_proj.weight"):
        return t[s][:, o]
    linear = c["model_type"] != "gpt2"  # (GPT-BigCode's c_attn, c_proj, c_fc are GPT-2's names on linear layers)
    if rest == "attn.Wqkv.weight":
        return t[packed][:, s]
    if rest == "ffn.up_proj.weight":
        return t[u][:, s]
    if rest == "ffn.down_proj.weight":
        return t[s][:, u]
    if rest == "attn.c_attn.weight":
        return t[packed][:, s] if linear else t[s][:, packed]
    if rest in ("attn.c_attn.bias", "attention.query_key_value.bias", "self_attention.query_key_value.bias"):
        return t[packed]
    if rest in ("attention.query_key_value.weight", "self_attention.query_key_value.weight"):
        return t[packed][:, s]
    if rest == "attn.c_proj.weight":
        return t[s][:, o] if linear else t[o][:, s]
    if rest == "attention.dense.weight":
        return t[s][:, o]
    if rest in ("attn.c_proj.bias", "attention.dense.bias", "mlp.c_proj.bias", "mlp.dense_4h_to_h.bias",
                "self_attn.out_proj.bias", "fc2.bias", "self_attn.dense.bias", "mlp.fc2.bias", "self_attention.dense.bias",
                "mlp.fc_out.bias"):
        return t[s]
    if rest in ("mlp.c_fc.bias", "mlp.dense_h_to_4h.bias", "fc1.bias", "mlp.fc1.bias", "mlp.fc_in.bias"):
        return t[u]
    if rest == "mlp.c_fc.weight":
        return t[u][:, s] if linear else t[s][:, u]
    if rest == "mlp.c_proj.weight":
        return t[s][:, u] if linear else t[u][:, s]
    if rest in ("mlp.dense_h_to_4h.weight", "fc1.weight", "mlp.fc1.weight", "mlp.fc_in.weight"):
        return t[u][:, s]
    if rest in ("mlp.dense_4h_to_h.weight", "fc2.weight", "mlp.fc2.weight", "mlp.fc_out.weight"):
        return t[s][:, u]
    raise ValueError("unexpected tensor %s" % name)


def secret(c, perms, seed, p):
    gpt2 = c["model_type"] in ("gpt2", "gpt_bigcode")
    # Lady names the stream after its producers' common prefix (or the first of them)
    bloom = c["model_type"] in ("bloom", "mpt")  # (ALiBi: the heads stay)
    stream = p + "blocks" if c["model_type"] == "mpt" else p + "h" if bloom or c["model_type"] in ("gptj", "falcon") else (p[:-1] or "wte") if gpt2 \
        else p[:-1] if c["model_type"] == "opt" else p + "layers"
    groups = {"stream." + stream: perms["stream"].tolist()}
    if "embed" in perms:  # OPT-350m's embedding width, named after the embedding
        groups[p + "embed_tokens"] = perms["embed"].tolist()
    for i, lp in enumerate(perms["layers"]):
        if c["model_type"] == "mpt":
            a, mlp = "%sblocks.%d.attn" % (p, i), "%sblocks.%d.ffn.up_proj" % (p, i)
        elif bloom or c["model_type"] == "falcon":
            a, mlp = "%sh.%d.self_attention" % (p, i), "%sh.%d.mlp.dense_h_to_4h" % (p, i)
        elif c["model_type"] == "gptj":
            a, mlp = "%sh.%d.attn" % (p, i), "%sh.%d.mlp.fc_in" % (p, i)
        elif gpt2:
            a, mlp = "%sh.%d.attn" % (p, i), "%sh.%d.mlp.c_fc" % (p, i)
        elif c["model_type"] == "opt":
            a, mlp = "%slayers.%d.self_attn" % (p, i), "%slayers.%d.fc1" % (p, i)
        elif c["model_type"] == "phi":
            a, mlp = "%slayers.%d.self_attn" % (p, i), "%slayers.%d.mlp.fc1" % (p, i)
        else:
            a, mlp = "%slayers.%d.attention" % (p, i), "%slayers.%d.mlp.dense_h_to_4h" % (p, i)
        if c["model_type"] == "falcon":
            groups[a + ".kv_heads"] = lp["kvp"].tolist()
            for g, qp in enumerate(lp["q"]):
                if len(qp) > 1:
                    groups[a + ".q_heads.%d" % g] = qp.tolist()
        elif kv_heads(c) == 1 and heads(c) > 1:  # one KV head, its query heads nested in it
            groups[a + ".kv_heads"] = [0]
            groups[a + ".q_heads.0"] = lp["heads"].tolist()
        elif not bloom:  # (ALiBi: no group of heads)
            groups[a + ".kv_heads"] = lp["heads"].tolist()
        for g, qk in enumerate(lp["qk"]):
            groups[a + ".qk_pass.%d" % g] = qk.tolist()
        for g, vp in enumerate(lp["v"]):
            groups[a + ".v_dims.%d" % g] = vp.tolist()
        groups[mlp] = lp["mlp"].tolist()
    return {"format": "lady-secret", "format_version": 1, "tool_version": "gpt_family.py",
            "architecture": c["model_type"], "seed": seed,
            "convention": "applying p to a group: new neuron j is old neuron p[j]", "permutations": groups}


def permute(a):
    lf.permute_file(a, prefix, lambda c, seed, header: draw_permutations(c, seed), permute_tensor, secret)


# ---------------------------------------------------------------- forward (as transformers computes it)

def mpt_slopes(n, bias_max):
    """transformers' build_mpt_alibi_tensor's slopes (float64)."""
    p2 = 2 ** math.ceil(math.log2(n))
    slopes = 1.0 / torch.pow(2, torch.arange(1, p2 + 1, dtype=torch.float64) * (bias_max / p2))
    if p2 != n:
        slopes = torch.cat([slopes[1::2], slopes[::2]])[:n]
    return slopes


def alibi_slopes(n):
    """transformers' build_alibi_tensor's slopes (float64)."""
    p2 = 2 ** math.floor(math.log2(n))
    base = 2 ** (-(2 ** -(math.log2(p2) - 3)))
    slopes = [base ** (i + 1) for i in range(p2)]
    extra = 2 ** (-(2 ** -(math.log2(2 * p2) - 3)))
    slopes += [extra ** (2 * i + 1) for i in range(min(p2, n - p2))]
    return torch.tensor(slopes, dtype=torch.float64)


def forward(w, c, ids):
    w = {n: t.double() for n, t in w.items() if t.dtype != torch.bool}
    p = prefix(c, w)
    d, h = hidden(c), heads(c)
    hd = d // h
    bsz, seq = ids.shape
    gpt2 = c["model_type"] == "gpt2"
    eps = c.get("layer_norm_epsilon", c.get("layer_norm_eps"))
    act = ACTS[c.get("activation_function", c.get("hidden_act", c.get("activation"))) or "gelu_pytorch_tanh"]  # (BLOOM: none)

    def ln(x, name):  # (MPT's have no bias)
        return torch.nn.functional.layer_norm(x, (d,), w[name + ".weight"], w.get(name + ".bias"), eps)

    def conv1d(x, name):  # x W + b, W [in, out]
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y
    causal = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    rd = rotary_dim(c)
    if rd:
        base = c.get("rope_theta", c.get("rotary_emb_base")) or 10000.0  # (GPT-J names none)
        inv = 1.0 / (base ** (torch.arange(0, rd, 2, dtype=torch.float64) / rd))
        f = torch.outer(torch.arange(seq, dtype=torch.float64), inv)
        cos, sin = torch.cat((f, f), -1).cos(), torch.cat((f, f), -1).sin()

    def rope(x):
        r, rest = x[..., :rd], x[..., rd:]
        if c["model_type"] == "gptj":  # pairs (2i, 2i + 1): rotate_every_two, each frequency twice in a row
            c2, s2 = f.cos().repeat_interleave(2, -1), f.sin().repeat_interleave(2, -1)
            return torch.cat((r * c2 + lf.rotate_every_two(r) * s2, rest), -1)
        return torch.cat((r * cos + lf.rotate_half(r) * sin, rest), -1)

    def attention(x, i):
        if c["model_type"] == "mpt":  # stacked q, k, v (clip_qkv), ALiBi with MPT's slopes, causal
            qkv = linear(x, "%sblocks.%d.attn.Wqkv" % (p, i))
            clip = c["attn_config"]["clip_qkv"]
            if clip:
                qkv = qkv.clamp(-clip, clip)
            q, k, v = (t.reshape(bsz, seq, h, hd).transpose(1, 2) for t in qkv.split(d, -1))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
            scores = scores + mpt_slopes(h, c["attn_config"]["alibi_bias_max"])[:, None, None] \
                * torch.arange(1 - seq, 1, dtype=torch.float64)
            scores = scores.masked_fill(causal, float("-inf")).softmax(-1)
            return linear((scores @ v).transpose(1, 2).reshape(bsz, seq, d), "%sblocks.%d.attn.out_proj" % (p, i))
        if c["model_type"] in ("opt", "phi", "gptj"):  # q, k, v apart (OPT scales q before the product: the same)
            a = "%sh.%d.attn." % (p, i) if c["model_type"] == "gptj" else "%slayers.%d.self_attn." % (p, i)
            q, k, v = (linear(x, a + n + "_proj").reshape(bsz, seq, h, hd).transpose(1, 2) for n in ("q", "k", "v"))
            if rd:
                q, k = rope(q), rope(k)
        elif gpt2:
            q, k, v = conv1d(x, "%sh.%d.attn.c_attn" % (p, i)).split(d, -1)
            q, k, v = (t.reshape(bsz, seq, h, hd).transpose(1, 2) for t in (q, k, v))
        elif c["model_type"] == "gpt_bigcode":
            qkv = linear(x, "%sh.%d.attn.c_attn" % (p, i))
            if c["multi_query"]:  # one k and v head for every query head
                q = qkv[..., :d].reshape(bsz, seq, h, hd).transpose(1, 2)
                k, v = qkv[..., d:d + hd].unsqueeze(1), qkv[..., d + hd:].unsqueeze(1)
            else:
                qkv = qkv.reshape(bsz, seq, h, 3 * hd).transpose(1, 2)
                q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        elif c["model_type"] == "bloom":
            qkv = linear(x, "%sh.%d.self_attention.query_key_value" % (p, i)).reshape(bsz, seq, h, 3 * hd).transpose(1, 2)
            q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        elif c["model_type"] == "falcon":  # per KV head: its query heads, its k, its v; each k and v for its group
            kv = kv_heads(c)
            rep = h // kv
            qkv = linear(x, "%sh.%d.self_attention.query_key_value" % (p, i)).reshape(bsz, seq, kv, rep + 2, hd)
            q = qkv[:, :, :, :rep].reshape(bsz, seq, h, hd).transpose(1, 2)
            k = qkv[:, :, :, rep].transpose(1, 2).repeat_interleave(rep, 1)
            v = qkv[:, :, :, rep + 1].transpose(1, 2).repeat_interleave(rep, 1)
            q, k = rope(q), rope(k)
        else:
            qkv = linear(x, "%slayers.%d.attention.query_key_value" % (p, i)).reshape(bsz, seq, h, 3 * hd).transpose(1, 2)
            q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
            q, k = rope(q), rope(k)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if c["model_type"] == "bloom":  # ALiBi: + slope(head) * key position
            scores = scores + (alibi_slopes(h)[:, None, None] * torch.arange(seq, dtype=torch.float64))
        if gpt2 and c["scale_attn_by_inverse_layer_idx"]:
            scores = scores / (i + 1)
        scores = scores.masked_fill(causal, float("-inf")).softmax(-1)
        o = (scores @ v).transpose(1, 2).reshape(bsz, seq, d)
        if c["model_type"] == "gptj":
            return linear(o, "%sh.%d.attn.out_proj" % (p, i))
        if c["model_type"] in ("opt", "phi"):
            return linear(o, "%slayers.%d.self_attn.%s" % (p, i, "out_proj" if c["model_type"] == "opt" else "dense"))
        if c["model_type"] == "gpt_bigcode":
            return linear(o, "%sh.%d.attn.c_proj" % (p, i))
        if c["model_type"] in ("bloom", "falcon"):
            return linear(o, "%sh.%d.self_attention.dense" % (p, i))
        return conv1d(o, "%sh.%d.attn.c_proj" % (p, i)) if gpt2 else linear(o, "%slayers.%d.attention.dense" % (p, i))

    def mlp(x, i):
        if c["model_type"] == "gptj":
            return linear(act(linear(x, "%sh.%d.mlp.fc_in" % (p, i))), "%sh.%d.mlp.fc_out" % (p, i))
        if c["model_type"] in ("bloom", "falcon"):
            m = "%sh.%d.mlp." % (p, i)
            f = gelu_tanh if c["model_type"] == "bloom" else act
            return linear(f(linear(x, m + "dense_h_to_4h")), m + "dense_4h_to_h")
        if c["model_type"] == "gpt_bigcode":
            return linear(act(linear(x, "%sh.%d.mlp.c_fc" % (p, i))), "%sh.%d.mlp.c_proj" % (p, i))
        if c["model_type"] in ("opt", "phi"):
            m = "%slayers.%d.%s" % (p, i, "" if c["model_type"] == "opt" else "mlp.")
            return linear(act(linear(x, m + "fc1")), m + "fc2")
        if gpt2:
            return conv1d(act(conv1d(x, "%sh.%d.mlp.c_fc" % (p, i))), "%sh.%d.mlp.c_proj" % (p, i))
        m = "%slayers.%d.mlp." % (p, i)
        return linear(act(linear(x, m + "dense_h_to_4h")), m + "dense_4h_to_h")
    if gpt2 or c["model_type"] == "gpt_bigcode":
        x = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][torch.arange(seq)]
        for i in range(layers(c)):
            x = x + attention(ln(x, "%sh.%d.ln_1" % (p, i)), i)
            x = x + mlp(ln(x, "%sh.%d.ln_2" % (p, i)), i)
        return ln(x, p + "ln_f") @ w[p + "wte.weight"].T
    if c["model_type"] == "opt":
        return forward_opt(w, c, ids, p, attention, mlp)
    if c["model_type"] == "mpt":
        x = w[p + "wte.weight"][ids]
        for i in range(layers(c)):
            at = "%sblocks.%d." % (p, i)
            x = x + attention(ln(x, at + "norm_1"), i)
            x = x + linear(torch.nn.functional.gelu(linear(ln(x, at + "norm_2"), at + "ffn.up_proj")),
                           at + "ffn.down_proj")
        x = ln(x, p + "norm_f")
        return x if not p else x @ w[p + "wte.weight"].T  # (MptModel: the last hidden state)
    if c["model_type"] == "bloom":  # the embedding's norm; the residual from each norm's output if so configured
        x = ln(w[p + "word_embeddings.weight"][ids], p + "word_embeddings_layernorm")
        post = c["apply_residual_connection_post_layernorm"]
        for i in range(layers(c)):
            a = ln(x, "%sh.%d.input_layernorm" % (p, i))
            x = (a if post else x) + attention(a, i)
            m = ln(x, "%sh.%d.post_attention_layernorm" % (p, i))
            x = (m if post else x) + mlp(m, i)
        return ln(x, p + "ln_f") @ w[p + "word_embeddings.weight"].T
    if c["model_type"] == "falcon":  # parallel on one norm or two (ln_attn, ln_mlp), or in turn; the head tied
        x = w[p + "word_embeddings.weight"][ids]
        for i in range(layers(c)):
            at = "%sh.%d." % (p, i)
            if c["new_decoder_architecture"]:
                x = x + attention(ln(x, at + "ln_attn"), i) + mlp(ln(x, at + "ln_mlp"), i)
            elif c["parallel_attn"]:
                a = ln(x, at + "input_layernorm")
                x = x + attention(a, i) + mlp(a, i)
            else:
                x = x + attention(ln(x, at + "input_layernorm"), i)
                x = x + mlp(ln(x, at + "post_attention_layernorm"), i)
        return ln(x, p + "ln_f") @ w[p + "word_embeddings.weight"].T
    if c["model_type"] in ("gptj", "phi"):  # one norm read by both, added together; the head's bias
        gptj = c["model_type"] == "gptj"
        x = w[p + ("wte.weight" if gptj else "embed_tokens.weight")][ids]
        for i in range(layers(c)):
            a = ln(x, ("%sh.%d.ln_1" if gptj else "%slayers.%d.input_layernorm") % (p, i))
            x = x + attention(a, i) + mlp(a, i)
        return ln(x, p + ("ln_f" if gptj else "final_layernorm")) @ w["lm_head.weight"].T + w["lm_head.bias"]
    x = w[p + "embed_in.weight"][ids]
    for i in range(layers(c)):
        at = "%slayers.%d." % (p, i)
        a = attention(ln(x, at + "input_layernorm"), i)
        if c["use_parallel_residual"]:
            x = x + a + mlp(ln(x, at + "post_attention_layernorm"), i)
        else:
            x = x + a
            x = x + mlp(ln(x, at + "post_attention_layernorm"), i)
    head = w.get("embed_out.weight", w[p + "embed_in.weight"])
    return ln(x, p + "final_layer_norm") @ head.T


def forward_opt(w, c, ids, p, attention, mlp):
    """OPT's decoder: the embedding (project_in), positions from row 2, pre- or post-norm layers, the final norm
    (project_out), the tied head."""
    d = hidden(c)
    seq = ids.shape[1]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (d,), w[name + ".weight"], w[name + ".bias"], 1e-5)
    x = w[p + "embed_tokens.weight"][ids]
    if p + "project_in.weight" in w:
        x = x @ w[p + "project_in.weight"].T
    x = x + w[p + "embed_positions.weight"][torch.arange(seq) + 2]
    pre = c["do_layer_norm_before"]
    for i in range(layers(c)):
        at = "%slayers.%d." % (p, i)
        x = x + attention(ln(x, at + "self_attn_layer_norm") if pre else x, i)
        if not pre:
            x = ln(x, at + "self_attn_layer_norm")
        x = x + mlp(ln(x, at + "final_layer_norm") if pre else x, i)
        if not pre:
            x = ln(x, at + "final_layer_norm")
    if p + "final_layer_norm.weight" in w:
        x = ln(x, p + "final_layer_norm")
    if p + "project_out.weight" in w:
        x = x @ w[p + "project_out.weight"].T
    return x @ w[p + "embed_tokens.weight"].T


def make_options(m):
    lf.size_options(m, ["gpt2", "gpt_neox", "opt", "phi", "gpt_bigcode", "bloom", "gptj", "falcon", "mpt"])
    m.add_argument("--positions", type=int, default=16)
    m.add_argument("--act", help="activation_function / hidden_act (default: the family's)")
    m.add_argument("--no-prefix", action="store_true", help="gpt2: names without 'transformer.' (the hub's gpt2); opt: "
                   "under 'decoder.' (the hub's OPT weights, config.json naming OPTForCausalLM)")
    m.add_argument("--buffers", action="store_true", help="the buffers older versions saved")
    m.add_argument("--inv-layer-scale", action="store_true", help="gpt2: scale_attn_by_inverse_layer_idx")
    m.add_argument("--sequential", action="store_true", help="gpt_neox: use_parallel_residual false")
    m.add_argument("--rotary-pct", type=float, default=0.25, help="gpt_neox: rotary_pct; phi: partial_rotary_factor; "
                   "gptj: rotary_dim as a fraction of the head")
    m.add_argument("--tied", action="store_true", help="gpt_neox: tie_word_embeddings (embed_out not saved)")
    m.add_argument("--post-norm", action="store_true", help="opt: do_layer_norm_before false (OPT-350m)")
    m.add_argument("--mha", action="store_true", help="gpt_bigcode: multi_query false")
    m.add_argument("--falcon", default="mq", choices=["mq", "new", "seq"], help="falcon: the layout (see make)")
    m.add_argument("--kv-heads", type=int, default=2, help="falcon --falcon new: num_kv_heads")
    m.add_argument("--n-embed", action="store_true", help="bloom: the width under config.json's older key n_embed")
    m.add_argument("--post-residual", action="store_true", help="bloom: apply_residual_connection_post_layernorm")
    m.add_argument("--project", type=int, help="opt: word_embed_proj_dim (project_in and project_out)")
    m.add_argument("--clip", type=float, help="mpt: attn_config's clip_qkv")


if __name__ == "__main__":
    lf.main(make_options, make, permute, forward)
