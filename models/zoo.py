#!/usr/bin/env python3
"""qpose model zoo: build, check, export, quantize and document the test-fixture pose models.

Usage
    python models/zoo.py                 # committed fixtures -> models/zoo/, references, cards, manifest
    python models/zoo.py --all           # also the bigger variants -> models/generated/ (git-ignored)
    python models/zoo.py --only mbv2_1.0x_heatmap_256x192
    python models/zoo.py --check-params  # only print and check the parameter-count table
    python models/zoo.py --verify        # re-run the reference manifest with onnxruntime and compare
    python models/zoo.py --help

What it does, per model (mmpose-style top-down pose nets, random weights, realistic activations):
  1. builds the architecture in torch and checks its parameter counts against the table in
     PARAM_TABLE (fails loudly on any mismatch; the whole table is checked on every run);
  2. seeded random init (BN gamma/beta drawn so ReLU/ReLU6 units are neither dead nor saturated),
     BN running statistics set from real COCO person crops (one full-batch pass in train mode with
     a cumulative average); the head's last layer(s) read random mixtures of the top principal
     components of their input features and are rescaled so head outputs have realistic ranges
     and depend on the input;
  3. exports fp32 ONNX (TorchScript exporter, dynamo=False, opset 13, constant folding, batch 1,
     static shapes, input `input` [1,3,H,W] float32 NCHW RGB, ImageNet mean/std);
  4. exports a PyTorch QAT-style fake-quant model (BN folded, per-channel symmetric int8 weights,
     per-tensor activations quint8 after ReLU/ReLU6 and qint8 where signed; observers calibrated
     on crops, then frozen; no training) -> `<model>_qat.onnx`, plus `<model>_qat_scalarqp.onnx`
     (a lossless rewrite of the [1]-shaped qparams to scalars) when onnxruntime cannot load the
     raw file with its default graph optimizations;
  5. onnxruntime quant_pre_process + quantize_static (QDQ, per-channel int8 weights, MinMax on
     the crops) with uint8 and with int8 activations -> `_ort_u8s8.onnx`, `_ort_s8s8.onnx`;
  6. for committed models: onnxruntime reference outputs (.npy) on 3 real person crops for every
     file, recorded in tests/data/reference/manifest.json;
  7. writes a model card `<model>.md` next to the files (params, MACs, I/O, quantization, op
     histograms, sizes, fp32-vs-int8 agreement).
  BlazePose (models/blazepose/): copies the two ONNX files if missing, writes NOTICE, card and
  onnxruntime references on 2 crops (BlazePose ROI protocol) into the same manifest.

Data: tests/data/coco-mini-dev (80 COCO 2017 train images, 86 people with keypoints); see
models/coco_attribution.py. Crops: mmpose top-down preprocessing of the GT boxes in numpy.

Requirements (versions used; see models/README.md):
  python 3.11, torch==2.15.0 (CPU is enough), onnx==1.19.1, onnxruntime==1.31.1, numpy==2.4.6,
  pillow==13.0.0, sympy (comes with torch; needed by onnxruntime's quant_pre_process).
Determinism: fixed seeds, torch and onnxruntime single-threaded; re-running reproduces the
files byte for byte on the same machine and versions (see models/README.md).
"""
import argparse
import collections
import copy
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ZOO_DIR = REPO / "models" / "zoo"
GEN_DIR = REPO / "models" / "generated"
BLAZE_DIR = REPO / "models" / "blazepose"
COCO_DIR = REPO / "tests" / "data" / "coco-mini-dev"
REF_DIR = REPO / "tests" / "data" / "reference"
MANIFEST = REF_DIR / "manifest.json"

NUM_KPT = 17
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)
OPSET = 13
N_REF = 3            # reference crops per zoo model
N_REF_BLAZE = 2      # reference crops for BlazePose
BIG_FIXTURE_LIMIT = 3_000_000  # bytes; BlazePose big outputs above this are kept for one crop only
# COCO licence ids that allow derivatives (the reference inputs are crops = derivatives), i.e.
# not "NoDerivs" (3: BY-NC-ND, 6: BY-ND).
LICENCES_ALLOWING_DERIVATIVES = {1, 2, 4, 5, 7, 8}

# --------------------------------------------------------------------------------------------
# model specs
# --------------------------------------------------------------------------------------------
COMMITTED = ["mbv2_0.5x_rle_192x192", "mbv2_0.75x_simcc_192x192"]
GENERATED = ["mbv2_1.0x_rle_256x192", "mbv2_1.0x_simcc_256x192", "mbv2_1.0x_heatmap_256x192",
             "shufflenetv2_1.0x_rle_192x192"]


def parse_name(name):
    """'mbv2_0.5x_rle_192x192' -> dict(backbone='mbv2', widen=0.5, head='rle', h=192, w=192)."""
    bb, wf, head, size = name.split("_")
    h, w = (int(v) for v in size.split("x"))
    return dict(name=name, backbone=bb, widen=float(wf[:-1]), head=head, h=h, w=w)


# expected trainable parameter counts (BN gamma/beta included, running stats excluded)
PARAM_TABLE = [
    ("backbone", "mbv2 0.5x", dict(backbone="mbv2", widen=0.5), 687_680),
    ("backbone", "mbv2 0.75x", dict(backbone="mbv2", widen=0.75), 1_355_424),
    ("backbone", "mbv2 1.0x", dict(backbone="mbv2", widen=1.0), 2_223_872),
    ("backbone", "shufflenetv2 1.0x", dict(backbone="shufflenetv2", widen=1.0), 1_253_604),
    ("head", "RLE C=1280", dict(head="rle", c=1280, h=192, w=192), 87_108),
    ("head", "RLE C=1024", dict(head="rle", c=1024, h=192, w=192), 69_700),
    ("head", "SimCC C=1280 192x192", dict(head="simcc", c=1280, h=192, w=192), 50_193),
    ("head", "SimCC C=1280 256x192", dict(head="simcc", c=1280, h=256, w=192), 65_681),
    ("head", "SimCC C=1024 192x192", dict(head="simcc", c=1024, h=192, w=192), 45_841),
    ("head", "Heatmap C=1280", dict(head="heatmap", c=1280, h=256, w=192), 7_345_937),
]

