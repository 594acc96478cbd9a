#!/usr/bin/python3
"""Python side of lady.checkpoint.TorchInteropTest (run by the Java test with /usr/bin/python3).

    torch_roundtrip.py <dir>

<dir> holds what Lady wrote: net.pt (a state dict of make_golden.Net), mixed.pt (tensors of
every dtype) and expected.json ({file: {name: {"dtype", "shape", "sha256"}}}). This script
 1. loads both files with torch.load (weights_only=True where this PyTorch has it) and checks every
    tensor's dtype, shape and bytes against expected.json;
 2. checks net.pt's module versions (its OrderedDict's _metadata) are make_golden.Net's, loads it into
    make_golden.Net with load_state_dict(strict=True) and runs a forward pass;
 3. writes <dir>/from_python.pt with torch.save: every mixed.pt tensor transformed (floats x2,
    integers +1, bools negated), plus a transposed (non-contiguous) tensor "t" = arange(6).view(2,3).t().
Exit code 0 on success; a failed check raises with a message; exit code 3 (NO_TORCH_EXIT) when
torch cannot be imported, so the Java test can skip instead of failing.
"""
import collections
import hashlib
import inspect
import json
import os
import sys

NO_TORCH_EXIT = 3
try:
    import torch
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(NO_TORCH_EXIT)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DTYPE_NAMES, Net, raw_bytes  # noqa: E402


def load(path):
    if "weights_only" in inspect.signature(torch.load).parameters:
        return torch.load(path, weights_only=True)
    return torch.load(path)


def check(path, expected):
    sd = load(path)
    assert isinstance(sd, collections.OrderedDict), f"{path}: {type(sd)} is not an OrderedDict"
    assert list(sd.keys()) == list(expected.keys()), f"{path}: names {list(sd.keys())}"
    for name, want in expected.items():
        t = sd[name]
        assert DTYPE_NAMES[t.dtype] == want["dtype"], f"{path} {name}: dtype {t.dtype}"
        assert list(t.shape) == want["shape"], f"{path} {name}: shape {list(t.shape)}"
        got = hashlib.sha256(raw_bytes(t)).hexdigest()
        assert got == want["sha256"], f"{path} {name}: bytes differ"
    return sd


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "expected.json")) as f:
        expected = json.load(f)
    net_sd = check(os.path.join(d, "net.pt"), expected["net.pt"])
    mixed = check(os.path.join(d, "mixed.pt"), expected["mixed.pt"])

    net = Net()
    # the module versions PyTorch saved with the golden state dict came through Lady's rewrite
    want = Net().state_dict()._metadata
    assert getattr(net_sd, "_metadata", None) == want, f"_metadata {getattr(net_sd, '_metadata', None)} != {want}"
    net.load_state_dict(net_sd, strict=True)
    net.eval()
    with torch.no_grad():
        out = net(torch.ones(1, 3, 4, 4))
    assert out.shape == (1, 5) and torch.isfinite(out).all()

    back = collections.OrderedDict()
    for name, t in mixed.items():
        if t.dtype == torch.bool:
            back[name] = ~t
        elif t.dtype.is_floating_point:
            back[name] = t * 2
        else:
            back[name] = t + 1
    back["t"] = torch.arange(6, dtype=torch.float32).view(2, 3).t()
    torch.save(back, os.path.join(d, "from_python.pt"))
    print("ok", torch.__version__)


if __name__ == "__main__":
    main()
