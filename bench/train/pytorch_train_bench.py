#!/usr/bin/python3
"""PyTorch side of the training/inference benchmark (bench/train/README in RESULTS.md).

Same work as lady.bench.train.TrainBench: VGG16 with the CIFAR head (13 conv 3x3 + ReLU, 5 max-pools,
no batch norm, adaptive average pool 1x1, classifier 512-512-10 with dropout: Lady's vgg16_cifar), batch 128 of random 3x32x32 inputs, SGD (lr 0.01,
momentum 0.9, weight decay 5e-4), cross-entropy. Median of N timed batches after warm-up.
Prints one JSON line. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class Vgg16Cifar(nn.Module):
    def __init__(self, width=1.0, classes=10):
        super().__init__()
        layers, c = [], 3
        for v in CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                w = max(1, int(round(v * width)))
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True)]
                c = w
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        h = max(1, int(round(512 * width)))
        self.classifier = nn.Sequential(nn.Linear(c, h), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(h, h), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(h, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--batches", type=int, default=11)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--width", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Vgg16Cifar(a.width)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 10, (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def timed(fn):
        for _ in range(a.warmup):
            fn()
        times, cpu = [], []
        for _ in range(a.batches):
            t, c = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return a.batch / statistics.median(times), statistics.median(cpu)

    model.train()
    train_ips, train_cpu = timed(train_step)
    model.eval()

    def infer():
        with torch.no_grad():
            return model(x).sum().item()

    infer_ips, infer_cpu = timed(infer)
    print(json.dumps({"engine": "pytorch " + torch.__version__, "threads": torch.get_num_threads(),
                      "batch": a.batch, "batches": a.batches, "width": a.width,
                      "train_img_s": round(train_ips, 1), "infer_img_s": round(infer_ips, 1),
                      "train_cpu_s_per_batch": round(train_cpu, 3), "infer_cpu_s_per_batch": round(infer_cpu, 3)}))


if __name__ == "__main__":
    main()
