#!/usr/bin/python3
"""Hugging Face BERT, RoBERTa (XLM-RoBERTa), ELECTRA, DistilBERT, ViT and DeiT folders written and run without transformers, for Lady's
tests (tests/java/lady/model/LlamaFolderTest.java). The safetensors writing and reading are llama_family.py's.

    encoder_family.py make OUT --variant bert|roberta|electra|distilbert|vit|deit [--seed S] [--dtype F32|BF16|F16] [--hidden D
                      --layers L --heads H --inter I --vocab V --positions P] [--head mlm|pretraining|seq|tokens|qa|teacher]
                      [--headless] [--untied | --tied-saved] [--labels N] [--no-prefix] [--buffers] [--act NAME]
                      [--model-type TYPE] [--pad P] [--embed E]
    encoder_family.py permute IN OUT --seed S --secret SECRET.json
    encoder_family.py forward DIR [DIR...] --tokens-seed S [--batch B --length T] --out LOGITS.json
    encoder_family.py case OUT [make options] --permute-seed P --tokens-seed S

make     a random folder as transformers' save_pretrained writes it: config.json (the configuration class's fields),
         model.safetensors (the library's header and order). bert: BertFor*'s names under "bert." (embeddings:
         word, position and token type embeddings, LayerNorm; per layer attention.self query/key/value,
         attention.output dense/LayerNorm, intermediate.dense, output dense/LayerNorm; the pooler). roberta: the same
         under "roberta.", positions from row pad + 1 counting the tokens that are not padding (--pad: pad_token_id,
         default 1), one token type. electra: BERT's names under "electra.", embeddings of --embed E
         (embedding_size) projected to the width by embeddings_project where they differ; no pooler; --head
         pretraining: the discriminator (discriminator_predictions dense, hidden_act, dense_prediction), mlm: the
         generator (generator_predictions dense to E, gelu, LayerNorm, generator_lm_head), seq: classifier.dense,
         gelu, out_proj. distilbert: DistilBertFor*'s names under "distilbert." (q_lin, k_lin, v_lin,
         out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm; no token types, no pooler). vit:
         ViTForImageClassification's names under "vit." (embeddings: cls_token, position_embeddings for
         (--positions)^2 patches of --patch pixels and the class token, patch_embeddings.projection; per layer
         layernorm_before, attention.attention query/key/value, attention.output.dense, layernorm_after,
         intermediate.dense, output.dense (pre-norm); layernorm; classifier on the first token; --headless: ViTModel
         with its pooler). Its forward reads a batch of standard normal images (JSON "images" instead of "tokens").
         deit: ViT's names under "deit.", a distillation_token after the class token; --head teacher:
         DeiTForImageClassificationWithTeacher (cls_classifier on the first token, distillation_classifier on the
         second, averaged).
         --head: mlm (BertForMaskedLM's cls.predictions / RobertaForMaskedLM's lm_head / DistilBertForMaskedLM's
         vocab_*; the decoder tied to the word embeddings and not saved; --untied: saved, tie_word_embeddings false;
         --tied-saved: saved although tied, a copy of the word embeddings, with BERT's and RoBERTa's second copy of
         the decoder's bias, as bert-base-uncased is saved), pretraining (BERT: mlm and
         cls.seq_relationship on the pooled output), seq (BertForSequenceClassification: the pooler and classifier;
         RoBERTa: classifier.dense, tanh, classifier.out_proj on the first token; DistilBERT: pre_classifier, relu,
         classifier), tokens (classifier on every token, no pooler), qa (qa_outputs on every token).
         --headless: the base model (BertModel with its pooler, under no prefix with --no-prefix); its outputs are the
         last hidden state and the pooled output. --buffers: embeddings.position_ids (I64), as older versions saved it.
permute  the attacker's side, written independently of Lady: every symmetry permuted with its own permutation: the
         residual stream (every embedding's columns, every LayerNorm, the inputs of the attention, the MLP, the
         pooler and the heads; the outputs of the attention's and the MLP's output projections, with their biases;
         a tied masked-LM head's dense rows and norm); per layer the heads, inside each head its q/k dimensions (the
         same in q and k) and its v dimensions, the MLP units; the pooler's units; a classification head's hidden
         units; an untied masked-LM head's hidden units. SECRET.json in Lady's format.
forward  the first output (the logits; a base model's last hidden state), computed as transformers does, in float64
         (JSON as llama_family.py writes them).
Exit code 0 on success, 3 when torch cannot be imported.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_family as lf  # noqa: E402 (exits 3 without torch)

torch = lf.torch

ACTS = {"gelu": torch.nn.functional.gelu, "relu": torch.relu, "silu": torch.nn.functional.silu,
        "gelu_new": lambda x: torch.nn.functional.gelu(x, approximate="tanh")}
ARCH = {"bert": {"mlm": "BertForMaskedLM", "pretraining": "BertForPreTraining", "seq": "BertForSequenceClassification",
                 "tokens": "BertForTokenClassification", "qa": "BertForQuestionAnswering", None: "BertModel"},
        "roberta": {"mlm": "RobertaForMaskedLM", "seq": "RobertaForSequenceClassification",
                    "tokens": "RobertaForTokenClassification", "qa": "RobertaForQuestionAnswering", None: "RobertaModel"},
        "distilbert": {"mlm": "DistilBertForMaskedLM", "seq": "DistilBertForSequenceClassification",
                       "tokens": "DistilBertForTokenClassification", "qa": "DistilBertForQuestionAnswering",
                       None: "DistilBertModel"},
        "electra": {"mlm": "ElectraForMaskedLM", "pretraining": "ElectraForPreTraining",
                    "seq": "ElectraForSequenceClassification", "tokens": "ElectraForTokenClassification",
                    "qa": "ElectraForQuestionAnswering", None: "ElectraModel"},
        "vit": {"seq": "ViTForImageClassification", None: "ViTModel"},
        "deit": {"seq": "DeiTForImageClassification", "teacher": "DeiTForImageClassificationWithTeacher",
                 None: "DeiTModel"}}


def make_config(a):
    head = None if a.headless else a.head
    untied = {"tie_word_embeddings": False} if a.untied else {}
    labels = {"id2label": {str(i): "LABEL_%d" % i for i in range(a.labels)},
              "label2id": {"LABEL_%d" % i: i for i in range(a.labels)}} if head in ("seq", "tokens", "teacher") else {}
    if a.variant == "distilbert":
        return dict({"activation": a.act or "gelu", "architectures": [ARCH["distilbert"][head]], "attention_dropout": 0.1,
                     "dim": a.hidden, "dropout": 0.1, "hidden_dim": a.inter, "initializer_range": 0.02,
                     "max_position_embeddings": a.positions, "model_type": "distilbert", "n_heads": a.heads,
                     "n_layers": a.layers, "pad_token_id": 0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
                     "sinusoidal_pos_embds": False, "tie_weights_": True, "torch_dtype": "float32",
                     "transformers_version": "4.46.3", "vocab_size": a.vocab}, **untied, **labels)
    if a.variant in ("vit", "deit"):
        return dict({"architectures": [ARCH[a.variant][head]], "attention_probs_dropout_prob": 0.0, "encoder_stride": a.patch,
                     "hidden_act": a.act or "gelu", "hidden_dropout_prob": 0.0, "hidden_size": a.hidden,
                     "image_size": a.patch * a.positions, "initializer_range": 0.02, "intermediate_size": a.inter,
                     "layer_norm_eps": 1e-12, "model_type": a.variant, "num_attention_heads": a.heads, "num_channels": 3,
                     "num_hidden_layers": a.layers, "patch_size": a.patch, "qkv_bias": True, "torch_dtype": "float32",
                     "transformers_version": "4.46.3"}, **labels)
    roberta = a.variant == "roberta"
    return dict({"architectures": [ARCH[a.variant][head]], "attention_probs_dropout_prob": 0.1,
                 "bos_token_id": 0 if roberta else None, "classifier_dropout": None,
                 "eos_token_id": 2 if roberta else None, "hidden_act": a.act or "gelu", "hidden_dropout_prob": 0.1,
                 "hidden_size": a.hidden, "initializer_range": 0.02, "intermediate_size": a.inter,
                 "layer_norm_eps": 1e-05 if roberta else 1e-12,
                 "max_position_embeddings": a.positions + (a.pad + 1 if roberta else 0),
                 "model_type": a.model_type or a.variant, "num_attention_heads": a.heads, "num_hidden_layers": a.layers,
                 "pad_token_id": a.pad if roberta else 0, "position_embedding_type": "absolute",
                 "torch_dtype": "float32", "transformers_version": "4.46.3", "type_vocab_size": 1 if roberta else 2,
                 "use_cache": True, "vocab_size": a.vocab},
                **({"embedding_size": a.embed or a.hidden, "summary_activation": "gelu", "summary_type": "first"}
                   if a.variant == "electra" else {}), **untied, **labels)


# the names of each variant: its prefix, the embeddings, the layers, per layer the roles, the pooler
NAMES = {"bert": dict(word="embeddings.word_embeddings", pos="embeddings.position_embeddings",
                      types="embeddings.token_type_embeddings", norm="embeddings.LayerNorm", layers="encoder.layer.",
                      q="attention.self.query", k="attention.self.key", v="attention.self.value",
                      o="attention.output.dense", ln1="attention.output.LayerNorm", fc="intermediate.dense",
                      proj="output.dense", ln2="output.LayerNorm", pooler="pooler.dense"),
         "distilbert": dict(word="embeddings.word_embeddings", pos="embeddings.position_embeddings", types=None,
                            norm="embeddings.LayerNorm", layers="transformer.layer.", q="attention.q_lin",
                            k="attention.k_lin", v="attention.v_lin", o="attention.out_lin", ln1="sa_layer_norm",
                            fc="ffn.lin1", proj="ffn.lin2", ln2="output_layer_norm", pooler=None),
         "vit": dict(word="embeddings.patch_embeddings.projection", pos="embeddings.position_embeddings", types=None, norm=None, layers="encoder.layer.",
                     q="attention.attention.query", k="attention.attention.key", v="attention.attention.value",
                     o="attention.output.dense", ln1="layernorm_before", fc="intermediate.dense", proj="output.dense",
                     ln2="layernorm_after", pooler="pooler.dense")}
PATCHES = NAMES["vit"]["word"]
NAMES["deit"] = NAMES["vit"]
VISION = ("vit", "deit")
NAMES["roberta"] = NAMES["bert"]
NAMES["electra"] = dict(NAMES["bert"], pooler=None)


def variant(c):
    return {"xlm-roberta": "roberta", "camembert": "roberta"}.get(c["model_type"], c["model_type"])


def dims(c):
    if variant(c) == "distilbert":
        return c["dim"], c["n_heads"], c["n_layers"], c["hidden_dim"]
    return c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"], c["intermediate_size"]


def head_of(c):
    arch = c["architectures"][0]
    for h, name in ARCH[variant(c)].items():
        if name == arch:
            return h
    raise ValueError(arch)


def prefix_of(c, names):
    v = variant(c)
    return v + "." if any(n.startswith(v + ".") for n in names) else ""


def lin(s, name, out, inp):
    s[name + ".weight"] = (None, (out, inp))
    s[name + ".bias"] = (None, (out,))


def norm(s, name, width):
    s[name + ".weight"] = s[name + ".bias"] = (None, (width,))


def shapes(c, p, head, saved, buffers):
    """name -> (dtype or None for the folder's, shape)."""
    v = variant(c)
    n = NAMES[v]
    d, _, layers, inter = dims(c)
    e = c.get("embedding_size", d)
    s = {}
    if v in VISION:
        side = c["image_size"] // c["patch_size"]
        s[p + "embeddings.cls_token"] = (None, (1, 1, d))
        if v == "deit":
            s[p + "embeddings.distillation_token"] = (None, (1, 1, d))
        s[p + n["pos"]] = (None, (1, side * side + len(tokens(v)), d))
        lin(s, p + PATCHES, d, 0)
        s[p + PATCHES + ".weight"] = (None, (d, c["num_channels"], c["patch_size"], c["patch_size"]))
    else:
        vocab = c["vocab_size"]
        s[p + n["word"] + ".weight"] = (None, (vocab, e))
        s[p + n["pos"] + ".weight"] = (None, (c["max_position_embeddings"], e))
    if n["types"]:
        s[p + n["types"] + ".weight"] = (None, (c["type_vocab_size"], e))
    if n["norm"]:
        norm(s, p + n["norm"], e)
    if e != d:  # ELECTRA-small's projection of its embeddings to the width
        lin(s, p + "embeddings_project", d, e)
    if buffers:
        s[p + "embeddings.position_ids"] = ("I64", (1, c["max_position_embeddings"]))
    for i in range(layers):
        at = "%s%s%d." % (p, n["layers"], i)
        for r in ("q", "k", "v", "o"):
            lin(s, at + n[r], d, d)
        norm(s, at + n["ln1"], d)
        lin(s, at + n["fc"], inter, d)
        lin(s, at + n["proj"], d, inter)
        norm(s, at + n["ln2"], d)
    if v in VISION:
        norm(s, p + "layernorm", d)
    if n["pooler"] and (head in (None, "pretraining") or head == "seq" and v == "bert"):
        lin(s, p + n["pooler"], d, d)
    labels = len(c.get("id2label", {})) or 2
    if head == "pretraining" and v == "electra":  # the discriminator
        lin(s, "discriminator_predictions.dense", d, d)
        lin(s, "discriminator_predictions.dense_prediction", 1, d)
    elif head in ("mlm", "pretraining"):
        m, ln, dec, bias = mlm_names(v)
        lin(s, m, e, d)
        norm(s, ln, e)
        if saved:  # (--untied or --tied-saved)
            s[dec + ".weight"] = (None, (vocab, e))
        s[bias] = (None, (vocab,))
        if saved and c.get("tie_word_embeddings") is not False and dec + ".bias" != bias:
            s[dec + ".bias"] = (None, (vocab,))  # (older checkpoints: the bias again, under the decoder's name)
        if head == "pretraining":
            lin(s, "cls.seq_relationship", 2, d)
    elif head == "seq":
        if v in ("bert",) + VISION:
            lin(s, "classifier", labels, d)
        else:
            dense, out = ("classifier.dense", "classifier.out_proj") if v != "distilbert" else ("pre_classifier",
                                                                                            "classifier")
            lin(s, dense, d, d)
            lin(s, out, labels, d)
    elif head == "teacher":
        lin(s, "cls_classifier", labels, d)
        lin(s, "distillation_classifier", labels, d)
    elif head == "tokens":
        lin(s, "classifier", labels, d)
    elif head == "qa":
        lin(s, "qa_outputs", 2, d)
    return s


def mlm_names(v):
    """The masked-LM head's dense layer, norm, decoder and the decoder's bias."""
    return {"bert": ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
                     "cls.predictions.bias"),
            "roberta": ("lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias"),
            "distilbert": ("vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias"),
            "electra": ("generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head",
                        "generator_lm_head.bias"),
            "vit": ("-", "-", "-", "-"), "deit": ("-", "-", "-", "-")}[v]  # (no masked-LM head: names no tensor has)


