#!/usr/bin/python3
"""The attacker's side for lady.model.PythonFamiliesTest, written by hand from torchvision's module
structure and independently of Lady's graph analysis (run with /usr/bin/python3).

    family_permute.py <params.json> <out_dir>

Reads <out_dir>/model.pt (written by family_models.py make with the same params), permutes EVERY group of
neurons of the family with a permutation of its own (never the identity), and writes <out_dir>/attacked.pt
and <out_dir>/attacked.json: {"rel_diff": max relative output change on the probe batch, in float64 (the
permutation must keep the function), "groups": how many groups, "changed"/"total": parameters of rank >= 1 moved}.
The groups, per family (a member is a tensor, an axis, an offset and a block of indices per neuron):
  ResNet (and DeepLabV3's backbone): the stem; one stream per stage (downsample rows, every block's last
    conv rows and BN, the next blocks' first conv and downsample columns, the head's columns); each
    bottleneck's two inner groups (conv1 -> bn1 -> conv2 columns, conv2 -> bn2 -> conv3 columns).
  DeepLabV3's head: each ASPP branch (its conv rows and BN, project.0 columns at 256 x branch), the
    projection, classifier.1, the auxiliary head's conv.
  MobileNetV3: the stem's space carried through blocks without expansion (depthwise rows and BN, SE fc1
    columns and fc2 rows) and residual additions; each expansion; each squeeze; the last conv; classifier.0.
  ViT: the residual stream (conv_proj rows, class token, position embedding, every LayerNorm, in_proj and
    mlp.0 columns, out_proj and mlp.3 rows, the head's columns); per block the heads (head_dim rows of each
    of q, k, v in in_proj, out_proj column blocks), inside each head its q and k dimensions (alike) and its v
    dimensions (with out_proj's columns), and the MLP units.
  DenseNet: conv0's space and every dense layer's new channels, each at its offset in every later norm1,
    conv1 and transition of its block; each bottleneck (conv1 -> norm2 -> conv2 columns); each transition.
  ConvNeXt: one stream per stage (the stem's or the downsampling conv's rows, every LayerNorm, depthwise
    block.0 rows, block.3 columns, block.5 rows, layer_scale, the next downsampling's norm and conv columns or
    the head's norm and Linear columns); each block's hidden units (block.3 rows, block.5 columns).
  Swin: one stream per stage (see swin()); per block the heads, each head's q/k and v dimensions, the MLP units.
  Video ResNets (r3d_18, mc3_18, r2plus1d_18): as ResNet's, with R(2+1)D's midplanes (see video()).
Exit code 0 on success; 3 when torch or torchvision cannot be imported.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from family_models import build, rel_diff  # noqa: E402  (exits with NO_TORCH_EXIT without torch)

import torch  # noqa: E402


class Space:
    """A group of n neurons and its members (tensor, axis, offset, block)."""

    def __init__(self, n):
        self.n = n
        self.members = []

    def add(self, tensor, axis, offset=0, block=1):
        self.members.append((tensor, axis, offset, block))
        return self

    def bn(self, prefix, offset=0, block=1):
        for t in ("weight", "bias", "running_mean", "running_var"):
            self.add(f"{prefix}.{t}", 0, offset, block)
        return self


def rows(sd, weight, bn=None):
    """A space opened by a producer: its rows, its bias, its batch norm."""
    s = Space(sd[weight].shape[0]).add(weight, 0)
    bias = weight[: -len("weight")] + "bias"
    if bias in sd:
        s.add(bias, 0)
    if bn is not None:
        s.bn(bn)
    return s


def resnet(sd, p, spaces):
    """The groups of a torchvision ResNet under prefix p; returns the stream space after each stage."""
    cur = rows(sd, p + "conv1.weight", p + "bn1")
    spaces.append(cur)
    stages = []
    for s in range(1, 5):
        i = 0
        while f"{p}layer{s}.{i}.conv1.weight" in sd:
            b = f"{p}layer{s}.{i}"
            cur.add(b + ".conv1.weight", 1)
            if b + ".downsample.0.weight" in sd:
                cur.add(b + ".downsample.0.weight", 1)
                cur = rows(sd, b + ".downsample.0.weight", b + ".downsample.1")
                spaces.append(cur)
            last = "conv3" if b + ".conv3.weight" in sd else "conv2"
            width, per_group = sd[b + ".conv1.weight"].shape[0], sd[b + ".conv2.weight"].shape[1]
            if last == "conv3" and per_group < width:
                grouped(sd, b, width // per_group, spaces)
                cur.add(f"{b}.{last}.weight", 0).bn(f"{b}.bn{last[-1]}")
                i += 1
                continue
            spaces.append(rows(sd, b + ".conv1.weight", b + ".bn1").add(b + ".conv2.weight", 1))
            if last == "conv3":
                spaces.append(rows(sd, b + ".conv2.weight", b + ".bn2").add(b + ".conv3.weight", 1))
            cur.add(f"{b}.{last}.weight", 0).bn(f"{b}.bn{last[-1]}")
            i += 1
        stages.append(cur)
    return stages


def grouped(sd, b, g, spaces):
    """ResNeXt's bottleneck b, whose conv2 has g groups: the groups trade places whole (conv1's rows and bn1 in
    blocks of its width / g, conv2's rows, bn2 and conv3's columns in blocks of conv2's outputs / g); inside each
    group its conv2 outputs move (rows, bn2, conv3 columns); the inputs inside a group stay (conv2's second axis)."""
    a, n = sd[b + ".conv1.weight"].shape[0] // g, sd[b + ".conv2.weight"].shape[0] // g
    whole = Space(g).add(b + ".conv1.weight", 0, 0, a).bn(b + ".bn1", 0, a)
    whole.add(b + ".conv2.weight", 0, 0, n).bn(b + ".bn2", 0, n).add(b + ".conv3.weight", 1, 0, n)
    spaces.append(whole)
    for k in range(g):
        inner = Space(n).add(b + ".conv2.weight", 0, k * n).bn(b + ".bn2", k * n).add(b + ".conv3.weight", 1, k * n)
        spaces.append(inner)


def deeplab(sd, spaces):
    stages = resnet(sd, "backbone.", spaces)
    m = "classifier.0"
    i = 0
    while f"{m}.convs.{i}.0.weight" in sd or f"{m}.convs.{i}.1.weight" in sd:
        conv, bn = (f"{m}.convs.{i}.0", f"{m}.convs.{i}.1") if f"{m}.convs.{i}.0.weight" in sd \
            else (f"{m}.convs.{i}.1", f"{m}.convs.{i}.2")
        stages[3].add(conv + ".weight", 1)
        branch = rows(sd, conv + ".weight", bn)
        branch.add(f"{m}.project.0.weight", 1, i * branch.n)
        spaces.append(branch)
        i += 1
    spaces.append(rows(sd, f"{m}.project.0.weight", f"{m}.project.1").add("classifier.1.weight", 1))
    spaces.append(rows(sd, "classifier.1.weight", "classifier.2").add("classifier.4.weight", 1))
    if "aux_classifier.0.weight" in sd:
        stages[2].add("aux_classifier.0.weight", 1)
        spaces.append(rows(sd, "aux_classifier.0.weight", "aux_classifier.1").add("aux_classifier.4.weight", 1))


def mobilenet(sd, model, spaces):
    cur = rows(sd, "features.0.0.weight", "features.0.1")
    spaces.append(cur)
    n = len(model.features) - 2
    for k in range(1, n + 1):
        blk = f"features.{k}.block"
        j = 0
        if sd[f"{blk}.0.0.weight"].shape[2] == 1:  # the expansion
            cur.add(f"{blk}.0.0.weight", 1)
            e = rows(sd, f"{blk}.0.0.weight", f"{blk}.0.1")
            spaces.append(e)
            j = 1
        else:
            e = cur
        e.add(f"{blk}.{j}.0.weight", 0).bn(f"{blk}.{j}.1")  # depthwise: one row per channel
        j += 1
        if f"{blk}.{j}.fc1.weight" in sd:
            e.add(f"{blk}.{j}.fc1.weight", 1)
            spaces.append(rows(sd, f"{blk}.{j}.fc1.weight").add(f"{blk}.{j}.fc2.weight", 1))
            e.add(f"{blk}.{j}.fc2.weight", 0).add(f"{blk}.{j}.fc2.bias", 0)
            j += 1
        e.add(f"{blk}.{j}.0.weight", 1)
        if model.features[k].use_res_connect:
            cur.add(f"{blk}.{j}.0.weight", 0).bn(f"{blk}.{j}.1")
        else:
            cur = rows(sd, f"{blk}.{j}.0.weight", f"{blk}.{j}.1")
            spaces.append(cur)
    last = f"features.{n + 1}"
    cur.add(last + ".0.weight", 1)
    spaces.append(rows(sd, last + ".0.weight", last + ".1").add("classifier.0.weight", 1))
    spaces.append(rows(sd, "classifier.0.weight").add("classifier.3.weight", 1))


def vit(sd, model, spaces):
    d = sd["conv_proj.weight"].shape[0]
    stream = rows(sd, "conv_proj.weight").add("class_token", 2).add("encoder.pos_embedding", 2)
    spaces.append(stream)
    i = 0
    while f"encoder.layers.encoder_layer_{i}.ln_1.weight" in sd:
        b = f"encoder.layers.encoder_layer_{i}"
        heads = model.encoder.layers[i].self_attention.num_heads
        hd = d // heads
        for ln in ("ln_1", "ln_2"):
            stream.add(f"{b}.{ln}.weight", 0).add(f"{b}.{ln}.bias", 0)
        a = f"{b}.self_attention"
        stream.add(f"{a}.in_proj_weight", 1).add(f"{a}.out_proj.weight", 0).add(f"{a}.out_proj.bias", 0)
        h = Space(heads)
        for seg in range(3):
            h.add(f"{a}.in_proj_weight", 0, seg * d, hd).add(f"{a}.in_proj_bias", 0, seg * d, hd)
        spaces.append(h.add(f"{a}.out_proj.weight", 1, 0, hd))
        for g in range(heads):  # inside each head: its q and k dimensions alike, its v dimensions with out_proj's
            qk = Space(hd)
            for seg in range(2):
                qk.add(f"{a}.in_proj_weight", 0, seg * d + g * hd).add(f"{a}.in_proj_bias", 0, seg * d + g * hd)
            spaces.append(qk)
        for g in range(heads):
            spaces.append(Space(hd).add(f"{a}.in_proj_weight", 0, 2 * d + g * hd).add(f"{a}.in_proj_bias", 0,
                                                                                        2 * d + g * hd)
                          .add(f"{a}.out_proj.weight", 1, g * hd))
        stream.add(f"{b}.mlp.0.weight", 1).add(f"{b}.mlp.3.weight", 0).add(f"{b}.mlp.3.bias", 0)
        spaces.append(rows(sd, f"{b}.mlp.0.weight").add(f"{b}.mlp.3.weight", 1))
        i += 1
    stream.add("encoder.ln.weight", 0).add("encoder.ln.bias", 0)
    if "heads.pre_logits.weight" in sd:
        stream.add("heads.pre_logits.weight", 1)
        spaces.append(rows(sd, "heads.pre_logits.weight").add("heads.head.weight", 1))
    else:
        stream.add("heads.head.weight", 1)


def densenet(sd, spaces):
    start = rows(sd, "features.conv0.weight", "features.norm0")
    spaces.append(start)
    for b in range(1, 5):
        block = [start]  # the spaces of the block's concatenation, in order
        l = 1
        while f"features.denseblock{b}.denselayer{l}.conv1.weight" in sd:
            p = f"features.denseblock{b}.denselayer{l}"
            offset = 0
            for s in block:
                s.bn(p + ".norm1", offset).add(p + ".conv1.weight", 1, offset)
                offset += s.n
            spaces.append(rows(sd, p + ".conv1.weight", p + ".norm2").add(p + ".conv2.weight", 1))
            new = rows(sd, p + ".conv2.weight")
            spaces.append(new)
            block.append(new)
            l += 1
        t = f"features.transition{b}" if b < 4 else None
        offset = 0
        for s in block:
            if t is not None:
                s.bn(t + ".norm", offset).add(t + ".conv.weight", 1, offset)
            else:
                s.bn("features.norm5", offset).add("classifier.weight", 1, offset)
            offset += s.n
        if t is not None:
            start = rows(sd, t + ".conv.weight")
            spaces.append(start)


def convnext(sd, spaces):
    """One stream per stage (the conv that opens it, every norm, block.0 rows, block.3 columns, block.5 rows,
    layer_scale, the conv or head that closes it); each block's hidden units (block.3 rows, block.5 columns)."""
    stream = rows(sd, "features.0.0.weight").add("features.0.1.weight", 0).add("features.0.1.bias", 0)
    spaces.append(stream)
    f = 1
    while f"features.{f}.0.layer_scale" in sd:
        i = 0
        while f"features.{f}.{i}.layer_scale" in sd:
            b = f"features.{f}.{i}"
            stream.add(b + ".layer_scale", 0).add(b + ".block.0.weight", 0).add(b + ".block.0.bias", 0)
            stream.add(b + ".block.2.weight", 0).add(b + ".block.2.bias", 0)
            stream.add(b + ".block.3.weight", 1).add(b + ".block.5.weight", 0).add(b + ".block.5.bias", 0)
            spaces.append(rows(sd, b + ".block.3.weight").add(b + ".block.5.weight", 1))
            i += 1
        down = f"features.{f + 1}"
        if down + ".1.weight" in sd:
            stream.add(down + ".0.weight", 0).add(down + ".0.bias", 0).add(down + ".1.weight", 1)
            stream = rows(sd, down + ".1.weight")
            spaces.append(stream)
        f += 2
    stream.add("classifier.0.weight", 0).add("classifier.0.bias", 0).add("classifier.2.weight", 1)


def swin(sd, spaces):
    """One stream per stage (the patch embedding's or the merging reduction's rows, every norm, qkv columns, proj
    rows, mlp.0 columns, mlp.3 rows; closed by the next merging's norm and reduction columns at the four pixel runs,
    or the final norm and the head's columns); per block the heads (q, k, v rows of head_dim, proj column blocks, the
    bias table's columns), inside each head its q and k dimensions alike and its v dimensions with proj's columns, and
    the MLP units."""
    stream = rows(sd, "features.0.0.weight").add("features.0.2.weight", 0).add("features.0.2.bias", 0)
    spaces.append(stream)
    v2 = "features.1.0.attn.logit_scale" in sd  # Swin V2: a scale per head, a position-bias MLP, post-norms
    f = 1
    while f"features.{f}.0.norm1.weight" in sd:
        i = 0
        while f"features.{f}.{i}.norm1.weight" in sd:
            b = f"features.{f}.{i}"
            a = b + ".attn"
            d = sd[a + ".proj.weight"].shape[0]
            heads = sd[a + ".logit_scale"].shape[0] if v2 else sd[a + ".relative_position_bias_table"].shape[1]
            hd = d // heads
            for n in ("norm1", "norm2"):
                stream.add(f"{b}.{n}.weight", 0).add(f"{b}.{n}.bias", 0)
            stream.add(a + ".qkv.weight", 1).add(a + ".proj.weight", 0).add(a + ".proj.bias", 0)
            stream.add(b + ".mlp.0.weight", 1).add(b + ".mlp.3.weight", 0).add(b + ".mlp.3.bias", 0)
            h = Space(heads)
            for seg in range(3):
                h.add(a + ".qkv.weight", 0, seg * d, hd).add(a + ".qkv.bias", 0, seg * d, hd)
            h.add(a + ".proj.weight", 1, 0, hd)
            if v2:
                spaces.append(h.add(a + ".logit_scale", 0).add(a + ".cpb_mlp.2.weight", 0))
                spaces.append(rows(sd, a + ".cpb_mlp.0.weight").add(a + ".cpb_mlp.2.weight", 1))
            else:
                spaces.append(h.add(a + ".relative_position_bias_table", 1))
            for g in range(heads):
                qk = Space(hd)
                for seg in range(2):
                    qk.add(a + ".qkv.weight", 0, seg * d + g * hd).add(a + ".qkv.bias", 0, seg * d + g * hd)
                spaces.append(qk)
                spaces.append(Space(hd).add(a + ".qkv.weight", 0, 2 * d + g * hd).add(a + ".qkv.bias", 0, 2 * d + g * hd)
                              .add(a + ".proj.weight", 1, g * hd))
            spaces.append(rows(sd, b + ".mlp.0.weight").add(b + ".mlp.3.weight", 1))
            i += 1
        m = f"features.{f + 1}"
        if m + ".reduction.weight" in sd:
            c = stream.n
            for k in range(4):  # the four pixels of a patch, each a run of the channels
                if not v2:
                    stream.add(m + ".norm.weight", 0, k * c).add(m + ".norm.bias", 0, k * c)
                stream.add(m + ".reduction.weight", 1, k * c)
            stream = Space(sd[m + ".reduction.weight"].shape[0]).add(m + ".reduction.weight", 0)
            if v2:  # V2 normalizes the reduction's outputs
                stream.add(m + ".norm.weight", 0).add(m + ".norm.bias", 0)
            spaces.append(stream)
        f += 2
    stream.add("norm.weight", 0).add("norm.bias", 0).add("head.weight", 1)


def video(sd, spaces):
    """torchvision's video ResNets: the stem (R(2+1)D's: its midplanes, stem.0 rows -> stem.1 -> stem.3 columns, then
    its output); one stream per stage as ResNet's (downsample rows, every block's last conv rows and its BN convK.1, the
    next blocks' first conv and downsample columns, fc's columns); each block's inner group (its first conv's output,
    conv1.1, the second conv's columns); R(2+1)D's factored convs' midplanes (X.0 rows, X.1, X.3 columns)."""
    r21 = "stem.3.weight" in sd
    if r21:
        spaces.append(rows(sd, "stem.0.weight", "stem.1").add("stem.3.weight", 1))
    cur = rows(sd, "stem.3.weight", "stem.4") if r21 else rows(sd, "stem.0.weight", "stem.1")
    spaces.append(cur)
    first, last = (".0.0.weight", ".0.3.weight") if r21 else (".0.weight", ".0.weight")
    for s in range(1, 5):
        i = 0
        while f"layer{s}.{i}.conv1{first}" in sd:
            b = f"layer{s}.{i}"
            cur.add(b + ".conv1" + first, 1)
            if b + ".downsample.0.weight" in sd:
                cur.add(b + ".downsample.0.weight", 1)
                cur = rows(sd, b + ".downsample.0.weight", b + ".downsample.1")
                spaces.append(cur)
            if r21:
                for conv in (".conv1.0", ".conv2.0"):
                    spaces.append(rows(sd, b + conv + ".0.weight", b + conv + ".1").add(b + conv + ".3.weight", 1))
            spaces.append(rows(sd, b + ".conv1" + last, b + ".conv1.1").add(b + ".conv2" + first, 1))
            cur.add(b + ".conv2" + last, 0).bn(b + ".conv2.1")
            i += 1
    cur.add("fc.weight", 1)


def apply(sd, space, perm):
    for tensor, axis, offset, block in space.members:
        t = sd[tensor]
        index = torch.arange(t.shape[axis])
        moved = (perm[:, None] * block + torch.arange(block)[None, :]).reshape(-1) + offset
        index[offset: offset + space.n * block] = moved
        sd[tensor] = t.index_select(axis, index).clone()


def main():
    with open(sys.argv[1]) as f:
        p = json.load(f)
    out = sys.argv[2]
    torch.set_num_threads(p.get("threads", 1))
    model = build(p)
    sd = torch.load(os.path.join(out, "model.pt"))
    model.load_state_dict(sd)
    model.eval()
    spaces = []
    arch = p["arch"]
    if arch.startswith("deeplabv3"):
        deeplab(sd, spaces)
    elif arch.startswith(("resnet", "wide_resnet", "resnext")):
        resnet(sd, "", spaces)[3].add("fc.weight", 1)
    elif arch.startswith("mobilenet_v3"):
        mobilenet(sd, model, spaces)
    elif arch.startswith("vit"):
        vit(sd, model, spaces)
    elif arch.startswith("densenet"):
        densenet(sd, spaces)
    elif arch.startswith("convnext"):
        convnext(sd, spaces)
    elif arch.startswith("swin"):
        swin(sd, spaces)
    elif "frames" in p:
        video(sd, spaces)
    else:
        raise SystemExit(f"no hand-written groups for {arch}")
    gen = torch.Generator().manual_seed(p["seed"] + 1)
    attacked = {k: v.clone() for k, v in sd.items()}
    for s in spaces:
        perm = torch.randperm(s.n, generator=gen)
        while s.n > 1 and bool((perm == torch.arange(s.n)).all()):
            perm = torch.randperm(s.n, generator=gen)
        apply(attacked, s, perm)
    rel = rel_diff(model, attacked, torch.load(os.path.join(out, "probe.pt")))
    params = [n for n, t in model.named_parameters() if t.dim() >= 1]
    changed = sum(1 for n in params if not torch.equal(attacked[n], sd[n]))
    torch.save(attacked, os.path.join(out, "attacked.pt"))
    with open(os.path.join(out, "attacked.json"), "w") as f:
        json.dump({"rel_diff": rel, "groups": len(spaces), "changed": changed, "total": len(params)}, f)


if __name__ == "__main__":
    main()
