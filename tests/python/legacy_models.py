#!/usr/bin/python3
"""Checkpoints in PyTorch's legacy format (torch.save before 1.6, or _use_new_zipfile_serialization=False), each
beside the same object in the zip format (run by the Java tests with /usr/bin/python3).

    legacy_models.py <out_dir> <seed>

For each case NAME, <out_dir>/NAME-legacy.pt and NAME-zip.pt hold the same object: resnet18 (torchvision's ResNet18
state dict), checkpoint ({"state_dict": a VGG11's state dict, "epoch": 3, "optimizer": SGD's state}), whole
(torch.save(model) of a MobileNetV3-Small: its module objects), views (a transposed tensor, two views into one storage
at offsets, a strided slice) and dtypes (float16, bfloat16, float64, int64, int32, int8, uint8, bool, a scalar).
Exit code 3 without torch or torchvision.
"""
import collections
import sys

try:
    import torch
    import torchvision
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(3)

out, seed = sys.argv[1], int(sys.argv[2])
torch.manual_seed(seed)
g = torch.Generator().manual_seed(seed)

vgg = torchvision.models.vgg11(num_classes=10)
opt = torch.optim.SGD(vgg.parameters(), lr=0.1, momentum=0.9)
vgg(torch.randn(2, 3, 32, 32)).sum().backward()
opt.step()
whole = torch.linspace(0, 1, 40)
cases = {
    "resnet18": torchvision.models.resnet18(num_classes=10).state_dict(),
    "checkpoint": {"state_dict": vgg.state_dict(), "epoch": 3, "optimizer": opt.state_dict()},
    "whole": torchvision.models.mobilenet_v3_small(num_classes=10),
    "views": collections.OrderedDict([
        ("transposed", torch.randn(5, 7, generator=g).t()),
        ("shared_a", whole[3:15].view(3, 4)),
        ("shared_b", whole[20:]),
        ("strided", torch.randn(8, 9, generator=g)[1:7:2, ::4]),
    ]),
    "dtypes": collections.OrderedDict([
        ("f16", torch.randn(3, 4, generator=g).half()),
        ("bf16", torch.randn(3, 4, generator=g).bfloat16()),
        ("f64", torch.randn(5, generator=g).double()),
        ("i64", torch.arange(-6, 6) * 1_000_000_007),
        ("i32", torch.arange(-5, 5, dtype=torch.int32)),
        ("i8", torch.arange(-4, 4, dtype=torch.int8) * 30),
        ("u8", torch.arange(0, 250, 50, dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(2.5)),
    ]),
}
for name, obj in cases.items():
    torch.save(obj, f"{out}/{name}-legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(obj, f"{out}/{name}-zip.pt")