def draw(name, shape, seed, index, c):
    g = torch.Generator().manual_seed(seed * 100003 + index)
    if name.endswith("position_ids"):
        return torch.arange(shape[1]).reshape(shape)
    if "norm" in name.lower():  # LayerNorm weights near 1, their biases small
        return (1 if name.endswith("weight") else 0) + 0.1 * torch.randn(shape, generator=g)
    if name.endswith(".bias"):
        return 0.1 * torch.randn(shape, generator=g)
    return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]) if len(shape) > 2 else shape[-1])


def make(a):
    c = make_config(a)
    head = None if a.headless else a.head
    p = "" if a.no_prefix and head is None else a.variant + "."
    s = shapes(c, p, head, a.untied or a.tied_saved, a.buffers)
    index = {n: i for i, n in enumerate(s)}
    alias = {}
    if a.tied_saved:  # the saved decoder: the word embeddings' values; its bias copy: the head's bias
        _, _, dec, bias = mlm_names(a.variant)
        alias = {dec + ".weight": p + NAMES[a.variant]["word"] + ".weight", dec + ".bias": bias}
    lf.write_folder(a, c, s, lambda n, shape, seed, i, c: draw(alias.get(n, n), shape, seed, index[alias.get(n, n)], c))


# ---------------------------------------------------------------- permute (the attacker)

