#!/usr/bin/python3
"""Python side of lady.model.PythonFamiliesTest (run by the Java test with /usr/bin/python3).

    family_models.py make  <params.json> <out_dir>
    family_models.py check <params.json> <out_dir> FILE...

params.json (written by the Java test): arch (a torchvision constructor name: resnet50,
mobilenet_v3_large, mobilenet_v3_small, vit_b_16, deeplabv3_resnet50, densenet121, ...), classes, size
(side of the probe images), kwargs (optional: the constructor's other keyword arguments), batch (probe images), bn_batches (train-mode batches that set the batch-norm
statistics), seed, threads, and for a small ViT "vit": VisionTransformer's keyword arguments (image_size,
patch_size, num_layers, num_heads, hidden_dim, mlp_dim: the same family as torchvision's vit_b_16 with
fewer, narrower blocks), and for a video ResNet (r3d_18, mc3_18, r2plus1d_18) "frames": its probes are clips of that
many frames of side size.

make: builds the model with torchvision 0.14's own classes, draws every parameter at random (weights
normal with std 1/sqrt(fan_in), norm weights uniform in [0.5, 1.5), biases, norm biases, class token and
position embedding normal, ConvNeXt's layer scales normal with std 1), then runs bn_batches batches of structured images in train mode with every
batch norm's momentum None (cumulative averages), so that the running statistics match the activations and
the outputs depend on the input (with torchvision's initial statistics a MobileNet answers nearly the same
for every image, and a function check could not fail). Writes to <out_dir>:
  model.pt   torch.save(model.state_dict())
  probe.pt   torch.save({"input": images, "<output name>": eval-mode output, ...}) (outputs "out" and "aux"
             for a segmentation model, "out" otherwise), and "f64:<output name>": the same in float64

check: loads every FILE into the same model (strict) and writes <out_dir>/check.json, per file:
  rel_diff   max over outputs of max|output - probe output| / max|probe output|, in float64
  changed    parameters of rank >= 1 that differ from model.pt's; total: how many there are
  unchanged  the names of the others
Exit code 0 on success; 3 when torch or torchvision cannot be imported.
"""
import json
import math
import os
import sys

NO_TORCH_EXIT = 3
try:
    import torch
    from torch import nn
    import torchvision
    from torchvision.models import segmentation
    from torchvision.models.vision_transformer import VisionTransformer
except ImportError as e:
    print(f"cannot import torch/torchvision: {e}")
    sys.exit(NO_TORCH_EXIT)


# torchvision's detectors on a ResNet-50 feature pyramid (lady.model.DetectionFamily) and single-shot ones (SsdFamily)
DETECTORS = ("fasterrcnn_", "maskrcnn_", "keypointrcnn_", "retinanet_", "fcos_", "ssd300_", "ssdlite320_")


def build(p):
    arch, classes = p["arch"], p["classes"]
    if arch.startswith(DETECTORS):  # "frozen": FrozenBatchNorm2d in the backbone, as torchvision's pretrained ones have
        from torchvision.models import detection
        model = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=classes)
        if p.get("frozen"):
            freeze(model.backbone.body)
        return model
    if arch.startswith(("deeplabv3", "fcn_")):
        return getattr(segmentation, arch)(weights=None, weights_backbone=None, num_classes=classes, aux_loss=True)
    if arch.startswith("lraspp"):
        return getattr(segmentation, arch)(weights=None, weights_backbone=None, num_classes=classes)
    if "vit" in p:
        return VisionTransformer(num_classes=classes, **p["vit"])
    if "resnext" in p:  # torchvision's ResNet class with grouped bottlenecks, small: {"blocks", "groups", "width_per_group"}
        from torchvision.models.resnet import Bottleneck, ResNet
        r = p["resnext"]
        return ResNet(Bottleneck, r["blocks"], num_classes=classes, groups=r["groups"],
                      width_per_group=r["width_per_group"])
    if "swin" in p:  # torchvision's SwinTransformer class, small: "swin" holds its keyword arguments; "swin_v2": V2's blocks
        from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2
        v2 = dict(block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2) if p.get("swin_v2") else {}
        return SwinTransformer(num_classes=classes, stochastic_depth_prob=0.0, **p["swin"], **v2)
    if "maxvit" in p:  # torchvision's MaxVit class, small: "maxvit" holds its keyword arguments (input_size from size)
        from torchvision.models.maxvit import MaxVit
        return MaxVit(input_size=(p["size"], p["size"]), num_classes=classes, stochastic_depth_prob=0.0, **p["maxvit"])
    if "convnext" in p:  # torchvision's ConvNeXt class, small: "convnext" lists [input_channels, out_channels, num_layers]
        from torchvision.models.convnext import CNBlockConfig, ConvNeXt
        return ConvNeXt([CNBlockConfig(*c) for c in p["convnext"]], num_classes=classes)
    if "frames" in p:  # torchvision's video ResNets (r3d_18, mc3_18, r2plus1d_18): clips of that many frames
        from torchvision.models import video
        return getattr(video, arch)(weights=None, num_classes=classes)
    return getattr(torchvision.models, arch)(weights=None, num_classes=classes, **p.get("kwargs", {}))


