#!/usr/bin/python3
"""Python side of the lady.onnx tests (run by the Java tests with /usr/bin/python3).

    onnx_export.py <params.json> <out_dir>

params.json (written by the Java test, so that every number has one home in Lady):
  models        names among "lady_net", "grouped_net" (GroupedNet), "yolo_net" (YoloNet), "mobilenet_v3_small",
                "densenet121", "resnet18", "vit_tiny" (torchvision's VisionTransformer on 32 x 32 inputs: patches of 8, 2 layers,
                4 heads, width 64, MLP 128), "attn_net" (attention written by hand: AttnNet)
  sides         {model: input side in pixels}; batch: the batch of the seeded input
  classes       outputs of every model
  opset         ONNX opset of the exports (17)
  seed, threads
  calibration   {"batches", "batch"}: random batches run in training mode to set the batch-norm running
                statistics of the torchvision models (see below)
  static_batch  names of exports ("lady_net-folded") whose batch dimension is fixed instead of dynamic
  digits        optional, for lady_net: {"train", "test", "mean", "std", "train_images", "steps",
                "batch_size", "lr", "momentum", "eval_images"}: lady_net is trained for a few SGD steps
                on the built-in digits (CIFAR-10 binary files), then evaluated on the first eval_images
                test digits

For each model, <out_dir> receives:
  NAME-kept.onnx    export with batch norm kept and state-dict names (training=TrainingMode.PRESERVE,
                    do_constant_folding=False, on the model in eval mode)
  NAME-folded.onnx  deployment export (training=TrainingMode.EVAL: batch norm folded into the convs,
                    initializers renamed by the exporter)
  NAME.pt           torch.save(model.state_dict())
  NAME.input.bin, NAME.output.bin   the seeded input and PyTorch's output (float32, little-endian)
and manifest.json describes them ({model: {input_shape, output_shape, input_name, output_name, ...},
"eval": {images, errors}} when digits were given).

Random networks whose batch-norm running statistics are the initial ones (mean 0, variance 1) do not
match their activations: deep ones (MobileNetV3) then saturate and give the same logits for every input,
and a comparison of outputs could not fail. So every batch norm gets a random affine transform and running
statistics measured on data (random batches here, cumulative averages: momentum None), and lady_net is
trained briefly on the digits.

Exit code 0 on success; 3 (NO_TORCH_EXIT) when torch, torchvision or onnx cannot be imported.
"""
import json
import math
import os
import sys

NO_TORCH_EXIT = 3
try:
    import onnx  # noqa: F401  (the exporter needs it; imported here to skip cleanly without it)
    import torch
    import torchvision
    from torch import nn
