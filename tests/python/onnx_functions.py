#!/usr/bin/python3
"""Models exported by PyTorch 1.13 with modules as ONNX local functions (run by the Java tests with /usr/bin/python3).

    onnx_functions.py <out_dir> <seed>

A small torchvision ResNet (BasicBlock, one block per stage, 10 classes, 32 x 32 inputs), exported three times from
the same weights: flat.onnx (no functions), blocks.onnx (export_modules_as_functions={BasicBlock}: each block a call
of a function whose weights are inputs of the call) and all.onnx (export_modules_as_functions=True: every module a
function, calls nested down to each Conv and ReLU). Batch norm folded (training=EVAL), opset 15. Exit code 3 without
torch, torchvision or onnx.
"""
import os
import sys

try:
    import onnx  # noqa: F401  (the exporter needs it)
    import torch
    from torchvision.models.resnet import BasicBlock, ResNet
except ImportError as e:
    print(f"cannot import torch/torchvision/onnx: {e}")
    sys.exit(3)

out, seed = sys.argv[1], int(sys.argv[2])
torch.manual_seed(seed)
state = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10).state_dict()
for k, v in state.items():  # batch-norm statistics of their own per channel: a wrong permutation shows
    if k.endswith("running_mean"):
        v.normal_(0, 0.1)
    elif k.endswith("running_var"):
        v.uniform_(0.5, 1.5)
x = torch.randn(2, 3, 32, 32)
for name, functions in (("flat", False), ("blocks", {BasicBlock}), ("all", True)):
    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)  # a fresh module per export (the exporter keeps state)
    model.load_state_dict(state)
    model.eval()
    torch.onnx.export(model, x, os.path.join(out, name + ".onnx"), opset_version=15, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.EVAL, export_modules_as_functions=functions)
