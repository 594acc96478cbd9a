#!/usr/bin/python3
"""Hugging Face's ResNet (transformers' modeling_resnet.py: ResNetForImageClassification, model type "resnet"; the
modules are written out below as that file defines them, transformers not being installable here), for the Java tests
(run with /usr/bin/python3).

    hf_resnet.py save <out_dir> <seed> [NAME...]
        <out_dir>/resnet50hf/ and resnet18hf/ (or only the NAMEs): Hugging Face folders (config.json and pytorch_model.bin) of ResNet-50
        (bottleneck layers, depths 3-4-6-3) and ResNet-18 (basic layers), 10 labels, random weights with norm affine
        parameters drawn and the batch-norm statistics measured on random images first.
    hf_resnet.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights, the wrong permutation two rows of the stem's
        convolution swapped.

Exit code 3 without torch.
"""
import sys

try:
    import function_check
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


class ResNetConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, activation="relu"):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                                     padding=kernel_size // 2, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU() if activation is not None else nn.Identity()

    def forward(self, x):
        return self.activation(self.normalization(self.convolution(x)))


class ResNetEmbeddings(nn.Module):
    def __init__(self, num_channels, embedding_size):
        super().__init__()
        self.embedder = ResNetConvLayer(num_channels, embedding_size, kernel_size=7, stride=2)
        self.pooler = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        return self.pooler(self.embedder(x))


class ResNetShortCut(nn.Module):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.normalization(self.convolution(x))


class ResNetBasicLayer(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        should_apply_shortcut = in_channels != out_channels or stride != 1
        self.shortcut = ResNetShortCut(in_channels, out_channels, stride=stride) if should_apply_shortcut else nn.Identity()
        self.layer = nn.Sequential(ResNetConvLayer(in_channels, out_channels, stride=stride),
                                   ResNetConvLayer(out_channels, out_channels, activation=None))
        self.activation = nn.ReLU()

    def forward(self, x):
        return self.activation(self.layer(x) + self.shortcut(x))


class ResNetBottleNeckLayer(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, reduction=4):
        super().__init__()
        should_apply_shortcut = in_channels != out_channels or stride != 1
        reduces_channels = out_channels // reduction
        self.shortcut = ResNetShortCut(in_channels, out_channels, stride=stride) if should_apply_shortcut else nn.Identity()
        self.layer = nn.Sequential(ResNetConvLayer(in_channels, reduces_channels, kernel_size=1),
                                   ResNetConvLayer(reduces_channels, reduces_channels, stride=stride),
                                   ResNetConvLayer(reduces_channels, out_channels, kernel_size=1, activation=None))
        self.activation = nn.ReLU()

    def forward(self, x):
        return self.activation(self.layer(x) + self.shortcut(x))


class ResNetStage(nn.Module):
    def __init__(self, layer, in_channels, out_channels, stride=2, depth=2):
        super().__init__()
        self.layers = nn.Sequential(layer(in_channels, out_channels, stride=stride),
                                    *[layer(out_channels, out_channels) for _ in range(depth - 1)])

    def forward(self, x):
        return self.layers(x)


class ResNetEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        layer = ResNetBottleNeckLayer if c["layer_type"] == "bottleneck" else ResNetBasicLayer
        self.stages = nn.ModuleList([ResNetStage(layer, c["embedding_size"], c["hidden_sizes"][0], stride=1,
                                                 depth=c["depths"][0])])
        for (i, o), d in zip(zip(c["hidden_sizes"], c["hidden_sizes"][1:]), c["depths"][1:]):
            self.stages.append(ResNetStage(layer, i, o, depth=d))

    def forward(self, x):
        for s in self.stages:
            x = s(x)
        return x


class ResNetModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embedder = ResNetEmbeddings(c["num_channels"], c["embedding_size"])
        self.encoder = ResNetEncoder(c)
        self.pooler = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.pooler(self.encoder(self.embedder(x)))


class ResNetForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resnet = ResNetModel(c)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c["hidden_sizes"][-1], len(c["id2label"])))

    def forward(self, x):
        return self.classifier(self.resnet(x))


def config(layer_type, depths, hidden_sizes):
    return {"model_type": "resnet", "architectures": ["ResNetForImageClassification"], "num_channels": 3,
            "embedding_size": 64, "hidden_sizes": hidden_sizes, "depths": depths, "layer_type": layer_type,
            "hidden_act": "relu", "downsample_in_first_stage": False, "downsample_in_bottleneck": False,
            "id2label": {str(i): f"LABEL_{i}" for i in range(10)}, "torch_dtype": "float32"}


MODELS = {"resnet50hf": config("bottleneck", [3, 4, 6, 3], [256, 512, 1024, 2048]),
          "resnet18hf": config("basic", [2, 2, 2, 2], [64, 128, 256, 512])}


def save(out, seed, only=()):
    torch.manual_seed(seed)
    for name, c in MODELS.items():
        if only and name not in only:
            continue
        m = ResNetForImageClassification(c)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)
                    mod.reset_running_stats()
                    mod.momentum = None
            m.train()
            for _ in range(3):
                m(torch.rand(8, 3, 64, 64) * 2 - 1)
        function_check.save_folder(out, name, c, m.eval().state_dict())


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = ResNetForImageClassification(c).eval()
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = m(x)
        m.load_state_dict(sb)
        yb = m(x)
        w = m.resnet.embedder.embedder.convolution.weight
        w[[0, 1]] = w[[1, 0]]
        yw = m(x)
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
