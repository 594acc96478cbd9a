#!/usr/bin/python3
"""Loads permuted ONNX initializers (or a permuted state dict) back into the PyTorch model by name and checks
that it computes the function of the original (run by the Java tests with /usr/bin/python3).

    onnx_permuted_check.py <params.json> <result.json>

params.json: {"threads": N, "checks": [CHECK, ...]}, each CHECK:
  model       a name among onnx_export.py's models ("lady_net", "mobilenet_v3_small", "densenet121")
  classes     outputs of the model
  state       the original state dict (torch.save(model.state_dict()), written by onnx_export.py)
  input       the seeded input (float32, little-endian) and input_shape
  permuted    files to check: .onnx files (initializers by name, Identity aliases followed: an alias stands
              for the initializer it reads, as PyTorch's exporter shares equal parameters) or .pt state dicts

result.json, per permuted file (of every check): {"max_rel": largest |y' - y| over the largest |y| (y: the original model's
output on the input, y': with the loaded tensors), "weights": state-dict entries named *.weight,
"weights_moved": how many of those differ from the original, "tensors": floating-point entries,
"tensors_moved", "unmatched": state-dict entries the file does not hold (num_batches_tracked excepted)}.

Exit code 0 on success; 3 when torch, torchvision or onnx cannot be imported.
"""
import json
import os
import sys

NO_TORCH_EXIT = 3
try:
    import onnx
    from onnx import numpy_helper
    import torch
except ImportError as e:
    print(f"cannot import torch/onnx: {e}")
    sys.exit(NO_TORCH_EXIT)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_export import build  # noqa: E402


def onnx_tensors(path):
    """Initializers by name, plus every Identity output that stands for one (chains followed)."""
    g = onnx.load(path).graph
    values = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    grew = True
    while grew:
        grew = False
        for n in g.node:
            if n.op_type == "Identity" and n.input[0] in values and n.output[0] not in values:
                values[n.output[0]] = values[n.input[0]]
                grew = True
    return values


def main():
    with open(sys.argv[1]) as f:
        params = json.load(f)
    torch.set_num_threads(params.get("threads", 1))
    results = {}
    for p in params["checks"]:
        check(p, results)
    with open(sys.argv[2], "w") as f:
        json.dump(results, f, indent=1)


def check(p, results):
    original = torch.load(p["state"])
    model = build(p["model"], p["classes"])
    model.load_state_dict(original)
    model.eval()
    with open(p["input"], "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(p["input_shape"])
    with torch.no_grad():
        y = model(x)
    scale = float(y.abs().max())
    for path in p["permuted"]:
        loaded = onnx_tensors(path) if path.endswith(".onnx") else torch.load(path)
        state = {}
        unmatched = []
        for name, t in original.items():
            if name in loaded:
                state[name] = loaded[name].to(t.dtype).reshape(t.shape)
            else:
                if not name.endswith("num_batches_tracked"):
                    unmatched.append(name)
                state[name] = t
        model.load_state_dict(state)
        with torch.no_grad():
            y2 = model(x)
        floats = [n for n, t in original.items() if t.is_floating_point()]
        weights = [n for n in floats if n.endswith(".weight")]
        moved = [n for n in floats if not torch.equal(state[n], original[n])]
        results[path] = {
            "max_rel": float((y2 - y).abs().max()) / scale if scale > 0 else float("inf"),
            "weights": len(weights),
            "weights_moved": len([n for n in weights if n in moved]),
            "tensors": len(floats),
            "tensors_moved": len(moved),
            "unmatched": unmatched,
        }


if __name__ == "__main__":
    main()
