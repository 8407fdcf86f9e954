#!/usr/bin/env python3
"""Reference decodes for qpose's head decoders, written independently of the Rust code.

Implements mmpose 1.x's decoding formulas (codecs SimCCLabel, MSRAHeatmap with and without
DARK, UDPHeatmap 'gaussian', RegressionLabel for RLE / regression / integral regression, and the
flip-test merges of mmpose.models.utils.tta) in plain numpy, with OpenCV's GaussianBlur for the
DARK/UDP modulation, on random and structured inputs. Writes `fixtures.json` beside this file;
`src/heads/tests.rs` decodes the same inputs and compares (tolerances there).

Re-run (from the repository root):
    /work/venv/bin/python tests/data/heads/make_fixtures.py
Needs numpy and opencv-python-headless. Seeded: the output is deterministic.

Deliberate difference from mmpose, mirrored in Rust: keypoints whose score is <= 0 get
location -1 and are not refined (mmpose's DARK/UDP steps would refine them from the memory
around index -1; their location is meaningless either way).
"""
import json
import os

import cv2
import numpy as np

RNG = np.random.default_rng(20240611)
HERE = os.path.dirname(os.path.abspath(__file__))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def tensor(name, arr):
    """A named float32 tensor; values are written as their shortest float32 round-trip decimal."""
    arr = f32(arr)
    return {"name": name, "shape": list(arr.shape), "data": [float(str(v)) for v in arr.ravel()]}


# ---------------------------------------------------------------- shared pieces

def first_argmax(v):
    i = int(np.argmax(v))  # numpy returns the first maximum
    return i, float(v[i])


def modulate(arr, kernel):
    """Blur with a zero border (pad, cv2.GaussianBlur with sigma 0, crop) and rescale to the
    original maximum. `arr` is 1-D or 2-D float32."""
    b = (kernel - 1) // 2
    origin_max = arr.max()
    if arr.ndim == 1:
        padded = np.zeros((1, arr.shape[0] + 2 * b), np.float32)
        padded[0, b:-b] = arr
        out = cv2.GaussianBlur(padded, (kernel, 1), 0)[0, b:-b]
    else:
        padded = np.zeros((arr.shape[0] + 2 * b, arr.shape[1] + 2 * b), np.float32)
        padded[b:-b, b:-b] = arr
        out = cv2.GaussianBlur(padded, (kernel, kernel), 0)[b:-b, b:-b]
    m = out.max()
    if m != 0:
        out = out * (origin_max / m)
    return out.astype(np.float32)


# ---------------------------------------------------------------- SimCC

