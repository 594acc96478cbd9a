#!/usr/bin/python3
"""The CIFAR ResNets of kuangliu's pytorch-cifar (models/resnet.py, MIT license: the classes are written out below as
that file defines them), which most CIFAR-10 research code trains, for the Java tests (run with /usr/bin/python3).

    cifar_resnets.py save <out_dir> <seed>
        <out_dir>/resnet18.pt and resnet50.pt: state dicts with random weights, norm affine parameters drawn and the
        batch-norm statistics measured on random images first (train mode, cumulative), so that the outputs depend on
        the input.
    cifar_resnets.py check <model.pt> <permuted.pt> <restored.pt>
        The permuted state dict must compute the original's outputs (relative 1e-4) with at least 95 % of its weight
        tensors moved, a wrong permutation of it (two rows of conv1 swapped) must not, and the restored one must equal
        the original tensor for tensor. Exit 1 with the reason.

Exit code 3 without torch.
"""
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super(Bottleneck, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super(ResNet, self).__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.layer4(out)
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


MODELS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet50": (Bottleneck, [3, 4, 6, 3])}


def model_of(state):
    return ResNet(*MODELS["resnet50" if "layer1.0.conv3.weight" in state else "resnet18"])


def save(out, seed):
    torch.manual_seed(seed)
    for name, (block, blocks) in MODELS.items():
        m = ResNet(block, blocks)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)
                    mod.reset_running_stats()
                    mod.momentum = None
            m.train()
            for _ in range(3):
                m(torch.rand(8, 3, 32, 32) * 2 - 1)
        torch.save(m.eval().state_dict(), f"{out}/{name}.pt")


def check(original, permuted, restored):
    sa, sb, sc = (torch.load(f) for f in (original, permuted, restored))
    m = model_of(sa).eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = m(x)
        m.load_state_dict(sb)
        yb = m(x)
        w = m.conv1.weight
        w[[0, 1]] = w[[1, 0]]
        yw = m(x)
    scale = ya.abs().max().item()
    diff, wrong = (ya - yb).abs().max().item() / scale, (ya - yw).abs().max().item() / scale
    weights = [k for k in sa if sa[k].dim() > 0 and sa[k].is_floating_point() and sa[k].unique().numel() > 1]
    moved = sum(1 for k in weights if not torch.equal(sa[k], sb[k]))
    problems = []
    if not diff < 1e-4:
        problems.append(f"the permuted model's outputs differ by {diff:.3g} of their scale")
    if moved < 0.95 * len(weights):
        problems.append(f"only {moved} of {len(weights)} weight tensors moved")
    if not wrong > 1e-3:
        problems.append(f"a wrong permutation changes the outputs by {wrong:.3g} only")
    if list(sa) != list(sc) or not all(torch.equal(sa[k], sc[k]) for k in sa):
        problems.append("the restored state dict is not the original's")
    print(f"relative difference {diff:.3g}, {moved} of {len(weights)} tensors moved, wrong permutation {wrong:.3g}")
    if problems:
        print("; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2], int(sys.argv[3]))
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