except ImportError as e:
    print(f"cannot import torch/torchvision/onnx: {e}")
    sys.exit(NO_TORCH_EXIT)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vgg_parity import read_digits  # noqa: E402

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def conv_bn(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class LadyNet(nn.Module):
    """A small network no library ships: residual add, concatenation of two branches one of which has a
    depthwise conv, squeeze-excitation x * hardsigmoid(fc2(relu(fc1(avgpool(x))))), and
    pool -> flatten -> linear. For 3 x 32 x 32 inputs."""

    def __init__(self, classes):
        super().__init__()
        self.stem = conv_bn(3, 16, stride=2)
        self.res_conv1 = conv_bn(16, 16)
        self.res_conv2 = nn.Conv2d(16, 16, 3, 1, 1, bias=False)
        self.res_bn2 = nn.BatchNorm2d(16)
        self.branch_a = conv_bn(16, 16, k=1)
        self.branch_b_dw = conv_bn(16, 16, k=3, groups=16)
        self.branch_b_pw = conv_bn(16, 8, k=1)
        self.se_fc1 = nn.Linear(24, 8)
        self.se_fc2 = nn.Linear(8, 24)
        self.down = conv_bn(24, 32, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 4 * 4, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.res_bn2(self.res_conv2(self.res_conv1(x))))
        x = torch.cat([self.branch_a(x), self.branch_b_pw(self.branch_b_dw(x))], 1)
        s = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        s = nn.functional.hardsigmoid(self.se_fc2(torch.relu(self.se_fc1(s))))
        x = x * s.unsqueeze(-1).unsqueeze(-1)
        x = self.pool(self.down(x))
        return self.fc(torch.flatten(x, 1))


class GroupedNet(nn.Module):
    """Grouped convolutions the ways ResNeXt and RegNet use them, for 3 x 32 x 32 inputs: two residual bottlenecks,
    each 1x1 conv -> grouped 3x3 conv (3 groups of 8 -> 8; 4 groups of 6 -> 8) -> [squeeze-excitation on the grouped
    conv's output, RegNetY's] -> 1x1 conv added to the stream; pool -> flatten -> linear."""

    def __init__(self, classes):
        super().__init__()
        self.stem = conv_bn(3, 16, stride=2)
        self.a_reduce = conv_bn(16, 24, k=1)
        self.a_grouped = conv_bn(24, 24, k=3, groups=3)
        self.a_se_fc1 = nn.Conv2d(24, 6, 1)
        self.a_se_fc2 = nn.Conv2d(6, 24, 1)
        self.a_expand = nn.Conv2d(24, 16, 1, bias=False)
        self.a_bn = nn.BatchNorm2d(16)
        self.b_reduce = conv_bn(16, 24, k=1)
        self.b_grouped = conv_bn(24, 32, k=3, stride=2, groups=4)
        self.b_expand = nn.Conv2d(32, 16, 1, bias=False)
        self.b_bn = nn.BatchNorm2d(16)
        self.b_down = nn.Conv2d(16, 16, 1, stride=2, bias=False)
        self.fc = nn.Linear(16 * 4 * 4, classes)

    def forward(self, x):
        x = self.stem(x)
        y = self.a_grouped(self.a_reduce(x))
        s = torch.sigmoid(self.a_se_fc2(torch.relu(self.a_se_fc1(nn.functional.adaptive_avg_pool2d(y, 1)))))
        x = torch.relu(x + self.a_bn(self.a_expand(y * s)))
        y = self.b_bn(self.b_expand(self.b_grouped(self.b_reduce(x))))
        x = torch.relu(self.b_down(x) + y)
        return self.fc(torch.flatten(nn.functional.max_pool2d(x, 2), 1))


class GnNet(nn.Module):
    """Group norms, as ResNet-GN and detection heads use them: a stem and a residual block whose group norms share the
    stream's groups (4 of 4), a strided conv with groups of its own (6 of 4), GroupNorm(1) (a layer norm over the
    channels), a depthwise conv with GroupNorm(C) (an instance norm with a scale per channel); pool -> linear."""

    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.gn0 = nn.GroupNorm(4, 16)
        self.c1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.gn1 = nn.GroupNorm(4, 16)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(4, 16)
        self.c3 = nn.Conv2d(16, 24, 3, stride=2, padding=1)
        self.gn3 = nn.GroupNorm(6, 24)
        self.c4 = nn.Conv2d(24, 12, 1)
        self.gn4 = nn.GroupNorm(1, 12)
        self.c5 = nn.Conv2d(12, 12, 3, padding=1, groups=12)
        self.gn5 = nn.GroupNorm(12, 12)
        self.fc = nn.Linear(12, classes)

    def forward(self, x):
        x = torch.relu(self.gn0(self.stem(x)))
        y = torch.relu(self.gn1(self.c1(x)))
        x = torch.relu(x + self.gn2(self.c2(y)))
        x = torch.relu(self.gn3(self.c3(x)))
        x = torch.relu(self.gn4(self.c4(x)))
        x = torch.relu(self.gn5(self.c5(x)))
        return self.fc(x.mean((2, 3)))


class CrnnNet(nn.Module):
    """A CRNN, as text recognizers build it: convolutions, the feature map's columns read as a sequence (its height
    averaged), two layers of bidirectional LSTM, a bidirectional GRU (batch first) and a linear layer on the sequence's
    mean. The folded export stores each recurrent layer's weights [2, gates x H, in]; the kept one slices and
    concatenates the state dict's into ONNX's gate order."""

    def __init__(self, classes):
        super().__init__()
        self.c1 = conv_bn(3, 16)
        self.c2 = conv_bn(16, 24, stride=2)
        self.lstm = nn.LSTM(24, 20, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(40, 12, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(24, classes)

    def forward(self, x):
        x = self.c2(self.c1(x))
        y, _ = self.lstm(x.mean(2).permute(2, 0, 1))
        y, _ = self.gru(y.transpose(0, 1))
        return self.fc(y.mean(1))


class RnnClsNet(nn.Module):
    """A sequence classifier on the last hidden states, as text classifiers build it: the feature map's columns as a
    batch-first sequence, two layers of bidirectional LSTM, h_n[-2] and h_n[-1] (the last layer's two directions)
    concatenated, then a linear layer."""

    def __init__(self, classes):
        super().__init__()
        self.c1 = conv_bn(3, 16, stride=2)
        self.lstm = nn.LSTM(16, 20, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(40, classes)

    def forward(self, x):
        _, (h, _) = self.lstm(self.c1(x).mean(2).transpose(1, 2))
        return self.fc(torch.cat((h[-2], h[-1]), 1))


class YoloConv(nn.Module):
    """Conv -> BN -> SiLU, as Ultralytics' Conv."""

    def __init__(self, cin, cout, k=1, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return nn.functional.silu(self.bn(self.conv(x)))


class C2f(nn.Module):
    """YOLOv8's C2f: cv1's output chunked in two, bottlenecks on the second half (with residuals), all concatenated."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = YoloConv(cin, 2 * self.c)
        self.cv2 = YoloConv((2 + n) * self.c, cout)
        self.m = nn.ModuleList(nn.Sequential(YoloConv(self.c, self.c, 3), YoloConv(self.c, self.c, 3)) for _ in range(n))
        self.shortcut = shortcut

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(y[-1] + m(y[-1]) if self.shortcut else m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class YoloNet(nn.Module):
    """A YOLOv8-style detector for 3 x 32 x 32 inputs: a backbone of strided convs and C2f blocks, SPPF (three chained
    max pools concatenated), a neck that upsamples (nearest) and concatenates two scales, a head per scale whose
    boxes and classes are flattened and concatenated along the anchors: [N, 4 * 4 + classes, anchors]."""

    def __init__(self, classes):
        super().__init__()
        self.b0 = YoloConv(3, 8, 3, 2)
        self.b1 = C2f(8, 16, 1)
        self.b2 = YoloConv(16, 32, 3, 2)
        self.b3 = C2f(32, 32, 2)
        self.sppf_cv1 = YoloConv(32, 16)
        self.sppf_cv2 = YoloConv(64, 32)
        self.n1 = C2f(32 + 16, 16, 1, shortcut=False)
        self.h1 = nn.Sequential(YoloConv(16, 16, 3), nn.Conv2d(16, 16 + classes, 1))
        self.h2 = nn.Sequential(YoloConv(32, 16, 3), nn.Conv2d(16, 16 + classes, 1))

    def forward(self, x):
        p3 = self.b1(self.b0(x))
        p4 = self.b3(self.b2(p3))
        s = self.sppf_cv1(p4)
        s1 = nn.functional.max_pool2d(s, 5, 1, 2)
        s2 = nn.functional.max_pool2d(s1, 5, 1, 2)
        p4 = self.sppf_cv2(torch.cat([s, s1, s2, nn.functional.max_pool2d(s2, 5, 1, 2)], 1))
        n = self.n1(torch.cat([nn.functional.interpolate(p4, scale_factor=2.0, mode="nearest"), p3], 1))
        return torch.cat([self.h1(n).flatten(2), self.h2(p4).flatten(2)], 2)


class AttnNet(nn.Module):
    """Attention written by hand, the ways Hugging Face's models write it, on 3 x 32 x 32 inputs cut into 16 patches
    (width 64, 4 heads of 16, MLP 128):
    layer 0  post-norm (BERT): separate q, k, v; x.view(b, t, h, d).permute(0, 2, 1, 3); scores divided by sqrt(d)
             plus an additive mask (the last two positions hidden);
    layer 1  pre-norm (GPT-2): one packed qkv projection split in three; q multiplied by d ** -0.5; a causal mask with
             torch.where;
    layer 2  pre-norm (Llama): q, k, v, o without bias, grouped-query (2 key and value heads for the 4 query heads,
             repeated as transformers' repeat_kv does: expand then reshape), a rotary embedding on q and k (x cos +
             rotate_half(x) sin, the tables computed in the graph from inv_freq and the positions), softmax in float32;
    then mean over the tokens, a layer norm and the classifier. (The masks are a vector and a boolean tensor: not
    weights a permutation should move.)"""

    def __init__(self, classes, d=64, heads=4, mlp=128, tokens=16):
        super().__init__()
        self.heads = heads
        self.patch = nn.Conv2d(3, d, 8, 8)
        self.pos = nn.Parameter(torch.randn(1, tokens, d) * 0.1)
        self.q0, self.k0, self.v0, self.o0 = (nn.Linear(d, d) for _ in range(4))
        self.ln0a, self.ln0b = nn.LayerNorm(d), nn.LayerNorm(d)
        self.fc0a, self.fc0b = nn.Linear(d, mlp), nn.Linear(mlp, d)
        self.register_buffer("mask0", (torch.arange(tokens) >= tokens - 2).float() * -1e4)
        self.ln1a, self.ln1b = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv1, self.o1 = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1a, self.fc1b = nn.Linear(d, mlp), nn.Linear(mlp, d)
        self.register_buffer("causal1", torch.tril(torch.ones(tokens, tokens, dtype=torch.bool)).view(1, 1, tokens, tokens))
        self.ln2a, self.ln2b = nn.LayerNorm(d), nn.LayerNorm(d)
        self.kv_heads = heads // 2
        self.q2, self.o2 = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.k2, self.v2 = (nn.Linear(d, d // heads * self.kv_heads, bias=False) for _ in range(2))
        self.fc2a, self.fc2b = nn.Linear(d, mlp), nn.Linear(mlp, d)
        head = d // heads
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, head, 2).float() / head)))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def split(self, x, heads=None):
        b, t, _ = x.shape
        return x.view(b, t, heads or self.heads, -1).permute(0, 2, 1, 3)

    def repeat_kv(self, x):
        """[b, kv, t, d] -> [b, heads, t, d], each key and value head for heads / kv query heads (transformers')."""
        b, kv, t, d = x.shape
        rep = self.heads // kv
        return x[:, :, None, :, :].expand(b, kv, rep, t, d).reshape(b, kv * rep, t, d)

    @staticmethod
    def merge(x):
        b, h, t, d = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, t, h * d)

    def attend(self, q, k, v, o, bias):
        q, k, v = self.split(q), self.split(k), self.split(v)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + bias
        return o(self.merge(torch.matmul(torch.softmax(s, -1), v)))

    def tables(self, tokens):
        """cos and sin of the rotary embedding, [tokens, head_dim], once per forward (as Hugging Face's Llama)."""
        t = torch.arange(tokens, dtype=torch.float32)
        freqs = t[:, None] * self.inv_freq
        emb = torch.cat((freqs, freqs), -1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rope(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin

    def forward(self, img):
        x = self.patch(img).flatten(2).transpose(1, 2) + self.pos
        x = self.ln0a(x + self.attend(self.q0(x), self.k0(x), self.v0(x), self.o0, self.mask0))
        x = self.ln0b(x + self.fc0b(nn.functional.gelu(self.fc0a(x))))
        h = self.ln1a(x)
        q, k, v = self.qkv1(h).split(h.shape[-1], dim=2)
        q, k, v = self.split(q) * (h.shape[-1] // self.heads) ** -0.5, self.split(k), self.split(v)
        s = torch.where(self.causal1, torch.matmul(q, k.transpose(-1, -2)), torch.tensor(-1e4))
        x = x + self.o1(self.merge(torch.matmul(torch.softmax(s, -1), v)))
        x = x + self.fc1b(nn.functional.gelu(self.fc1a(self.ln1b(x))))
        h = self.ln2a(x)
        cos, sin = self.tables(h.shape[1])
        q = self.rope(self.split(self.q2(h)), cos, sin)
        k = self.repeat_kv(self.rope(self.split(self.k2(h), self.kv_heads), cos, sin))
        v = self.repeat_kv(self.split(self.v2(h), self.kv_heads))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        x = x + self.o2(self.merge(torch.matmul(torch.softmax(s.float(), -1).to(v.dtype), v)))
        x = x + self.fc2b(nn.functional.gelu(self.fc2a(self.ln2b(x))))
        return self.head(self.ln(x).mean(1))


def randomize_norms(model, gen):
    """Layer and group norms at one and zero could not tell a right permutation of their channels from a wrong one."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
                m.weight.copy_(1 + torch.randn(m.weight.shape, generator=gen) * 0.1)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def build(name, classes):
    if name == "lady_net":
        return LadyNet(classes)
    if name == "mobilenet_v3_small":
        return torchvision.models.mobilenet_v3_small(num_classes=classes)
    if name == "densenet121":
        return torchvision.models.densenet121(num_classes=classes)
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=classes)
    if name == "yolo_net":
        return YoloNet(classes)
    if name == "grouped_net":
        return GroupedNet(classes)
    if name == "gn_net":
        return GnNet(classes)
    if name == "crnn_net":
        return CrnnNet(classes)
    if name == "rnn_cls_net":
        return RnnClsNet(classes)
    if name == "attn_net":
        return AttnNet(classes)
    if name == "vit_tiny":
        from torchvision.models.vision_transformer import VisionTransformer
        m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                              num_classes=classes)
        # torchvision starts the head, the class token and every bias at zero and the layer norms at one: logits
        # that would not depend on the input and norms no permutation could get wrong. Random values instead.
        with torch.no_grad():
            for pname, t in m.named_parameters():
                if pname.endswith("bias") or "class_token" in pname or "heads" in pname:
                    t.copy_(torch.randn(t.shape) * 0.1)
                elif "ln" in pname.split(".")[-2]:
                    t.copy_(1 + torch.randn(t.shape) * 0.1)
        return m
    raise SystemExit(f"unknown model {name}")


def randomize_batch_norms(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches


def calibrate(model, side, calibration, gen):
    model.train()
    with torch.no_grad():
        for _ in range(calibration["batches"]):
            model(torch.randn(calibration["batch"], 3, side, side, generator=gen))


def train_on_digits(model, d):
    x, y = read_digits(d["train"], d["train_images"], d["mean"], d["std"])
    sgd = torch.optim.SGD(model.parameters(), lr=d["lr"], momentum=d["momentum"])
    model.train()
    b = d["batch_size"]
    for step in range(d["steps"]):
        i = (step * b) % x.shape[0]
        sgd.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + b]), y[i:i + b]).backward()
        sgd.step()


def evaluate_on_digits(model, d):
    x, y = read_digits(d["test"], d["eval_images"], d["mean"], d["std"])
    with torch.no_grad():
        predicted = model(x).argmax(1)
    return {"images": int(x.shape[0]), "errors": int((predicted != y).sum())}


def export(model, x, path, mode, static):
    axes = None if static else {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    kept = mode == "kept"
    torch.onnx.export(model, x, path, opset_version=P["opset"], input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes=axes,
                      training=torch.onnx.TrainingMode.PRESERVE if kept else torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=not kept)


def raw(t, path):
    with open(path, "wb") as f:
        f.write(t.detach().contiguous().float().numpy().astype("<f4").tobytes())


def main():
    global P
    with open(sys.argv[1]) as f:
        P = json.load(f)
    out = sys.argv[2]
    torch.set_num_threads(P.get("threads", 1))
    manifest = {}
    for name in P["models"]:
        torch.manual_seed(P["seed"])
        gen = torch.Generator().manual_seed(P["seed"])
        side = P["sides"][name]
        model = build(name, P["classes"])
        randomize_batch_norms(model, gen)
        if name in ("attn_net", "gn_net"):
            randomize_norms(model, gen)
        digits = P.get("digits") if name == "lady_net" else None
        if digits:
            train_on_digits(model, digits)
        else:
            calibrate(model, side, P["calibration"], gen)
        model.eval()
        x = torch.randn(P["batch"], 3, side, side, generator=gen)
        with torch.no_grad():
            y = model(x)
        entry = {"input_shape": list(x.shape), "output_shape": list(y.shape), "input_name": INPUT_NAME,
                 "output_name": OUTPUT_NAME, "input": f"{name}.input.bin", "output": f"{name}.output.bin",
                 "state": f"{name}.pt"}
        if digits:
            manifest["eval"] = evaluate_on_digits(model, digits)
        raw(x, os.path.join(out, entry["input"]))
        raw(y, os.path.join(out, entry["output"]))
        torch.save(model.state_dict(), os.path.join(out, entry["state"]))
        for mode in ("kept", "folded"):
            file = f"{name}-{mode}.onnx"
            export(model, x, os.path.join(out, file), mode, f"{name}-{mode}" in P.get("static_batch", []))
            entry[mode] = file
        manifest[name] = entry
    manifest["torch"] = torch.__version__
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