def simcc_kernel(sigma):
    k = int((sigma * 20 - 7) // 3)
    return k - 1 if k % 2 == 0 else k


def dark_1d(v, b, kernel):
    m = np.clip(modulate(v, kernel), 1e-3, 50.0)
    lg = np.log(m).astype(np.float64)
    n = len(lg)

    def at(d):
        return lg[min(max(b + d, 0), n - 1)]

    dx = 0.5 * (at(1) - at(-1))
    dxx = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
    return b - dx / dxx


def decode_simcc(x, y, split, dark_sigma=None):
    out = []
    for k in range(x.shape[0]):
        bx, vx = first_argmax(x[k])
        by, vy = first_argmax(y[k])
        score = min(vx, vy)
        if score <= 0:
            out.append([-1.0 / split, -1.0 / split, score])
            continue
        fx, fy = float(bx), float(by)
        if dark_sigma is not None:
            fx = dark_1d(x[k], bx, simcc_kernel(dark_sigma[0]))
            fy = dark_1d(y[k], by, simcc_kernel(dark_sigma[1]))
        out.append([fx / split, fy / split, score])
    return out


def simcc_logits(k, w, h, split, sharp):
    xs = np.arange(int(w * split), dtype=np.float32)
    ys = np.arange(int(h * split), dtype=np.float32)
    cx = RNG.uniform(3, w * split - 4, k)
    cy = RNG.uniform(3, h * split - 4, k)
    sig = 6.0 if sharp else 12.0
    x = np.exp(-((xs[None] - cx[:, None]) ** 2) / (2 * sig ** 2)) + RNG.normal(0, 0.02, (k, len(xs)))
    y = np.exp(-((ys[None] - cy[:, None]) ** 2) / (2 * sig ** 2)) + RNG.normal(0, 0.02, (k, len(ys)))
    return f32(x), f32(y)


def simcc_cases():
    cases = []
    w, h, split, k = 48, 64, 2.0, 5
    head = {"kind": "simcc", "x": "simcc_x", "y": "simcc_y", "split_ratio": split}
    # Random raw logits: some rows all negative (score <= 0 -> location -1).
    x = f32(RNG.normal(0, 1, (k, 96)))
    y = f32(RNG.normal(0, 1, (k, 128)))
    x[1] -= 10.0
    y[3] -= 10.0
    # Ties: the first maximum wins.
    x[2, 10] = x[2, 50] = 9.0
    y[2, 7] = y[2, 70] = 9.0
    cases.append(dict(name="simcc_random", head=head, input=[w, h],
                      outputs=[tensor("simcc_x", x[None]), tensor("simcc_y", y[None])],
                      expected=decode_simcc(x, y, split)))
    # Smooth peaks with 1-D DARK (mmpose SimCC codec sigma; 6.0 -> kernel 37).
    x, y = simcc_logits(k, w, h, split, sharp=True)
    head_dark = dict(head, dark_sigma=[6.0, 6.93])
    cases.append(dict(name="simcc_dark", head=head_dark, input=[w, h],
                      outputs=[tensor("simcc_x", x[None]), tensor("simcc_y", y[None])],
                      expected=decode_simcc(x, y, split, (6.0, 6.93))))
    # Flip test: x of the flipped run reversed and permuted, y permuted, then averaged.
    x, y = simcc_logits(k, w, h, split, sharp=False)
    fx, fy = simcc_logits(k, w, h, split, sharp=False)
    flip = [0, 2, 1, 4, 3]
    mx = 0.5 * (x + fx[flip][:, ::-1])
    my = 0.5 * (y + fy[flip])
    cases.append(dict(name="simcc_flip", head=head, input=[w, h], flip_pairs=[[1, 2], [3, 4]],
                      outputs=[tensor("simcc_x", x[None]), tensor("simcc_y", y[None])],
                      flipped=[tensor("simcc_x", fx[None]), tensor("simcc_y", fy[None])],
                      expected=decode_simcc(f32(mx), f32(my), split)))
    return cases


# ---------------------------------------------------------------- heatmaps

def quarter(hm, x, y):
    hh, ww = hm.shape
    dx = hm[y, x + 1] - hm[y, x - 1] if (1 < x < ww - 1 and 0 < y < hh) else 0.0
    dy = hm[y + 1, x] - hm[y - 1, x] if (1 < y < hh - 1 and 0 < x < ww) else 0.0
    return x + 0.25 * np.sign(dx), y + 0.25 * np.sign(dy)


def dark_2d(hm, x, y, kernel):
    hh, ww = hm.shape
    if not (1 < x < ww - 2 and 1 < y < hh - 2):
        return float(x), float(y)
    lg = np.log(np.maximum(modulate(hm, kernel), 1e-10)).astype(np.float64)
    gx = 0.5 * (lg[y, x + 1] - lg[y, x - 1])
    gy = 0.5 * (lg[y + 1, x] - lg[y - 1, x])
    dxx = 0.25 * (lg[y, x + 2] - 2 * lg[y, x] + lg[y, x - 2])
    dxy = 0.25 * (lg[y + 1, x + 1] - lg[y - 1, x + 1] - lg[y + 1, x - 1] + lg[y - 1, x - 1])
    dyy = 0.25 * (lg[y + 2, x] - 2 * lg[y, x] + lg[y - 2, x])
    hess = np.array([[dxx, dxy], [dxy, dyy]])
    if dxx * dyy - dxy ** 2 == 0:
        return float(x), float(y)
    off = -np.linalg.inv(hess) @ np.array([gx, gy])
    return x + off[0], y + off[1]


def udp_2d(hm, x, y, kernel):
    lg = np.log(np.clip(modulate(hm, kernel), 1e-3, 50.0)).astype(np.float64)
    p = np.pad(lg, 1, mode="edge")
    X, Y = x + 1, y + 1
    i = p[Y, X]
    gx = 0.5 * (p[Y, X + 1] - p[Y, X - 1])
    gy = 0.5 * (p[Y + 1, X] - p[Y - 1, X])
    dxx = p[Y, X + 1] - 2 * i + p[Y, X - 1]
    dyy = p[Y + 1, X] - 2 * i + p[Y - 1, X]
    dxy = 0.5 * (p[Y + 1, X + 1] - p[Y, X + 1] - p[Y + 1, X] + 2 * i - p[Y, X - 1] - p[Y - 1, X] + p[Y - 1, X - 1])
    hess = np.array([[dxx, dxy], [dxy, dyy]]) + np.finfo(np.float32).eps * np.eye(2)
    off = np.linalg.inv(hess) @ np.array([gx, gy])
    return x - off[0], y - off[1]


def decode_heatmaps(hms, input_wh, mode, kernel=11):
    k, hh, ww = hms.shape
    if mode == "udp":
        sx, sy = input_wh[0] / (ww - 1), input_wh[1] / (hh - 1)
    else:
        sx, sy = input_wh[0] / ww, input_wh[1] / hh
    out = []
    for c in range(k):
        idx, score = first_argmax(hms[c].ravel())
        if score <= 0:
            out.append([-sx, -sy, score])
            continue
        x, y = idx % ww, idx // ww
        if mode == "plain":
            fx, fy = quarter(hms[c], x, y)
        elif mode == "dark":
            fx, fy = dark_2d(hms[c], x, y, kernel)
        else:
            fx, fy = udp_2d(hms[c], x, y, kernel)
        out.append([fx * sx, fy * sy, score])
    return out


def gaussian_maps(k, hh, ww, sigma=2.0, noise=0.01):
    xs, ys = np.meshgrid(np.arange(ww, dtype=np.float64), np.arange(hh, dtype=np.float64))
    maps = []
    for _ in range(k):
        cx, cy = RNG.uniform(2.5, ww - 3.5), RNG.uniform(2.5, hh - 3.5)
        amp = RNG.uniform(0.5, 1.0)
        maps.append(amp * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2)))
    return f32(np.array(maps) + RNG.normal(0, noise, (k, hh, ww)))


