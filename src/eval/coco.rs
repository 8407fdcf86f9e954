//! COCO keypoint AP/AR, computed as pycocotools' `COCOeval(iouType='keypoints')` does
//! (`evaluate` → `accumulate` → `summarize`).
//!
//! - Similarity: OKS ([`super::oks::oks`]) with the configured sigmas and the GT `area`.
//! - Per image and category: detections sorted by score (stable), the first `max_dets` (20)
//!   kept; ground truths are ignored when `iscrowd` or `num_keypoints == 0`, or when their
//!   `area` is outside the area range.
//! - Greedy matching at each threshold 0.50:0.05:0.95: every detection takes the unmatched
//!   (crowd: any) ground truth with the highest OKS ≥ the threshold, preferring non-ignored
//!   ones; a detection matched to an ignored ground truth is ignored, and so is an unmatched
//!   one whose area (its keypoints' extent, as `loadRes` sets it) is outside the range.
//! - Precision is interpolated at 101 recall points; AP averages it over thresholds, recall
//!   points and categories, AR averages the final recall over thresholds and categories.
//!   Entries without any non-ignored ground truth are −1 and left out; a stat with nothing left
//!   is −1.
//! - Area ranges: all [0, 1e10], medium [32², 96²], large [96², 1e10].
//!
//! **xtcocotools** (what mmpose's `CocoMetric` calls) differs in one way that matters here: it
//! drops detections whose keypoint scores are all ≤ 0 before evaluating (SimCC scores are raw
//! logits, so this can remove real detections). [`CocoEvalParams::drop_nonpositive`] turns
//! that on. With no detections at all, pycocotools raises; here every AP/AR is 0.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use super::dataset::{CocoAnnotation, CocoDataset};
use super::oks::oks;
use super::results::KeypointResult;
use crate::heads::COCO17_SIGMAS;
use crate::{bail, Result};

/// Parameters of the keypoint evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct CocoEvalParams {
    /// One OKS sigma per keypoint (default: the 17 COCO sigmas).
    pub sigmas: Vec<f64>,
    /// Detections kept per image and category, highest scores first (COCO: 20).
    pub max_dets: usize,
    /// xtcocotools behaviour: drop detections whose keypoint scores are all ≤ 0.
    pub drop_nonpositive: bool,
}

impl Default for CocoEvalParams {
    fn default() -> CocoEvalParams {
        CocoEvalParams { sigmas: COCO17_SIGMAS.to_vec(), max_dets: 20, drop_nonpositive: false }
    }
}

/// The ten numbers `COCOeval.summarize()` prints for keypoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CocoStats {
    pub ap: f64,
    pub ap50: f64,
    pub ap75: f64,
    pub ap_medium: f64,
    pub ap_large: f64,
    pub ar: f64,
    pub ar50: f64,
    pub ar75: f64,
    pub ar_medium: f64,
    pub ar_large: f64,
}

impl CocoStats {
    /// mmpose's names, in `stats` order.
    pub const NAMES: [&'static str; 10] =
        ["AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)"];

    /// The stats in pycocotools' `stats` order.
    pub fn to_array(&self) -> [f64; 10] {
        [
            self.ap,
            self.ap50,
            self.ap75,
            self.ap_medium,
            self.ap_large,
            self.ar,
            self.ar50,
            self.ar75,
            self.ar_medium,
            self.ar_large,
        ]
    }
}

const AREA_RANGES: [[f64; 2]; 3] = [[0.0, 1e10], [1024.0, 9216.0], [9216.0, 1e10]];
const N_RECALL: usize = 101;

/// `np.linspace(.5, .95, 10)`, element by element as numpy computes it.
fn iou_thresholds() -> [f64; 10] {
    let step = (0.95 - 0.5) / 9.0;
    let mut t = [0.0; 10];
    for (i, v) in t.iter_mut().enumerate() {
        *v = i as f64 * step + 0.5;
    }
    t[9] = 0.95;
    t
}

/// `np.linspace(0, 1, 101)`.
fn recall_thresholds() -> [f64; N_RECALL] {
    let step = 1.0 / 100.0;
    let mut r = [0.0; N_RECALL];
    for (i, v) in r.iter_mut().enumerate() {
        *v = i as f64 * step;
    }
    r[N_RECALL - 1] = 1.0;
    r
}

/// One detection as the evaluator sees it.
struct Detection<'a> {
    result: &'a KeypointResult,
    /// Extent of its keypoints, `(max x − min x)·(max y − min y)`.
    area: f64,
}

