//! How far two result sets' keypoints are apart (fp32 vs int8 on the same people).

use super::results::KeypointResult;
use crate::{bail, Result};

/// Keypoint displacement between two result sets, in image pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Displacement {
    /// Mean Euclidean distance per keypoint index over all people.
    pub per_keypoint: Vec<f64>,
    /// Mean over all keypoints of all people.
    pub mean: f64,
    /// The largest single keypoint distance.
    pub max: f64,
    /// People compared.
    pub people: usize,
}

/// Compares `a` and `b` person by person: both must list the same people in the same order
/// (same image ids, same keypoint count), as two runs of the pipeline over the same boxes do.
/// With no people every number is 0.
pub fn keypoint_displacement(a: &[KeypointResult], b: &[KeypointResult]) -> Result<Displacement> {
    if a.len() != b.len() {
        bail!("displacement: {} people in one result set, {} in the other", a.len(), b.len());
    }
    let k = a.first().map_or(0, |r| r.keypoints.len() / 3);
    let mut sums = vec![0.0f64; k];
    let mut max = 0.0f64;
    for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
        if ra.image_id != rb.image_id {
            bail!("displacement: person {i} is in image {} in one set and {} in the other", ra.image_id, rb.image_id);
        }
        if ra.keypoints.len() != 3 * k || rb.keypoints.len() != 3 * k {
            bail!("displacement: person {i} does not have {k} keypoints in both sets");
        }
        for (j, (pa, pb)) in ra.keypoints.chunks_exact(3).zip(rb.keypoints.chunks_exact(3)).enumerate() {
            let d = (pa[0] - pb[0]).hypot(pa[1] - pb[1]);
            sums[j] += d;
            max = max.max(d);
        }
    }
    let n = a.len();
    let per_keypoint: Vec<f64> = sums.iter().map(|s| if n == 0 { 0.0 } else { s / n as f64 }).collect();
    let mean = if k == 0 { 0.0 } else { per_keypoint.iter().sum::<f64>() / k as f64 };
    Ok(Displacement { per_keypoint, mean, max, people: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(image_id: u64, kps: &[f64]) -> KeypointResult {
        KeypointResult { image_id, category_id: 1, keypoints: kps.to_vec(), score: 1.0 }
    }

    #[test]
    fn per_keypoint_means_by_hand() {
        // Person 1: keypoint 0 moves (3, 4) → 5, keypoint 1 stays. Person 2: keypoint 0 stays,
        // keypoint 1 moves 1 px.
        let a = [r(1, &[0.0, 0.0, 1.0, 10.0, 10.0, 1.0]), r(2, &[5.0, 5.0, 1.0, 0.0, 0.0, 0.5])];
        let b = [r(1, &[3.0, 4.0, 0.9, 10.0, 10.0, 1.0]), r(2, &[5.0, 5.0, 1.0, 1.0, 0.0, 0.5])];
        let d = keypoint_displacement(&a, &b).unwrap();
        assert_eq!(d.per_keypoint, vec![2.5, 0.5]);
        assert_eq!((d.mean, d.max, d.people), (1.5, 5.0, 2));
    }

    #[test]
    fn mismatches_are_errors_and_empty_is_zero() {
        assert!(keypoint_displacement(&[r(1, &[0.0; 3])], &[]).is_err());
        assert!(keypoint_displacement(&[r(1, &[0.0; 3])], &[r(2, &[0.0; 3])]).is_err());
        assert!(keypoint_displacement(&[r(1, &[0.0; 3])], &[r(1, &[0.0; 6])]).is_err());
        let d = keypoint_displacement(&[], &[]).unwrap();
        assert_eq!((d.mean, d.max, d.people), (0.0, 0.0, 0));
    }
}
