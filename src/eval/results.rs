//! COCO keypoint results (the `*.keypoints.json` files pycocotools' `loadRes` reads).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::heads::Keypoint;
use crate::pipeline::PersonPose;
use crate::{Error, Result};

/// One detected person: `keypoints` holds `(x, y, score)` triples in image pixels (mmpose puts
/// the keypoint score where COCO ground truth has the visibility flag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeypointResult {
    pub image_id: u64,
    #[serde(default = "person")]
    pub category_id: u64,
    pub keypoints: Vec<f64>,
    pub score: f64,
}

fn person() -> u64 {
    1
}

impl KeypointResult {
    /// The result of one estimated person of image `image_id` (category 1).
    pub fn from_pose(image_id: u64, pose: &PersonPose) -> KeypointResult {
        KeypointResult {
            image_id,
            category_id: 1,
            keypoints: pose.keypoints.iter().flat_map(|k| [k.x, k.y, k.score].map(f64::from)).collect(),
            score: f64::from(pose.score),
        }
    }

    /// The keypoints as [`Keypoint`]s (image pixels).
    pub fn keypoints(&self) -> Vec<Keypoint> {
        self.keypoints
            .chunks_exact(3)
            .map(|k| Keypoint { x: k[0] as f32, y: k[1] as f32, score: k[2] as f32 })
            .collect()
    }
}

/// Writes results as a COCO results JSON array.
pub fn write_results(path: &Path, results: &[KeypointResult]) -> Result<()> {
    let text = serde_json::to_string(results).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Reads a COCO results JSON array.
pub fn read_results(path: &Path) -> Result<Vec<KeypointResult>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{BBox, CropBox};

    #[test]
    fn round_trip_through_a_file() {
        let pose = PersonPose {
            bbox: BBox::new(0.0, 0.0, 1.0, 1.0, 1.0),
            crop: CropBox { center: [0.0, 0.0], scale: [1.0, 1.0] },
            keypoints: vec![Keypoint { x: 1.5, y: 2.0, score: 0.25 }],
            flag: None,
            score: 0.5,
        };
        let r = KeypointResult::from_pose(42, &pose);
        assert_eq!(r.keypoints, vec![1.5, 2.0, 0.25]);
        let dir = std::env::temp_dir().join(format!("qpose-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        write_results(&path, std::slice::from_ref(&r)).unwrap();
        assert_eq!(read_results(&path).unwrap(), vec![r.clone()]);
        assert_eq!(r.keypoints(), pose.keypoints);
        std::fs::remove_dir_all(&dir).unwrap();
        // category_id is optional on input.
        let v: Vec<KeypointResult> =
            serde_json::from_str(r#"[{"image_id": 1, "keypoints": [0, 0, 1], "score": 1}]"#).unwrap();
        assert_eq!(v[0].category_id, 1);
        assert!(read_results(&dir.join("missing.json")).is_err());
    }
}
