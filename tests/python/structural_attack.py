#!/usr/bin/python3
"""Python side of lady.resync.PythonStructuralAttackTest (run by the Java test with /usr/bin/python3).

    structural_attack.py <params.json> <out_dir>

The attacker of issue 18, written independently of Lady, in PyTorch: neural structural obfuscation (Yan et
al., USENIX Security 2023) of a VGG16 with the CIFAR head and no batch norm (torchvision's VGG16 features
with the width multiplier, adaptive average pool to 1x1, classifier 512w-512w-K), trained for a few SGD
steps on the first training digits. Its 15 neuron groups (13 convs, classifier.0, classifier.3) are edited
by hand, group after group in REVERSE order (the last group first: the undo must not rely on the order an
attacker used):
  - scaling: every neuron's row and bias times a factor log-uniform in [1/scale_range, scale_range], its
    consumer columns divided by it;
  - dummy pairs: round(dummy_percent % of N) pairs of neurons with the same fresh row and bias (std of the
    layer's) and consumer columns c and -c (std of the consumer's), appended;
  - splits: round(split_percent % of N) distinct neurons duplicated, the original keeping lambda of its
    consumer columns and the copy 1 - lambda, lambda uniform in [0.1, 0.9];
  - a permutation of every group.
It writes to <out_dir>:
  reference.pt   the original, torch.save(model.state_dict())
  scaled.pt      scaling only
  widened.pt     dummy pairs and splits only (e.g. 512 -> 590 channels at full width)
  nso.pt         dummy pairs, splits, scaling, then a permutation
  nso_secret.json  the lineage of every nso neuron in Lady's secret format (structure section)
  result.json    {"torch", "logit_diff": {suspect: max |logit - original logit| on a probe batch}, "sizes": {...}}
and with "onnx": true in params.json, the original and the nso copy exported by torch.onnx (opset 13, parameter
names kept): reference.onnx, nso.onnx (flattened by a Flatten node), and reference_reshape.onnx, nso_reshape.onnx
(flattened by a Reshape to a constant shape holding the width: the widened copy's graph differs from the original's).
Exit code 0 on success; 3 when torch or torchvision cannot be imported.
"""
import json
import math
import os
import sys

NO_TORCH_EXIT = 3
try:
    import torch
    from torch import nn
    from torchvision.models.vgg import cfgs, make_layers
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(NO_TORCH_EXIT)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vgg_parity import read_digits  # noqa: E402


class CifarVgg(nn.Module):
    """VGG16 features (no batch norm) with the CIFAR head; widths read from a state dict when given."""

    def __init__(self, cfg, hidden, classes):
        super().__init__()
        self.features = make_layers(cfg, batch_norm=False)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = [v for v in cfg if v != "M"][-1]
        self.classifier = nn.Sequential(
            nn.Linear(last, hidden[0]), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden[0], hidden[1]), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden[1], classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    @staticmethod
    def of(state, classes):
        """The model whose widths are those of state (a widened copy), loaded."""
        cfg = []
        i = 0
        while f"features.{i}.weight" in state:
            cfg.append(state[f"features.{i}.weight"].shape[0])
            i += 2
            if f"features.{i}.weight" not in state:
                cfg.append("M")
                i += 1
        m = CifarVgg(cfg, (state["classifier.0.weight"].shape[0], state["classifier.3.weight"].shape[0]), classes)
        m.load_state_dict(state)
        return m.eval()


def groups(state):
    """[(group name, producer prefix, [consumer weight names])] in topological order (consumer columns: axis 1)."""
    convs = []
    i = 0
    while f"features.{i}.weight" in state:
        convs.append(f"features.{i}")
        i += 2
        if f"features.{i}.weight" not in state:
            i += 1
    out = []
    for k, c in enumerate(convs):
        consumer = f"{convs[k + 1]}.weight" if k + 1 < len(convs) else "classifier.0.weight"
        out.append((c, c, [consumer]))
    out.append(("classifier.0", "classifier.0", ["classifier.3.weight"]))
    out.append(("classifier.3", "classifier.3", ["classifier.6.weight"]))
    return out


def columns(w, idx):
    return w[:, idx]


def rebuild(state, group, rows, bias, cols):
    """Replaces the group's producer rows and bias and its consumer columns (lists of new slices)."""
    _, prod, consumers = group
    state[f"{prod}.weight"] = torch.stack(rows)
    state[f"{prod}.bias"] = torch.stack(bias)
    for c, cs in zip(consumers, cols):
        state[c] = torch.stack(cs, dim=1).contiguous()


def slices(state, group):
    _, prod, consumers = group
    w, b = state[f"{prod}.weight"], state[f"{prod}.bias"]
    rows = [w[j].clone() for j in range(w.shape[0])]
    bias = [b[j].clone() for j in range(b.shape[0])]
    cols = [[state[c][:, j].clone() for j in range(w.shape[0])] for c in consumers]
    return rows, bias, cols


def scale(state, group, lineage, rng, r):
    rows, bias, cols = slices(state, group)
    for j in range(len(rows)):
        a = math.exp((2 * float(torch.rand(1, generator=rng)) - 1) * math.log(r))
        rows[j] = rows[j] * a
        bias[j] = bias[j] * a
        for cs in cols:
            cs[j] = cs[j] / a
        lineage["factor"][j] *= a
    rebuild(state, group, rows, bias, cols)