# --------------------------------------------------------------------------------------------
# torch architectures (mmpose style; module names follow mmpose so ONNX node names are familiar)
# --------------------------------------------------------------------------------------------
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def make_divisible(value, divisor, min_value=None, min_ratio=0.9):
    """mmpose.models.utils.make_divisible."""
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class ConvModule(nn.Module):
    """conv (no bias) -> BN -> optional ReLU/ReLU6, like mmcv's ConvModule.

    `out_fq` is an nn.Identity in the float model; the QAT conversion replaces it with an
    activation FakeQuantize (identity modules leave no trace in the ONNX graph)."""

    def __init__(self, cin, cout, k, stride=1, padding=0, groups=1, act="relu6"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act_type = act
        self.act = {"relu6": nn.ReLU6, "relu": nn.ReLU, None: nn.Identity}[act]()
        self.out_fq = nn.Identity()

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.out_fq(self.act(x))


class MBV2InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand_ratio):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers = []
        if expand_ratio != 1:
            layers.append(ConvModule(cin, hidden, 1, act="relu6"))
        layers += [ConvModule(hidden, hidden, 3, stride, 1, groups=hidden, act="relu6"),
                   ConvModule(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.add_fq = nn.Identity()

    def forward(self, x):
        if self.use_res_connect:
            return self.add_fq(x + self.conv(x))
        return self.conv(x)


class MobileNetV2(nn.Module):
    """mmpose MobileNetV2 (out_indices=(7,), ReLU6, make_divisible(., 8) widths)."""
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                     [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, widen_factor=1.0):
        super().__init__()
        cin = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, cin, 3, 2, 1, act="relu6")
        self.layer_names = []
        for i, (t, c, n, s) in enumerate(self.arch_settings):
            cout = make_divisible(c * widen_factor, 8)
            blocks = []
            for j in range(n):
                blocks.append(MBV2InvertedResidual(cin, cout, s if j == 0 else 1, t))
                cin = cout
            name = f"layer{i + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.layer_names.append(name)
        self.out_channels = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(cin, self.out_channels, 1, act="relu6")

    def forward(self, x):
        x = self.conv1(x)
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return self.conv2(x)


def channel_shuffle(x, groups):
    """mmpose.models.utils.channel_shuffle (uses x.size(), so the export keeps shape ops)."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class SNV2InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        bf = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(ConvModule(cin, cin, 3, stride, 1, groups=cin, act=None),
                                         ConvModule(cin, bf, 1, act="relu"))
        self.branch2 = nn.Sequential(ConvModule(cin if stride > 1 else bf, bf, 1, act="relu"),
                                     ConvModule(bf, bf, 3, stride, 1, groups=bf, act=None),
                                     ConvModule(bf, bf, 1, act="relu"))
        self.in_fq = nn.Identity()   # QAT: requantize the chunked half before branch2
        self.cat_fq = nn.Identity()  # QAT: concat output

    def forward(self, x):
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(self.in_fq(x2))), dim=1)
        return channel_shuffle(self.cat_fq(out), 2)


class ShuffleNetV2(nn.Module):
    """mmpose ShuffleNetV2, widen 1.0 (channels 116/232/464, final conv 1024, ReLU)."""

    def __init__(self, widen_factor=1.0):
        super().__init__()
        assert widen_factor == 1.0
        channels = [116, 232, 464]
        blocks = [4, 8, 4]
        cin = 24
        self.conv1 = ConvModule(3, cin, 3, 2, 1, act="relu")
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.pool_fq = nn.Identity()
        self.layers = nn.ModuleList()
        for c, n in zip(channels, blocks):
            layer = [SNV2InvertedResidual(cin, c, 2)] + [SNV2InvertedResidual(c, c, 1) for _ in range(n - 1)]
            self.layers.append(nn.Sequential(*layer))
            cin = c
        self.out_channels = 1024
        self.layers.append(ConvModule(cin, self.out_channels, 1, act="relu"))

    def forward(self, x):
        x = self.pool_fq(self.maxpool(self.conv1(x)))
        for layer in self.layers:
            x = layer(x)
        return x


class RLEHead(nn.Module):
    """mmpose RLEHead after a GlobalAveragePooling neck: fc = Linear(C, K*4) -> (B, K, 4) =
    (mu_x, mu_y, sigma_x_raw, sigma_y_raw); exported outputs `coords` = [..., :2], `sigma` =
    [..., 2:] (raw, no sigmoid). Same parameter count as two Linear(C, K*2) layers."""

    def __init__(self, c, k=NUM_KPT):
        super().__init__()
        self.k = k
        self.gap_fq = nn.Identity()
        self.fc = nn.Linear(c, k * 4)
        self.fc_fq = nn.Identity()

    def forward(self, x):
        x = self.gap_fq(F.adaptive_avg_pool2d(x, 1))   # neck: GlobalAveragePooling
        x = torch.flatten(x, 1)
        x = self.fc_fq(self.fc(x)).reshape(-1, self.k, 4)
        return x[..., :2], x[..., 2:]


class SimCCHead(nn.Module):
    """mmpose SimCCHead without deconv ('wo-deconv'): 1x1 conv C->K, flatten(2) over the
    H/32*W/32 grid, Linear(HW, W*2) and Linear(HW, H*2) (simcc_split_ratio 2.0)."""

    def __init__(self, c, h, w, k=NUM_KPT, split_ratio=2.0):
        super().__init__()
        self.final_layer = nn.Conv2d(c, k, 1)
        self.final_fq = nn.Identity()
        self.flatten = nn.Flatten(2)
        hw = (h // 32) * (w // 32)
        self.mlp_head_x = nn.Linear(hw, int(w * split_ratio))
        self.mlp_head_y = nn.Linear(hw, int(h * split_ratio))
        self.x_fq = nn.Identity()
        self.y_fq = nn.Identity()

    def forward(self, x):
        x = self.flatten(self.final_fq(self.final_layer(x)))
        return self.x_fq(self.mlp_head_x(x)), self.y_fq(self.mlp_head_y(x))


class DeconvModule(nn.Module):
    """ConvTranspose2d(4, stride 2, pad 1, no bias) -> BN -> ReLU (mmpose HeatmapHead)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, output_padding=0, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act_type = "relu"
        self.act = nn.ReLU()
        self.out_fq = nn.Identity()

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.out_fq(self.act(x))


class HeatmapHead(nn.Module):
    """mmpose HeatmapHead: 3 x (deconv 4x4 s2 -> 256, BN, ReLU), then 1x1 conv -> K (stride 4)."""

    def __init__(self, c, k=NUM_KPT):
        super().__init__()
        self.deconv_layers = nn.Sequential(DeconvModule(c, 256), DeconvModule(256, 256), DeconvModule(256, 256))
        self.final_layer = nn.Conv2d(256, k, 1)
        self.final_fq = nn.Identity()

    def forward(self, x):
        return self.final_fq(self.final_layer(self.deconv_layers(x)))


OUTPUT_NAMES = {"rle": ["coords", "sigma"], "simcc": ["simcc_x", "simcc_y"], "heatmap": ["heatmaps"]}


class PoseNet(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.input_fq = nn.Identity()
        self.backbone = build_backbone(spec["backbone"], spec["widen"])
        self.head = build_head(spec["head"], self.backbone.out_channels, spec["h"], spec["w"])

    def forward(self, x):
        out = self.head(self.backbone(self.input_fq(x)))
        return out if isinstance(out, tuple) else (out,)


def build_backbone(kind, widen):
    return MobileNetV2(widen) if kind == "mbv2" else ShuffleNetV2(widen)


def build_head(kind, c, h, w):
    if kind == "rle":
        return RLEHead(c)
    if kind == "simcc":
        return SimCCHead(c, h, w)
    if kind == "heatmap":
        return HeatmapHead(c)
    raise ValueError(kind)


def n_params(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def check_param_table():
    """Build every part of PARAM_TABLE, count its trainable parameters and compare."""
    rows, bad = [], []
    for kind, label, kw, expected in PARAM_TABLE:
        if kind == "backbone":
            m = build_backbone(kw["backbone"], kw["widen"])
        else:
            m = build_head(kw["head"], kw["c"], kw["h"], kw["w"])
        got = n_params(m)
        ok = got == expected
        rows.append((kind, label, expected, got, ok))
        if not ok:
            bad.append(label)
    lines = [f"{'part':<9} {'model':<22} {'expected':>10} {'computed':>10}  match",
             "-" * 62]
    for kind, label, e, g, ok in rows:
        lines.append(f"{kind:<9} {label:<22} {e:>10,} {g:>10,}  {'yes' if ok else 'NO  <-- MISMATCH'}")
    text = "\n".join(lines)
    print("Parameter counts (trainable; BN gamma/beta included, running stats excluded):")
    print(text)
    if bad:
        raise SystemExit(f"PARAMETER COUNT MISMATCH for {bad}; refusing to continue")
    return rows, text


# --------------------------------------------------------------------------------------------
# data: COCO person crops, mmpose top-down preprocessing in numpy
# --------------------------------------------------------------------------------------------
_IMG_CACHE = {}


def load_coco():
    d = json.loads((COCO_DIR / "person_keypoints.json").read_text())
    images = {im["id"]: im for im in d["images"]}
    people = [a for a in d["annotations"] if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
    people.sort(key=lambda a: a["id"])
    return images, people


def load_image(path):
    from PIL import Image
    if path not in _IMG_CACHE:
        with Image.open(path) as im:
            _IMG_CACHE[path] = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return _IMG_CACHE[path]


def warp_bilinear(img, M, out_w, out_h):
    """cv2.warpAffine(img, M, (out_w, out_h), INTER_LINEAR, BORDER_CONSTANT=0) in float64 numpy.

    dst(u, v) = src(Minv @ (u, v, 1)) with integer pixel coordinates; source pixels outside the
    image count as 0 (so border pixels blend towards 0, as in OpenCV); the result is rounded half
    to even and saturated to uint8, like OpenCV does for 8-bit images. (OpenCV additionally snaps
    the source position to 1/32 pixel, so a cv2 crop can differ by ~1 LSB.)"""
    A = np.vstack([M, [0.0, 0.0, 1.0]])
    Minv = np.linalg.inv(A)[:2]
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    sx = Minv[0, 0] * u + Minv[0, 1] * v + Minv[0, 2]
    sy = Minv[1, 0] * u + Minv[1, 1] * v + Minv[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = sx - x0
    fy = sy - y0
    H, W = img.shape[:2]
    src = img.astype(np.float64)

    def tap(yy, xx):
        inside = (xx >= 0) & (xx < W) & (yy >= 0) & (yy < H)
        vals = src[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)]
        return vals * inside[..., None]

    out = (tap(y0, x0) * ((1 - fx) * (1 - fy))[..., None] + tap(y0, x0 + 1) * (fx * (1 - fy))[..., None]
           + tap(y0 + 1, x0) * ((1 - fx) * fy)[..., None] + tap(y0 + 1, x0 + 1) * (fx * fy)[..., None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def mmpose_crop(ann, images, h, w):
    """mmpose 1.x top-down test pipeline for a GT box: xywh -> clipped xyxy -> center / scale x1.25
    -> aspect fix to w/h -> warp (rot 0) -> RGB -> (x - mean) / std -> NCHW float32."""
    im = images[ann["image_id"]]
    img = load_image(COCO_DIR / "images" / im["file_name"])
    H, W = img.shape[:2]
    x, y, bw, bh = ann["bbox"]
    x1, y1 = np.clip(x, 0, W - 1), np.clip(y, 0, H - 1)
    x2, y2 = np.clip(x + bw, 0, W - 1), np.clip(y + bh, 0, H - 1)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    sw, sh = (x2 - x1) * 1.25, (y2 - y1) * 1.25
    aspect = w / h
    if sw > sh * aspect:
        sh = sw / aspect
    else:
        sw = sh * aspect
    k = w / sw
    M = np.array([[k, 0.0, w / 2.0 - k * cx], [0.0, k, h / 2.0 - k * cy]])
    crop = warp_bilinear(img, M, w, h)
    x = (crop.astype(np.float32) - np.array(MEAN_RGB, np.float32)) / np.array(STD_RGB, np.float32)
    meta = dict(image=str((COCO_DIR / "images" / im["file_name"]).relative_to(REPO)), ann_id=ann["id"],
                image_id=ann["image_id"], image_licence=im["license"], bbox_xywh=[float(v) for v in ann["bbox"]],
                center=[float(cx), float(cy)], scale=[float(sw), float(sh)], warp=M.tolist(),
                input_size_wh=[w, h])
    return x.transpose(2, 0, 1)[None].astype(np.float32), meta


def blazepose_crop(ann, images, size=256):
    """BlazePose ROI: square box centred on the GT box, side 1.25*max(w,h), no rotation, bilinear
    warp to size x size with zero border, NHWC RGB float32 in [0, 1]."""
    im = images[ann["image_id"]]
    img = load_image(COCO_DIR / "images" / im["file_name"])
    x, y, bw, bh = ann["bbox"]
    cx, cy = x + bw / 2.0, y + bh / 2.0
    side = 1.25 * max(bw, bh)
    k = size / side
    M = np.array([[k, 0.0, size / 2.0 - k * cx], [0.0, k, size / 2.0 - k * cy]])
    crop = warp_bilinear(img, M, size, size)
    meta = dict(image=str((COCO_DIR / "images" / im["file_name"]).relative_to(REPO)), ann_id=ann["id"],
                image_id=ann["image_id"], image_licence=im["license"], bbox_xywh=[float(v) for v in ann["bbox"]],
                center=[float(cx), float(cy)], side=float(side), warp=M.tolist(), input_size_wh=[size, size])
    return (crop.astype(np.float32) / 255.0)[None], meta


def select_reference_people(images, people, n):
    """Deterministic pick of n people from different images whose licence allows derivatives:
    the first n-1 = the largest people (segmentation area) with at least 14 labelled keypoints; the
    last = the person (>= 8 keypoints) whose mmpose crop (192x192, x1.25) reaches furthest outside
    the image (exercises the zero border)."""
    ok = [a for a in people if images[a["image_id"]]["license"] in LICENCES_ALLOWING_DERIVATIVES]
    ranked = sorted((a for a in ok if a["num_keypoints"] >= 14), key=lambda a: (-a["area"], a["id"]))
    chosen, used = [], set()
    for a in ranked:
        if len(chosen) == n - 1:
            break
        if a["image_id"] not in used:
            chosen.append(a)
            used.add(a["image_id"])

    def outside(a):
        im = images[a["image_id"]]
        _, meta = mmpose_crop(a, images, 192, 192)
        (cx, cy), (sw, sh) = meta["center"], meta["scale"]
        box = np.array([cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2])
        inter_w = max(0.0, min(box[2], im["width"]) - max(box[0], 0))
        inter_h = max(0.0, min(box[3], im["height"]) - max(box[1], 0))
        return 1.0 - inter_w * inter_h / (sw * sh)

    rest = [a for a in ok if a["image_id"] not in used and a["num_keypoints"] >= 8]
    if rest and n > len(chosen):
        chosen.append(max(rest, key=lambda a: (round(outside(a), 6), -a["id"])))
    return chosen[:n]


class CropSet:
    """All 86 person crops at one input size; reference crops are held out of calibration."""

    def __init__(self, h, w):
        self.images, self.people = load_coco()
        self.ref_people = select_reference_people(self.images, self.people, N_REF)
        ref_ids = {a["id"] for a in self.ref_people}
        xs, metas = zip(*(mmpose_crop(a, self.images, h, w) for a in self.people))
        self.all = np.concatenate(xs)
        self.metas = list(metas)
        self.calib_idx = [i for i, a in enumerate(self.people) if a["id"] not in ref_ids]
        self.ref_idx = [next(i for i, a in enumerate(self.people) if a["id"] == r["id"]) for r in self.ref_people]
        self.calib = self.all[self.calib_idx]
        self.ref = self.all[self.ref_idx]
        self.ref_meta = [self.metas[i] for i in self.ref_idx]


_CROPSETS = {}


def crops_for(h, w):
    if (h, w) not in _CROPSETS:
        _CROPSETS[(h, w)] = CropSet(h, w)
    return _CROPSETS[(h, w)]


# --------------------------------------------------------------------------------------------
# init: seeded weights, gamma/beta, BN stats from data, head output ranges
# --------------------------------------------------------------------------------------------
HEAD_TARGETS = {
    # (mean, std) of each head output unit over the calibration crops
    "rle_coords": (0.5, 0.15),     # normalised coordinates in [0, 1]
    "rle_sigma": (-2.5, 0.5),      # raw sigma logits; sigmoid ~ 0.03..0.2
    "simcc_conv": (0.0, 1.0),      # the 1x1 conv before flatten
    "simcc_logits": (0.0, 0.5),    # raw 1-D logits
    "heatmap": (0.05, 0.15),       # raw heatmaps
}


BN_ACT = dict(gamma=(0.5, 1.5), beta_over_gamma=(0.5, 2.0))   # BN followed by ReLU / ReLU6
BN_LINEAR = dict(gamma=(0.5, 1.0), beta=(-0.3, 0.3))          # BN without activation
HEAD_PCS = 16  # head layers read random mixtures of the top principal components of their input


def model_seed(name, base_seed):
    return (base_seed * 1_000_003 + zlib.crc32(name.encode())) & 0x7FFFFFFF


def init_weights(model, gen):
    """mmpose-like init (kaiming fan_out for convs, small normal for deconv/linear), then BN
    gamma/beta (BN_ACT / BN_LINEAR): for BN followed by ReLU/ReLU6, gamma ~ U(0.5, 1.5) and
    beta = gamma * U(0.5, 2.0), so each unit is zero for 2-31% of the pixels (median ~12%) and
    rarely reaches 6; for BN without activation (linear bottlenecks, ShuffleNet depthwise)
    gamma ~ U(0.5, 1.0), beta ~ U(-0.3, 0.3).

    Why not beta ~ 0 (half of every unit dead)? A rectifier that clips a large part of its input
    removes more signal variance than perturbation variance, so a random rectified net amplifies
    small perturbations layer after layer (a ~1.2x gain per layer at beta = 0). With 35 ReLU6 layers
    the int8 rounding noise then swamps the input-dependent part of the outputs completely (measured:
    relative error 0.93 at the last backbone layer) and two correct int8 implementations that differ
    in a few rounding ties give different outputs. With beta/gamma in [0.5, 2] the same measurement
    gives ~0.17."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] / m.groups
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.01)
                if m.bias is not None:
                    m.bias.zero_()
    for m in model.modules():
        if isinstance(m, (ConvModule, DeconvModule)):
            bn = m.bn
            n = bn.num_features
            with torch.no_grad():
                if m.act_type is not None:
                    (g0, g1), (r0, r1) = BN_ACT["gamma"], BN_ACT["beta_over_gamma"]
                    g = g0 + (g1 - g0) * torch.rand(n, generator=gen)
                    bn.weight.copy_(g)
                    bn.bias.copy_(g * (r0 + (r1 - r0) * torch.rand(n, generator=gen)))
                else:
                    (g0, g1), (b0, b1) = BN_LINEAR["gamma"], BN_LINEAR["beta"]
                    bn.weight.copy_(g0 + (g1 - g0) * torch.rand(n, generator=gen))
                    bn.bias.copy_(b0 + (b1 - b0) * torch.rand(n, generator=gen))


@torch.no_grad()
def calibrate_bn(model, x):
    """One full-batch pass in train mode with momentum=None (cumulative average): every BN sees
    the batch statistics of its real input, so after eval() the running stats equal the stats of
    the eval-mode activations over the calibration crops (up to the n/(n-1) variance factor)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    model(torch.from_numpy(x))
    model.eval()
    for bn in bns:
        bn.momentum = 0.1


def _standardize_(weight, bias, out, dims, mean_t, std_t, out_axis):
    """Rescale the affine layer producing `out` so each output unit has (mean_t, std_t) over `dims`."""
    m = out.mean(dim=dims)
    s = out.std(dim=dims).clamp_min(1e-6)
    shape = [-1] + [1] * (weight.dim() - 1)
    weight.mul_((std_t / s).reshape(shape))
    bias.copy_((bias - m) * (std_t / s) + mean_t)


def top_pcs(x2d, k):
    """Top-k principal directions (k, C) of the rows of x2d, float64, sign fixed (largest |entry| > 0)."""
    if len(x2d) > 100_000:  # large per-pixel sets (heatmap head): a regular subsample is plenty
        x2d = x2d[:: -(-len(x2d) // 100_000)]
    xc = x2d.double() - x2d.double().mean(0)
    cov = xc.T @ xc / len(xc)
    evals, evecs = torch.linalg.eigh(cov)
    v = evecs[:, torch.argsort(evals, descending=True)[:k]].T.contiguous()
    sign = torch.sign(v.gather(1, v.abs().argmax(1, keepdim=True)))
    return v * sign


def pca_init_(weight, bias, feats2d, gen):
    """weight (out, C[,1,1]) := random mixtures of the top HEAD_PCS principal directions of its input."""
    v = top_pcs(feats2d, HEAD_PCS)
    mix = torch.randn(weight.shape[0], v.shape[0], generator=gen, dtype=torch.float64)
    weight.copy_((mix @ v).reshape(weight.shape).float())
    bias.zero_()


@torch.no_grad()
def calibrate_head(model, x, gen):
    """Data-aware head init: the last layer(s) read random mixtures of the top principal components
    of their input features (as a trained head reads informative directions, rather than a random
    direction where int8 noise and input-dependent signal are about equal), then an affine
    re-scaling per output unit gives the raw outputs realistic ranges (HEAD_TARGETS)."""
    model.eval()
    head = model.head
    feats = model.backbone(torch.from_numpy(x))
    if isinstance(head, RLEHead):
        f = torch.flatten(F.adaptive_avg_pool2d(feats, 1), 1)
        pca_init_(head.fc.weight, head.fc.bias, f, gen)
        out = head.fc(f).reshape(len(x), NUM_KPT, 4)
        w = head.fc.weight.view(NUM_KPT, 4, -1)
        b = head.fc.bias.view(NUM_KPT, 4)
        for sl, key in ((slice(0, 2), "rle_coords"), (slice(2, 4), "rle_sigma")):
            m = out[:, :, sl].mean(0)
            s = out[:, :, sl].std(0).clamp_min(1e-6)
            mt, st = HEAD_TARGETS[key]
            w[:, sl].mul_((st / s)[..., None])
            b[:, sl].copy_((b[:, sl] - m) * (st / s) + mt)
    elif isinstance(head, SimCCHead):
        pca_init_(head.final_layer.weight, head.final_layer.bias, feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1]), gen)
        out = head.final_layer(feats)
        _standardize_(head.final_layer.weight, head.final_layer.bias, out, (0, 2, 3), *HEAD_TARGETS["simcc_conv"], 0)
        z = head.flatten(head.final_layer(feats))
        for lin in (head.mlp_head_x, head.mlp_head_y):
            _standardize_(lin.weight, lin.bias, lin(z), (0, 1), *HEAD_TARGETS["simcc_logits"], 0)
    elif isinstance(head, HeatmapHead):
        d = head.deconv_layers(feats)
        pca_init_(head.final_layer.weight, head.final_layer.bias, d.permute(0, 2, 3, 1).reshape(-1, d.shape[1]), gen)
        out = head.final_layer(d)
        _standardize_(head.final_layer.weight, head.final_layer.bias, out, (0, 2, 3), *HEAD_TARGETS["heatmap"], 0)


@torch.no_grad()
def activation_health(model, x):
    """Per ReLU/ReLU6 layer: fraction of zeros, fraction at 6 (ReLU6), dead / saturated channels."""
    stats = []

    def hook(mod, inp, out):
        o = out.detach()
        ch_zero = (o <= 0).float().mean(dim=(0, 2, 3)) if o.dim() == 4 else (o <= 0).float().mean(0)
        sat = (o >= 6.0).float() if isinstance(mod, nn.ReLU6) else torch.zeros_like(o)
        ch_sat = sat.mean(dim=(0, 2, 3)) if o.dim() == 4 else sat.mean(0)
        stats.append(dict(zero=float((o <= 0).float().mean()), sat=float(sat.mean()),
                          dead=int((ch_zero == 1).sum()), always_sat=int((ch_sat == 1).sum()),
                          channels=int(o.shape[1])))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    model.eval()
    model(torch.from_numpy(x))
    for h in hs:
        h.remove()
    z = np.array([s["zero"] for s in stats])
    sat = np.array([s["sat"] for s in stats])
    return dict(layers=len(stats), zero_min=float(z.min()), zero_median=float(np.median(z)), zero_max=float(z.max()),
                sat_min=float(sat.min()), sat_median=float(np.median(sat)), sat_max=float(sat.max()),
                dead_channels=sum(s["dead"] for s in stats), always_saturated_channels=sum(s["always_sat"] for s in stats),
                channels=sum(s["channels"] for s in stats))


@torch.no_grad()
def count_macs(model, h, w):
    """MACs by forward hooks (BN folded = not counted; activations, pooling, adds not counted).
    Conv: out_elems * Cin/groups * kh*kw (depthwise = groups == Cin > 1); ConvTranspose:
    in_elems * Cout * kh*kw; Linear: in_features * out_features * leading elements."""
    macs = collections.Counter()

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            kind = "depthwise" if mod.groups > 1 else "conv"
            macs[kind] += out.numel() * k
        elif isinstance(mod, nn.ConvTranspose2d):
            macs["deconv"] += inp[0].numel() * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            macs["linear"] += inp[0].numel() * mod.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    model.eval()
    model(torch.zeros(1, 3, h, w))
    for hh in hs:
        hh.remove()
    out = {k: int(macs.get(k, 0)) for k in ("conv", "depthwise", "deconv", "linear")}
    out["total"] = sum(out.values())
    return out


# --------------------------------------------------------------------------------------------
# QAT-style fake-quant model
# --------------------------------------------------------------------------------------------
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver  # noqa: E402

QAT_SETTINGS = dict(
    weights="per-channel symmetric qint8 [-128, 127], MovingAveragePerChannelMinMaxObserver "
            "(scale = amax/127.5, zero point 0), axis 0 (ConvTranspose: axis 1 = output channels)",
    act_unsigned="per-tensor affine quint8 [0, 255], MovingAverageMinMaxObserver (averaging 0.01); "
                 "used after ReLU/ReLU6 (and after GAP / max-pool / concat of non-negative tensors); zero point 0",
    act_signed="per-tensor symmetric qint8 [-128, 127], MovingAverageMinMaxObserver (scale = amax/127.5, "
               "zero point 0); used for the network input, linear-bottleneck convs, residual adds and head outputs",
    bias="float32, not quantized (as torch QAT exports)",
    bn="folded into the preceding conv / deconv before fake-quant (eval-mode BN statistics)",
    calibration="observers and fake-quant on, batches of 16 calibration crops through the whole "
                "calibration set once, then observers frozen (disable_observer); no training",
)


def fq_unsigned():
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                        dtype=torch.quint8, qscheme=torch.per_tensor_affine)


def fq_signed():
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127,
                        dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)


def fq_weight(axis):
    return FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=axis)


class QConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, self.weight_fake_quant(self.weight), self.bias)


class QConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, x):
        return F.conv_transpose2d(x, self.weight_fake_quant(self.weight), self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class QLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight_fake_quant(self.weight), self.bias)


def _to_q(mod, cls, axis):
    """Copy a float conv/linear into its weight-fake-quant subclass."""
    if isinstance(mod, nn.Conv2d):
        q = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                groups=mod.groups, bias=True)
    elif isinstance(mod, nn.ConvTranspose2d):
        q = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                output_padding=mod.output_padding, bias=True)
    else:
        q = cls(mod.in_features, mod.out_features, bias=True)
    with torch.no_grad():
        q.weight.copy_(mod.weight)
        q.bias.copy_(mod.bias if mod.bias is not None else torch.zeros_like(q.bias))
    q.weight_fake_quant = fq_weight(axis)
    return q


