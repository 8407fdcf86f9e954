//! A person's ranking score, as mmpose's `CocoMetric` computes it from the box score and the
//! keypoint scores (`score_mode`), plus BlazePose's presence-flag variant.

use serde::{Deserialize, Serialize};

use crate::heads::Keypoint;

/// How the ranking score of one person is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreMode {
    /// mmpose default: `bbox_score · mean(keypoint scores > threshold)`, 0 when none passes.
    BboxKeypoint,
    /// mmpose RLE configs: `bbox_score + mean(keypoint scores) + max(keypoint scores)`.
    BboxRle,
    /// The box score alone.
    Bbox,
    /// The mean keypoint score.
    Keypoint,
    /// BlazePose: `flag · mean(keypoint scores)` with the model's pose-presence flag.
    FlagKeypoint,
}

/// The ranking score of one person. `keypoint_threshold` is used by `BboxKeypoint` only (mmpose
/// `keypoint_score_thr`, 0.2, strictly greater); `flag` by `FlagKeypoint` only (absent = 1).
/// An empty keypoint list scores as if every keypoint mean were 0.
pub fn instance_score(
    mode: ScoreMode,
    bbox_score: f32,
    keypoints: &[Keypoint],
    keypoint_threshold: f32,
    flag: Option<f32>,
) -> f32 {
    let n = keypoints.len();
    let mean = if n == 0 { 0.0 } else { keypoints.iter().map(|k| k.score).sum::<f32>() / n as f32 };
    match mode {
        ScoreMode::BboxKeypoint => {
            let (sum, count) = keypoints
                .iter()
                .filter(|k| k.score > keypoint_threshold)
                .fold((0.0f32, 0usize), |(s, c), k| (s + k.score, c + 1));
            let m = if count == 0 { 0.0 } else { sum / count as f32 };
            bbox_score * m
        }
        ScoreMode::BboxRle => {
            let max = keypoints.iter().map(|k| k.score).fold(f32::NEG_INFINITY, f32::max);
            bbox_score + mean + if n == 0 { 0.0 } else { max }
        }
        ScoreMode::Bbox => bbox_score,
        ScoreMode::Keypoint => mean,
        ScoreMode::FlagKeypoint => flag.unwrap_or(1.0) * mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kps(scores: &[f32]) -> Vec<Keypoint> {
        scores.iter().map(|&score| Keypoint { x: 0.0, y: 0.0, score }).collect()
    }

    #[test]
    fn mmpose_modes() {
        let k = kps(&[0.1, 0.2, 0.5, 0.9]);
        // Above 0.2 strictly: 0.5 and 0.9 → mean 0.7; × 0.8.
        assert!((instance_score(ScoreMode::BboxKeypoint, 0.8, &k, 0.2, None) - 0.56).abs() < 1e-6);
        // 0.8 + mean 0.425 + max 0.9.
        assert!((instance_score(ScoreMode::BboxRle, 0.8, &k, 0.2, None) - 2.125).abs() < 1e-6);
        assert_eq!(instance_score(ScoreMode::Bbox, 0.8, &k, 0.2, None), 0.8);
        assert!((instance_score(ScoreMode::Keypoint, 0.8, &k, 0.2, None) - 0.425).abs() < 1e-6);
        assert!((instance_score(ScoreMode::FlagKeypoint, 0.8, &k, 0.2, Some(0.5)) - 0.2125).abs() < 1e-6);
    }

    #[test]
    fn nothing_above_threshold_and_empty_lists_score_zero() {
        let k = kps(&[0.1, 0.2, -3.0]);
        assert_eq!(instance_score(ScoreMode::BboxKeypoint, 1.0, &k, 0.2, None), 0.0);
        assert_eq!(instance_score(ScoreMode::BboxKeypoint, 1.0, &[], 0.2, None), 0.0);
        assert_eq!(instance_score(ScoreMode::BboxRle, 1.0, &[], 0.2, None), 1.0);
        assert_eq!(instance_score(ScoreMode::FlagKeypoint, 1.0, &[], 0.2, Some(0.3)), 0.0);
    }
}
