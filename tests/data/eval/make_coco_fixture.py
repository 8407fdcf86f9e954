#!/usr/bin/env python3
"""pycocotools reference numbers for qpose's COCO keypoint evaluator.

Takes the COCO-mini-dev person keypoint annotations, writes a trimmed copy (no segmentation)
as `coco_gt.json`, builds synthetic detection result sets from the ground truth (keypoint noise
of several sizes, missing people, false positives, duplicates, low and tied scores, all-zero
keypoint scores, more than 20 detections in one image, detections near crowd regions), runs
pycocotools' COCOeval(iouType='keypoints') on each, and writes `results_<name>.json` plus the
ten stats of every set into `coco_stats.json`. The same sets also go through xtcocotools
(mmpose's evaluator, which drops detections whose keypoint scores are all <= 0) for qpose's
`drop_nonpositive` option. `src/eval/coco_fixture_tests.rs` evaluates the same files and
compares all stats (the task's bar is 1e-3; the test asserts 1e-9).

Re-run (from the repository root):
    /work/venv/bin/python tests/data/eval/make_coco_fixture.py [person_keypoints.json]
The annotation file defaults to tests/data/coco-mini-dev/person_keypoints.json. Seeded:
the output is deterministic. Needs numpy, pycocotools and xtcocotools.
"""
import contextlib
import io
import json
import os
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from xtcocotools.coco import COCO as XtCOCO
from xtcocotools.cocoeval import COCOeval as XtCOCOeval

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
RNG = np.random.default_rng(7)


def trimmed_gt(src):
    with open(src) as f:
        d = json.load(f)
    keep_img = ["id", "file_name", "width", "height", "license", "flickr_url", "coco_url"]
    keep_ann = ["id", "image_id", "category_id", "iscrowd", "area", "bbox", "keypoints", "num_keypoints"]
    return {
        "licenses": d["licenses"],
        "images": [{k: im[k] for k in keep_img if k in im} for im in d["images"]],
        "annotations": [{k: a[k] for k in keep_ann if k in a} for a in d["annotations"]],
        "categories": d["categories"],
    }


def person_guess(ann, sigma_px, drop_unlabelled=False):
    """GT keypoints plus Gaussian noise; unlabelled ones placed randomly inside the box."""
    k = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    x, y, w, h = ann["bbox"]
    out = np.zeros_like(k)
    for i, (kx, ky, v) in enumerate(k):
        if v > 0:
            out[i, :2] = [kx, ky] + RNG.normal(0, sigma_px, 2)
        else:
            out[i, :2] = [x + RNG.uniform(0, w), y + RNG.uniform(0, h)]
        out[i, 2] = RNG.uniform(0.05, 1.0)
    return out


def result(image_id, kps, score):
    kps = np.round(np.asarray(kps, dtype=np.float64), 2)
    return {"image_id": int(image_id), "category_id": 1, "keypoints": [float(v) for v in kps.ravel()],
            "score": float(round(score, 4))}


def people(gt):
    return [a for a in gt["annotations"] if a["iscrowd"] == 0 and a["num_keypoints"] > 0]


def noise_set(gt, rel):
    """Noise proportional to the person's size (sqrt of area)."""
    res = []
    for a in people(gt):
        s = rel * np.sqrt(max(a["area"], 1.0))
        res.append(result(a["image_id"], person_guess(a, s), RNG.uniform(0.2, 1.0)))
    return res


