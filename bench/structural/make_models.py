#!/usr/bin/python3
"""Random checkpoints for bench/structural/run.sh (Debian's PyTorch 1.13): torchvision VGG16, and VGG16 with the
CIFAR head without and with batch norm (full width), biases N(0, 0.05), batch-norm statistics random but healthy.

    make_models.py OUT_DIR
"""
import os
import sys

import torch
from torch import nn
from torchvision.models import vgg16
from torchvision.models.vgg import cfgs, make_layers


class Cifar(nn.Module):
    def __init__(self, bn):
        super().__init__()
        self.features = make_layers(cfgs["D"], batch_norm=bn)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(), nn.Linear(512, 512),
                                        nn.ReLU(True), nn.Dropout(), nn.Linear(512, 10))


def randomize(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.bias.normal_(0, 0.05)
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.normal_(1, 0.2)
                mod.bias.normal_(0, 0.1)
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    torch.save(randomize(vgg16()).state_dict(), os.path.join(out, "vgg16.pt"))
    torch.save(randomize(Cifar(False)).state_dict(), os.path.join(out, "vgg16_cifar.pt"))
    torch.save(randomize(Cifar(True)).state_dict(), os.path.join(out, "vgg16_bn_cifar.pt"))


if __name__ == "__main__":
    main()
