#!/usr/bin/env python3
"""Independent reference for `qpose eval` on the bundled BlazePose: onnxruntime + pycocotools.

Runs the fp32 BlazePose-full landmark model with onnxruntime over the people of COCO-mini-dev
(ground-truth boxes clipped to the image as mmpose does, square ROI of side 1.25 x max(w, h),
bilinear warp with zero border kept in float as qpose's warp does, pixels / 255, NHWC), decodes the 17 COCO keypoints
(sigmoid(visibility) scores, instance score = pose flag x mean keypoint score), applies mmpose's
OKS-NMS (threshold 0.9, area = crop side^2) and evaluates with pycocotools' COCOeval.

Writes `tests/data/eval/blazepose_reference.json`:
  - `subset`: the first 5 images that have people (annotation-file order, as qpose's
    `EvalSet::first_images`): per-person keypoints (before NMS) and the 10 COCO stats on those
    images; `tests/cli_eval.rs` checks qpose's results against them;
  - `full`: the 10 stats on all 86 people: clipped boxes with the float warp (qpose's protocol),
    and with the crop rounded to 8 bits as OpenCV does, clipped and unclipped (the model
    provider's protocol does not clip), for the record.

Re-run (from the repository root; needs numpy, pillow, onnxruntime, pycocotools):
    /work/venv/bin/python tests/scripts/make_eval_reference.py
"""
import contextlib
import io
import json
import os

import numpy as np
import onnxruntime as ort
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANN = os.path.join(ROOT, "tests/data/coco-mini-dev/person_keypoints.json")
IMAGES = os.path.join(ROOT, "tests/data/coco-mini-dev/images")
MODEL = os.path.join(ROOT, "models/blazepose/pose_landmark_full.onnx")
OUT = os.path.join(ROOT, "tests/data/eval/blazepose_reference.json")
SELECT = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
SIZE = 256
SUBSET_IMAGES = 5


def warp_bilinear(img, M, out_w, out_h, round_u8):
    """cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT=0) in float64 (as models/zoo.py); rounded to uint8 as
    OpenCV does for 8-bit images when `round_u8`, else kept in float as qpose's warp does."""
    A = np.vstack([M, [0.0, 0.0, 1.0]])
    Minv = np.linalg.inv(A)[:2]
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    sx = Minv[0, 0] * u + Minv[0, 1] * v + Minv[0, 2]
    sy = Minv[1, 0] * u + Minv[1, 1] * v + Minv[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    H, W = img.shape[:2]
    src = img.astype(np.float64)

    def tap(yy, xx):
        inside = (xx >= 0) & (xx < W) & (yy >= 0) & (yy < H)
        return src[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)] * inside[..., None]

    out = (tap(y0, x0) * ((1 - fx) * (1 - fy))[..., None] + tap(y0, x0 + 1) * (fx * (1 - fy))[..., None]
           + tap(y0 + 1, x0) * ((1 - fx) * fy)[..., None] + tap(y0 + 1, x0 + 1) * (fx * fy)[..., None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8) if round_u8 else out


def people_by_image(gt, clip):
    imgs = {im["id"]: im for im in gt["images"]}
    by = {}
    for a in gt["annotations"]:
        if a["category_id"] != 1 or a.get("iscrowd", 0) or a.get("num_keypoints", 0) <= 0:
            continue
        im = imgs[a["image_id"]]
        x, y, w, h = a["bbox"]
        if clip:
            W, H = im["width"], im["height"]
            x1, y1 = np.clip(x, 0, W - 1), np.clip(y, 0, H - 1)
            x2, y2 = np.clip(x + w, 0, W - 1), np.clip(y + h, 0, H - 1)
            x, y, w, h = x1, y1, x2 - x1, y2 - y1
        by.setdefault(a["image_id"], []).append((a["id"], [float(x), float(y), float(w), float(h)]))
    return [(im["id"], im["file_name"], by[im["id"]]) for im in gt["images"] if im["id"] in by]


def estimate(sess, img, box, round_u8):
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    side = 1.25 * max(w, h)
    k = SIZE / side
    M = np.array([[k, 0.0, SIZE / 2.0 - k * cx], [0.0, k, SIZE / 2.0 - k * cy]])
    crop = (warp_bilinear(img, M, SIZE, SIZE, round_u8) / 255.0).astype(np.float32)[None]
    out = sess.run(["Identity", "Identity_1"], {"input_1": crop})
    lm = out[0].reshape(39, 5)[SELECT]
    flag = float(out[1].reshape(-1)[0])
    kx = lm[:, 0] / SIZE * side + cx - side / 2.0
    ky = lm[:, 1] / SIZE * side + cy - side / 2.0
    score = 1.0 / (1.0 + np.exp(-lm[:, 3].astype(np.float64)))
    kps = np.stack([kx, ky, score], axis=1).astype(np.float64)
    return dict(keypoints=kps.reshape(-1).tolist(), score=float(flag * score.mean()), area=side * side)


def oks_iou(a, b, area_a, area_b):
    a, b = np.array(a).reshape(-1, 3), np.array(b).reshape(-1, 3)
    var = (SIGMAS * 2) ** 2
    d2 = (a[:, 0] - b[:, 0]) ** 2 + (a[:, 1] - b[:, 1]) ** 2
    e = d2 / var / ((area_a + area_b) / 2 + np.spacing(1)) / 2
    return float(np.mean(np.exp(-e)))


def oks_nms(dets, thr=0.9):
    scores = np.array([d["score"] for d in dets])
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        ious = np.array([oks_iou(dets[i]["keypoints"], dets[j]["keypoints"], dets[i]["area"], dets[j]["area"])
                         for j in rest])
        order = rest[ious <= thr] if rest.size else rest
    return keep


def evaluate(coco, results, img_ids):
    if not results:
        return [0.0] * 10
    with contextlib.redirect_stdout(io.StringIO()):
        dt = coco.loadRes(results)
        e = COCOeval(coco, dt, "keypoints")
        e.params.imgIds = img_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(v) for v in e.stats]