/// `evaluateImg`'s output for one image, category and area range.
struct ImageEval {
    scores: Vec<f64>,
    /// `[threshold][detection]`
    matched: Vec<Vec<bool>>,
    ignored: Vec<Vec<bool>>,
    gt_ignored: Vec<bool>,
}

/// COCO keypoint AP/AR of `results` against `gt` (see the module doc). Errors when a result
/// names an image that is not in `gt` or has the wrong number of keypoints.
pub fn evaluate_keypoints(gt: &CocoDataset, results: &[KeypointResult], params: &CocoEvalParams) -> Result<CocoStats> {
    let k = params.sigmas.len();
    let image_ids: BTreeSet<u64> = gt.images.iter().map(|i| i.id).collect();
    for r in results {
        if r.keypoints.len() != 3 * k {
            bail!("a result for image {} has {} keypoint values, expected {}", r.image_id, r.keypoints.len(), 3 * k);
        }
        if !image_ids.contains(&r.image_id) {
            bail!("results refer to image {} which is not in the annotations", r.image_id);
        }
    }
    let cat_ids: BTreeSet<u64> = if gt.categories.is_empty() {
        gt.annotations.iter().map(|a| a.category_id).collect()
    } else {
        gt.categories.iter().map(|c| c.id).collect()
    };

    let mut gts: HashMap<(u64, u64), Vec<&CocoAnnotation>> = HashMap::new();
    for a in &gt.annotations {
        if image_ids.contains(&a.image_id) && cat_ids.contains(&a.category_id) {
            gts.entry((a.image_id, a.category_id)).or_default().push(a);
        }
    }
    let mut dts: HashMap<(u64, u64), Vec<Detection<'_>>> = HashMap::new();
    for r in results {
        if !cat_ids.contains(&r.category_id) {
            continue;
        }
        if params.drop_nonpositive && r.keypoints.chunks_exact(3).all(|t| t[2] <= 0.0) {
            continue;
        }
        dts.entry((r.image_id, r.category_id)).or_default().push(Detection { result: r, area: keypoint_extent(r) });
    }
    for d in dts.values_mut() {
        // Stable sort by descending score, as `np.argsort(-scores, kind='mergesort')`.
        d.sort_by(|a, b| descending(a.result.score, b.result.score));
        d.truncate(params.max_dets);
    }

    let iou_thrs = iou_thresholds();
    let rec_thrs = recall_thresholds();
    let t_n = iou_thrs.len();
    // precision[area][cat][t][r], recall[area][cat][t]; −1 where undefined.
    let mut precision = vec![vec![vec![[-1.0f64; N_RECALL]; t_n]; cat_ids.len()]; AREA_RANGES.len()];
    let mut recall = vec![vec![vec![-1.0f64; t_n]; cat_ids.len()]; AREA_RANGES.len()];
    let no_gts = Vec::new();
    let no_dts = Vec::new();
    for (ci, &cat) in cat_ids.iter().enumerate() {
        // OKS matrices per image, detections in sorted order.
        let ious: Vec<Vec<Vec<f64>>> = image_ids
            .iter()
            .map(|&img| {
                let g = gts.get(&(img, cat)).unwrap_or(&no_gts);
                let d = dts.get(&(img, cat)).unwrap_or(&no_dts);
                d.iter().map(|d| g.iter().map(|g| oks(g, &d.result.keypoints, &params.sigmas)).collect()).collect()
            })
            .collect();
        for (ai, range) in AREA_RANGES.iter().enumerate() {
            let evals: Vec<ImageEval> = image_ids
                .iter()
                .zip(&ious)
                .filter_map(|(&img, ious)| {
                    let g = gts.get(&(img, cat)).unwrap_or(&no_gts);
                    let d = dts.get(&(img, cat)).unwrap_or(&no_dts);
                    evaluate_image(g, d, ious, *range, &iou_thrs)
                })
                .collect();
            if let Some((p, r)) = accumulate(&evals, &rec_thrs) {
                precision[ai][ci] = p;
                recall[ai][ci] = r;
            }
        }
    }

    let ap = |area: usize, t: Option<usize>| {
        mean_defined(precision[area].iter().flat_map(|c| {
            c.iter()
                .enumerate()
                .filter(move |(ti, _)| t.map_or(true, |t| t == *ti))
                .flat_map(|(_, r)| r.iter().copied())
        }))
    };
    let ar =
        |area: usize, t: Option<usize>| {
            mean_defined(recall[area].iter().flat_map(|c| {
                c.iter().enumerate().filter(move |(ti, _)| t.map_or(true, |t| t == *ti)).map(|(_, v)| *v)
            }))
        };
    // Threshold indices of .5 and .75 in iou_thrs.
    let (t50, t75) = (Some(0), Some(5));
    Ok(CocoStats {
        ap: ap(0, None),
        ap50: ap(0, t50),
        ap75: ap(0, t75),
        ap_medium: ap(1, None),
        ap_large: ap(2, None),
        ar: ar(0, None),
        ar50: ar(0, t50),
        ar75: ar(0, t75),
        ar_medium: ar(1, None),
        ar_large: ar(2, None),
    })
}