def make_sets(gt):
    sets = {}
    sets["exact"] = [result(a["image_id"], person_guess(a, 0.0), 1.0) for a in people(gt)]
    sets["noise_small"] = noise_set(gt, 0.01)
    sets["noise_medium"] = noise_set(gt, 0.04)
    sets["noise_large"] = noise_set(gt, 0.12)

    # A third of the people missing.
    sets["missing"] = [r for r in noise_set(gt, 0.03) if RNG.uniform() > 0.33]

    # False positives: random skeletons in every image, some scored above the true people.
    fp = noise_set(gt, 0.03)
    for im in gt["images"]:
        for _ in range(RNG.integers(0, 3)):
            cx, cy = RNG.uniform(0, im["width"]), RNG.uniform(0, im["height"])
            s = RNG.uniform(20, 200)
            kps = np.stack([cx + RNG.normal(0, s, 17), cy + RNG.normal(0, s, 17), RNG.uniform(0, 1, 17)], 1)
            fp.append(result(im["id"], kps, RNG.uniform(0.0, 1.0)))
    sets["false_positives"] = fp

    # Duplicates: every person twice, the copy slightly moved, sometimes scored higher.
    dup = []
    for a in people(gt):
        s = 0.03 * np.sqrt(max(a["area"], 1.0))
        g = person_guess(a, s)
        dup.append(result(a["image_id"], g, RNG.uniform(0.3, 1.0)))
        g2 = g.copy()
        g2[:, :2] += RNG.normal(0, s, (17, 2))
        dup.append(result(a["image_id"], g2, RNG.uniform(0.3, 1.0)))
    sets["duplicates"] = dup

    # Low scores with many exact ties (stable ordering matters) and a few zero scores.
    low = []
    for a in people(gt):
        s = 0.05 * np.sqrt(max(a["area"], 1.0))
        score = float(RNG.choice([0.0, 0.01, 0.02, 0.05]))
        low.append(result(a["image_id"], person_guess(a, s), score))
    sets["low_tied_scores"] = low

    # All-zero keypoint scores on half the people (pycocotools keeps them; xtcocotools drops).
    zero = []
    for r in noise_set(gt, 0.03):
        if RNG.uniform() < 0.5:
            kps = np.array(r["keypoints"]).reshape(-1, 3)
            kps[:, 2] = 0.0
            r = result(r["image_id"], kps, 0.0)
        zero.append(r)
    sets["zero_scores"] = zero

    # More than 20 detections in the most crowded images (maxDets = 20 truncation), with
    # true people ranked below some of the clutter.
    by_img = {}
    for a in people(gt):
        by_img.setdefault(a["image_id"], []).append(a)
    busiest = sorted(by_img, key=lambda i: -len(by_img[i]))[:3]
    many = noise_set(gt, 0.02)
    for im in gt["images"]:
        if im["id"] not in busiest:
            continue
        for _ in range(25):
            a = by_img[im["id"]][RNG.integers(len(by_img[im["id"]]))]
            g = person_guess(a, 0.3 * np.sqrt(max(a["area"], 1.0)))
            many.append(result(im["id"], g, RNG.uniform(0.0, 1.0)))
    sets["over_max_dets"] = many

    # Detections on crowd regions and on people without keypoints (ignored ground truth).
    crowd = noise_set(gt, 0.03)
    for a in gt["annotations"]:
        if a["iscrowd"] == 1 or a["num_keypoints"] == 0:
            x, y, w, h = a["bbox"]
            kps = np.stack([x + RNG.uniform(0, w, 17), y + RNG.uniform(0, h, 17), RNG.uniform(0, 1, 17)], 1)
            crowd.append(result(a["image_id"], kps, RNG.uniform(0.0, 1.0)))
    sets["ignored_regions"] = crowd

    # Tiny and huge keypoint extents (detections outside the medium/large area ranges).
    sizes = []
    for a in people(gt):
        g = person_guess(a, 0.02 * np.sqrt(max(a["area"], 1.0)))
        c = g[:, :2].mean(0)
        f = RNG.choice([0.05, 1.0, 3.0])
        g[:, :2] = c + (g[:, :2] - c) * f
        sizes.append(result(a["image_id"], g, RNG.uniform(0.1, 1.0)))
    sets["scaled_extents"] = sizes
    return sets


SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


def evaluate(gt_path, res_path, xt=False):
    with contextlib.redirect_stdout(io.StringIO()):
        if xt:
            coco = XtCOCO(gt_path)
            dt = coco.loadRes(res_path)
            ev = XtCOCOeval(coco, dt, "keypoints", SIGMAS, True)
        else:
            coco = COCO(gt_path)
            dt = coco.loadRes(res_path)
            ev = COCOeval(coco, dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/coco-mini-dev/person_keypoints.json")
    gt = trimmed_gt(src)
    gt_path = os.path.join(HERE, "coco_gt.json")
    with open(gt_path, "w") as f:
        json.dump(gt, f, separators=(",", ":"))
    stats, xt_stats = {}, {}
    for name, res in make_sets(gt).items():
        path = os.path.join(HERE, f"results_{name}.json")
        with open(path, "w") as f:
            json.dump(res, f, separators=(",", ":"))
        stats[name] = evaluate(gt_path, path)
        xt_stats[name] = evaluate(gt_path, path, xt=True)
        print(f"{name:16s} {len(res):4d} dets  AP {stats[name][0]:.4f}  AR {stats[name][5]:.4f}"
              f"  xtcocotools AP {xt_stats[name][0]:.4f}")
    with open(os.path.join(HERE, "coco_stats.json"), "w") as f:
        json.dump({"generator": "tests/data/eval/make_coco_fixture.py", "pycocotools_stats": stats,
                   "xtcocotools_stats": xt_stats}, f, indent=1)


if __name__ == "__main__":
    main()