def freeze(module):
    """Every batch norm under module replaced by torchvision's FrozenBatchNorm2d (its state dict: no num_batches_tracked)."""
    from torchvision.ops.misc import FrozenBatchNorm2d
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d(child.num_features, eps=child.eps))
        else:
            freeze(child)


def detector_outputs(model, x):
    """What lady.model.DetectionFamily's graph outputs, computed with the detector's own modules: per pyramid level the
    dense heads' maps (level j's names end in "@j"), and the region heads on each image's first level pooled to the
    region size (in place of RoIAlign on proposals)."""
    import torch.nn.functional as F
    feats = list(model.backbone(x).values())
    level = lambda j: "" if j == 0 else f"@{j}"
    out = {}
    from torchvision.models.detection.ssd import SSD
    if isinstance(model, SSD):
        # SSD and SSDlite: one head per level (SSDlite's a depthwise conv, then its 1x1 conv ".1")
        for name in ("classification_head", "regression_head"):
            for i, m in enumerate(getattr(model.head, name).module_list):
                out[f"head.{name}.module_list.{i}" + (".1" if isinstance(m, nn.Sequential) else "")] = m(feats[i])
        return out
    if hasattr(model, "rpn"):
        h = model.rpn.head
        ts = [h.conv(f) for f in feats]
        out.update({"rpn.head.cls_logits" + level(j): h.cls_logits(t) for j, t in enumerate(ts)})
        out.update({"rpn.head.bbox_pred" + level(j): h.bbox_pred(t) for j, t in enumerate(ts)})
        r = model.roi_heads
        box = r.box_head(F.adaptive_avg_pool2d(feats[0], 7))
        out["roi_heads.box_predictor.cls_score"] = r.box_predictor.cls_score(box)
        out["roi_heads.box_predictor.bbox_pred"] = r.box_predictor.bbox_pred(box)
        if r.has_mask():
            m = r.mask_head(F.adaptive_avg_pool2d(feats[0], 14))
            out["roi_heads.mask_predictor.mask_fcn_logits"] = r.mask_predictor(m)
        if r.has_keypoint():
            k = r.keypoint_head(F.adaptive_avg_pool2d(feats[0], 14))
            out["roi_heads.keypoint_predictor.kps_score_lowres"] = r.keypoint_predictor.kps_score_lowres(k)
        return out
    c, g = model.head.classification_head, model.head.regression_head
    out.update({"head.classification_head.cls_logits" + level(j): c.cls_logits(c.conv(f)) for j, f in enumerate(feats)})
    ts = [g.conv(f) for f in feats]
    if hasattr(g, "bbox_ctrness"):  # FCOS: its box regression through a ReLU, and the centre-ness
        out.update({"head.regression_head.bbox_relu" + level(j): torch.relu(g.bbox_reg(t)) for j, t in enumerate(ts)})
        out.update({"head.regression_head.bbox_ctrness" + level(j): g.bbox_ctrness(t) for j, t in enumerate(ts)})
    else:
        out.update({"head.regression_head.bbox_reg" + level(j): g.bbox_reg(t) for j, t in enumerate(ts)})
    return out


def images(n, size, gen, frames=None):
    """Per image (or clip's frame) and channel a brightness in [-1, 1) and a contrast in [0.5, 2), plus uniform noise;
    clips N x 3 x frames x size x size when frames is given."""
    lead = (n, 3) if frames is None else (n, 3, frames)
    brightness = torch.rand(*lead, 1, 1, generator=gen) * 2 - 1
    contrast = 0.5 + torch.rand(*lead, 1, 1, generator=gen) * 1.5
    return brightness + contrast * (torch.rand(*lead, size, size, generator=gen) * 2 - 1)