/// Order of `np.argsort(-scores, kind='mergesort')` for a stable sort: higher scores first,
/// equal scores (0.0 and −0.0 included) keep their order, NaN last.
fn descending(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    }
}

/// `loadRes`: the area of the box spanned by all keypoints.
fn keypoint_extent(r: &KeypointResult) -> f64 {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for t in r.keypoints.chunks_exact(3) {
        x0 = x0.min(t[0]);
        x1 = x1.max(t[0]);
        y0 = y0.min(t[1]);
        y1 = y1.max(t[1]);
    }
    if x0 > x1 {
        0.0
    } else {
        (x1 - x0) * (y1 - y0)
    }
}

/// Mean of the values > −1, or −1 when there are none.
fn mean_defined(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.filter(|&v| v > -1.0).fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        -1.0
    } else {
        sum / n as f64
    }
}

/// pycocotools `evaluateImg` for one image/category/area range; `None` without GT and detections.
/// `ious[d][g]` follows the sorted detections and the file order of ground truths.
fn evaluate_image(
    gts: &[&CocoAnnotation],
    dts: &[Detection<'_>],
    ious: &[Vec<f64>],
    [lo, hi]: [f64; 2],
    iou_thrs: &[f64],
) -> Option<ImageEval> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    let out_of_range = |a: f64| a < lo || a > hi;
    let ignore: Vec<bool> =
        gts.iter().map(|g| g.iscrowd != 0 || g.labelled_keypoints() == 0 || out_of_range(g.area)).collect();
    // Non-ignored ground truths first, stable.
    let mut order: Vec<usize> = (0..gts.len()).collect();
    order.sort_by_key(|&g| ignore[g]);
    let gt_ignored: Vec<bool> = order.iter().map(|&g| ignore[g]).collect();
    let crowd: Vec<bool> = order.iter().map(|&g| gts[g].iscrowd != 0).collect();

    let mut matched = vec![vec![false; dts.len()]; iou_thrs.len()];
    let mut ignored = vec![vec![false; dts.len()]; iou_thrs.len()];
    for (ti, &t) in iou_thrs.iter().enumerate() {
        let mut gt_taken = vec![false; gts.len()];
        for di in 0..dts.len() {
            let mut best = t.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for (gi, &g) in order.iter().enumerate() {
                if gt_taken[gi] && !crowd[gi] {
                    continue;
                }
                if m.is_some_and(|m| !gt_ignored[m]) && gt_ignored[gi] {
                    break;
                }
                // Written as pycocotools writes it (a NaN OKS does not `continue`).
                if ious[di][g] < best {
                    continue;
                }
                best = ious[di][g];
                m = Some(gi);
            }
            if let Some(m) = m {
                ignored[ti][di] = gt_ignored[m];
                matched[ti][di] = true;
                gt_taken[m] = true;
            }
        }
        for (di, d) in dts.iter().enumerate() {
            if !matched[ti][di] && out_of_range(d.area) {
                ignored[ti][di] = true;
            }
        }
    }
    Some(ImageEval { scores: dts.iter().map(|d| d.result.score).collect(), matched, ignored, gt_ignored })
}

