//! Object keypoint similarity (OKS), as pycocotools' `COCOeval.computeOks` and mmpose's
//! `oks_iou` compute it.

use crate::eval::dataset::CocoAnnotation;

/// `np.spacing(1)`: added to areas so that a zero area does not divide by zero.
const SPACING_1: f64 = f64::EPSILON;

/// OKS between a ground-truth person and detected keypoints `(x, y, score)` triples
/// (pycocotools `computeOks`): `e_i = d_i² / (2σ_i)² / (area + ε) / 2`, averaged `exp(−e_i)`
/// over the labelled (`v > 0`) ground-truth keypoints. A ground truth without labelled
/// keypoints measures the distance to the box doubled around it
/// (`[x − w, x + 2w] × [y − h, y + 2h]`, zero inside) and averages over all keypoints.
/// `sigmas.len()` keypoints are compared. Ground-truth keypoints missing from a short list
/// count as unlabelled, detected ones missing from a short list as infinitely far away.
pub fn oks(gt: &CocoAnnotation, dt: &[f64], sigmas: &[f64]) -> f64 {
    let triple = |i: usize| gt.keypoints.get(3 * i..3 * i + 3);
    let labelled = (0..sigmas.len()).filter(|&i| triple(i).is_some_and(|t| t[2] > 0.0)).count();
    let [bx, by, bw, bh] = gt.bbox;
    let (x0, x1, y0, y1) = (bx - bw, bx + bw * 2.0, by - bh, by + bh * 2.0);
    let area = gt.area + SPACING_1;
    let mut sum = 0.0;
    for (i, &sigma) in sigmas.iter().enumerate() {
        let Some(&[xd, yd, _]) = dt.get(3 * i..3 * i + 3) else {
            continue;
        };
        let (dx, dy) = if labelled > 0 {
            match triple(i) {
                Some(t) if t[2] > 0.0 => (xd - t[0], yd - t[1]),
                _ => continue,
            }
        } else {
            ((x0 - xd).max(0.0) + (xd - x1).max(0.0), (y0 - yd).max(0.0) + (yd - y1).max(0.0))
        };
        let var = (sigma * 2.0) * (sigma * 2.0);
        let e = (dx * dx + dy * dy) / var / area / 2.0;
        sum += (-e).exp();
    }
    let n = if labelled > 0 { labelled } else { sigmas.len() };
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// mmpose `oks_iou` between two predicted people (keypoints as `(x, y)` pairs), used by
/// OKS-NMS: all keypoints count, normalised by the mean of the two instance areas.
pub fn oks_between(a: &[[f64; 2]], b: &[[f64; 2]], area_a: f64, area_b: f64, sigmas: &[f64]) -> f64 {
    let n = sigmas.len().min(a.len()).min(b.len());
    if n == 0 {
        return 0.0;
    }
    let area = (area_a + area_b) / 2.0 + SPACING_1;
    let sum: f64 = (0..n)
        .map(|i| {
            let (dx, dy) = (b[i][0] - a[i][0], b[i][1] - a[i][1]);
            let var = (sigmas[i] * 2.0) * (sigmas[i] * 2.0);
            (-((dx * dx + dy * dy) / var / area / 2.0)).exp()
        })
        .sum();
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(keypoints: Vec<f64>, area: f64, bbox: [f64; 4]) -> CocoAnnotation {
        CocoAnnotation { id: 1, image_id: 1, category_id: 1, iscrowd: 0, area, bbox, keypoints, num_keypoints: None }
    }

    #[test]
    fn exact_match_is_one_and_distance_decays() {
        let sigmas = [0.05, 0.1];
        let g = gt(vec![10.0, 10.0, 2.0, 20.0, 20.0, 0.0], 100.0, [0.0, 0.0, 30.0, 30.0]);
        assert!((oks(&g, &[10.0, 10.0, 1.0, 99.0, 99.0, 1.0], &sigmas) - 1.0).abs() < 1e-12);
        // d² = 1 on keypoint 0 only (keypoint 1 unlabelled): e = 1 / 0.01 / 100 / 2 = 0.5.
        let v = oks(&g, &[11.0, 10.0, 1.0, 0.0, 0.0, 0.0], &sigmas);
        assert!((v - (-0.5f64).exp()).abs() < 1e-12, "{v}");
    }

    #[test]
    fn unlabelled_gt_uses_the_doubled_box() {
        // Box [10, 10, 10, 10] → region [0, 30]²; a point at (35, 10) is 5 px outside in x.
        let sigmas = [0.1];
        let g = gt(vec![0.0, 0.0, 0.0], 50.0, [10.0, 10.0, 10.0, 10.0]);
        let v = oks(&g, &[35.0, 10.0, 1.0], &sigmas);
        let e: f64 = 25.0 / 0.04 / 50.0 / 2.0;
        assert!((v - (-e).exp()).abs() < 1e-12);
        assert!((oks(&g, &[15.0, 15.0, 1.0], &sigmas) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn short_detections_count_as_misses() {
        let g = gt(vec![0.0, 0.0, 2.0, 5.0, 5.0, 2.0], 100.0, [0.0; 4]);
        assert_eq!(oks(&g, &[0.0, 0.0, 1.0], &[0.1, 0.1]), 0.5);
    }

    #[test]
    fn zero_area_does_not_divide_by_zero() {
        let g = gt(vec![0.0, 0.0, 2.0], 0.0, [0.0; 4]);
        assert_eq!(oks(&g, &[0.0, 0.0, 1.0], &[0.1]), 1.0);
        assert_eq!(oks(&g, &[1.0, 0.0, 1.0], &[0.1]), 0.0);
        assert_eq!(oks_between(&[[0.0, 0.0]], &[[0.0, 0.0]], 0.0, 0.0, &[0.1]), 1.0);
    }

    #[test]
    fn oks_between_uses_the_mean_area() {
        // d² = 4, var = 0.04, mean area 100: e = 4 / 0.04 / 100 / 2 = 0.5; second point exact.
        let v = oks_between(&[[0.0, 0.0], [5.0, 5.0]], &[[2.0, 0.0], [5.0, 5.0]], 50.0, 150.0, &[0.1, 0.1]);
        assert!((v - ((-0.5f64).exp() + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(oks_between(&[], &[], 1.0, 1.0, &[]), 0.0);
    }
}
