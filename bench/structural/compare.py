#!/usr/bin/python3
"""Largest relative difference of a tensor of B from A's (max |a - b| / max |a|), as Lady's StateDiff measures it.

    compare.py A.pt B.pt
"""
import sys

import torch

a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert a.keys() == b.keys(), "different tensors"
worst = 0.0
for k in a:
    x, y = a[k].double(), b[k].double()
    assert x.shape == y.shape, f"{k}: shape {tuple(x.shape)} vs {tuple(y.shape)}"
    if x.numel():
        s = float(x.abs().max())
        d = float((x - y).abs().max())
        worst = max(worst, d / s if s else d)
print(f"every tensor of {sys.argv[2]} within {worst:.3g} of {sys.argv[1]}'s (relative to each tensor's largest value)")
