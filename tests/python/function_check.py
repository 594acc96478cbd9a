"""The verdict of a test script's function check (imported by timm_vit.py, cifar_zoo.py, hf_resnet.py, hf_convnext.py, hf_swin.py, hf_swinv2.py,
hf_dinov2.py and torchscript_models.py; run with /usr/bin/python3): the permuted weights must give the original's outputs
(relative 1e-4) with at least 95 % of the weight tensors moved, a wrong permutation must change them by more than 1e-3,
and the restored weights must equal the original's, names in order. Prints the figures, and exits 1 with the reasons.
Also the Hugging Face scripts' folders (config.json and pytorch_model.bin) and their command line.
"""
import json
import math
import os
import sys

import torch

REL_TOLERANCE = 1e-4
MOVED_MIN = 0.95
WRONG_MIN = 1e-3


def weight_tensors(state):
    """The floating-point tensors of rank >= 1 that are not constant (a permutation of a constant moves nothing)."""
    return [k for k in state if state[k].dim() > 0 and state[k].is_floating_point() and state[k].unique().numel() > 1]


def verdict(original, permuted, restored, y, y_permuted, y_wrong, weights=None, wrong_what="a wrong permutation"):
    weights = weight_tensors(original) if weights is None else weights
    scale = y.abs().max().item()
    diff = (y - y_permuted).abs().max().item() / scale
    wrong = (y - y_wrong).abs().max().item() / scale
    moved = sum(1 for k in weights if not torch.equal(original[k], permuted[k]))
    problems = []
    if not diff < REL_TOLERANCE:
        problems.append(f"the permuted model's outputs differ by {diff:.3g} of their scale")
    if moved < MOVED_MIN * len(weights):
        problems.append(f"only {moved} of {len(weights)} weight tensors moved")
    if not wrong > WRONG_MIN:
        problems.append(f"{wrong_what} changes the outputs by {wrong:.3g} only")
    if list(original) != list(restored) or not all(torch.equal(original[k], restored[k]) for k in original):
        problems.append("the restored weights are not the original's")
    print(f"relative difference {diff:.3g}, {moved} of {len(weights)} weight tensors moved, wrong permutation {wrong:.3g}")
    if problems:
        print("; ".join(problems))
        sys.exit(1)


def gram(*features):
    """Features by their inner products (an encoder's channel order is free): per tensor, every vector (along its last
    axis) with every other, flattened and joined."""
    return torch.cat([(t.reshape(-1, t.shape[-1]) @ t.reshape(-1, t.shape[-1]).t()).reshape(-1) for t in features])


def randomize(model, special=lambda name, p: False):
    """Random weights for a function check: norm weights in [0.5, 1.5), matrices normal over sqrt(fan-in), other vectors
    normal with std 0.2; special(name, parameter) draws a parameter itself and returns True."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if special(n, p):
                continue
            if p.dim() == 1 and "norm" in n and n.endswith("weight"):
                p.uniform_(0.5, 1.5)
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape) / math.sqrt(p[0].numel()))
            else:
                p.copy_(0.2 * torch.randn(p.shape))


def save_models(out, seed, only, models, config, build, special, state=lambda name, model: model.state_dict()):
    """Hugging Face folders <out>/<name> of the models (name: whether it has a head, or what config takes) that only
    names (all when empty): each built from config(head), its weights drawn by randomize(model, special), saved as
    state(name, model) gives them (the state dict; without the ties save_pretrained leaves out, fixed tables drawn)."""
    torch.manual_seed(seed)
    for name, head in models.items():
        if only and name not in only:
            continue
        c = config(head)
        m = build(c)
        randomize(m, special)
        with torch.no_grad():
            save_folder(out, name, c, state(name, m))


def swap_heads(weight, head_dim):
    """A wrong permutation: the rows of the first two heads of a q projection's weight swapped, in place."""
    first = weight[:head_dim].clone()
    weight[:head_dim] = weight[head_dim:2 * head_dim]
    weight[head_dim:2 * head_dim] = first


def outputs(model, original, permuted, wrong):
    """The model's outputs on four seeded 32 x 32 images in [-1, 1) with the original weights, the permuted ones, and the
    permuted ones after wrong(model) broke them."""
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    model.eval()
    with torch.no_grad():
        model.load_state_dict(original)
        y = model(x)
        model.load_state_dict(permuted)
        y_permuted = model(x)
        wrong(model)
        return y, y_permuted, model(x)


def save_folder(out, name, config, state):
    """A Hugging Face folder <out>/<name>: config.json and pytorch_model.bin."""
    folder = os.path.join(out, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    torch.save(state, os.path.join(folder, "pytorch_model.bin"))


def load_folders(*folders):
    """The first folder's config.json, then each folder's weights."""
    with open(os.path.join(folders[0], "config.json")) as f:
        config = json.load(f)
    return (config, *(torch.load(os.path.join(f, "pytorch_model.bin")) for f in folders))


def main(save, check):
    """A Hugging Face script's command line: save <out_dir> <seed> [NAME...] | check <model> <permuted> <restored>."""
    if sys.argv[1] == "save":
        save(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