def draw_permutations(c, seed, names):
    g = torch.Generator().manual_seed(seed)
    d, h, layers, inter = dims(c)
    hd = d // h
    perms = {"stream": lf.randperm(d, g), "layers": [{"mlp": lf.randperm(inter, g), "heads": lf.randperm(h, g),
                                                       "qk": [lf.randperm(hd, g) for _ in range(h)],
                                                       "v": [lf.randperm(hd, g) for _ in range(h)]}
                                                      for _ in range(layers)]}
    v = variant(c)
    if any(n.endswith("pooler.dense.weight") for n in names):
        perms["pooler"] = lf.randperm(d, g)
    if "classifier.dense.weight" in names or "pre_classifier.weight" in names:
        perms["classifier"] = lf.randperm(d, g)
    if "discriminator_predictions.dense.weight" in names:
        perms["discriminator"] = lf.randperm(d, g)
    e = c.get("embedding_size", d)
    if e != d:  # ELECTRA-small's embeddings: a group of their own
        perms["embed"] = lf.randperm(e, g)
    if mlm_names(v)[2] + ".weight" in names and c.get("tie_word_embeddings") is False:  # an untied decoder: the
        # head's hidden units (of the embeddings' width) move on their own
        perms["mlm"] = lf.randperm(e, g)
    return perms


