#!/usr/bin/python3
"""Hugging Face Llama-family folders (Llama, Mistral, Qwen2) written and run without transformers, for
Lady's tests (tests/java/lady/model/LlamaFolderTest.java) and benchmarks (bench/llm/).

    llama_family.py make OUT --variant llama|mistral|qwen2 [--seed S] [--dtype F32|BF16|F16] [--shards N]
                    [--tied] [--inv-freq] [--hidden D --layers L --heads H --kv-heads K --head-dim d --inter I --vocab V]
    llama_family.py permute IN OUT --seed S --secret SECRET.json
    llama_family.py forward DIR [DIR...] --tokens-seed S [--batch B --length T] --out LOGITS.json
    llama_family.py case OUT [make options] --permute-seed P --tokens-seed S

make     a random folder: config.json as transformers writes it and model.safetensors (or N shards and
         model.safetensors.index.json); tensors drawn per tensor from the seed (normal, std 1/sqrt(fan-in);
         RMS norm weights 1 + 0.1 normal, biases 0.1 normal), written tensor by tensor (a 7B folder needs no
         more memory than its largest tensor).
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
         in float, rotate_half RoPE with inv_freq = theta^(-2i/d), grouped-query attention by
         repeat_kv, causal softmax, SwiGLU MLP, tied or separate lm_head), in float64; written as JSON
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

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
BYTES = {"F32": 4, "BF16": 2, "F16": 2}
MODEL_TYPES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}


# ---------------------------------------------------------------- configuration and names

def make_config(variant, hidden, layers, heads, kv_heads, head_dim, inter, vocab, tied, dtype):
    c = {
        "architectures": [MODEL_TYPES[variant]],
        "model_type": variant,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5 if variant != "qwen2" else 1e-6,
        "rope_theta": {"llama": 500000.0, "mistral": 1000000.0, "qwen2": 1000000.0}[variant],
        "tie_word_embeddings": tied,
        "vocab_size": vocab,
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype],
        "attention_bias": variant == "qwen2",
    }
    if variant == "mistral":
        c["sliding_window"] = 4096
    return c


def shapes(c, inv_freq=False):
    """Tensor name -> shape, in the order transformers' state_dict() has them; with inv_freq, each layer's
    self_attn.rotary_emb.inv_freq buffer too (older transformers versions saved it)."""
    d, hd = c["hidden_size"], c["head_dim"]
    h, kv, inter, v = c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"], c["vocab_size"]
    bias = c["model_type"] == "qwen2"
    out = {"model.embed_tokens.weight": (v, d)}
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        out[p + "self_attn.q_proj.weight"] = (h * hd, d)
        if bias:
            out[p + "self_attn.q_proj.bias"] = (h * hd,)
        out[p + "self_attn.k_proj.weight"] = (kv * hd, d)
        if bias:
            out[p + "self_attn.k_proj.bias"] = (kv * hd,)
        out[p + "self_attn.v_proj.weight"] = (kv * hd, d)
        if bias:
            out[p + "self_attn.v_proj.bias"] = (kv * hd,)
        out[p + "self_attn.o_proj.weight"] = (d, h * hd)
        if inv_freq:
            out[p + "self_attn.rotary_emb.inv_freq"] = (hd // 2,)
        out[p + "mlp.gate_proj.weight"] = (inter, d)
        out[p + "mlp.up_proj.weight"] = (inter, d)
        out[p + "mlp.down_proj.weight"] = (d, inter)
        out[p + "input_layernorm.weight"] = (d,)
        out[p + "post_attention_layernorm.weight"] = (d,)
    out["model.norm.weight"] = (d,)
    if not c["tie_word_embeddings"]:
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

def header_of(items):
    """items: [(name, dtype string, shape)] -> the padded header bytes (length prefix included)."""
    h = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, dt, shape in items:
        n = BYTES[dt]
        for s in shape:
            n *= s
        h[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    js = json.dumps(h, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js


def raw_bytes(t, dt):
    t = t.to(DTYPES[dt]).contiguous()
    if dt == "BF16":
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, items, produce):
    """Writes `items` ([(name, dtype, shape)]) to `path`, each tensor from produce(name) at its turn."""
    with open(path + ".tmp", "wb") as f:
        f.write(header_of(items))
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
                    args.vocab, args.tied, args.dtype)
    os.makedirs(args.out, exist_ok=True)
    s = shapes(c, args.inv_freq)
    names = list(s)
    index = {n: i for i, n in enumerate(names)}
    hd, theta = c["head_dim"], c["rope_theta"]
    buffer = (1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd)))
    produce = lambda n: buffer if n.endswith("rotary_emb.inv_freq") else draw(n, s[n], args.seed, index[n])  # noqa: E731
    if args.shards <= 1:
        write_safetensors(os.path.join(args.out, "model.safetensors"), [(n, args.dtype, s[n]) for n in names], produce)
    else:
        per = (len(names) + args.shards - 1) // args.shards
        wm = {}
        total = 0
        for k in range(args.shards):
            part = names[k * per:(k + 1) * per]
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, args.shards)
            write_safetensors(os.path.join(args.out, fn), [(n, args.dtype, s[n]) for n in part], produce)
            for n in part:
                wm[n] = fn
                total += BYTES[args.dtype] * math.prod(s[n])
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f)


# ---------------------------------------------------------------- permute (the attacker)

def randperm(n, g):
    """A random permutation of n that is not the identity (n >= 2): every symmetry really moves."""
    while True:
        p = torch.randperm(n, generator=g)
        if n < 2 or not torch.equal(p, torch.arange(n)):
            return p


def draw_permutations(c, seed):
    g = torch.Generator().manual_seed(seed)
    h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    rep = h // kv
    perms = {"stream": randperm(c["hidden_size"], g), "layers": []}
    for _ in range(c["num_hidden_layers"]):
        perms["layers"].append({
            "mlp": randperm(c["intermediate_size"], g),
            "kv": randperm(kv, g),
            "q": [randperm(rep, g) if rep > 1 else None for _ in range(kv)],
            "v": [randperm(hd, g) for _ in range(kv)],
        })
    return perms


def attention_maps(c, lp):
    """Full index maps (new index -> old index) of the q rows, k/v rows and o columns of one layer."""
    h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    rep = h // kv
    q_map, kv_map, v_map, o_map = [], [], [], []
    for g in range(kv):
        src = int(lp["kv"][g])  # the KV head now at position g
        qp = lp["q"][g]
        vp = lp["v"][g]
        for r in range(rep):
            head = src * rep + (int(qp[r]) if qp is not None else r)  # query head now at (g, r)
            q_map += [head * hd + t for t in range(hd)]  # dimensions inside a head never move
            o_map += [head * hd + int(vp[t]) for t in range(hd)]  # o columns follow the value dims too
        kv_map += [src * hd + t for t in range(hd)]
        v_map += [src * hd + int(vp[t]) for t in range(hd)]
    return (torch.tensor(q_map), torch.tensor(kv_map), torch.tensor(v_map), torch.tensor(o_map))


def permute_tensor(name, t, c, perms):
    s = perms["stream"]
    if name == "model.embed_tokens.weight" or name == "lm_head.weight":
        return t[:, s]
    if name == "model.norm.weight":
        return t[s]
    parts = name.split(".")
    layer = int(parts[2])
    lp = perms["layers"][layer]
    rest = ".".join(parts[3:])
    if rest == "self_attn.rotary_emb.inv_freq":  # a buffer: the frequencies of pair positions, which never move
        return t
    q_map, kv_map, v_map, o_map = attention_maps(c, lp)
    if rest.endswith("layernorm.weight"):
        return t[s]
    if rest == "mlp.gate_proj.weight" or rest == "mlp.up_proj.weight":
        return t[lp["mlp"]][:, s]
    if rest == "mlp.down_proj.weight":
        return t[s][:, lp["mlp"]]
    rows = {"q": q_map, "k": kv_map, "v": v_map}
    kind = rest.split(".")[1][0]  # self_attn.X_proj.*
    if rest.endswith(".bias"):
        return t[rows[kind]]
    if kind == "o":
        return t[s][:, o_map]
    return t[rows[kind]][:, s]


def secret(c, perms, seed):
    """Lady's secret: group name -> p (new j = old p[j]); inner groups relative to positions after the KV heads'."""
    groups = {"stream.model.layers": perms["stream"].tolist()}
    for i, lp in enumerate(perms["layers"]):
        a = "model.layers.%d.self_attn" % i
        groups[a + ".kv_heads"] = lp["kv"].tolist()
        for g, qp in enumerate(lp["q"]):
            if qp is not None:
                groups[a + ".q_heads.%d" % g] = qp.tolist()
        for g, vp in enumerate(lp["v"]):
            groups[a + ".v_dims.%d" % g] = vp.tolist()
        groups["model.layers.%d.mlp.gate_proj" % i] = lp["mlp"].tolist()
    return {"format": "lady-secret", "format_version": 1, "tool_version": "llama_family.py",
            "architecture": c["model_type"], "seed": seed,
            "convention": "applying p to a group: new neuron j is old neuron p[j]", "permutations": groups}


def permute(args):
    c = json.load(open(os.path.join(args.inp, "config.json")))
    perms = draw_permutations(c, args.seed)
    os.makedirs(args.out, exist_ok=True)
    for fn, h, start in shard_files(args.inp):
        src = os.path.join(args.inp, fn)
        items = [(n, e["dtype"], tuple(e["shape"])) for n, e in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]
        # exact in every dtype: values are moved, never recomputed
        write_safetensors(os.path.join(args.out, fn), items,
                          lambda n: permute_tensor(n, read_tensor(src, n, h[n], start), c, perms))
    for fn in os.listdir(args.inp):
        if not fn.endswith(".safetensors"):
            shutil.copy(os.path.join(args.inp, fn), os.path.join(args.out, fn))
    with open(args.secret, "w") as f:
        json.dump(secret(c, perms, args.seed), f)


# ---------------------------------------------------------------- forward (as transformers computes it)

def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(w, c, ids):
    w = {k: v.double() for k, v in w.items()}
    b, t = ids.shape
    h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps, theta = c["rms_norm_eps"], c["rope_theta"]
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).double() / hd))
    freqs = torch.outer(torch.arange(t).double(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((t, t), float("-inf"), dtype=torch.float64).triu(1)
    x = w["model.embed_tokens.weight"][ids]
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        y = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(k):
            out = y @ w[p + "self_attn.%s_proj.weight" % k].T
            bias = w.get(p + "self_attn.%s_proj.bias" % k)
            return out if bias is None else out + bias
        q = proj("q").view(b, t, h, hd).transpose(1, 2)
        k = proj("k").view(b, t, kv, hd).transpose(1, 2)
        v = proj("v").view(b, t, kv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = h // kv  # repeat_kv: query head j reads KV head j // rep
        k = k[:, :, None].expand(b, kv, rep, t, hd).reshape(b, h, t, hd)
        v = v[:, :, None].expand(b, kv, rep, t, hd).reshape(b, h, t, hd)
        a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(hd) + mask, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(b, t, h * hd) @ w[p + "self_attn.o_proj.weight"].T
        x = x + o
        y = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = y @ w[p + "mlp.gate_proj.weight"].T
        up = y @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def run_forward(args):
    c = json.load(open(os.path.join(args.dir[0], "config.json")))
    g = torch.Generator().manual_seed(args.tokens_seed)
    ids = torch.randint(0, c["vocab_size"], (args.batch, args.length), generator=g)
    logits = {d: forward(read_folder(d), json.load(open(os.path.join(d, "config.json"))), ids).tolist()
              for d in args.dir}
    with open(args.out, "w") as f:
        json.dump({"tokens": ids.tolist(), "logits": logits[args.dir[0]] if len(args.dir) == 1 else logits}, f)


def run_case(args):
    root = args.out
    args.out = os.path.join(root, "ref")
    make(args)
    permute(argparse.Namespace(inp=args.out, out=os.path.join(root, "attacked"), seed=args.permute_seed,
                               secret=os.path.join(root, "secret.json")))
    run_forward(argparse.Namespace(dir=[os.path.join(root, "ref"), os.path.join(root, "attacked")],
                                   tokens_seed=args.tokens_seed, batch=2, length=7,
                                   out=os.path.join(root, "logits.json")))


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


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    c = sub.add_parser("case")
    c.add_argument("--permute-seed", type=int, required=True)
    c.add_argument("--tokens-seed", type=int, default=0)
    for m in (m, c):
        make_options(m)
    p = sub.add_parser("permute")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--secret", required=True)
    f = sub.add_parser("forward")
    f.add_argument("dir", nargs="+")
    f.add_argument("--tokens-seed", type=int, default=0)
    f.add_argument("--batch", type=int, default=2)
    f.add_argument("--length", type=int, default=7)
    f.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    {"make": make, "permute": permute, "forward": run_forward, "case": run_case}[args.cmd](args)


if __name__ == "__main__":
    main()
