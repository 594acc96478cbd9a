"""The baseline of bench/families/run.sh: a whole-network resync in PyTorch + scipy, for any model Lady has a spec of.

Usage: /usr/bin/python3 resync_torch.py SPEC.json REFERENCE.pt SUSPECT.pt OUT.pt [THREADS]

SPEC.json is what `lady spec --model REFERENCE.pt --out SPEC.json` prints: the permutation groups, each a list of
members (a tensor, an axis, an offset, a length, a block: neuron j owns indices [offset + j*block, +block) of the
axis). The resync is the paper's, generalized as Lady does in its first pass (method.md section 4): for each group
in the spec's (topological) order, the producers' rows whose other axes are already aligned (all of them when none
is), one cosine similarity per producer (torch.nn.functional.normalize + mm), weighted by sqrt(d) and averaged,
the maximum-similarity assignment (scipy's linear_sum_assignment), and the match applied to every member of the
group in the suspect (index_select on its axis); then the suspect is saved. Lady does more per group (bias and
batch-norm values, the consumers' columns in a second pass, confidence margins, the verdict, the integrity check):
this baseline is the smallest work that restores an exact permuted copy.
Prints one JSON line: seconds per phase (compute also as process CPU time), and whether every tensor equals
the reference's (true for a pure permutation).
"""
import json
import math
import sys
import time

t_start = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

t_import = time.time()

spec_path, ref_path, sus_path, out_path = sys.argv[1:5]
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
torch.set_num_threads(threads)
groups = json.load(open(spec_path))["groups"]

t0 = time.time()
ref = torch.load(ref_path)
sus = torch.load(sus_path)
t_read = time.time() - t0

uses = {}  # tensor -> [(group, member)]
for g in groups:
    for m in g["members"]:
        uses.setdefault(m["tensor"], []).append((g["name"], m))


def ordered_by(g, m):
    """The groups ordering member m's slices besides g's neurons (Lady's EvidenceContext.orderedBy)."""
    out = set()
    for h, o in uses[m["tensor"]]:
        if o["axis"] != m["axis"]:
            out.add(h)
        elif h != g and o["offset"] < m["offset"] + m["length"] and m["offset"] < o["offset"] + o["length"]:
            out.add(h)
    return out


def rows(t, m, n):
    """Neuron j's values of member m, one row per neuron (n x d, float32)."""
    x = t.narrow(m["axis"], m["offset"], m["length"]).movedim(m["axis"], 0)
    return x.reshape(n, -1).float()


def apply(t, m, match):
    """t with member m's neuron slices re-ordered: new neuron j = old neuron match[j]."""
    axis, block = m["axis"], m["block"]
    index = torch.arange(t.shape[axis])
    inside = (match[:, None] * block + torch.arange(block)[None, :]).reshape(-1) + m["offset"]
    index[m["offset"]: m["offset"] + m["length"]] = inside
    return t.index_select(axis, index).contiguous()


t0 = time.time()
c0 = time.process_time()
solved = set()
names = {g["name"] for g in groups}
with torch.no_grad():
    for g in groups:
        n = g["size"]
        producers = [m for m in g["members"] if m["role"] == "producer_weight"]
        aligned = [m for m in producers
                   if all(h in solved or h not in names for h in ordered_by(g["name"], m))]
        s = None
        total = 0.0
        for m in aligned or producers:
            a = rows(ref[m["tensor"]], m, n)
            b = rows(sus[m["tensor"]], m, n)
            w = math.sqrt(a.shape[1])
            part = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).t()
            s = part * w if s is None else s + part * w
            total += w
        r, c = linear_sum_assignment((s / total).numpy(), maximize=True)
        match = torch.from_numpy(c[np.argsort(r)])
        for m in g["members"]:
            sus[m["tensor"]] = apply(sus[m["tensor"]], m, match)
        solved.add(g["name"])
t_compute = time.time() - t0
cpu_compute = time.process_time() - c0

t0 = time.time()
torch.save(sus, out_path)
t_write = time.time() - t0

restored = all(torch.equal(ref[k], sus[k]) for k in ref)
print(json.dumps({"import_s": t_import - t_start, "read_s": t_read, "compute_s": t_compute,
                  "compute_cpu_s": cpu_compute, "write_s": t_write, "restored": restored, "groups": len(groups),
                  "threads": threads, "torch": torch.__version__}))