def run(sess, gt, coco, clip, round_u8, n_images=None):
    images = people_by_image(gt, clip)
    if n_images is not None:
        images = images[:n_images]
    raw, results = [], []
    for image_id, file_name, people in images:
        img = np.asarray(Image.open(os.path.join(IMAGES, file_name)).convert("RGB"), dtype=np.uint8)
        dets = []
        for ann_id, box in people:
            d = estimate(sess, img, box, round_u8)
            d.update(image_id=image_id, ann_id=ann_id, bbox=box)
            dets.append(d)
        raw += dets
        for i in oks_nms(dets):
            results.append(dict(image_id=image_id, category_id=1, keypoints=dets[i]["keypoints"],
                                score=dets[i]["score"]))
    img_ids = [i for i, _, _ in images] if n_images is not None else sorted(coco.getImgIds())
    return raw, results, evaluate(coco, results, img_ids)


def main():
    with open(ANN) as f:
        gt = json.load(f)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ANN)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(MODEL, opts, providers=["CPUExecutionProvider"])
    raw, results, stats = run(sess, gt, coco, clip=True, round_u8=False, n_images=SUBSET_IMAGES)
    _, full_results, full_clipped = run(sess, gt, coco, clip=True, round_u8=False)
    _, _, full_clipped_u8 = run(sess, gt, coco, clip=True, round_u8=True)
    _, _, full_unclipped_u8 = run(sess, gt, coco, clip=False, round_u8=True)
    ref = dict(
        source="tests/scripts/make_eval_reference.py: onnxruntime %s (ORT_DISABLE_ALL, 1 thread) + pycocotools"
        % ort.__version__,
        model="models/blazepose/pose_landmark_full.onnx",
        subset=dict(
            images=SUBSET_IMAGES,
            people=[dict(image_id=d["image_id"], ann_id=d["ann_id"], bbox=d["bbox"],
                         keypoints=[round(v, 4) for v in d["keypoints"]], score=round(d["score"], 6)) for d in raw],
            kept_after_nms=len(results),
            stats=stats,
        ),
        full=dict(people=sum(len(p) for _, _, p in people_by_image(gt, True)),
                  kept_after_nms=len(full_results), stats_clipped_float_warp=full_clipped,
                  stats_clipped_u8_warp=full_clipped_u8, stats_unclipped_u8_warp=full_unclipped_u8),
    )
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print("subset (%d images, %d people): AP %.4f AR %.4f" % (SUBSET_IMAGES, len(raw), stats[0], stats[5]))
    print("full, clipped boxes, float warp: AP %.4f AR %.4f (%d kept after NMS)" % (full_clipped[0], full_clipped[5],
                                                                                  len(full_results)))
    print("full, clipped boxes, 8-bit warp: AP %.4f AR %.4f" % (full_clipped_u8[0], full_clipped_u8[5]))
    print("full, unclipped boxes, 8-bit warp: AP %.4f AR %.4f" % (full_unclipped_u8[0], full_unclipped_u8[5]))


if __name__ == "__main__":
    main()