def head_maps(c, lp):
    """new -> old rows of q and k (the same dimensions), of v, and the output projection's columns (v's order)."""
    d, h, _, _ = dims(c)
    hd = d // h
    qk, vo = [], []
    for g in range(h):
        src = int(lp["heads"][g])
        qk += [src * hd + int(t) for t in lp["qk"][g]]
        vo += [src * hd + int(t) for t in lp["v"][g]]
    return torch.tensor(qk), torch.tensor(vo)


def permute_tensor(name, t, c, perms, p):
    s = perms["stream"]
    v = variant(c)
    n = NAMES[v]
    if name.endswith("position_ids"):
        return t
    if v in VISION and name in (p + "embeddings.cls_token", p + "embeddings.distillation_token", p + n["pos"]):
        return t[..., s]
    if v in VISION and (name.startswith(p + PATCHES + ".") or name.startswith(p + "layernorm.")):
        return t[s]
    if name in ("cls_classifier.weight", "distillation_classifier.weight"):
        return t[:, s]
    if name in ("cls_classifier.bias", "distillation_classifier.bias"):
        return t
    e = perms.get("embed", s)  # (the embeddings' width: the stream's unless projected)
    if name in (p + n["word"] + ".weight", p + n["pos"] + ".weight") or n["types"] and name == p + n["types"] + ".weight":
        return t[:, e]
    if n["norm"] and name.startswith(p + n["norm"] + "."):
        return t[e]
    if name.startswith(p + "embeddings_project."):
        return t[s] if t.dim() == 1 else t[s][:, e]
    if name.startswith("discriminator_predictions.dense."):
        u = perms["discriminator"]
        return t[u] if t.dim() == 1 else t[u][:, s]
    if name == "discriminator_predictions.dense_prediction.weight":
        return t[:, perms["discriminator"]]
    if name == "discriminator_predictions.dense_prediction.bias":
        return t
    if name.startswith(p + n["layers"]):
        i = int(name[len(p + n["layers"]):].split(".")[0])
        role = name[len(p + n["layers"] + str(i)) + 1:].rsplit(".", 1)[0]
        lp = perms["layers"][i]
        qk, vo = head_maps(c, lp)
        rows = {n["q"]: qk, n["k"]: qk, n["v"]: vo, n["fc"]: lp["mlp"]}
        if role in rows:
            return t[rows[role]] if t.dim() == 1 else t[rows[role]][:, s]
        if role == n["o"]:
            return t[s] if t.dim() == 1 else t[s][:, vo]
        if role == n["proj"]:
            return t[s] if t.dim() == 1 else t[s][:, lp["mlp"]]
        if role in (n["ln1"], n["ln2"]):
            return t[s]
        raise ValueError("unexpected tensor %s" % name)
    if n["pooler"] and name.startswith(p + n["pooler"] + "."):
        u = perms["pooler"]
        return t[u] if t.dim() == 1 else t[u][:, s]
    m, ln, dec, bias = mlm_names(v)
    u = perms.get("mlm", e)  # (tied: the head's hidden units are the embedding's columns)
    if name.startswith(m + "."):
        return t[u] if t.dim() == 1 else t[u][:, s]
    if name.startswith(ln + "."):
        return t[u]
    if name == dec + ".weight":
        return t[:, u]
    if name in (bias, dec + ".bias", "qa_outputs.bias", "cls.seq_relationship.bias", "classifier.out_proj.bias"):
        return t
    if name == "cls.seq_relationship.weight":
        return t[:, perms["pooler"]]
    if name.startswith("classifier.dense.") or name.startswith("pre_classifier."):
        u = perms["classifier"]
        return t[u] if t.dim() == 1 else t[u][:, s]
    if name == "classifier.out_proj.weight":
        return t[:, perms["classifier"]]
    if name == "classifier.weight":
        return t[:, perms["classifier"] if "classifier" in perms else perms["pooler"] if "pooler" in perms else s]
    if name == "classifier.bias":
        return t
    if name == "qa_outputs.weight":
        return t[:, s]
    raise ValueError("unexpected tensor %s" % name)


