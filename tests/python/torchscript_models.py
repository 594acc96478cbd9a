#!/usr/bin/python3
"""TorchScript archives (torch.jit.save) for the Java tests (run with /usr/bin/python3).

    torchscript_models.py save <out_dir> <seed>
        For each model NAME, <out_dir>/NAME-ts.pt is torch.jit.save of it and NAME-sd.pt is
        torch.save(torch.jit.load(NAME-ts.pt).state_dict()), what Lady must read from the archive:
        resnet18-script / resnet18-trace (torchvision's ResNet18, scripted / traced), mnv3-script (MobileNetV3-Small,
        scripted: SE blocks, Hardswish), net-script (a network of this file's own: a parameter of the top module, a
        non-persistent buffer (TorchScript keeps it in its state dict), a plain tensor attribute (in no state dict), a
        Sequential, a list attribute), tied-script (a layer whose weight is another's: one storage, two names).
        Each model's normalization statistics are measured on random data first (train mode), and its affine
        parameters drawn, so that a permutation that is wrong changes its outputs.
    torchscript_models.py check <original> <permuted> <restored>
        Loads the three archives with torch.jit.load: function_check.py's verdict on them (the tensors counted: the
        weights that are not constant), the wrong permutation two rows of the first weight swapped.

Exit code 3 without torch or torchvision.
"""
import sys

try:
    import function_check
    import torch
    import torchvision
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(3)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.rand(8) + 0.5)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.body = torch.nn.Sequential(torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Conv2d(8, 6, 1))
        self.fc = torch.nn.Linear(6, 10)
        self.register_buffer("shift", torch.randn(8), persistent=False)
        self.register_buffer("count", torch.zeros(1))
        self.constant = torch.ones(3)
        self.sizes = [1, 2, 3]

    def forward(self, x):
        h = self.conv(x) * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1) + self.constant.sum()
        return self.fc(self.body(h).mean((2, 3)))


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 16)
        self.b = torch.nn.Linear(16, 16)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def calibrated(model, shape):
    """The model with its normalization statistics measured on random data and its norms' affine parameters drawn."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.reset_running_stats()
                m.momentum = None  # the statistics of all the batches below, not a running blend with the defaults
        model.train()
        for _ in range(4):
            model(torch.randn(*shape))
    return model.eval()


def save(out, seed):
    torch.manual_seed(seed)
    image = (4, 3, 32, 32)
    r18 = calibrated(torchvision.models.resnet18(num_classes=10), image)
    mnv3 = calibrated(torchvision.models.mobilenet_v3_small(num_classes=10), image)
    net = calibrated(Net(), image)
    models = {
        "resnet18-script": torch.jit.script(r18),
        "resnet18-trace": torch.jit.trace(r18, torch.randn(*image)),
        "mnv3-script": torch.jit.script(mnv3),
        "net-script": torch.jit.script(net),
        "tied-script": torch.jit.script(Tied().eval()),
    }
    for name, m in models.items():
        torch.jit.save(m, f"{out}/{name}-ts.pt")
        torch.save(torch.jit.load(f"{out}/{name}-ts.pt").state_dict(), f"{out}/{name}-sd.pt")


def check(original, permuted, restored):
    a, b, c = (torch.jit.load(f) for f in (original, permuted, restored))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ya, yb = a(x), b(x)
        weights = [k for k in sa if k.endswith("weight") and sa[k].dim() > 0 and sa[k].unique().numel() > 1]
        first = weights[0]
        wrong = sb[first].clone()
        wrong[[0, 1]] = wrong[[1, 0]]
        saved = sb[first].clone()
        getattr_path(b, first).copy_(wrong)
        yw = b(x)
        getattr_path(b, first).copy_(saved)
    function_check.verdict(sa, sb, sc, ya, yb, yw, weights, f"a wrong permutation ({first} rows 0 and 1 swapped)")


def getattr_path(module, name):
    for part in name.split("."):
        module = getattr(module, part)
    return module


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2], int(sys.argv[3]))
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