@torch.no_grad()
def fold_bn_(cm):
    """Fold cm.bn into cm.conv (Conv2d: per output channel on axis 0; ConvTranspose2d: axis 1)."""
    conv, bn = cm.conv, cm.bn
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = bn.bias - bn.running_mean * s
    if isinstance(conv, nn.ConvTranspose2d):
        w = conv.weight * s.reshape(1, -1, 1, 1)
        new = nn.ConvTranspose2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                                 output_padding=conv.output_padding, bias=True)
    else:
        w = conv.weight * s.reshape(-1, 1, 1, 1)
        new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                        groups=conv.groups, bias=True)
    base = conv.bias if conv.bias is not None else torch.zeros_like(b)
    new.weight.copy_(w)
    new.bias.copy_(base * s + b)
    cm.conv = new
    cm.bn = None


def to_qat(model):
    """Float model -> BN-folded fake-quant model (explicit, eager-style placement)."""
    q = copy.deepcopy(model).eval()
    q.input_fq = fq_signed()
    for m in list(q.modules()):
        if isinstance(m, (ConvModule, DeconvModule)):
            fold_bn_(m)
            if isinstance(m.conv, nn.ConvTranspose2d):
                m.conv = _to_q(m.conv, QConvTranspose2d, 1)
            else:
                m.conv = _to_q(m.conv, QConv2d, 0)
            m.out_fq = fq_unsigned() if m.act_type is not None else fq_signed()
        elif isinstance(m, MBV2InvertedResidual):
            if m.use_res_connect:
                m.add_fq = fq_signed()
        elif isinstance(m, SNV2InvertedResidual):
            if m.stride == 1:
                m.in_fq = fq_unsigned()
            m.cat_fq = fq_unsigned()
        elif isinstance(m, ShuffleNetV2):
            m.pool_fq = fq_unsigned()
        elif isinstance(m, RLEHead):
            m.gap_fq = fq_unsigned()
            m.fc = _to_q(m.fc, QLinear, 0)
            m.fc_fq = fq_signed()
        elif isinstance(m, SimCCHead):
            m.final_layer = _to_q(m.final_layer, QConv2d, 0)
            m.final_fq = fq_signed()
            m.mlp_head_x = _to_q(m.mlp_head_x, QLinear, 0)
            m.mlp_head_y = _to_q(m.mlp_head_y, QLinear, 0)
            m.x_fq = fq_signed()
            m.y_fq = fq_signed()
        elif isinstance(m, HeatmapHead):
            m.final_layer = _to_q(m.final_layer, QConv2d, 0)
            m.final_fq = fq_signed()
    return q