def secret(c, perms, seed, p):
    v = variant(c)
    n = NAMES[v]
    # Lady names the stream after its producers' common prefix; after the embedding where they share none (no prefix,
    # or a tied masked-LM head's dense layer among them)
    tied = (head_of(c) == "mlm" or head_of(c) == "pretraining" and v != "electra") and "mlm" not in perms
    # (ViT: the patches' convolution first, then only the layers' output projections)
    # (ELECTRA's projected embeddings: a space of their own, the layers' stream begun by embeddings_project)
    projected = "embed" in perms
    stream = p + "encoder.layer" if v in VISION or projected else p[:-1] if p and not tied else p + n["word"]
    groups = {"stream." + stream: perms["stream"].tolist()}
    if projected:
        groups["stream." + (p + n["word"] if tied else p + "embeddings")] = perms["embed"].tolist()
    for i, lp in enumerate(perms["layers"]):
        a = "%s%s%d.attention" % (p, n["layers"], i)
        groups[a + ".kv_heads"] = lp["heads"].tolist()
        for g, qk in enumerate(lp["qk"]):
            groups[a + ".qk_pass.%d" % g] = qk.tolist()
        for g, vp in enumerate(lp["v"]):
            groups[a + ".v_dims.%d" % g] = vp.tolist()
        groups["%s%s%d.%s" % (p, n["layers"], i, n["fc"])] = lp["mlp"].tolist()
    if "pooler" in perms:
        groups[p + n["pooler"]] = perms["pooler"].tolist()
    if "classifier" in perms:
        groups["pre_classifier" if v == "distilbert" else "classifier.dense"] = perms["classifier"].tolist()
    if "discriminator" in perms:
        groups["discriminator_predictions.dense"] = perms["discriminator"].tolist()
    if "mlm" in perms:
        groups[mlm_names(v)[0]] = perms["mlm"].tolist()
    return {"format": "lady-secret", "format_version": 1, "tool_version": "encoder_family.py",
            "architecture": v, "seed": seed,
            "convention": "applying p to a group: new neuron j is old neuron p[j]", "permutations": groups}


