"""Writes torchvision reference models for lady.model's TorchvisionParityTest.

Usage: python3 torchvision_reference.py OUTDIR
For each case, OUTDIR/<case>/ gets manifest.txt (one line per tensor: name dtype dims...),
one raw little-endian file per tensor (<index>.bin), input.bin (2 x 3 x 32 x 32 float32) and
logits.bin (eval mode). BN statistics are randomized so that they matter.
"""
import os
import sys

import torch
from torch import nn
import torchvision
from torchvision.models.vgg import VGG, make_layers, cfgs


def vgg16_bn_eighth():
    cfg = [c if c == 'M' else c // 8 for c in cfgs['D']]
    m = VGG(make_layers(cfg, batch_norm=True), num_classes=10, init_weights=True)
    m.classifier[0] = nn.Linear(64 * 49, 512)
    m.classifier[3] = nn.Linear(512, 512)
    m.classifier[6] = nn.Linear(512, 10)
    return m


def vgg16_cifar_eighth():
    cfg = [c if c == 'M' else c // 8 for c in cfgs['D']]
    m = VGG(make_layers(cfg, batch_norm=False), num_classes=10, init_weights=True)
    m.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    m.classifier[0] = nn.Linear(64, 64)
    m.classifier[3] = nn.Linear(64, 64)
    m.classifier[6] = nn.Linear(64, 10)
    return m


def resnet18():
    return torchvision.models.resnet18(num_classes=10)


def resnet18_cifar():
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    m.maxpool = nn.Identity()
    return m


CASES = {'vgg16_bn': vgg16_bn_eighth, 'vgg16_cifar': vgg16_cifar_eighth,
         'resnet18': resnet18, 'resnet18_cifar': resnet18_cifar}


def write(t, path):
    t.detach().contiguous().numpy().tofile(path)


def main(out):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    for name, make in CASES.items():
        m = make()
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 1.5)
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)
                    mod.num_batches_tracked.fill_(7)
        m.eval()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'manifest.txt'), 'w') as f:
            for i, (k, v) in enumerate(m.state_dict().items()):
                f.write(' '.join([k, 'int64' if v.dtype == torch.int64 else 'float32'] + [str(s) for s in v.shape]) + '\n')
                write(v, os.path.join(d, '%d.bin' % i))
        write(x, os.path.join(d, 'input.bin'))
        with torch.no_grad():
            write(m(x), os.path.join(d, 'logits.bin'))


if __name__ == '__main__':
    main(sys.argv[1])