@torch.no_grad()
def calibrate_qat(q, x, batch=16):
    q.eval()
    q.apply(torch.ao.quantization.enable_observer)
    q.apply(torch.ao.quantization.enable_fake_quant)
    for i in range(0, len(x), batch):
        q(torch.from_numpy(x[i:i + batch]))
    q.apply(torch.ao.quantization.disable_observer)


# --------------------------------------------------------------------------------------------
# ONNX export / rewriting / inspection
# --------------------------------------------------------------------------------------------
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def export_onnx(model, spec, path):
    model.eval()
    dummy = torch.zeros(1, 3, spec["h"], spec["w"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), str(path), opset_version=OPSET, dynamo=False, do_constant_folding=True,
                          input_names=["input"], output_names=OUTPUT_NAMES[spec["head"]],
                          training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    return m


def scalarize_qparams(src, dst):
    """Lossless rewrite for onnxruntime: (1) Identity nodes that merely forward an initializer are
    bypassed (their consumers read the initializer); (2) 1-element [1] scale / zero-point
    initializers of QuantizeLinear / DequantizeLinear become rank-0 scalars (per-tensor in ONNX
    terms). Values are unchanged; a [1]-shaped initializer also used elsewhere gets a scalar copy."""
    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    graph_outputs = {o.name for o in m.graph.output}
    alias = {n.output[0]: n.input[0] for n in m.graph.node
             if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in graph_outputs}
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            if name in alias:
                n.input[k] = alias[name]
    keep = [n for n in m.graph.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    uses = collections.defaultdict(list)
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            uses[name].append((n, k))
    changed = 0
    new_inits = []
    for name, init in list(inits.items()):
        if list(init.dims) != [1]:
            continue
        qd = [(n, k) for n, k in uses[name] if n.op_type in ("QuantizeLinear", "DequantizeLinear") and k in (1, 2)]
        if not qd:
            continue
        arr = numpy_helper.to_array(init).reshape(())
        if len(qd) == len(uses[name]):
            init.CopyFrom(numpy_helper.from_array(arr, name))
        else:
            sname = name + "_scalar"
            new_inits.append(numpy_helper.from_array(arr, sname))
            for n, k in qd:
                n.input[k] = sname
        changed += 1
    m.graph.initializer.extend(new_inits)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return changed


def op_histogram(m):
    c = collections.Counter(n.op_type if not n.domain or n.domain == "ai.onnx" else f"{n.domain}.{n.op_type}"
                            for n in m.graph.node)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Concat", "Slice", "Div", "Mul", "Add", "Cast", "Squeeze", "Range", "Size"}


def shape_arithmetic(m):
    """Nodes that compute shapes at run time: a Shape/Size node and everything downstream of it that
    only carries integer shape data (stopping at the consumer that uses it, e.g. Reshape/Slice)."""
    producers = {}
    for n in m.graph.node:
        for o in n.output:
            producers[o] = n
    shape_tensors = set()
    nodes = []
    for n in m.graph.node:  # graph is topologically sorted
        if n.op_type in ("Shape", "Size"):
            shape_tensors.update(n.output)
            nodes.append(n)
        elif n.op_type in SHAPE_OPS and any(i in shape_tensors for i in n.input):
            # only count ops whose data inputs are all shape-derived or constants
            data_inputs = [i for i in n.input if i]
            if all(i in shape_tensors or i not in producers or producers[i].op_type == "Constant" for i in data_inputs):
                shape_tensors.update(n.output)
                nodes.append(n)
    consumers = sorted({n.op_type for n in m.graph.node if n not in nodes and any(i in shape_tensors for i in n.input)})
    return dict(nodes=len(nodes), ops=dict(collections.Counter(n.op_type for n in nodes)), consumers=consumers)


def describe_qdq(m):
    """Summarise how an int8 QDQ graph encodes quantization."""
    inits = {i.name: i for i in m.graph.initializer}
    consts = {}
    for n in m.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = n
    producers = {o: n for n in m.graph.node for o in n.output}

    def dtype_of(name):
        if name in inits:
            return onnx.helper.tensor_dtype_to_np_dtype(inits[name].data_type).name, list(inits[name].dims)
        if name in consts:
            t = consts[name].attribute[0].t
            return onnx.helper.tensor_dtype_to_np_dtype(t.data_type).name, list(t.dims)
        if name in producers and producers[name].op_type == "Identity":
            return dtype_of(producers[name].input[0])
        return None, None

    q = [n for n in m.graph.node if n.op_type == "QuantizeLinear"]
    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear"]
    act_types, qp_ranks, axes = collections.Counter(), collections.Counter(), collections.Counter()
    weight_forms = collections.Counter()
    for n in dq:
        x = n.input[0]
        zdt, zshape = dtype_of(n.input[2]) if len(n.input) > 2 and n.input[2] else ("uint8(default)", None)
        sdt, sshape = dtype_of(n.input[1])
        axis = next((a.i for a in n.attribute if a.name == "axis"), None)
        is_const_in = x in inits or x in consts
        src = producers.get(x)
        if is_const_in:
            xdt, _ = dtype_of(x)
            weight_forms[f"{xdt} initializer -> DQ" + (f" (axis {axis})" if sshape and sshape[0] > 1 else "")] += 1
        elif src is not None and src.op_type == "QuantizeLinear" and (src.input[0] in inits or src.input[0] in consts):
            weight_forms["float initializer -> Q -> DQ" + (f" (axis {axis})" if sshape and sshape[0] > 1 else "")] += 1
        else:
            act_types[zdt] += 1
            qp_ranks["scalar" if sshape == [] else f"shape {sshape}"] += 1
    return dict(QuantizeLinear=len(q), DequantizeLinear=len(dq), activation_zero_point_dtypes=dict(act_types),
                activation_qparam_shapes=dict(qp_ranks), constant_paths=dict(weight_forms))


# --------------------------------------------------------------------------------------------
# onnxruntime helpers
# --------------------------------------------------------------------------------------------
def ort_session(path, level="disable_all"):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {"disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                   "enable_all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_producer(level):
    return dict(runtime="onnxruntime", version=ort.__version__, providers=["CPUExecutionProvider"],
                graph_optimization_level={"disable_all": "ORT_DISABLE_ALL", "enable_all": "ORT_ENABLE_ALL"}[level],
                intra_op_num_threads=1, inter_op_num_threads=1, execution_mode="ORT_SEQUENTIAL",
                cpu_flags=cpu_flags())


def ort_optimized_ops(path):
    """Op histogram of onnxruntime's ORT_ENABLE_ALL optimized graph (what the CPU EP executes)."""
    with tempfile.TemporaryDirectory(prefix="qpose-zoo-") as td:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(Path(td) / "opt.onnx")
        so.log_severity_level = 3
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return op_histogram(onnx.load(so.optimized_model_filepath))


def cpu_flags():
    """x86 SIMD features the kernel reports (onnxruntime's int8 kernels depend on them)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                fl = set(line.split(":", 1)[1].split())
                return sorted(f for f in fl if f.startswith(("avx", "amx")) or f in ("fma", "f16c", "sse4_1", "sse4_2"))
    except OSError:
        pass
    return []


def compare_ort_levels(path, feeds, ref_outs, out_names):
    """max / mean abs difference of ORT_ENABLE_ALL (fused int8 kernels) against the stored
    ORT_DISABLE_ALL outputs, with default session options and with session.x64quantprecision=1
    (onnxruntime's non-saturating u8s8 path for x86 CPUs without VNNI)."""
    res = {}
    for tag, cfg in (("default", None), ("x64quantprecision=1", "1")):
        try:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.log_severity_level = 4
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if cfg:
                so.add_session_config_entry("session.x64quantprecision", cfg)
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            msg = " ".join(str(e).split())
            res[tag] = f"session creation fails: ...{msg[-120:]}"
            continue
        d = {}
        for feed, ref in zip(feeds, ref_outs):
            for on, a, b in zip(out_names, ref, sess.run(None, feed)):
                dd = d.setdefault(on, dict(max_abs=0.0, mean_abs=0.0))
                dd["max_abs"] = max(dd["max_abs"], float(np.abs(a - b).max()))
                dd["mean_abs"] += float(np.abs(a - b).mean()) / len(feeds)
        res[tag] = d
    return res


def run_all(sess, x):
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i:i + 1]}) for i in range(len(x))]
    return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]


class _SingleThreadSessionOptions(ort.SessionOptions):
    def __init__(self):
        super().__init__()
        self.intra_op_num_threads = 1
        self.inter_op_num_threads = 1


class single_threaded_ort:
    """quantize_static's calibrator builds its own InferenceSession with default options; make
    every SessionOptions created meanwhile single-threaded (determinism, shared machine)."""

    def __enter__(self):
        self.orig = ort.SessionOptions
        ort.SessionOptions = _SingleThreadSessionOptions

    def __exit__(self, *a):
        ort.SessionOptions = self.orig


ORT_QUANT_SETTINGS = dict(
    tool="onnxruntime.quantization.quant_pre_process (defaults) then quantize_static",
    quant_format="QuantFormat.QDQ", per_channel=True, weight_type="QuantType.QInt8", reduce_range=False,
    calibrate_method="CalibrationMethod.MinMax",
    extra_options="defaults: WeightSymmetric=True, ActivationSymmetric=False, QuantizeBias=True (int32)",
    calibration="the calibration crops (all COCO-mini-dev people except the reference crops), one at a time",
)