def permute(a):
    lf.permute_file(a, prefix_of, draw_permutations, permute_tensor, secret)


# ---------------------------------------------------------------- forward (as transformers computes it)

def forward(w, c, ids):
    """The first output; ids: token ids, or (ViT) a batch of images."""
    w = {n: t.double() for n, t in w.items() if t.is_floating_point()}
    v = variant(c)
    n = NAMES[v]
    p = prefix_of(c, w)
    d, h, layers, _ = dims(c)
    hd = d // h
    eps = c.get("layer_norm_eps", 1e-12)
    act = ACTS[c.get("hidden_act", c.get("activation"))]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (d,), w[name + ".weight"], w[name + ".bias"], eps)

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def attention(x, at):
        bsz, seq = x.shape[:2]
        q, k, vv = (linear(x, at + n[r]).reshape(bsz, seq, h, hd).transpose(1, 2) for r in ("q", "k", "v"))
        scores = (q @ k.transpose(-1, -2) / math.sqrt(hd)).softmax(-1)  # (bidirectional: no mask)
        return linear((scores @ vv).transpose(1, 2).reshape(bsz, seq, d), at + n["o"])

    def mlp(x, at):
        return linear(act(linear(x, at + n["fc"])), at + n["proj"])
    if v in VISION:  # patches (a convolution of patch_size, stride patch_size), the class token (DeiT: and the
        # distillation token), positions; pre-norm
        x = torch.nn.functional.conv2d(ids, w[p + PATCHES + ".weight"], w[p + PATCHES + ".bias"],
                                       stride=c["patch_size"]).flatten(2).transpose(1, 2)
        x = torch.cat([w[p + "embeddings." + t].expand(x.shape[0], -1, -1) for t in tokens(v)] + [x], 1) \
            + w[p + n["pos"]]
        for i in range(layers):
            at = "%s%s%d." % (p, n["layers"], i)
            x = x + attention(ln(x, at + n["ln1"]), at)
            x = x + mlp(ln(x, at + n["ln2"]), at)
        x = ln(x, p + "layernorm")
        if head_of(c) == "teacher":
            return (linear(x[:, 0], "cls_classifier") + linear(x[:, 1], "distillation_classifier")) / 2
        return x if head_of(c) is None else linear(x[:, 0], "classifier")
    bsz, seq = ids.shape
    if v == "roberta":  # create_position_ids_from_input_ids: padding at row pad, the others counted from pad + 1
        real = ids.ne(c["pad_token_id"]).long()
        positions = torch.cumsum(real, 1) * real + c["pad_token_id"]
    else:
        positions = torch.arange(seq).expand(bsz, seq)
    x = w[p + n["word"] + ".weight"][ids] + w[p + n["pos"] + ".weight"][positions]
    if n["types"]:
        x = x + w[p + n["types"] + ".weight"][0]
    e = c.get("embedding_size", d)
    x = torch.nn.functional.layer_norm(x, (e,), w[p + n["norm"] + ".weight"], w[p + n["norm"] + ".bias"], eps)
    if p + "embeddings_project.weight" in w:
        x = linear(x, p + "embeddings_project")
    for i in range(layers):  # post-norm
        at = "%s%s%d." % (p, n["layers"], i)
        x = ln(x + attention(x, at), at + n["ln1"])
        x = ln(x + mlp(x, at), at + n["ln2"])
    head = head_of(c)
    if head is None:
        return x
    if head == "pretraining" and v == "electra":  # the discriminator: one logit per token
        return linear(act(linear(x, "discriminator_predictions.dense")), "discriminator_predictions.dense_prediction")
    if head in ("mlm", "pretraining"):
        m, lnorm, dec, bias = mlm_names(v)
        y = linear(x, m)
        y = torch.nn.functional.gelu(y) if v in ("roberta", "electra") else act(y)
        y = torch.nn.functional.layer_norm(y, (y.shape[-1],), w[lnorm + ".weight"], w[lnorm + ".bias"], eps)
        # (tied: the word embeddings, whatever a saved decoder holds: transformers ties them again on load)
        tied = c.get("tie_word_embeddings", True)
        return y @ (w[p + n["word"] + ".weight"] if tied else w[dec + ".weight"]).T + w[bias]
    if head == "seq":
        if v == "bert":
            return linear(torch.tanh(linear(x[:, 0], p + n["pooler"])), "classifier")
        if v in ("roberta", "electra"):  # (ELECTRA's classification head: gelu)
            f = torch.nn.functional.gelu if v == "electra" else torch.tanh
            return linear(f(linear(x[:, 0], "classifier.dense")), "classifier.out_proj")
        return linear(torch.relu(linear(x[:, 0], "pre_classifier")), "classifier")
    return linear(x, "classifier" if head == "tokens" else "qa_outputs")


