#!/usr/bin/python3
"""Python side of lady.resync.PythonPermutedCheckpointsTest (run by the Java test with /usr/bin/python3).

    permute_attack.py <params.json> <out_dir>

The attacker's side written independently of Lady, in PyTorch: it builds Lady's vgg16_bn_cifar
(vgg_parity.CifarVgg: torchvision's VGG16-BN layers with the width multiplier, classifier 512w-512w-K;
vgg16_cifar with "batch_norm": false) from a seed, or loads the trained state dict named by "model",
and permutes the neurons of EVERY layer by hand: a conv's rows and bias, its batch norm
(weight, bias, running_mean, running_var), the next conv's input channels (the last conv: classifier.0's
input columns, one per channel after the 1x1 average pool), classifier.0 / classifier.3 rows and bias and
the next linear's columns. It writes to <out_dir>:
  reference.pt   the original, torch.save(model.state_dict())
  permuted.pt    every layer permuted (the function is unchanged: checked on a probe batch)
  noisy.pt       permuted, then Gaussian noise of std noise_omega * std(w) on every conv / linear weight
  quant.pt       permuted, then per-tensor min-max quantization to quant_bits on every conv / linear weight
  quant4.pt      permuted, then 4-bit quantization of every conv / linear weight
  secret.json    the permutations in Lady's secret format (new neuron j = old neuron p[j])
  argmax.pt      only argmax_layer permuted, with noise of argmax_omega on its weight
  argmax_secret.json
  finetuned.pt   with "finetune_steps": the reference fine-tuned that many SGD steps (another data order), then
                 permuted (its own permutations, not in secret.json)
  independent.pt with "independent_seed": the same architecture built from that seed and trained as the
                 reference was (another data order), never derived from it
  result.json    {"torch", "logit_diff", "argmax": {"layer", "psi", "psi_paper", "duplicates"}}
With "train_steps" (and "train", "mean", "std", "lr", "momentum", "weight_decay", "batch_size"), the
reference is first trained that many SGD steps on the digits in a seeded order.
The argmax figures are the paper's matching computed here: S[i, j] = cosine of reference row i and
suspect row j (the conv weight, flattened); match[i] = argmax_j S[i, j], Psi = share of i with
match[i] == inv(p)[i]; the paper's own count: origin[j] = argmax_i S[i, j] == p[j].
Exit code 0 on success; 3 when torch or torchvision cannot be imported.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vgg_parity import CifarVgg, read_digits, setup, sgd_steps  # noqa: E402  (exits with NO_TORCH_EXIT without torch)

import torch  # noqa: E402
from torch import nn  # noqa: E402


def groups(model):
    """[(group name, producer prefix, batch-norm prefix or None, [(consumer weight name, block)])]."""
    feats = list(model.features.named_children())
    modules = dict(feats)
    convs = [(i, m) for i, m in feats if isinstance(m, nn.Conv2d)]
    out = []
    for k, (i, conv) in enumerate(convs):
        bn = f"features.{int(i) + 1}" if isinstance(modules.get(str(int(i) + 1)), nn.BatchNorm2d) else None
        consumer = f"features.{convs[k + 1][0]}.weight" if k + 1 < len(convs) else "classifier.0.weight"
        out.append((f"features.{i}", f"features.{i}", bn, [consumer]))
    out.append(("classifier.0", "classifier.0", None, ["classifier.3.weight"]))
    out.append(("classifier.3", "classifier.3", None, ["classifier.6.weight"]))
    return out


def permute(state, group, p):
    name, prod, bn, consumers = group
    for key in (f"{prod}.weight", f"{prod}.bias"):
        state[key] = state[key][p].clone()
    if bn is not None:
        for t in ("weight", "bias", "running_mean", "running_var"):
            state[f"{bn}.{t}"] = state[f"{bn}.{t}"][p].clone()
    for c in consumers:
        state[c] = state[c][:, p].clone()


def weights(state):
    return [k for k, v in state.items() if k.endswith(".weight") and v.dim() in (2, 4)]


def add_noise(state, names, omega, gen):
    for k in names:
        w = state[k]
        sigma = omega * w.std(unbiased=False)
        state[k] = w + sigma * torch.randn(w.shape, generator=gen)


def quantize(state, names, bits):
    levels = 2 ** bits - 1
    for k in names:
        w = state[k].double()
        lo, hi = w.min(), w.max()
        scale = levels / (hi - lo)
        q = torch.round(torch.clamp((w - lo) * scale, 0, levels))
        state[k] = (q / scale + lo).float()


def secret(arch, seed, perms):
    return {"format": "lady-secret", "format_version": 1, "tool_version": "permute_attack.py " + torch.__version__,
            "architecture": arch, "seed": seed,
            "convention": "applying p to a group: new neuron j is old neuron p[j]",
            "permutations": {k: v.tolist() for k, v in perms.items()}}


def permuted_copy(state, gs, gen):
    """state with every group permuted by a fresh random permutation."""
    s = {k: v.clone() for k, v in state.items()}
    for g in gs:
        permute(s, g, torch.randperm(s[f"{g[1]}.weight"].shape[0], generator=gen))
    return s


def train(model, p, seed):
    """train_steps SGD steps of model on the digits in an order drawn from seed (nothing without train_steps)."""
    if p.get("train_steps", 0) <= 0:
        return
    x, y = read_digits(p["train"], None, p["mean"], p["std"])
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    sgd_steps(model, x, y, p, p["train_steps"], order)


def main():
    p, out, model = setup()
    if p.get("model"):
        model.load_state_dict(torch.load(p["model"]))
    train(model, p, p["seed"] + 2)
    model.eval()
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(p["seed"] + 1)
    gs = groups(model)

    permuted = {k: v.clone() for k, v in reference.items()}
    perms = {}
    for g in gs:
        n = reference[f"{g[1]}.weight"].shape[0]
        perms[g[0]] = torch.randperm(n, generator=gen)
        permute(permuted, g, perms[g[0]])
    probe = torch.randn(4, 3, 32, 32, generator=gen)
    with torch.no_grad():
        before = model(probe)
        model.load_state_dict(permuted)
        diff = float((model(probe) - before).abs().max())
    noisy = {k: v.clone() for k, v in permuted.items()}
    add_noise(noisy, weights(noisy), p["noise_omega"], gen)
    quant = {k: v.clone() for k, v in permuted.items()}
    quantize(quant, weights(quant), p["quant_bits"])

    derived = torch.Generator().manual_seed(p["seed"] + 4)  # the copies' own permutations (the draws above stay)
    quant4 = {k: v.clone() for k, v in reference.items()}
    quantize(quant4, weights(quant4), 4)
    torch.save(permuted_copy(quant4, gs, derived), os.path.join(out, "quant4.pt"))
    if p.get("finetune_steps"):
        x, y = read_digits(p["train"], None, p["mean"], p["std"])
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(p["seed"] + 3))
        sgd_steps(model, x, y, p, p["finetune_steps"], order)
        torch.save(permuted_copy(model.state_dict(), gs, derived), os.path.join(out, "finetuned.pt"))
        model.load_state_dict(reference)
    if p.get("independent_seed") is not None:
        torch.manual_seed(p["independent_seed"])
        other = CifarVgg(p["width"], p["classes"], p.get("batch_norm", True))
        train(other, p, p["independent_seed"] + 2)
        torch.save(other.state_dict(), os.path.join(out, "independent.pt"))
    torch.save(reference, os.path.join(out, "reference.pt"))
    torch.save(permuted, os.path.join(out, "permuted.pt"))
    torch.save(noisy, os.path.join(out, "noisy.pt"))
    torch.save(quant, os.path.join(out, "quant.pt"))
    with open(os.path.join(out, "secret.json"), "w") as f:
        json.dump(secret(p["architecture"], p["seed"], perms), f)

    # the argmax scenario: one layer permuted and very noisy, the paper's matching computed here
    layer = p["argmax_layer"]
    g = next(x for x in gs if x[0] == layer)
    single = {k: v.clone() for k, v in reference.items()}
    n = single[f"{layer}.weight"].shape[0]
    q = torch.randperm(n, generator=gen)
    permute(single, g, q)
    add_noise(single, [f"{layer}.weight"], p["argmax_omega"], gen)
    torch.save(single, os.path.join(out, "argmax.pt"))
    with open(os.path.join(out, "argmax_secret.json"), "w") as f:
        json.dump(secret(p["architecture"], p["seed"], {layer: q}), f)
    a = nn.functional.normalize(reference[f"{layer}.weight"].reshape(n, -1).double(), dim=1)
    b = nn.functional.normalize(single[f"{layer}.weight"].reshape(n, -1).double(), dim=1)
    s = a @ b.t()
    match = s.argmax(dim=1)
    inv = torch.empty_like(q)
    inv[q] = torch.arange(n)
    origin = s.argmax(dim=0)
    result = {"torch": torch.__version__, "logit_diff": diff,
              "argmax": {"layer": layer, "psi": 100.0 * float((match == inv).double().mean()),
                         "psi_paper": 100.0 * float((origin == q).double().mean()),
                         "duplicates": int(n - match.unique().numel())}}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
