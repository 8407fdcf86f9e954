//! OKS non-maximum suppression of the people of one image (mmpose `oks_nms`, `nms_thr` 0.9).

use super::oks::oks_between;
use crate::pipeline::PersonPose;

/// Indices of the people kept, best first. Repeatedly keeps the highest-scoring remaining person
/// and drops every other whose OKS with it exceeds `threshold` (mmpose: 0.9). OKS uses all
/// keypoints, `sigmas`, and the mean of the two instance areas, each the crop area
/// `scale_w · scale_h` (mmpose's `bbox_scales` product). Equal scores are visited in reverse
/// input order, as numpy's `argsort()[::-1]` does.
pub fn oks_nms(people: &[PersonPose], threshold: f64, sigmas: &[f64]) -> Vec<usize> {
    let points: Vec<Vec<[f64; 2]>> =
        people.iter().map(|p| p.keypoints.iter().map(|k| [f64::from(k.x), f64::from(k.y)]).collect()).collect();
    let areas: Vec<f64> = people.iter().map(|p| f64::from(p.crop.scale[0]) * f64::from(p.crop.scale[1])).collect();
    let mut order: Vec<usize> = (0..people.len()).collect();
    order.sort_by(|&a, &b| people[a].score.total_cmp(&people[b].score));
    order.reverse();
    let mut keep = Vec::new();
    while let Some((&best, rest)) = order.split_first() {
        keep.push(best);
        order = rest
            .iter()
            .copied()
            .filter(|&j| oks_between(&points[best], &points[j], areas[best], areas[j], sigmas) <= threshold)
            .collect();
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heads::Keypoint;
    use crate::pipeline::{BBox, CropBox};

    fn pose(x: f32, score: f32) -> PersonPose {
        PersonPose {
            bbox: BBox::new(0.0, 0.0, 10.0, 10.0, 1.0),
            crop: CropBox { center: [0.0, 0.0], scale: [10.0, 10.0] },
            keypoints: vec![Keypoint { x, y: 0.0, score: 1.0 }, Keypoint { x: x + 5.0, y: 5.0, score: 1.0 }],
            flag: None,
            score,
        }
    }

    #[test]
    fn duplicates_are_suppressed_distinct_people_kept() {
        // Area 100, σ 0.1 (var 0.04): a 0.1 px shift gives e = 0.01/0.04/100/2 ≈ 0.00125 per
        // keypoint → OKS ≈ 0.9994 > 0.9; 50 px away OKS ≈ 0.
        let people = [pose(0.0, 0.5), pose(0.1, 0.9), pose(50.0, 0.7)];
        assert_eq!(oks_nms(&people, 0.9, &[0.1, 0.1]), vec![1, 2]);
        assert!(oks_nms(&[], 0.9, &[0.1]).is_empty());
    }

    #[test]
    fn ties_visit_later_people_first() {
        let people = [pose(0.0, 0.5), pose(0.0, 0.5)];
        assert_eq!(oks_nms(&people, 0.9, &[0.1, 0.1]), vec![1]);
    }
}