def tokens(v):
    """The tokens a vision model puts before its patches."""
    return ("cls_token", "distillation_token") if v == "deit" else ("cls_token",)


def make_options(m):
    lf.size_options(m, ["bert", "roberta", "electra", "distilbert", "vit", "deit"])
    m.add_argument("--positions", type=int, default=16, help="the positions; vit: the patches per side")
    m.add_argument("--patch", type=int, default=4, help="vit: patch_size")
    m.add_argument("--head", default="mlm", choices=["mlm", "pretraining", "seq", "tokens", "qa", "teacher"])
    m.add_argument("--headless", action="store_true", help="the base model (BertModel, with its pooler)")
    m.add_argument("--untied", action="store_true", help="mlm: the decoder's weight saved, tie_word_embeddings false")
    m.add_argument("--tied-saved", action="store_true", help="mlm: the decoder's weight saved although tied (a copy "
                   "of the word embeddings), with the bias copy older BERT checkpoints hold")
    m.add_argument("--labels", type=int, default=3, help="seq, tokens: the classes")
    m.add_argument("--no-prefix", action="store_true", help="--headless: names without the variant's prefix")
    m.add_argument("--buffers", action="store_true", help="embeddings.position_ids (I64), as older versions saved it")
    m.add_argument("--act", help="hidden_act / activation (default gelu)")
    m.add_argument("--model-type", help="roberta: config.json's model_type (xlm-roberta, camembert)")
    m.add_argument("--pad", type=int, default=1, help="roberta: pad_token_id")
    m.add_argument("--embed", type=int, help="electra: embedding_size (default: the width)")


if __name__ == "__main__":
    lf.main(make_options, make, permute, forward)