def heatmap_cases():
    cases = []
    w, h = 48, 64
    hh, ww = 16, 12
    k = 6
    maps = gaussian_maps(k, hh, ww)
    maps[4] = -np.abs(maps[4]) - 0.1          # all negative -> location -1
    maps[5] = 0.0                              # border peaks for the quarter-offset rules
    maps[5, 0, 5] = 1.0                        # y = 0: no x move
    maps[5, 0, 6] = 0.9
    maps[5, 1, 5] = 0.3
    for mode in ["plain", "dark", "udp"]:
        head = {"kind": "heatmap", "output": "heatmaps", "decode": mode, "blur_kernel": 11}
        cases.append(dict(name=f"heatmap_{mode}", head=head, input=[w, h],
                          outputs=[tensor("heatmaps", maps[None])],
                          expected=decode_heatmaps(maps, (w, h), mode)))
    # Quarter offset at x = 1 (no move) and x = W - 2 (moves).
    edge = np.zeros((2, hh, ww), np.float32)
    edge[0, 5, 1] = 1.0
    edge[0, 5, 2] = 0.5
    edge[1, 7, ww - 2] = 1.0
    edge[1, 7, ww - 1] = 0.5
    edge[1, 6, ww - 2] = 0.5
    head = {"kind": "heatmap", "output": "heatmaps", "decode": "plain"}
    cases.append(dict(name="heatmap_plain_edges", head=head, input=[w, h],
                      outputs=[tensor("heatmaps", edge[None])],
                      expected=decode_heatmaps(edge, (w, h), "plain")))
    # Flip test: mirror W, permute, shift right by one (plain/dark) or not (udp), average.
    flip = [0, 2, 1, 3, 4, 5]
    a = gaussian_maps(k, hh, ww)
    b = gaussian_maps(k, hh, ww)
    for mode, shift in [("plain", True), ("udp", False)]:
        fb = b[flip][:, :, ::-1].copy()
        if shift:
            fb[..., 1:] = fb[..., :-1].copy()
        merged = f32(0.5 * (a + fb))
        head = {"kind": "heatmap", "output": "heatmaps", "decode": mode}
        cases.append(dict(name=f"heatmap_{mode}_flip", head=head, input=[w, h], flip_pairs=[[1, 2]],
                          outputs=[tensor("heatmaps", a[None])], flipped=[tensor("heatmaps", b[None])],
                          expected=decode_heatmaps(merged, (w, h), mode)))
    return cases


