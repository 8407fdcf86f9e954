//! PCK and PCKh (mmpose `keypoint_pck_accuracy`, `PCKAccuracy`, `MpiiPCKAccuracy`).
//!
//! A keypoint is correct when `‖(pred − gt) / norm‖ < thr` (strictly). Invisible keypoints,
//! and every keypoint of a person whose normaliser is ≤ 0, are left out. Per-keypoint
//! accuracy is the fraction correct among the counted ones (`None` when none counts); the
//! overall PCK is the mean of the defined per-keypoint accuracies.

use crate::{bail, Result};

/// One person's keypoints for PCK: predictions and ground truth in the same pixel frame.
#[derive(Clone, Debug, PartialEq)]
pub struct PckSample {
    pub pred: Vec<[f64; 2]>,
    pub gt: Vec<[f64; 2]>,
    pub visible: Vec<bool>,
    /// The normalising length (bbox max side, torso or head size), in the same pixels.
    pub norm: f64,
}

/// Per-keypoint and mean PCK.
#[derive(Clone, Debug, PartialEq)]
pub struct Pck {
    pub per_keypoint: Vec<Option<f64>>,
    /// Mean of the defined per-keypoint accuracies (0 when none is defined).
    pub mean: f64,
    /// Keypoints that had at least one counted instance.
    pub counted_keypoints: usize,
}

/// The normaliser of mmpose `PCKAccuracy(norm_item='bbox')`: the longer side of the box.
pub fn bbox_norm(w: f64, h: f64) -> f64 {
    w.max(h)
}

/// The normaliser of `norm_item='torso'`: the distance between two ground-truth keypoints
/// (which two depends on the dataset's keypoint order).
pub fn torso_norm(gt: &[[f64; 2]], a: usize, b: usize) -> f64 {
    match (gt.get(a), gt.get(b)) {
        (Some(p), Some(q)) => (p[0] - q[0]).hypot(p[1] - q[1]),
        _ => 0.0,
    }
}

/// The MPII head-size normaliser: `0.6 · ‖headbox[1] − headbox[0]‖` (`SC_BIAS`).
pub fn head_norm(head_box: [[f64; 2]; 2]) -> f64 {
    0.6 * (head_box[1][0] - head_box[0][0]).hypot(head_box[1][1] - head_box[0][1])
}

/// Per-keypoint correctness counts: `(correct, counted)` for each keypoint.
fn counts(samples: &[PckSample], thr: f64) -> Result<Vec<(usize, usize)>> {
    let k = samples.first().map_or(0, |s| s.gt.len());
    let mut c = vec![(0usize, 0usize); k];
    for s in samples {
        if s.pred.len() != k || s.gt.len() != k || s.visible.len() != k {
            bail!("PCK: every sample needs {k} predictions, ground truths and visibility flags");
        }
        if s.norm.is_nan() || s.norm <= 0.0 {
            continue;
        }
        for (j, cj) in c.iter_mut().enumerate() {
            if !s.visible[j] {
                continue;
            }
            let (dx, dy) = (s.pred[j][0] - s.gt[j][0], s.pred[j][1] - s.gt[j][1]);
            cj.1 += 1;
            if (dx / s.norm).hypot(dy / s.norm) < thr {
                cj.0 += 1;
            }
        }
    }
    Ok(c)
}

/// PCK at `thr` (mmpose default 0.05 with the bbox normaliser, 0.5 for PCKh).
pub fn pck(samples: &[PckSample], thr: f64) -> Result<Pck> {
    let per_keypoint: Vec<Option<f64>> = counts(samples, thr)?
        .into_iter()
        .map(|(ok, n)| if n == 0 { None } else { Some(ok as f64 / n as f64) })
        .collect();
    let defined: Vec<f64> = per_keypoint.iter().flatten().copied().collect();
    let mean = if defined.is_empty() { 0.0 } else { defined.iter().sum::<f64>() / defined.len() as f64 };
    Ok(Pck { counted_keypoints: defined.len(), per_keypoint, mean })
}

/// MPII PCKh as mmpose's `MpiiPCKAccuracy` reports it (values in %, like mmpose).
#[derive(Clone, Debug, PartialEq)]
pub struct MpiiPckh {
    pub head: f64,
    pub shoulder: f64,
    pub elbow: f64,
    pub wrist: f64,
    pub hip: f64,
    pub knee: f64,
    pub ankle: f64,
    /// Count-weighted mean over all joints but pelvis (6) and thorax (7), at `thr`.
    pub mean: f64,
    /// The same at threshold 0.1.
    pub mean_at_0_1: f64,
}