/// pycocotools `accumulate` for one category and area range: precision at the recall
/// thresholds and final recall, per IoU threshold; `None` when no ground truth counts.
fn accumulate(evals: &[ImageEval], rec_thrs: &[f64; N_RECALL]) -> Option<(Vec<[f64; N_RECALL]>, Vec<f64>)> {
    if evals.is_empty() {
        return None;
    }
    let npig = evals.iter().flat_map(|e| &e.gt_ignored).filter(|&&i| !i).count();
    if npig == 0 {
        return None;
    }
    // All detections, in image order, then stably sorted by descending score.
    let all: Vec<(usize, usize)> =
        evals.iter().enumerate().flat_map(|(ei, e)| (0..e.scores.len()).map(move |d| (ei, d))).collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| descending(evals[all[a].0].scores[all[a].1], evals[all[b].0].scores[all[b].1]));
    let t_n = evals[0].matched.len();
    let mut precision = vec![[0.0f64; N_RECALL]; t_n];
    let mut recall = vec![0.0f64; t_n];
    let (mut rc, mut pr) = (Vec::with_capacity(order.len()), Vec::with_capacity(order.len()));
    for t in 0..t_n {
        rc.clear();
        pr.clear();
        let (mut tp, mut fp) = (0.0f64, 0.0f64);
        for &i in &order {
            let (ei, d) = all[i];
            let (m, ig) = (evals[ei].matched[t][d], evals[ei].ignored[t][d]);
            if !ig {
                if m {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
            }
            rc.push(tp / npig as f64);
            pr.push(tp / (fp + tp + f64::EPSILON));
        }
        let nd = rc.len();
        recall[t] = rc.last().copied().unwrap_or(0.0);
        for i in (1..nd).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        for (ri, &r) in rec_thrs.iter().enumerate() {
            // np.searchsorted(rc, r, side='left'): the first index with rc ≥ r.
            let pi = rc.partition_point(|&v| v < r);
            if pi >= nd {
                break;
            }
            precision[t][ri] = pr[pi];
        }
    }
    Some((precision, recall))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::dataset::{CocoCategory, CocoImage};

    #[test]
    fn thresholds_like_numpy() {
        let t = iou_thresholds();
        assert_eq!(t[0], 0.5);
        assert_eq!(t[5], 0.75);
        assert_eq!(t[9], 0.95);
        let r = recall_thresholds();
        assert_eq!(r[50], 0.5);
        assert_eq!(r[100], 1.0);
    }

    fn person(id: u64, image_id: u64, kps: &[(f64, f64)], area: f64) -> CocoAnnotation {
        CocoAnnotation {
            id,
            image_id,
            category_id: 1,
            iscrowd: 0,
            area,
            bbox: [0.0, 0.0, 100.0, 100.0],
            keypoints: kps.iter().flat_map(|&(x, y)| [x, y, 2.0]).collect(),
            num_keypoints: Some(kps.len()),
        }
    }

    fn dataset(images: &[u64], anns: Vec<CocoAnnotation>) -> CocoDataset {
        CocoDataset {
            licenses: vec![],
            images: images
                .iter()
                .map(|&id| CocoImage {
                    id,
                    file_name: format!("{id}.jpg"),
                    width: 640,
                    height: 480,
                    license: None,
                    flickr_url: None,
                    coco_url: None,
                })
                .collect(),
            annotations: anns,
            categories: vec![CocoCategory { id: 1, name: "person".into(), keypoints: vec![], skeleton: vec![] }],
        }
    }

    fn result(image_id: u64, kps: &[(f64, f64)], score: f64) -> KeypointResult {
        KeypointResult {
            image_id,
            category_id: 1,
            keypoints: kps.iter().flat_map(|&(x, y)| [x, y, 1.0]).collect(),
            score,
        }
    }

    fn params() -> CocoEvalParams {
        CocoEvalParams { sigmas: vec![0.1, 0.1], ..CocoEvalParams::default() }
    }

    #[test]
    fn perfect_detections_give_one() {
        let a = [(10.0, 10.0), (50.0, 60.0)];
        let d = dataset(&[1], vec![person(1, 1, &a, 20000.0)]);
        let s = evaluate_keypoints(&d, &[result(1, &a, 0.9)], &params()).unwrap();
        // Precision is tp / (tp + fp + ε), as in pycocotools: 1 − 2.2e−16.
        for v in [s.ap, s.ap50, s.ap75, s.ar, s.ap_large, s.ar_large] {
            assert!((v - 1.0).abs() < 1e-12, "{s:?}");
        }
        // No medium ground truth: undefined.
        assert_eq!((s.ap_medium, s.ar_medium), (-1.0, -1.0));
    }

    #[test]
    fn a_false_positive_ranked_first_halves_precision_at_full_recall() {
        // Hand computation: sorted detections FP (0.9), TP (0.8); one GT. pr = [0, .5], rc =
        // [0, 1]; envelope pr = [.5, .5]; every recall threshold reads .5. AR = 1.
        let a = [(10.0, 10.0), (50.0, 60.0)];
        let far = [(400.0, 400.0), (300.0, 300.0)];
        let d = dataset(&[1], vec![person(1, 1, &a, 20000.0)]);
        let s = evaluate_keypoints(&d, &[result(1, &far, 0.9), result(1, &a, 0.8)], &params()).unwrap();
        assert!((s.ap - 0.5).abs() < 1e-9 && (s.ar - 1.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn degenerate_inputs_do_not_fail() {
        let a = [(10.0, 10.0), (50.0, 60.0)];
        let d = dataset(&[1, 2], vec![person(1, 1, &a, 0.0)]);
        // No detections: AP and AR are 0 where a ground truth exists.
        let s = evaluate_keypoints(&d, &[], &params()).unwrap();
        assert_eq!((s.ap, s.ar), (0.0, 0.0));
        // Zero-area GT (OKS of an exact match is still 1), all-zero scores, image without GT.
        let zero = KeypointResult { keypoints: vec![10.0, 10.0, 0.0, 50.0, 60.0, 0.0], ..result(1, &a, 0.0) };
        let s = evaluate_keypoints(&d, &[zero.clone(), result(2, &a, 0.0)], &params()).unwrap();
        assert!((s.ap50 - 1.0).abs() < 1e-12);
        // xtcocotools drops the all-zero-score detection: nothing matches.
        let xt = CocoEvalParams { drop_nonpositive: true, ..params() };
        assert_eq!(evaluate_keypoints(&d, &[zero], &xt).unwrap().ap, 0.0);
        // A detection collapsed to one point (zero extent) on an image without people.
        let point = result(2, &[(5.0, 5.0), (5.0, 5.0)], 0.5);
        let s = evaluate_keypoints(&d, &[point], &params()).unwrap();
        assert_eq!((s.ap, s.ar), (0.0, 0.0));
        // Empty ground truth and no results: everything undefined.
        let empty = dataset(&[], vec![]);
        assert_eq!(evaluate_keypoints(&empty, &[], &params()).unwrap().ap, -1.0);
    }

    #[test]
    fn bad_results_are_errors() {
        let d = dataset(&[1], vec![]);
        assert!(evaluate_keypoints(&d, &[result(9, &[(0.0, 0.0), (0.0, 0.0)], 1.0)], &params()).is_err());
        assert!(evaluate_keypoints(&d, &[result(1, &[(0.0, 0.0)], 1.0)], &params()).is_err());
    }
}
