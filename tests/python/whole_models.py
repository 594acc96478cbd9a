#!/usr/bin/python3
"""Whole models pickled by torch.save(model), beside their state dicts (run by the Java tests with /usr/bin/python3).

    whole_models.py <out_dir> <seed>

For each model NAME, <out_dir>/NAME-model.pt is torch.save(model) (the module objects pickled, as users often save
them) and NAME-sd.pt is torch.save(model.state_dict()): torchvision's resnet18 (Sequential, BasicBlock),
mobilenet_v3_small (functools.partial norm layers, Hardswish, SqueezeExcitation) and efficientnet_b0
(StochasticDepth), torch.nn.Transformer (its layers keep torch.nn.functional.relu as an attribute), and a network of
this file's own (its class in __main__) with a non-persistent buffer, a layer without bias (None in _parameters), and
a submodule shared by two attributes; wrapped-model.pt is {"epoch": 3, "best_acc": a numpy float64, "model": that
network} and wrapped-sd.pt its state dict. Exit code 3 without torch or torchvision.
"""
import os
import sys

try:
    import torch
    import numpy
    import torchvision
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(3)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 10)
        self.head = self.fc  # shared: state_dict lists it under both names
        self.register_buffer("scratch", torch.zeros(3), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.conv(x)).mean((2, 3)))


out, seed = sys.argv[1], int(sys.argv[2])
torch.manual_seed(seed)
models = {"resnet18": torchvision.models.resnet18(), "mobilenet_v3_small": torchvision.models.mobilenet_v3_small(),
          "efficientnet_b0": torchvision.models.efficientnet_b0(), "net": Net(),
          "transformer": torch.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                              dim_feedforward=32)}
for name, m in models.items():
    torch.save(m, os.path.join(out, name + "-model.pt"))
    torch.save(m.state_dict(), os.path.join(out, name + "-sd.pt"))
torch.save({"epoch": 3, "best_acc": numpy.float64(0.875), "model": models["net"]}, os.path.join(out, "wrapped-model.pt"))
torch.save(models["net"].state_dict(), os.path.join(out, "wrapped-sd.pt"))