/// PCKh on the 16 MPII joints (order r_ank, r_knee, r_hip, l_hip, l_knee, l_ank, pelvis,
/// thorax, upper_neck, head_top, r_wri, r_elb, r_sho, l_sho, l_elb, l_wri), each sample
/// normalised by [`head_norm`]. mmpose adds 1.0 to predictions first because the MPII
/// ground truth (`mpii_gt_val.mat`) is 1-based; pass both in the same frame here.
/// Group scores average the left and right joints' accuracies; joints without any counted
/// instance score 0 in groups and are left out of the weighted means.
pub fn mpii_pckh(samples: &[PckSample], thr: f64) -> Result<MpiiPckh> {
    if let Some(s) = samples.iter().find(|s| s.gt.len() != 16) {
        bail!("MPII PCKh needs 16 joints per person, got {}", s.gt.len());
    }
    let weighted = |t: f64| -> Result<(Vec<f64>, f64)> {
        let c = counts(samples, t)?;
        let acc: Vec<f64> = c.iter().map(|&(ok, n)| if n == 0 { 0.0 } else { 100.0 * ok as f64 / n as f64 }).collect();
        let total: usize = c.iter().enumerate().filter(|(j, _)| *j != 6 && *j != 7).map(|(_, &(_, n))| n).sum();
        let mean = if total == 0 {
            0.0
        } else {
            c.iter()
                .enumerate()
                .filter(|(j, _)| *j != 6 && *j != 7)
                .map(|(j, &(_, n))| acc[j] * n as f64 / total as f64)
                .sum()
        };
        Ok((acc, mean))
    };
    let (a, mean) = weighted(thr)?;
    let (_, mean_at_0_1) = weighted(0.1)?;
    let pair = |i: usize, j: usize| 0.5 * (a[i] + a[j]);
    Ok(MpiiPckh {
        head: a[9],
        shoulder: pair(13, 12),
        elbow: pair(14, 11),
        wrist: pair(15, 10),
        hip: pair(3, 2),
        knee: pair(4, 1),
        ankle: pair(5, 0),
        mean,
        mean_at_0_1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pck_by_hand() {
        // Norm 100, thr 0.05 → correct below 5 px. Person 1: errors 3 px (ok), 6 px (miss),
        // invisible. Person 2: errors 0 (ok), 4.9 (ok), 10 (miss).
        let s1 = PckSample {
            pred: vec![[3.0, 0.0], [0.0, 6.0], [99.0, 99.0]],
            gt: vec![[0.0, 0.0]; 3],
            visible: vec![true, true, false],
            norm: bbox_norm(100.0, 40.0),
        };
        let s2 = PckSample {
            pred: vec![[0.0, 0.0], [3.0, 3.9], [10.0, 0.0]],
            gt: vec![[0.0, 0.0]; 3],
            visible: vec![true, true, true],
            norm: 100.0,
        };
        let p = pck(&[s1.clone(), s2], 0.05).unwrap();
        assert_eq!(p.per_keypoint, vec![Some(1.0), Some(0.5), Some(0.0)]);
        assert!((p.mean - 0.5).abs() < 1e-12);
        // A zero normaliser drops the person; with only that person nothing is defined.
        let p = pck(&[PckSample { norm: 0.0, ..s1 }], 0.05).unwrap();
        assert_eq!((p.per_keypoint, p.mean, p.counted_keypoints), (vec![None, None, None], 0.0, 0));
        assert_eq!(pck(&[], 0.05).unwrap().mean, 0.0);
    }

    #[test]
    fn norms() {
        assert_eq!(torso_norm(&[[0.0, 0.0], [3.0, 4.0]], 0, 1), 5.0);
        assert_eq!(torso_norm(&[[0.0, 0.0]], 0, 3), 0.0);
        assert!((head_norm([[0.0, 0.0], [30.0, 40.0]]) - 30.0).abs() < 1e-12);
    }

    #[test]
    fn mpii_groups_and_count_weighting() {
        // Person A: every joint exact. Person B: head_top (9) and r_ankle (0) 10 px off, the rest
        // exact, pelvis/thorax invisible. Head size 10 → thr 0.5 = 5 px.
        let gt = vec![[0.0, 0.0]; 16];
        let a = PckSample { pred: gt.clone(), gt: gt.clone(), visible: vec![true; 16], norm: 10.0 };
        let mut pred = gt.clone();
        pred[9] = [10.0, 0.0];
        pred[0] = [0.0, 10.0];
        let mut vis = vec![true; 16];
        vis[6] = false;
        vis[7] = false;
        let b = PckSample { pred, gt, visible: vis, norm: 10.0 };
        let r = mpii_pckh(&[a, b], 0.5).unwrap();
        assert_eq!(r.head, 50.0);
        assert_eq!(r.ankle, 75.0); // (r_ank 50 + l_ank 100) / 2
        assert_eq!(r.shoulder, 100.0);
        // 14 counted joints × 2 people = 28 instances, 2 wrong → 26/28.
        assert!((r.mean - 100.0 * 26.0 / 28.0).abs() < 1e-9);
        // At 0.1 (1 px) the same two misses.
        assert!((r.mean_at_0_1 - 100.0 * 26.0 / 28.0).abs() < 1e-9);
        assert!(mpii_pckh(&[PckSample { pred: vec![], gt: vec![], visible: vec![], norm: 1.0 }], 0.5).is_err());
    }
}