# ---------------------------------------------------------------- coordinate heads

def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v.astype(np.float64)))


def coordinate_cases():
    cases = []
    w, h, k = 48, 64, 5
    raw = f32(np.concatenate([RNG.uniform(0, 1, (k, 2)), RNG.normal(-2.5, 1.0, (k, 2))], axis=1))
    sig = sigmoid(raw[:, 2:])
    expected = [[raw[i, 0] * w, raw[i, 1] * h, float(np.mean(1 - sig[i]))] for i in range(k)]
    cases.append(dict(name="rle_combined", head={"kind": "rle", "coords": "out"}, input=[w, h],
                      outputs=[tensor("out", raw[None])], expected=expected))
    # Separate outputs + flip test (mmpose flip_coordinates with shift_coords, then sigmoid each
    # branch's sigma and average).
    fraw = f32(np.concatenate([RNG.uniform(0, 1, (k, 2)), RNG.normal(-2.5, 1.0, (k, 2))], axis=1))
    flip = [0, 2, 1, 4, 3]
    fc = fraw[:, :2].astype(np.float64).copy()
    fc[:, 0] = 1.0 - fc[:, 0] - 1.0 / w
    fc = fc[flip]
    fs = sigmoid(fraw[:, 2:])[flip]
    mc = 0.5 * (raw[:, :2] + fc)
    ms = 0.5 * (sigmoid(raw[:, 2:]) + fs)
    expected = [[mc[i, 0] * w, mc[i, 1] * h, float(np.mean(1 - ms[i]))] for i in range(k)]
    head = {"kind": "rle", "coords": "coords", "sigma": "sigma"}
    cases.append(dict(name="rle_flip", head=head, input=[w, h], flip_pairs=[[1, 2], [3, 4]],
                      outputs=[tensor("coords", raw[None, :, :2]), tensor("sigma", raw[None, :, 2:])],
                      flipped=[tensor("coords", fraw[None, :, :2]), tensor("sigma", fraw[None, :, 2:])],
                      expected=expected))
    # BlazePose-like regression: 39 x 5 in 256-px input units, sigmoid(visibility logit),
    # COCO's 17 of them.
    sel = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    reg = f32(np.concatenate([RNG.uniform(-20, 276, (39, 2)), RNG.normal(0, 5, (39, 3))], axis=1))
    vis = sigmoid(reg[:, 3])
    expected = [[reg[j, 0], reg[j, 1], vis[j]] for j in sel]
    head = {"kind": "regression", "output": "Identity", "keypoints": 39, "values": 5, "x": 0, "y": 1,
            "score": 3, "score_activation": "sigmoid", "units": "input_pixels"}
    cases.append(dict(name="regression_blazepose", head=head, input=[256, 256], select=sel,
                      outputs=[tensor("Identity", reg.reshape(1, 195))], expected=expected))
    # Integral regression: softmax(beta h) expectation of arange(W)/W.
    hh, ww = 16, 12
    logits = f32(RNG.normal(0, 1, (k, hh, ww)) + 3.0 * gaussian_maps(k, hh, ww))
    beta = 2.0
    expected = []
    for c in range(k):
        z = beta * logits[c].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        ex = (p.sum(axis=0) * (np.arange(ww) / ww)).sum()
        ey = (p.sum(axis=1) * (np.arange(hh) / hh)).sum()
        expected.append([ex * w, ey * h, 1.0])
    head = {"kind": "integral", "output": "heatmaps", "beta": beta}
    cases.append(dict(name="integral", head=head, input=[w, h],
                      outputs=[tensor("heatmaps", logits[None])], expected=expected))
    return cases


def main():
    cases = simcc_cases() + heatmap_cases() + coordinate_cases()
    for c in cases:
        c["expected"] = [[float(v) for v in kp] for kp in c["expected"]]
    path = os.path.join(HERE, "fixtures.json")
    with open(path, "w") as f:
        json.dump({"generator": "tests/data/heads/make_fixtures.py", "cases": cases}, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