def dummies(state, group, lineage, rng, pairs):
    rows, bias, cols = slices(state, group)
    _, prod, consumers = group
    wstd = float(state[f"{prod}.weight"].std())
    bstd = float(state[f"{prod}.bias"].std())
    for _ in range(pairs):
        row = torch.randn(rows[0].shape, generator=rng) * wstd
        b = torch.randn((), generator=rng) * bstd
        for k, c in enumerate(consumers):
            col = torch.randn(cols[k][0].shape, generator=rng) * float(state[c].std())
            cols[k] += [col, -col]
        rows += [row.clone(), row.clone()]
        bias += [b.clone(), b.clone()]
        for key, v in (("origin", -1), ("factor", 1.0), ("kind", "dummy")):
            lineage[key] += [v, v]
    rebuild(state, group, rows, bias, cols)


def splits(state, group, lineage, rng, count):
    rows, bias, cols = slices(state, group)
    originals = [j for j, k in enumerate(lineage["kind"]) if k == "original"]
    chosen = torch.randperm(len(originals), generator=rng)[:count].tolist()
    for ci in chosen:
        j = originals[ci]
        lam = 0.1 + 0.8 * float(torch.rand(1, generator=rng))
        rows.append(rows[j].clone())
        bias.append(bias[j].clone())
        for cs in cols:
            cs.append(cs[j] * (1 - lam))
            cs[j] = cs[j] * lam
        lineage["origin"].append(lineage["origin"][j])
        lineage["factor"].append(lineage["factor"][j])
        lineage["kind"].append("split")
    rebuild(state, group, rows, bias, cols)


def permute(state, group, lineage, rng):
    rows, bias, cols = slices(state, group)
    p = torch.randperm(len(rows), generator=rng).tolist()
    rebuild(state, group, [rows[j] for j in p], [bias[j] for j in p], [[cs[j] for j in p] for cs in cols])
    for key in ("origin", "factor", "kind"):
        lineage[key] = [lineage[key][j] for j in p]


def attack(reference, p, gen, widen, scaled, permuted):
    state = {k: v.clone() for k, v in reference.items()}
    lineages = {}
    for g in reversed(groups(state)):
        n = state[f"{g[1]}.weight"].shape[0]
        lineage = {"original_size": n, "origin": list(range(n)), "factor": [1.0] * n, "kind": ["original"] * n}
        if widen:
            dummies(state, g, lineage, gen, round(p["dummy_percent"] / 100 * n))
            splits(state, g, lineage, gen, round(p["split_percent"] / 100 * n))
        if scaled:
            scale(state, g, lineage, gen, p["scale_range"])
        if permuted:
            permute(state, g, lineage, gen)
        lineages[g[0]] = lineage
    return state, lineages


class ReshapedVgg(CifarVgg):
    """CifarVgg flattened by a reshape to (-1, width): torch.onnx writes the width into a constant."""

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).reshape(-1, self.classifier[0].in_features))


def export(state, classes, probe, stem):
    """stem.onnx and stem_reshape.onnx: the model of state's widths exported with a Flatten node, and with a Reshape."""
    for cls, suffix in ((CifarVgg, ""), (ReshapedVgg, "_reshape")):
        model = CifarVgg.of(state, classes)
        model.__class__ = cls
        torch.onnx.export(model, probe[:1], stem + suffix + ".onnx", opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}},
                          do_constant_folding=False)


def main():
    with open(sys.argv[1]) as f:
        p = json.load(f)
    out = sys.argv[2]
    torch.manual_seed(p["seed"])
    torch.set_num_threads(p.get("threads", 1))
    cfg = [v if v == "M" else int(v * p["width"]) for v in cfgs["D"]]
    hidden = int(512 * p["width"])
    model = CifarVgg(cfg, (hidden, hidden), p["classes"])
    with torch.no_grad():  # random biases: torchvision's zeros would hide a bias left behind
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.normal_(0, 0.05)
    x, y = read_digits(p["train"], p["train_images"], p["mean"], p["std"])
    sgd = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"])
    model.train()
    b = p["batch_size"]
    for step in range(p["steps"]):
        i = (step * b) % x.shape[0]
        sgd.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + b]), y[i:i + b]).backward()
        sgd.step()
    model.eval()
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(p["seed"] + 1)
    probe = torch.randn(8, 3, 32, 32, generator=gen)
    with torch.no_grad():
        before = model(probe)
    torch.save(reference, os.path.join(out, "reference.pt"))
    result = {"torch": torch.__version__, "logit_diff": {}, "sizes": {}}
    for name, widen, scaled, permuted in (("scaled", False, True, False), ("widened", True, False, False),
                                          ("nso", True, True, True)):
        state, lineages = attack(reference, p, gen, widen, scaled, permuted)
        with torch.no_grad():
            result["logit_diff"][name] = float((CifarVgg.of(state, p["classes"])(probe) - before).abs().max())
        result["sizes"][name] = {g: len(v["origin"]) for g, v in lineages.items()}
        torch.save(state, os.path.join(out, name + ".pt"))
        if name == "nso":
            secret = {"format": "lady-secret", "format_version": 1, "tool_version": "structural_attack.py " + torch.__version__,
                      "architecture": "vgg16_cifar", "seed": p["seed"], "convention": "lineage of every attacked neuron",
                      "permutations": {}, "structure": lineages}
            with open(os.path.join(out, "nso_secret.json"), "w") as f:
                json.dump(secret, f)
    if p.get("onnx"):
        export(reference, p["classes"], probe, os.path.join(out, "reference"))
        export(torch.load(os.path.join(out, "nso.pt")), p["classes"], probe, os.path.join(out, "nso"))
    result["logit_scale"] = float(before.abs().max())
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
