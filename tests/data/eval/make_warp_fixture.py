#!/usr/bin/env python3
"""Reference crops for qpose's top-down preprocessing (box -> centre/scale -> affine -> warp).

For three COCO-mini-dev people (ground-truth boxes), cuts the part of the image the crop reads
(every pixel the bilinear warp can touch, clipped to the image) and saves it losslessly as
`crop_<case>.png`: JPEG decoders differ by a grey level or two (the `image` crate vs
libjpeg-turbo), PNG does not. In that region's coordinates it computes mmpose's centre/scale
(padding 1.25 and aspect fix, or BlazePose's square ROI), the 2x3 warp matrix (mmpose
get_warp_matrix, or get_udp_warp_matrix), and warps the RGB pixels into the input size twice:
  * `warp_<case>.ref.f32`: an independent float bilinear resampler in numpy (pixel centres at
    integer coordinates, neighbours outside the image count as 0) -- little-endian float32, HWC;
  * `warp_<case>.cv2.u8`: cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) -- uint8, HWC, which
    rounds sample positions to 1/32 pixel and uses fixed-point weights.
`warp_cases.json` lists the cases with the expected centre, scale and matrix.
`src/pipeline/warp_fixture_tests.rs` repeats the computation and compares (tolerances there).

Re-run (from the repository root):
    /work/venv/bin/python tests/data/eval/make_warp_fixture.py [images_dir]
`images_dir` defaults to tests/data/coco-mini-dev/images. Needs numpy, pillow and
opencv-python-headless.
"""
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

# (case, image, GT bbox xywh, protocol, input (w, h), udp)
CASES = [
    ("mmpose_right_edge", "000000113488.jpg", [534.89, 88.19, 105.11, 130.71], "mmpose", (48, 64), False),
    ("square_left_edge", "000000370162.jpg", [0, 147.94, 33.56, 76.11], "square", (64, 64), False),
    ("udp_inside", "000000113488.jpg", [351.23, 189.9, 53.04, 64.04], "mmpose", (48, 64), True),
]


def center_scale(bbox, protocol, input_wh, padding=1.25):
    x, y, w, h = bbox
    center = np.array([x + w * 0.5, y + h * 0.5])
    if protocol == "mmpose":
        scale = np.array([w, h]) * padding
    else:
        s = max(w, h) * padding
        scale = np.array([s, s])
    aspect = input_wh[0] / input_wh[1]
    if scale[0] > scale[1] * aspect:
        scale = np.array([scale[0], scale[0] / aspect])
    else:
        scale = np.array([scale[1] * aspect, scale[1]])
    return center, scale


def warp_matrix(center, scale, input_wh, udp):
    """Image -> input crop, no rotation (mmpose get_warp_matrix / get_udp_warp_matrix)."""
    w, h = input_wh
    if udp:
        sx, sy = (w - 1) / scale[0], (h - 1) / scale[1]
        return np.array([[sx, 0, sx * (scale[0] / 2 - center[0])], [0, sy, sy * (scale[1] / 2 - center[1])]])
    # Three point pairs as mmpose builds them (fix_aspect_ratio=True): the centre, the centre
    # moved left by sw/2, and a third point turning that offset by 90 degrees; in float32.
    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]])

    s0, s1 = center, center + np.array([-scale[0] * 0.5, 0.0])
    d0 = np.array([w * 0.5, h * 0.5])
    d1 = d0 + np.array([-w * 0.5, 0.0])
    src = np.array([s0, s1, third(s0, s1)], np.float32)
    dst = np.array([d0, d1, third(d0, d1)], np.float32)
    return cv2.getAffineTransform(src, dst).astype(np.float64)


def bilinear(img, m, input_wh):
    w, h = input_wh
    inv = cv2.invertAffineTransform(m)
    ih, iw = img.shape[:2]
    out = np.zeros((h, w, 3), np.float64)
    for r in range(h):
        for c in range(w):
            sx = inv[0, 0] * c + inv[0, 1] * r + inv[0, 2]
            sy = inv[1, 0] * c + inv[1, 1] * r + inv[1, 2]
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            fx, fy = sx - x0, sy - y0
            for px, py, wgt in [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                                (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]:
                if 0 <= px < iw and 0 <= py < ih:
                    out[r, c] += wgt * img[py, px]
    return out.astype(np.float32)


def source_region(bbox, protocol, input_wh, udp, width, height):
    """Integer image rectangle [x0, x1) x [y0, y1) holding every pixel the warp can read."""
    center, scale = center_scale(bbox, protocol, input_wh)
    inv = cv2.invertAffineTransform(warp_matrix(center, scale, input_wh, udp))
    w, h = input_wh
    corners = np.array([[c, r, 1.0] for c in (-1, w) for r in (-1, h)]) @ inv.T
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 3
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def main():
    images = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/coco-mini-dev/images")
    meta = []
    for name, file, image_bbox, protocol, input_wh, udp in CASES:
        full = np.asarray(Image.open(os.path.join(images, file)).convert("RGB"))
        x0, y0, x1, y1 = source_region(image_bbox, protocol, input_wh, udp, full.shape[1], full.shape[0])
        img = full[y0:y1, x0:x1]
        Image.fromarray(img).save(os.path.join(HERE, f"crop_{name}.png"), optimize=True)
        # Everything below is in the coordinates of the saved region.
        bbox = [image_bbox[0] - x0, image_bbox[1] - y0, image_bbox[2], image_bbox[3]]
        center, scale = center_scale(bbox, protocol, input_wh)
        m = warp_matrix(center, scale, input_wh, udp)
        ref = bilinear(img, m, input_wh)
        cv = cv2.warpAffine(img, m, input_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        ref.astype("<f4").tofile(os.path.join(HERE, f"warp_{name}.ref.f32"))
        cv.astype(np.uint8).tofile(os.path.join(HERE, f"warp_{name}.cv2.u8"))
        diff = np.abs(ref - cv)
        print(f"{name}: |numpy - cv2| max {diff.max():.3f} mean {diff.mean():.4f}")
        meta.append({"name": name, "image": file, "region_in_image": [int(x0), int(y0), int(x1), int(y1)],
                     "bbox": bbox, "protocol": protocol, "input": list(input_wh),
                     "udp": udp, "center": center.tolist(), "scale": scale.tolist(), "matrix": m.tolist()})
    with open(os.path.join(HERE, "warp_cases.json"), "w") as f:
        json.dump({"generator": "tests/data/eval/make_warp_fixture.py", "cases": meta}, f, indent=1)


if __name__ == "__main__":
    main()