# The function checks compare outputs computed in float64 (probe keys "f64:out", ...): a permutation only
# reorders sums, and float32 rounding amplified by a deep random network (a batch norm of globally pooled
# features, DeepLabV3-ResNet101: 2.8e-4 relative) would otherwise blur the 1e-4 tolerance.
F64 = "f64:"


def randomize(model, gen):
    norms = (nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
    norm_params = set()
    for m in model.modules():
        if isinstance(m, norms):
            norm_params.add(id(m.weight))
            norm_params.add(id(m.bias))
    with torch.no_grad():
        for name, t in model.named_parameters():
            if id(t) in norm_params and name.endswith("weight"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif t.dim() >= 2 and name not in ("class_token", "encoder.pos_embedding"):
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(t[0].numel()))
            else:
                t.copy_(0.2 * torch.randn(t.shape, generator=gen))


def outputs(model, x):
    from torchvision.models.detection import FCOS, RetinaNet
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
    if isinstance(model, (FCOS, GeneralizedRCNN, RetinaNet, SSD)):
        with torch.no_grad():
            return detector_outputs(model, x)
    with torch.no_grad():
        y = model(x)
    return dict(y) if isinstance(y, dict) else {"out": y}


def make(p, out):
    gen = torch.Generator().manual_seed(p["seed"])
    detector = p["arch"].startswith(DETECTORS)
    model = build(dict(p, frozen=False))
    randomize(model, gen)
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d))]
    for m in bns:
        m.momentum = None
        m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(p["bn_batches"] if bns else 0):
            # a detector trains on targets: its backbone's statistics are measured alone (the region heads' stay),
            # with SSDlite's heads on the backbone's levels
            x = images(p["batch"], p["size"], gen, p.get("frames"))
            if not detector:
                model(x)
            elif p["arch"].startswith("ssdlite"):
                model.head(list(model.backbone(x).values()))
            else:
                model.backbone(x)
    model.eval()
    if detector and p.get("frozen"):  # the same weights and statistics in FrozenBatchNorm2d
        frozen = build(p)
        frozen.load_state_dict(model.state_dict())
        model = frozen.eval()
    x = images(p["batch"], p["size"], gen, p.get("frames"))
    probe = {"input": x}
    probe.update(outputs(model, x))
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
    probe.update({F64 + k: v for k, v in outputs(model.double(), x.double()).items()})
    torch.save(probe, os.path.join(out, "probe.pt"))


def rel_diff(model, state, probe):
    """Max over outputs of max|output - probe output| / max|probe output|, in float64 (see F64)."""
    model.double()
    model.load_state_dict(state, strict=True)
    model.eval()
    rel = 0.0
    for k, v in outputs(model, probe["input"].double()).items():
        ref = probe[F64 + k]
        scale = float(ref.abs().max())  # an output zero everywhere (FCOS's ReLU'd boxes on P7): the difference itself
        rel = max(rel, float((v - ref).abs().max()) / (scale if scale > 0 else 1.0))
    return rel


def check(p, out, files):
    model = build(p)
    reference = torch.load(os.path.join(out, "model.pt"))
    probe = torch.load(os.path.join(out, "probe.pt"))
    params = [n for n, t in model.named_parameters() if t.dim() >= 1]
    result = {}
    for f in files:
        state = torch.load(f)
        rel = rel_diff(model, state, probe)
        unchanged = [n for n in params if torch.equal(state[n], reference[n])]
        result[os.path.basename(f)] = {"rel_diff": rel, "changed": len(params) - len(unchanged),
                                       "total": len(params), "unchanged": unchanged}
    with open(os.path.join(out, "check.json"), "w") as fh:
        json.dump(result, fh)


def main():
    mode = sys.argv[1]
    with open(sys.argv[2]) as f:
        p = json.load(f)
    torch.manual_seed(p["seed"])
    torch.set_num_threads(p.get("threads", 1))
    if mode == "make":
        make(p, sys.argv[3])
    elif mode == "check":
        check(p, sys.argv[3], sys.argv[4:])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
