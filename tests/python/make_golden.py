#!/usr/bin/python3
"""Makes the golden checkpoints that lady.checkpoint's Java tests read (tests/resources/golden/).

Run with Debian's PyTorch (it lives only under /usr/bin/python3, not the pyenv python on PATH):

    /usr/bin/python3 tests/python/make_golden.py [output_dir]

Everything is seeded, and torch.save writes fixed zip timestamps, so a re-run with the same PyTorch
gives the same bytes (except legacy.pt, whose pickle holds random storage keys). The generated files are committed; re-run only to change them, and commit
the script, the files and expected.json together.

Files (the zip top-level folder is the file's stem, never "archive", to test that the reader
finds it from the "*/data.pkl" entry):
  state_dict.pt     torch.save(model.state_dict()): an OrderedDict, conv + bn + linear net
  plain_dict.pt     torch.save(dict(model.state_dict())): a plain dict
  authors.pt        {"model_state_dict": ..., "optimizer_state_dict": SGD state after one step,
                     "epoch": 3, "best_acc": 0.875}: the form the paper's authors save
  training_checkpoint.pt  {"model": ..., "optimizer": ..., "lr_scheduler": ..., "epoch": 3, "args": ...}: the
                    form torchvision's reference training scripts save
  whole_model.pt    torch.save(model): the module objects pickled (class __main__.Net), read as their state dict
  script_model.pt   torch.jit.save(torch.jit.script(model)): a TorchScript archive of that net, read as
                    torch.jit.load(...).state_dict()
  dtypes.pt         float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool tensors
  views.pt          a transposed (non-contiguous) tensor, and two tensors that are views into one
                    storage at different offsets (plus a narrowed view of a bigger storage)
  legacy.pt         the legacy (pre-1.6, non-zip) format
  dtypes.safetensors  the dtypes.pt tensors in safetensors form, written by an independent
                    writer below (the safetensors package is not installed here)
  expected.json     per file and tensor: dtype, shape, sum, the first elements and the SHA-256 of
                    the contiguous little-endian bytes; plus the torch version that made them
"""
import collections
import hashlib
import json
import os
import struct
import sys

import torch

DTYPE_NAMES = {
    torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.float64: "float64", torch.int64: "int64", torch.int32: "int32", torch.int16: "int16",
    torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}
SAFETENSORS_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
FIRST_ELEMENTS = 6


class Net(torch.nn.Module):
    """Small conv + bn + linear net (torchvision-like parameter names)."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: go through int16 bits
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def describe(t):
    flat = t.contiguous().reshape(-1)
    values = flat.to(torch.float64) if t.dtype != torch.bool else flat.to(torch.float64)
    return {
        "dtype": DTYPE_NAMES[t.dtype],
        "shape": list(t.shape),
        "sum": float(values.sum().item()),
        "first": [float(v) for v in values[:FIRST_ELEMENTS].tolist()],
        "sha256": hashlib.sha256(raw_bytes(t)).hexdigest(),
    }


def trained_net():
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(8, 3, 4, 4)
    y = torch.randint(0, 5, (8,))
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()  # gives momentum buffers and moves the BN running statistics
    return net, opt


def write_safetensors(path, tensors):
    """Independent safetensors writer: u64 LE header size, JSON header, raw data."""
    header = collections.OrderedDict()
    header["__metadata__"] = {"format": "pt", "made_by": "make_golden.py"}
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "resources", "golden")
    os.makedirs(out, exist_ok=True)
    expected = {"torch_version": torch.__version__, "files": {}}

    def save(name, obj, tensors, **kwargs):
        torch.save(obj, os.path.join(out, name), **kwargs)
        expected["files"][name] = {k: describe(v) for k, v in tensors.items()}

    net, opt = trained_net()
    sd = net.state_dict()
    save("state_dict.pt", sd, sd)
    save("plain_dict.pt", dict(sd), sd)
    save("authors.pt", {"model_state_dict": sd, "optimizer_state_dict": opt.state_dict(),
                        "epoch": 3, "best_acc": 0.875}, sd)
    save("training_checkpoint.pt", {"model": sd, "optimizer": opt.state_dict(), "lr_scheduler": {"last_epoch": 3},
                                    "epoch": 3, "args": {"lr": 0.1}}, sd)
    save("whole_model.pt", net, sd)
    script = os.path.join(out, "script_model.pt")
    torch.jit.save(torch.jit.script(net), script)
    expected["files"]["script_model.pt"] = {k: describe(v) for k, v in torch.jit.load(script).state_dict().items()}

    g = torch.Generator().manual_seed(1)
    base = torch.randn(3, 5, generator=g)
    dtypes = collections.OrderedDict([
        ("f16", (base * 3).to(torch.float16)),
        ("bf16", (base * 3).to(torch.bfloat16)),
        ("f64", base.to(torch.float64) / 7),
        ("i64", torch.arange(-6, 6, dtype=torch.int64).reshape(3, 4) * 1_000_000_007),
        ("i32", torch.arange(-5, 5, dtype=torch.int32) * 100_000),
        ("i16", torch.arange(-4, 4, dtype=torch.int16) * 1000),
        ("i8", torch.arange(-4, 4, dtype=torch.int8) * 30),
        ("u8", torch.arange(0, 250, 50, dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True, True])),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3)),
    ])
    save("dtypes.pt", dtypes, dtypes)
    write_safetensors(os.path.join(out, "dtypes.safetensors"), dtypes)
    expected["files"]["dtypes.safetensors"] = {k: describe(v) for k, v in dtypes.items()}

    whole = torch.arange(20, dtype=torch.float32) * 0.5
    views = collections.OrderedDict([
        ("transposed", torch.randn(4, 6, generator=g).t()),       # strides (1, 6)
        ("shared_a", whole[2:8].view(2, 3)),                        # offset 2
        ("shared_b", whole[10:]),                                   # offset 10, same storage
        ("strided", torch.randn(6, 8, generator=g)[1:5:2, ::3]),   # offset and steps
    ])
    assert not views["transposed"].is_contiguous()
    assert views["shared_a"].storage().data_ptr() == views["shared_b"].storage().data_ptr()
    save("views.pt", views, views)

    legacy = collections.OrderedDict([("w", torch.ones(2, 2))])
    save("legacy.pt", legacy, legacy, _use_new_zipfile_serialization=False)

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
