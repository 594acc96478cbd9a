#!/usr/bin/python3
"""Python side of lady.train.PythonParityTest (run by the Java test with /usr/bin/python3).

    vgg_parity.py <params.json> <out_dir>

params.json (written by the Java test, so that every number has one home in Lady):
  train, test      the digits in CIFAR-10 binary format (.bin or .bin.gz)
  mean, std        per-channel normalization (Paper.CIFAR_MEAN / CIFAR_STD)
  width            VGG16 channel multiplier; classes
  train_images, batch_size, steps, lr, momentum, weight_decay, seed
  logit_images     how many test images' logits to write

Builds Lady's vgg16_bn_cifar in PyTorch (torchvision's VGG16-BN features with the width multiplier,
adaptive average pool to 1x1, classifier 512w-512w-K with torchvision's names classifier.0/3/6),
trains it for a few SGD steps on the first training digits (no augmentation), evaluates it on the
whole test split in eval mode, and writes to <out_dir>:
  model.pt       torch.save(model.state_dict()) (an OrderedDict, as users write it)
  logits.pt      torch.save({"logits": first logit_images test logits})
  result.json    {"error_pct", "images", "torch"}
Exit code 0 on success; 3 (NO_TORCH_EXIT) when torch or torchvision cannot be imported.
"""
import gzip
import json
import os
import sys

NO_TORCH_EXIT = 3
try:
    import torch
    from torch import nn
    from torchvision.models.vgg import cfgs, make_layers
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(NO_TORCH_EXIT)

RECORD = 1 + 3 * 32 * 32  # CIFAR-10 binary: one label byte, then 3 planes of 32 x 32


def read_digits(path, limit, mean, std):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    n = len(raw) // RECORD
    if limit is not None:
        n = min(n, limit)
    data = torch.frombuffer(bytearray(raw[: n * RECORD]), dtype=torch.uint8).view(n, RECORD)
    labels = data[:, 0].long()
    images = data[:, 1:].float().div(255).view(n, 3, 32, 32)
    images = (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return images, labels


class CifarVgg(nn.Module):
    def __init__(self, width, classes, batch_norm=True):
        super().__init__()
        cfg = [v if v == "M" else int(v * width) for v in cfgs["D"]]
        self.features = make_layers(cfg, batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        hidden = int(512 * width)
        self.classifier = nn.Sequential(
            nn.Linear(cfg[-2], hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def setup():
    """The common start of the test scripts: (params from argv[1], out dir argv[2], the seeded CifarVgg;
    params' "batch_norm": false builds Lady's vgg16_cifar instead of vgg16_bn_cifar)."""
    with open(sys.argv[1]) as f:
        p = json.load(f)
    torch.manual_seed(p["seed"])
    torch.set_num_threads(p.get("threads", 1))
    return p, sys.argv[2], CifarVgg(p["width"], p["classes"], p.get("batch_norm", True))


def sgd_steps(model, x, y, p, steps, order=None):
    """steps SGD steps (p's lr, momentum, weight_decay, batch_size) over x, y taken in order (or the index
    order given), train mode; returns the last loss. The model is left in eval mode."""
    sgd = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"], weight_decay=p["weight_decay"])
    model.train()
    b = p["batch_size"]
    loss = torch.zeros(())
    for step in range(steps):
        i = (step * b) % x.shape[0]
        idx = torch.arange(i, min(i + b, x.shape[0])) if order is None else order[i:i + b]
        sgd.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        sgd.step()
    model.eval()
    return loss


def main():
    p, out, model = setup()
    x, y = read_digits(p["train"], p["train_images"], p["mean"], p["std"])
    loss = sgd_steps(model, x, y, p, p["steps"])
    b = p["batch_size"]
    tx, ty = read_digits(p["test"], None, p["mean"], p["std"])
    wrong = 0
    logits = []
    with torch.no_grad():
        for i in range(0, tx.shape[0], b):
            out_b = model(tx[i:i + b])
            wrong += int((out_b.argmax(1) != ty[i:i + b]).sum())
            logits.append(out_b)
    logits = torch.cat(logits)[: p["logit_images"]].clone()
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
    torch.save({"logits": logits}, os.path.join(out, "logits.pt"))
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"error_pct": 100.0 * wrong / tx.shape[0], "images": tx.shape[0], "torch": torch.__version__,
                   "final_loss": float(loss)}, f)


if __name__ == "__main__":
    main()