def ort_quantize(fp32_path, out_path, act_type, calib):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="qpose-zoo-") as td:
        pre = Path(td) / "pre.onnx"
        with single_threaded_ort():
            quant_pre_process(str(fp32_path), str(pre))
            quantize_static(str(pre), str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=act_type, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
    m = onnx.load(str(out_path))
    onnx.checker.check_model(m)
    return m


# --------------------------------------------------------------------------------------------
# pipeline per model
# --------------------------------------------------------------------------------------------
def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rel(p):
    return str(Path(p).resolve().relative_to(REPO))


def build_model(name, seed, log):
    spec = parse_name(name)
    committed = name in COMMITTED
    out_dir = ZOO_DIR if committed else GEN_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    cs = crops_for(spec["h"], spec["w"])

    torch.manual_seed(model_seed(name, seed))
    gen = torch.Generator().manual_seed(model_seed(name, seed))
    model = PoseNet(spec)
    init_weights(model, gen)
    calibrate_bn(model, cs.calib)
    calibrate_head(model, cs.calib, gen)
    model.eval()

    params = dict(backbone=n_params(model.backbone), head=n_params(model.head))
    params["total"] = params["backbone"] + params["head"]
    assert params["total"] == n_params(model)
    macs = count_macs(model, spec["h"], spec["w"])
    health = activation_health(model, cs.calib)
    log(f"[{name}] params {params}  MACs {macs}")
    log(f"[{name}] ReLU/ReLU6 health over calib crops: zero frac median {health['zero_median']:.2f} "
        f"[{health['zero_min']:.2f}..{health['zero_max']:.2f}], saturated(>=6) median {health['sat_median']:.4f} "
        f"max {health['sat_max']:.4f}, dead channels {health['dead_channels']}/{health['channels']}")

    with torch.no_grad():
        torch_out = [o.numpy() for o in model(torch.from_numpy(cs.all))]

    files = {}
    # fp32
    p_fp32 = out_dir / f"{name}_fp32.onnx"
    m_fp32 = export_onnx(model, spec, p_fp32)
    files["fp32"] = p_fp32
    ort_fp32 = run_all(ort_session(p_fp32), cs.all)
    fp32_vs_torch = max(float(np.abs(a - b).max()) for a, b in zip(ort_fp32, torch_out))
    log(f"[{name}] fp32 export: ORT vs torch max abs diff {fp32_vs_torch:.2e}")
    if fp32_vs_torch > 1e-3:
        raise SystemExit(f"{name}: fp32 ONNX does not match torch ({fp32_vs_torch})")

    # QAT fake-quant
    q = to_qat(model)
    calibrate_qat(q, cs.calib)
    with torch.no_grad():
        qat_torch = [o.numpy() for o in q(torch.from_numpy(cs.all))]
    p_qat = out_dir / f"{name}_qat.onnx"
    export_onnx(q, spec, p_qat)
    files["qat"] = p_qat
    qat_load = {}
    for level in ("disable_all", "enable_all"):
        try:
            ort_session(p_qat, level)
            qat_load[level] = "ok"
        except Exception as e:  # noqa: BLE001
            qat_load[level] = f"fails: {str(e).strip().splitlines()[0][:300]}"
    log(f"[{name}] raw QAT export in onnxruntime: {qat_load}")
    # The lossless scalar-qparam rewrite is committed next to the raw file only if onnxruntime cannot
    # load the raw file; otherwise it goes to models/generated/ (it lets ORT fuse more QDQ patterns).
    raw_loads = qat_load["enable_all"] == "ok" and qat_load["disable_all"] == "ok"
    p_scalar = (GEN_DIR if raw_loads else out_dir) / f"{name}_qat_scalarqp.onnx"
    p_scalar.parent.mkdir(parents=True, exist_ok=True)
    if raw_loads and (out_dir / p_scalar.name).exists() and out_dir != GEN_DIR:
        (out_dir / p_scalar.name).unlink()
    n_changed = scalarize_qparams(p_qat, p_scalar)
    ort_session(p_scalar, "enable_all")
    if not raw_loads:
        files["qat_scalarqp"] = p_scalar
    log(f"[{name}] wrote {rel(p_scalar)}: Identity indirections removed, {n_changed} [1]-shaped qparam initializers made scalar")
    qat_ref_path = p_qat if qat_load["disable_all"] == "ok" else p_scalar
    qat_ort = run_all(ort_session(qat_ref_path), cs.all)
    qat_vs_torch = [float(np.abs(a - b).max()) for a, b in zip(qat_ort, qat_torch)]
    log(f"[{name}] QAT: ORT(disable_all) vs torch fake-quant max abs diff per output {qat_vs_torch}")
    if qat_load["disable_all"] == "ok":
        a = run_all(ort_session(p_qat), cs.ref)
        b = run_all(ort_session(p_scalar), cs.ref)
        same = all(np.array_equal(x, y) for x, y in zip(a, b))
        log(f"[{name}] raw QAT vs scalarqp outputs (ORT_DISABLE_ALL, ref crops) identical: {same}")
        if not same:
            raise SystemExit(f"{name}: scalarqp rewrite changed the outputs")

    # onnxruntime quantize_static
    from onnxruntime.quantization import QuantType
    for variant, at in (("ort_u8s8", QuantType.QUInt8), ("ort_s8s8", QuantType.QInt8)):
        p = out_dir / f"{name}_{variant}.onnx"
        ort_quantize(p_fp32, p, at, cs.calib)
        files[variant] = p
        m = onnx.load(str(p))
        got = [o.name for o in m.graph.output]
        if got != OUTPUT_NAMES[spec["head"]]:
            raise SystemExit(f"{name} {variant}: output names {got}")

    u8s8_equiv = u8_s8_equivalent(files["ort_u8s8"], files["ort_s8s8"])
    log(f"[{name}] ort_s8s8 = ort_u8s8 with every activation zero point shifted by -128 (same scales, weights): {u8s8_equiv}")

    # fp32 vs int8 agreement on all crops (ORT_DISABLE_ALL: the files' own numerics, CPU-independent)
    agreement = {}
    fp32_all = ort_fp32
    for variant in ("qat", "ort_u8s8", "ort_s8s8"):
        p = files[variant] if qat_load["disable_all"] == "ok" or variant != "qat" else p_scalar
        outs = run_all(ort_session(p, "disable_all"), cs.all)
        agreement[variant] = agreement_stats(spec, fp32_all, outs)

    # what onnxruntime actually executes (ORT_ENABLE_ALL optimized graph)
    ort_exec = {v: ort_optimized_ops(p) for v, p in files.items()}
    ort_exec["qat_scalarqp (lossless rewrite)"] = ort_optimized_ops(p_scalar)

    # references (committed models only)
    entries = []
    if committed:
        entries = write_references(name, spec, files, cs, qat_load, u8s8_equiv, log)

    info = dict(spec=spec, params=params, macs=macs, health=health, files=files, qat_load=qat_load,
                ort_exec=ort_exec, scalarqp_path=p_scalar, u8s8_equiv=u8s8_equiv,
                fp32_vs_torch=fp32_vs_torch, qat_vs_torch=qat_vs_torch, agreement=agreement,
                committed=committed, seed=model_seed(name, seed), entries=entries,
                calib_count=len(cs.calib), ref_meta=cs.ref_meta)
    write_card(name, info, out_dir)
    log(f"[{name}] done in {time.time() - t0:.1f}s")
    return info


def u8_s8_equivalent(p_u8, p_s8):
    """True if the two quantize_static files differ only by uint8 zero points z <-> int8 zero points
    z - 128 (same graph, scales, weights and biases): then they encode the same arithmetic."""
    a, b = onnx.load(str(p_u8)), onnx.load(str(p_s8))
    if [n.op_type for n in a.graph.node] != [n.op_type for n in b.graph.node]:
        return False
    ia = {i.name: numpy_helper.to_array(i) for i in a.graph.initializer}
    ib = {i.name: numpy_helper.to_array(i) for i in b.graph.initializer}
    if ia.keys() != ib.keys():
        return False
    for k, x in ia.items():
        y = ib[k]
        if x.dtype == np.uint8 and y.dtype == np.int8:
            if not np.array_equal(x.astype(np.int32) - 128, y.astype(np.int32)):
                return False
        elif x.dtype != y.dtype or not np.array_equal(x, y):
            return False
    return True


def agreement_stats(spec, ref, outs):
    """int8 vs fp32 over all crops: max abs error, and error relative to the input-dependent spread
    of the fp32 output (mean |err| / mean std-over-crops)."""
    res = {}
    for name, a, b in zip(OUTPUT_NAMES[spec["head"]], ref, outs):
        err = np.abs(a - b)
        spread = a.std(axis=0).mean()
        d = dict(max_abs=float(err.max()), mean_abs=float(err.mean()), fp32_spread=float(spread),
                 err_over_spread=float(err.mean() / max(spread, 1e-12)))
        if spec["head"] == "simcc":
            d["argmax_agree"] = float((a.argmax(-1) == b.argmax(-1)).mean())
        if spec["head"] == "heatmap":
            ah = a.reshape(a.shape[0], a.shape[1], -1).argmax(-1)
            bh = b.reshape(b.shape[0], b.shape[1], -1).argmax(-1)
            d["argmax_agree"] = float((ah == bh).mean())
        if spec["head"] == "rle" and name == "coords":
            d["mean_abs_px"] = float((err * np.array([spec["w"], spec["h"]])).mean())
        res[name] = d
    return res


def write_references(name, spec, files, cs, qat_load, u8s8_equiv, log):
    h, w = spec["h"], spec["w"]
    in_dir = REF_DIR / f"input_{h}x{w}"
    in_dir.mkdir(parents=True, exist_ok=True)
    in_paths = []
    for i in range(N_REF):
        p = in_dir / f"input_{i}.npy"
        np.save(p, cs.ref[i:i + 1])
        in_paths.append(p)
    crops_key = f"mmpose_{h}x{w}"
    entries, ref_outs = [], {}
    for variant, path in files.items():
        sess_path = path
        note = None
        if variant == "qat" and qat_load["disable_all"] != "ok":
            sess_path = files["qat_scalarqp"]
            note = "onnxruntime cannot load the raw file; outputs computed on the lossless _qat_scalarqp rewrite"
        sess = ort_session(sess_path, "disable_all")
        out_names = [o.name for o in sess.get_outputs()]
        vdir = REF_DIR / name / variant
        if vdir.exists():
            shutil.rmtree(vdir)
        vdir.mkdir(parents=True)
        cases, outs_all = [], []
        for i in range(N_REF):
            outs = sess.run(None, {"input": cs.ref[i:i + 1]})
            outs_all.append(outs)
            od = {}
            for on, o in zip(out_names, outs):
                p = vdir / f"{on}_{i}.npy"
                np.save(p, o.astype(np.float32))
                od[on] = rel(p)
            cases.append(dict(id=i, crop=f"{crops_key}/{i}", inputs={"input": rel(in_paths[i])}, outputs=od))
        enable_path = files["qat_scalarqp"] if (variant == "qat" and qat_load["enable_all"] != "ok") else path
        level_diff = compare_ort_levels(enable_path, [{"input": cs.ref[i:i + 1]} for i in range(N_REF)], outs_all, out_names)
        m = onnx.load(str(path))
        entry = dict(
            name=f"{name}_{variant}", arch=name, variant=variant, model=rel(path), model_sha256=sha256(path),
            model_bytes=path.stat().st_size,
            kind="fp32" if variant == "fp32" else "int8-qdq",
            inputs=[dict(name="input", shape=[1, 3, h, w], dtype="float32", layout="NCHW",
                         preprocess="mmpose top-down, RGB, (x - mean) / std", mean=list(MEAN_RGB), std=list(STD_RGB))],
            outputs=[dict(name=o.name, shape=[d.dim_value for d in o.type.tensor_type.shape.dim], dtype="float32")
                     for o in m.graph.output],
            producer=dict(ort_producer("disable_all"), model_loaded=rel(sess_path)),
            cases=cases,
            ort_enable_all_vs_disable_all=level_diff,
        )
        if note:
            entry["note"] = note
        ref_outs[variant] = outs_all
        if variant == "ort_s8s8" and u8s8_equiv:
            same = all(np.array_equal(a, b) for oa, ob in zip(outs_all, ref_outs["ort_u8s8"]) for a, b in zip(oa, ob))
            entry["note"] = ("same arithmetic as the _ort_u8s8 file (activation zero points shifted by -128, everything "
                             "else identical); these outputs " + ("equal the u8s8 ones bit for bit" if same else
                                                                  "nevertheless differ from the u8s8 ones"))
        if variant == "qat_scalarqp":
            entry["note"] = "lossless rewrite of the raw _qat.onnx: Identity indirections removed, [1]-shaped Q/DQ scale and zero-point initializers made rank-0"
        entries.append(entry)
        log(f"[{name}] references {variant}: {len(cases)} cases; ORT_ENABLE_ALL vs ORT_DISABLE_ALL {level_diff}")
    crops = {f"{crops_key}/{i}": dict(cs.ref_meta[i], preprocess="mmpose_topdown", mean=list(MEAN_RGB), std=list(STD_RGB))
             for i in range(N_REF)}
    return dict(entries=entries, crops=crops)


# --------------------------------------------------------------------------------------------
# model card
# --------------------------------------------------------------------------------------------
def fmt_int(v):
    return f"{v:,}"


def head_description(spec):
    h, w = spec["h"], spec["w"]
    if spec["head"] == "rle":
        return [
            "RLE (mmpose `RLEHead` after a `GlobalAveragePooling` neck): `fc = Linear(C, 17*4)`; the output "
            "is reshaped to (1, 17, 4) = (mu_x, mu_y, sigma_x, sigma_y) and sliced.",
            "`coords` [1,17,2]: normalised keypoint position (x, y) in the input crop, keypoint = coords * (W, H) "
            f"= coords * ({w}, {h}).",
            "`sigma` [1,17,2]: raw sigma logits (**no sigmoid in the graph**); mmpose applies sigmoid, "
            "keypoint score = mean(1 - sigmoid(sigma)).",
            "The RealNVP flow prior of RLE is a loss-time module and is not part of the network.",
        ]
    if spec["head"] == "simcc":
        return [
            "SimCC without deconv (mmpose `SimCCHead`, 'wo-deconv'): 1x1 conv C->17, flatten over the "
            f"{h // 32}x{w // 32} grid ({(h // 32) * (w // 32)}), `mlp_head_x = Linear({(h // 32) * (w // 32)}, {2 * w})`, "
            f"`mlp_head_y = Linear({(h // 32) * (w // 32)}, {2 * h})`; simcc_split_ratio = 2.0.",
            f"`simcc_x` [1,17,{2 * w}], `simcc_y` [1,17,{2 * h}]: raw 1-D logits (no softmax). Decode: "
            "x = argmax(simcc_x) / 2.0, y = argmax(simcc_y) / 2.0 in input pixels; score = min(max x, max y).",
        ]
    return [
        "Heatmap (mmpose `HeatmapHead`): 3 x [ConvTranspose 4x4 stride 2 -> 256 (no bias), BN, ReLU], then 1x1 conv -> 17.",
        f"`heatmaps` [1,17,{h // 4},{w // 4}]: raw heatmaps, stride 4 (keypoint = argmax position * 4, with the "
        "quarter-offset refinement in mmpose's MSRAHeatmap decode).",
    ]


def write_card(name, info, out_dir):
    spec, params, macs = info["spec"], info["params"], info["macs"]
    h, w = spec["h"], spec["w"]
    bb = (f"MobileNetV2 {spec['widen']}x (mmpose style: make_divisible(., 8) widths, ReLU6, final 1x1 conv to 1280)"
          if spec["backbone"] == "mbv2" else
          "ShuffleNetV2 1.0x (mmpose style: 116/232/464 channels, ReLU, final 1x1 conv to 1024)")
    L = [f"# {name}", "",
         f"Generated by `models/zoo.py` (seed {info['seed']}); do not edit by hand.", "",
         "**Random weights.** This is a format / numerics / speed fixture, not a trained model. Weights are "
         "seeded random; BN statistics come from real COCO person crops, BN gamma/beta are drawn so the "
         "ReLU/ReLU6 units are neither dead nor saturated, and the last layer is affinely rescaled so its raw "
         "outputs have realistic ranges and depend on the input (targets below). Accuracy numbers are meaningless.",
         "", "## Architecture", "",
         f"* Backbone: {bb}.",
         f"* Head: " + head_description(spec)[0]]
    L += [f"* {s}" for s in head_description(spec)[1:]]
    L += ["", "## Input", "",
          f"* `input`: [1, 3, {h}, {w}] float32, NCHW, **RGB**, normalised per channel as (x - mean) / std on 0..255 "
          f"pixels with mean = {MEAN_RGB}, std = {STD_RGB} (ImageNet).",
          "* Batch 1, static shapes, opset 13.",
          f"* Crop: mmpose top-down (GT/detector box -> centre, scale x1.25, aspect fixed to {w}/{h}, "
          "affine warp without rotation, bilinear, zero border).", "",
          "## Outputs", "", "| name | shape | meaning |", "|---|---|---|"]
    shapes = {"coords": f"[1,17,2]", "sigma": "[1,17,2]", "simcc_x": f"[1,17,{2 * w}]", "simcc_y": f"[1,17,{2 * h}]",
              "heatmaps": f"[1,17,{h // 4},{w // 4}]"}
    meanings = {"coords": "normalised (x, y) in [0,1] of the input crop", "sigma": "raw sigma logits (apply sigmoid)",
                "simcc_x": "x logits, 2 bins per input pixel", "simcc_y": "y logits, 2 bins per input pixel",
                "heatmaps": "raw heatmaps, stride 4"}
    for o in OUTPUT_NAMES[spec["head"]]:
        L.append(f"| `{o}` | {shapes[o]} | {meanings[o]} |")
    L += ["", "Keypoint order (COCO): nose, l_eye, r_eye, l_ear, r_ear, l_shoulder, r_shoulder, l_elbow, r_elbow, "
          "l_wrist, r_wrist, l_hip, r_hip, l_knee, r_knee, l_ankle, r_ankle.", "",
          "## Parameters and MACs", "",
          "Trainable parameters (BN gamma/beta included, running statistics excluded), checked against the "
          "project's table on every run:", "",
          "| part | params |", "|---|---|",
          f"| backbone | {fmt_int(params['backbone'])} |", f"| head | {fmt_int(params['head'])} |",
          f"| total | {fmt_int(params['total'])} |", "",
          "MACs per inference (forward hooks, BN folded; activations, pooling and adds not counted; "
          "ConvTranspose = in_elems * Cout * k^2):", "",
          "| conv | depthwise | deconv | linear | total |", "|---|---|---|---|---|",
          f"| {fmt_int(macs['conv'])} | {fmt_int(macs['depthwise'])} | {fmt_int(macs['deconv'])} | "
          f"{fmt_int(macs['linear'])} | {fmt_int(macs['total'])} ({macs['total'] / 1e9:.3f} GMAC) |", ""]
    hl = info["health"]
    L += ["## Activation statistics of the float model (calibration crops)", "",
          f"* {hl['layers']} ReLU/ReLU6 layers: fraction of zeros median {hl['zero_median']:.2f} "
          f"(min {hl['zero_min']:.2f}, max {hl['zero_max']:.2f}); fraction at the ReLU6 ceiling median "
          f"{hl['sat_median']:.4f} (max {hl['sat_max']:.4f}).",
          f"* Channels that are zero on every crop and pixel: {hl['dead_channels']} of {hl['channels']}; "
          f"always saturated: {hl['always_saturated_channels']}.",
          "* Head output targets (mean, std over the calibration crops, per output unit): " +
          ", ".join(f"{k} {v}" for k, v in HEAD_TARGETS.items()
                    if k.startswith(spec["head"])) + ".", ""]
    # files
    L += ["## Files", "", "| file | bytes | sha256 | what |", "|---|---|---|---|"]
    what = {"fp32": "float32, TorchScript exporter (dynamo=False), opset 13, constant folding; the exporter folds BN into Conv (a BN after ConvTranspose stays a BatchNormalization node)",
            "qat": "PyTorch QAT-style fake-quant export (raw torch output)",
            "qat_scalarqp": "lossless rewrite of `_qat.onnx` for onnxruntime (Identity indirections removed, [1]-shaped qparams -> scalars)",
            "ort_u8s8": "onnxruntime quantize_static QDQ, uint8 activations, int8 per-channel weights",
            "ort_s8s8": "onnxruntime quantize_static QDQ, int8 activations, int8 per-channel weights"}
    for v, p in info["files"].items():
        L.append(f"| `{p.name}` | {fmt_int(p.stat().st_size)} | `{sha256(p)[:16]}…` | {what[v]} |")
    L += [""]
    # quantization settings
    L += ["## Quantization settings", "",
          "### `_qat.onnx` (PyTorch QAT-style fake-quant)", ""]
    L += [f"* {k}: {v}" for k, v in QAT_SETTINGS.items()]
    L += ["* Export: `torch.onnx.export(..., opset_version=13, dynamo=False, do_constant_folding=True)`; each "
          "FakeQuantize becomes QuantizeLinear -> DequantizeLinear. Weights stay float32 initializers followed "
          "by a per-axis Q -> DQ pair (not pre-quantized).",
          "* Placement: input -> Q/DQ (s8); Conv(+folded BN) -> Clip/Relu -> Q/DQ (u8) for activated convs; "
          "Conv -> Q/DQ (s8) for linear convs; Add -> Q/DQ (s8); GAP / max-pool / concat outputs -> Q/DQ (u8); "
          "Linear / head conv -> Q/DQ (s8); reshape/slice/flatten/shuffle are not requantized.",
          f"* onnxruntime on the raw file: ORT_DISABLE_ALL {info['qat_load']['disable_all']}; "
          f"ORT_ENABLE_ALL {info['qat_load']['enable_all']}.",
          "* Per-tensor scales and zero points are exported by torch as 1-element 1-D tensors (shape [1]). "
          "By the letter of the ONNX spec (opset 13) a 1-D scale means per-axis along `axis` (default 1), so "
          "this is only valid where that dimension is 1; runtimes treat it as per-tensor. Many initializers are "
          "reached through `Identity` nodes (the exporter de-duplicates equal constants that way).",
          (f"* `{info['scalarqp_path'].name}` bypasses those Identity nodes and rewrites the [1]-shaped qparams to "
           "rank-0 scalars (bit-identical outputs under "
           "ORT_DISABLE_ALL). " + ("It is committed because onnxruntime cannot load the raw file."
                                   if "qat_scalarqp" in info["files"] else
                                   f"onnxruntime loads the raw file, so the rewrite is not committed: `python models/zoo.py` "
                                   f"writes it to `{rel(info['scalarqp_path'])}` (git-ignored). With the [1]-shaped "
                                   "qparams onnxruntime fuses only part of the graph into int8 kernels; see the execution "
                                   "table below.")),
          f"* torch fake-quant vs ORT (ORT_DISABLE_ALL) max abs diff per output over all crops: "
          f"{', '.join(f'{x:.2e}' for x in info['qat_vs_torch'])} (torch multiplies by 1/scale where ONNX divides, "
          "and the float convolutions sum in a different order: rare one-step rounding differences, which then "
          "spread through the network).", "",
          "### `_ort_u8s8.onnx` / `_ort_s8s8.onnx` (onnxruntime quantize_static)", ""]
    L += [f"* {k}: {v}" for k, v in ORT_QUANT_SETTINGS.items()]
    L += ["* activation_type: QUInt8 (u8s8) / QInt8 (s8s8); Relu/Clip are folded into the producer's output "
          "range by the tool; weights are int8 initializers -> DQ (per-axis), biases int32 initializers -> DQ."]
    if info["u8s8_equiv"]:
        L += ["* The two files encode the same arithmetic: same graph, scales, weights and biases; every uint8 "
              "activation zero point z is int8 z - 128 in `_ort_s8s8`. Executed as written (ORT_DISABLE_ALL) they "
              "give bit-identical outputs; they differ only in which int8 kernels a runtime picks for them."]
    L += [""]
    # per-file graph details
    L += ["## Graph contents", ""]
    for v, p in info["files"].items():
        m = onnx.load(str(p))
        sa = shape_arithmetic(m)
        L += [f"### `{p.name}`", "",
              f"* Ops ({len(m.graph.node)} nodes): " + ", ".join(f"{k} {c}" for k, c in op_histogram(m).items()),
              "* Shape arithmetic left in the graph: " +
              ("none" if sa["nodes"] == 0 else
               f"**yes**, {sa['nodes']} nodes ({', '.join(f'{k} {c}' for k, c in sa['ops'].items())}) feeding "
               f"{', '.join(sa['consumers'])}; all input shapes are static, so a loader can constant-fold them")]
        if v != "fp32":
            d = describe_qdq(m)
            L += [f"* QuantizeLinear {d['QuantizeLinear']}, DequantizeLinear {d['DequantizeLinear']}",
                  f"* activation Q/DQ zero-point dtypes: {d['activation_zero_point_dtypes']}; "
                  f"activation qparam shapes: {d['activation_qparam_shapes']}",
                  f"* constant (weight / bias) paths: {d['constant_paths']}"]
        L += [""]
    L += ["## What onnxruntime executes (ORT_ENABLE_ALL optimized graph, CPU EP)", "",
          "| file | ops after optimization |", "|---|---|"]
    for v, hist in info["ort_exec"].items():
        L.append(f"| {v} | " + ", ".join(f"{k} {c}" for k, c in hist.items()) + " |")
    L += [""]
    # agreement
    L += [f"## int8 vs fp32 (onnxruntime ORT_DISABLE_ALL, all {len(info['ref_meta']) + info['calib_count']} COCO-mini-dev crops)", "",
          "`err/spread` = mean |int8 - fp32| divided by the mean (over output elements) of the fp32 output's "
          "standard deviation across crops, i.e. quantization error relative to the input-dependent signal. "
          "Random weights: this measures the fixture's numerics, not pose accuracy.", "",
          "| file | output | max abs | mean abs | err/spread | extra |", "|---|---|---|---|---|---|"]
    for v, outs in info["agreement"].items():
        for on, d in outs.items():
            extra = []
            if "argmax_agree" in d:
                extra.append(f"argmax agreement {d['argmax_agree']:.3f}")
            if "mean_abs_px" in d:
                extra.append(f"mean abs {d['mean_abs_px']:.2f} px")
            L.append(f"| {v} | `{on}` | {d['max_abs']:.4f} | {d['mean_abs']:.4f} | {d['err_over_spread']:.3f} | "
                     f"{'; '.join(extra)} |")
    L += [""]
    if info["committed"]:
        L += ["## Reference outputs", "",
              f"onnxruntime {ort.__version__}, CPUExecutionProvider, ORT_DISABLE_ALL, 1 thread, on {N_REF} COCO person "
              f"crops held out of calibration; see `tests/data/reference/manifest.json` (entries `{name}_*`). "
              "ORT_DISABLE_ALL executes every node as written (each Q/DQ pair simulates int8 in float32), which is "
              "the ONNX semantics and does not depend on the CPU's int8 instructions.", "",
              "With ORT_ENABLE_ALL onnxruntime fuses QDQ groups into int8 kernels. On an x86 CPU without VNNI (this "
              f"machine reports only {' '.join(cpu_flags()) or 'no AVX flags'}) its default u8s8 kernels sum "
              "uint8 x int8 products pairwise in int16, which saturates; that is what onnxruntime's "
              "`session.x64quantprecision=1` option avoids. Measured on mbv2_0.5x_rle u8s8, crop 0: with default "
              "options 1.8% of the first conv's outputs differ from ORT_DISABLE_ALL by up to 89 LSB; with "
              "x64quantprecision=1 the first layers are bit-exact and differences start as rare one-step rounding-tie "
              "flips (0.002% of the elements in layer2, 0.2% by layer3) that spread through the network. So "
              "whole-network int8 outputs of two correct executions agree only to roughly the values below "
              "(max abs / mean abs against the stored outputs, reference crops):", "",
              "| file | output | ENABLE_ALL default | ENABLE_ALL x64quantprecision=1 |", "|---|---|---|---|"]
        for e in info["entries"]["entries"]:
            lv = e["ort_enable_all_vs_disable_all"]
            for on in e["cases"][0]["outputs"]:
                cells = []
                for tag in ("default", "x64quantprecision=1"):
                    d = lv[tag]
                    cells.append(d if isinstance(d, str) else f"{d[on]['max_abs']:.2e} / {d[on]['mean_abs']:.2e}")
                L.append(f"| {e['variant']} | `{on}` | {cells[0]} | {cells[1]} |")
        L += ["", "Crops:", ""]
        for i, mt in enumerate(info["ref_meta"]):
            L.append(f"* {i}: `{mt['image']}`, annotation {mt['ann_id']}, bbox xywh {[round(v, 2) for v in mt['bbox_xywh']]}")
        L += [""]
    L += [f"Calibration crops: {info['calib_count']} (COCO-mini-dev people with keypoints, minus the reference crops).", ""]
    (out_dir / f"{name}.md").write_text("\n".join(L))


# --------------------------------------------------------------------------------------------
# BlazePose
# --------------------------------------------------------------------------------------------
BLAZE_FILES = {"fp32": "pose_landmark_full.onnx", "int8": "pose_landmark_full.int8.onnx"}
BLAZE_OUTPUTS = {
    "Identity": "[1,195] = 39 x (x, y, z, visibility logit, presence logit); x/y in 256-px crop units; the first 33 are body landmarks",
    "Identity_1": "[1,1] pose flag (already sigmoided)",
    "Identity_2": "[1,256,256,1] segmentation logits",
    "Identity_3": "[1,64,64,39] heatmaps (NHWC)",
    "Identity_4": "[1,117] world landmarks (metres)",
}
BLAZE_BIG = ("Identity_2", "Identity_3")


def blazepose(src, log):
    BLAZE_DIR.mkdir(parents=True, exist_ok=True)
    for f in BLAZE_FILES.values():
        dst = BLAZE_DIR / f
        if not dst.exists() and (Path(src) / f).exists():
            shutil.copyfile(Path(src) / f, dst)
            log(f"[blazepose] copied {f}")
        if not dst.exists():
            raise SystemExit(f"missing {dst}; pass --blazepose-src")
    (BLAZE_DIR / "NOTICE").write_text(
        "BlazePose-full pose landmark model (pose_landmark_full.onnx, pose_landmark_full.int8.onnx)\n\n"
        "Copyright Google LLC. Licensed under the Apache License, Version 2.0\n"
        "(https://www.apache.org/licenses/LICENSE-2.0).\n\n"
        "Source: pose_landmark_full.tflite from the Google MediaPipe 0.10.14 Python wheel (PyPI `mediapipe`).\n"
        "Modifications: converted to ONNX with tf2onnx (--tflite, opset 13) -> pose_landmark_full.onnx.\n"
        "pose_landmark_full.int8.onnx is an onnxruntime quantize_static QDQ export of that ONNX file\n"
        "(per-channel int8 weights, int8 activations, MinMax calibration on COCO-mini-dev crops).\n"
        "No weights were changed otherwise. These files are redistributed as test fixtures.\n")
    images, people = load_coco()
    ref = select_reference_people(images, people, N_REF)[:N_REF_BLAZE]
    xs, metas = zip(*(blazepose_crop(a, images) for a in ref))
    in_dir = REF_DIR / "input_blazepose_256x256_nhwc"
    in_dir.mkdir(parents=True, exist_ok=True)
    in_paths = []
    for i, x in enumerate(xs):
        p = in_dir / f"input_{i}.npy"
        np.save(p, x)
        in_paths.append(p)
    # decide whether the big outputs fit for all crops
    big_bytes = 4 * (256 * 256 * 1 + 64 * 64 * 39) * len(xs) * len(BLAZE_FILES)
    big_cases = len(xs) if big_bytes <= BIG_FIXTURE_LIMIT else 1
    entries, infos = [], {}
    for variant, f in BLAZE_FILES.items():
        path = BLAZE_DIR / f
        sess = ort_session(path, "disable_all")
        in_name = sess.get_inputs()[0].name
        out_names = [o.name for o in sess.get_outputs()]
        vdir = REF_DIR / "blazepose" / variant
        if vdir.exists():
            shutil.rmtree(vdir)
        vdir.mkdir(parents=True)
        cases, outs_all = [], []
        for i, x in enumerate(xs):
            outs = sess.run(None, {in_name: x})
            outs_all.append(outs)
            od = {}
            for on, o in zip(out_names, outs):
                if on in BLAZE_BIG and i >= big_cases:
                    continue
                p = vdir / f"{on}_{i}.npy"
                np.save(p, o.astype(np.float32))
                od[on] = rel(p)
            cases.append(dict(id=i, crop=f"blazepose_256x256/{i}", inputs={in_name: rel(in_paths[i])}, outputs=od))
        level_diff = compare_ort_levels(path, [{in_name: x} for x in xs], outs_all, out_names)
        m = onnx.load(str(path))
        infos[variant] = dict(path=path, ops=op_histogram(m), nodes=len(m.graph.node), qdq=describe_qdq(m) if variant == "int8" else None,
                              params=sum(int(np.prod(i.dims)) for i in m.graph.initializer), opset=[(o.domain, o.version) for o in m.opset_import])
        entry = dict(
            name=f"blazepose_{variant}", arch="blazepose", variant=variant, model=rel(path), model_sha256=sha256(path),
            model_bytes=path.stat().st_size, kind="fp32" if variant == "fp32" else "int8-qdq",
            inputs=[dict(name=in_name, shape=[1, 256, 256, 3], dtype="float32", layout="NHWC",
                         preprocess="BlazePose ROI: square, side 1.25*max(w,h), centred on the box, no rotation, "
                                    "bilinear, zero border, RGB / 255")],
            outputs=[dict(name=o.name, shape=[d.dim_value for d in o.type.tensor_type.shape.dim], dtype="float32")
                     for o in m.graph.output],
            producer=dict(ort_producer("disable_all"), model_loaded=rel(path)),
            cases=cases, ort_enable_all_vs_disable_all=level_diff,
            note=(f"{', '.join(BLAZE_BIG)} are stored for crop 0 only (fixture size)" if big_cases < len(xs) else None),
        )
        entries.append({k: v for k, v in entry.items() if v is not None})
        log(f"[blazepose] {variant}: references on {len(xs)} crops; ORT_ENABLE_ALL vs ORT_DISABLE_ALL {level_diff}")
    crops = {f"blazepose_256x256/{i}": dict(mt, preprocess="blazepose_roi") for i, mt in enumerate(metas)}
    write_blaze_card(infos, metas, big_cases, entries)
    return dict(entries=entries, crops=crops)


def write_blaze_card(infos, metas, big_cases, entries):
    L = ["# BlazePose-full landmark model (MediaPipe 0.10.14)", "",
         "Generated by `models/zoo.py`; facts from the provider's notes (`/work/shared/models/README.md`) and from "
         "inspecting the files. Licence: Apache-2.0, see `NOTICE`.", "",
         "Real trained third-party weights: the fixture for the importer (asymmetric TF-style pads, Resize, "
         "NHWC input), the int8 path on a real QDQ file, and the calibrator.", "",
         "## Input", "",
         "* `input_1`: [1, 256, 256, 3] float32, **NHWC, RGB, range [0, 1]** (pixel / 255). The graph starts with "
         "a Pad in NHWC and one Transpose to NCHW.",
         "* Top-down protocol used for the references: square ROI centred on the person box, side = 1.25 x max(w, h), "
         "no rotation, bilinear warp to 256x256 with zero border; landmarks map back with the inverse warp.", "",
         "## Outputs", "", "| name | shape / meaning |", "|---|---|"]
    L += [f"| `{k}` | {v} |" for k, v in BLAZE_OUTPUTS.items()]
    L += ["", "COCO's 17 keypoints are BlazePose landmarks `[0,2,5,7,8,11,12,13,14,15,16,23,24,25,26,27,28]`. "
          "Keypoint score = sigmoid(visibility logit); instance score = pose flag x mean keypoint score.", "",
          "## Files", "", "| file | bytes | sha256 | params (initializer elements) | nodes |", "|---|---|---|---|---|"]
    for v, info in infos.items():
        p = info["path"]
        L.append(f"| `{p.name}` | {fmt_int(p.stat().st_size)} | `{sha256(p)[:16]}…` | {fmt_int(info['params'])} | {info['nodes']} |")
    L += ["", "* `pose_landmark_full.onnx`: fp32, converted from the MediaPipe 0.10.14 TFLite model with "
          "`tf2onnx --tflite`, opset 13; 3.17 M parameters.",
          "* `pose_landmark_full.int8.onnx`: onnxruntime `quantize_static` QDQ of the fp32 file: per-channel int8 "
          "weights (axis 0), int8 activations, MinMax calibration on COCO-mini-dev crops.", "",
          "## Accuracy (provider's measurement, COCO-mini-dev, ground-truth boxes, 86 people)", "",
          "| variant | AP | AR |", "|---|---|---|",
          "| fp32 (onnxruntime) | 0.156 | 0.181 |",
          "| int8 QDQ (`pose_landmark_full.int8.onnx`) | **0.000** | 0.000 |",
          "| int8 weights only, fp32 activations | 0.144 | 0.159 |", "",
          "Low absolute AP: BlazePose is a single-person fitness model and COCO people are often truncated. Plain "
          "PTQ collapses this model (folded depthwise weights reach |w| = 504 and ReLU6 saturates), so the int8 "
          "file is a *numerics* fixture (match onnxruntime on it), not an accuracy target.", "",
          "## Graph contents", ""]
    for v, info in infos.items():
        L.append(f"* `{info['path'].name}` ({info['nodes']} nodes, opsets {info['opset']}): " +
                 ", ".join(f"{k} {c}" for k, c in info["ops"].items()))
        if info["qdq"]:
            d = info["qdq"]
            L.append(f"  * Q {d['QuantizeLinear']}, DQ {d['DequantizeLinear']}; activation zero-point dtypes "
                     f"{d['activation_zero_point_dtypes']}, qparam shapes {d['activation_qparam_shapes']}; constant paths "
                     f"{d['constant_paths']}")
    L += ["", "## Reference outputs", "",
          f"onnxruntime {ort.__version__}, ORT_DISABLE_ALL, 1 thread, on {len(metas)} COCO person crops "
          f"(`tests/data/reference/manifest.json`, entries `blazepose_*`). All 5 outputs for crop 0"
          + ("" if big_cases == len(metas) else "; `Identity`, `Identity_1`, `Identity_4` only for the other crops "
             "(the segmentation and heatmap outputs would push the fixtures over 3 MB)") + ".", "",
          "onnxruntime ORT_ENABLE_ALL (fused kernels) against the stored ORT_DISABLE_ALL outputs (max abs / mean abs); "
          "on this CPU without VNNI the default u8s8/s8s8 int8 kernels saturate int16 pair sums, "
          "`session.x64quantprecision=1` avoids that:", "",
          "| file | output | ENABLE_ALL default | ENABLE_ALL x64quantprecision=1 |", "|---|---|---|---|"]
    for e in entries:
        lv = e["ort_enable_all_vs_disable_all"]
        for on in BLAZE_OUTPUTS:
            cells = [lv[t] if isinstance(lv[t], str) else f"{lv[t][on]['max_abs']:.3g} / {lv[t][on]['mean_abs']:.3g}"
                     for t in ("default", "x64quantprecision=1")]
            L.append(f"| {e['variant']} | `{on}` | {cells[0]} | {cells[1]} |")
    L += ["", "Crops:", ""]
    for i, mt in enumerate(metas):
        L.append(f"* {i}: `{mt['image']}`, annotation {mt['ann_id']}, bbox xywh {[round(v, 2) for v in mt['bbox_xywh']]}")
    L += [""]
    (BLAZE_DIR / "README.md").write_text("\n".join(L))


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------
def update_manifest(parts):
    old = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    models = {e["name"]: e for e in old.get("models", [])}
    crops = dict(old.get("crops", {}))
    archs = {e["arch"] for p in parts for e in p["entries"]}
    models = {k: v for k, v in models.items() if v["arch"] not in archs}
    for p in parts:
        for e in p["entries"]:
            models[e["name"]] = e
        crops.update(p["crops"])
    used = {c["crop"] for e in models.values() for c in e["cases"]}
    crops = {k: v for k, v in sorted(crops.items()) if k in used}
    doc = dict(
        schema="qpose-reference-manifest/1",
        generated_by="models/zoo.py",
        description=("Reference outputs for every committed model file. Iterate `models`; for each entry load "
                     "`model`, feed each case's `inputs` (name -> .npy path) and compare with each case's `outputs` "
                     "(output name -> .npy path; a case may list a subset of the model's outputs). Paths are relative "
                     "to the repository root. `.npy` files are NumPy format 1.0, little-endian float32, C order, with "
                     "the full tensor shape including batch. `producer` says how the outputs were computed; "
                     "All outputs come from ORT_DISABLE_ALL (every node executed as written, Q/DQ simulated in "
                     "float32: the ONNX semantics, independent of the CPU's int8 instructions). "
                     "`ort_enable_all_vs_disable_all` gives, per output, the max / mean abs difference of onnxruntime "
                     "ORT_ENABLE_ALL (fused int8 kernels) against the stored outputs, with default options (on x86 "
                     "without VNNI the u8s8 kernels saturate int16 pair sums) and with session.x64quantprecision=1: "
                     "a floor for whole-network int8 tolerances. `crops` describes how each input was cut from its COCO image "
                     "(tests/data/coco-mini-dev); `warp` maps image pixel coordinates to crop pixel coordinates."),
        models=[models[k] for k in sorted(models)],
        crops=crops,
    )
    REF_DIR.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(json.dumps(doc, indent=1) + "\n")


def verify_manifest(log):
    """Re-run every manifest entry with its recorded onnxruntime settings and compare with the stored
    outputs (exact equality expected on the machine that made them), checking paths and shapes."""
    doc = json.loads(MANIFEST.read_text())
    bad = 0
    for e in doc["models"]:
        model = REPO / e["model"]
        if sha256(model) != e["model_sha256"]:
            log(f"  {e['name']}: model sha256 mismatch")
            bad += 1
        sess = ort_session(REPO / e["producer"]["model_loaded"], "disable_all")
        shapes = {o["name"]: o["shape"] for o in e["outputs"]}
        worst = 0.0
        for c in e["cases"]:
            feed = {k: np.load(REPO / v) for k, v in c["inputs"].items()}
            for spec in e["inputs"]:
                if list(feed[spec["name"]].shape) != spec["shape"]:
                    log(f"  {e['name']} case {c['id']}: input shape {feed[spec['name']].shape} != {spec['shape']}")
                    bad += 1
            got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
            for on, path in c["outputs"].items():
                ref = np.load(REPO / path)
                if list(ref.shape) != shapes[on] or ref.dtype != np.float32:
                    log(f"  {e['name']} case {c['id']} {on}: stored {ref.dtype}{list(ref.shape)} vs spec {shapes[on]}")
                    bad += 1
                worst = max(worst, float(np.abs(got[on] - ref).max()))
        n_out = sum(len(c["outputs"]) for c in e["cases"])
        log(f"  {e['name']}: {len(e['cases'])} cases, {n_out} output files, max abs diff {worst:.3g}")
        if worst > 0:
            bad += 1
    if bad:
        raise SystemExit(f"manifest verification: {bad} problem(s)")
    log(f"manifest verification: all {len(doc['models'])} entries reproduce exactly")


# --------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="also build the bigger variants into models/generated/: "
                    + ", ".join(GENERATED))
    ap.add_argument("--only", nargs="+", metavar="MODEL", help="build only these models (committed or generated names)")
    ap.add_argument("--no-blazepose", action="store_true", help="skip the BlazePose NOTICE / card / references step")
    ap.add_argument("--blazepose-src", default="/work/shared/models",
                    help="where to copy the BlazePose ONNX files from if models/blazepose/ lacks them (default: %(default)s)")
    ap.add_argument("--check-params", action="store_true", help="only print and check the parameter-count table")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default: %(default)s)")
    ap.add_argument("--verify", action="store_true", help="only re-run tests/data/reference/manifest.json with "
                    "onnxruntime and check every stored output (paths, shapes, values)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    def log(msg):
        print(msg, flush=True)

    if args.verify:
        verify_manifest(log)
        return
    check_param_table()
    if args.check_params:
        return
    names = args.only or (COMMITTED + (GENERATED if args.all else []))
    for n in names:
        if n not in COMMITTED + GENERATED:
            raise SystemExit(f"unknown model {n}; known: {COMMITTED + GENERATED}")
    parts, summary = [], []
    for n in names:
        info = build_model(n, args.seed, log)
        if info["committed"]:
            parts.append(info["entries"])
        summary.append(info)
    if not args.no_blazepose and not args.only:
        parts.append(blazepose(args.blazepose_src, log))
    if parts:
        update_manifest(parts)
        log(f"wrote {rel(MANIFEST)}")
    log("\nsummary:")
    for info in summary:
        sizes = ", ".join(f"{p.name} {p.stat().st_size:,}" for p in info["files"].values())
        log(f"  {info['spec']['name']}: params {info['params']['total']:,} ({info['params']['backbone']:,} + "
            f"{info['params']['head']:,}), {info['macs']['total'] / 1e9:.3f} GMAC; {sizes}")


if __name__ == "__main__":
    main()
