"""The baseline of bench/io/run.sh: the whole-network resync of torchvision VGG16 in PyTorch + scipy.

Usage: /usr/bin/python3 resync_torch.py REFERENCE.pt SUSPECT.pt OUT.pt [THREADS]

The same work as `lady resync` (method.md section 4, exact assignment): read both checkpoints; for each
group in topological order (the 13 convolutions, then classifier.0 and classifier.3), the cosine
similarity of the producer rows (weight rows; the suspect's input columns already re-ordered by the
previous group), the maximum-similarity assignment (scipy's linear_sum_assignment), the match applied
to the suspect (producer weight and bias rows, the next layer's input columns, in blocks of 7 x 7 for
classifier.0); then the resynced suspect is saved. Prints one JSON line: seconds per phase, Psi-free
checks (every tensor equal to the reference when the suspect is a pure permutation).
"""
import json
import sys
import time

t_start = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

t_import = time.time()

ref_path, sus_path, out_path = sys.argv[1:4]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
torch.set_num_threads(threads)

t0 = time.time()
ref = torch.load(ref_path)
sus = torch.load(sus_path)
t_read = time.time() - t0

convs = [k[: -len(".weight")] for k in ref if k.startswith("features.") and k.endswith(".weight")]
producers = convs + ["classifier.0", "classifier.3"]
consumers = convs[1:] + ["classifier.0", "classifier.3", "classifier.6"]

t0 = time.time()
with torch.no_grad():
    for p, c in zip(producers, consumers):
        a = ref[p + ".weight"].reshape(ref[p + ".weight"].shape[0], -1)
        b = sus[p + ".weight"].reshape(a.shape[0], -1)
        s = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).t()
        rows, cols = linear_sum_assignment(s.numpy(), maximize=True)
        match = torch.from_numpy(cols[np.argsort(rows)])
        sus[p + ".weight"] = sus[p + ".weight"].index_select(0, match).contiguous()
        sus[p + ".bias"] = sus[p + ".bias"].index_select(0, match).contiguous()
        w = sus[c + ".weight"]
        n = match.numel()
        block = w.shape[1] // n  # 49 for classifier.0 (512 channels x 7 x 7), else 1
        v = w.reshape(w.shape[0], n, block, *w.shape[2:])
        sus[c + ".weight"] = v.index_select(1, match).reshape(w.shape).contiguous()
t_compute = time.time() - t0

t0 = time.time()
torch.save(sus, out_path)
t_write = time.time() - t0

restored = all(torch.equal(ref[k], sus[k]) for k in ref)
print(json.dumps({"import_s": t_import - t_start, "read_s": t_read, "compute_s": t_compute, "write_s": t_write,
                  "restored": restored, "threads": threads, "torch": torch.__version__}))
