//! COCO ground truth (the keypoint annotation file format), read with serde. Unknown fields
//! (segmentation, info...) are ignored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pipeline::BBox;
use crate::{Error, Result};

/// A COCO annotation file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoDataset {
    #[serde(default)]
    pub licenses: Vec<CocoLicense>,
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoAnnotation>,
    #[serde(default)]
    pub categories: Vec<CocoCategory>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoLicense {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flickr_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coco_url: Option<String>,
}

/// One annotated object. `keypoints` holds `(x, y, v)` triples in image pixels with
/// `v = 0` unlabelled, 1 labelled but occluded, 2 visible; `bbox` is `xywh`; `area` is the
/// segmentation area OKS normalises by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    #[serde(default)]
    pub iscrowd: u8,
    pub area: f64,
    pub bbox: [f64; 4],
    #[serde(default)]
    pub keypoints: Vec<f64>,
    /// pycocotools ignores a person when this is 0; absent, the labelled keypoints are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_keypoints: Option<usize>,
}

impl CocoAnnotation {
    /// `num_keypoints`, or the count of keypoints with `v > 0` when the field is absent.
    pub fn labelled_keypoints(&self) -> usize {
        self.num_keypoints.unwrap_or_else(|| self.keypoints.chunks_exact(3).filter(|k| k[2] > 0.0).count())
    }

    /// The box as a pipeline [`BBox`] with score 1 (ground truth).
    pub fn person_box(&self) -> BBox {
        let [x, y, w, h] = self.bbox.map(|v| v as f32);
        BBox::new(x, y, w, h, 1.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub keypoints: Vec<String>,
    #[serde(default)]
    pub skeleton: Vec<[usize; 2]>,
}

impl CocoDataset {
    pub fn load(path: &Path) -> Result<CocoDataset> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
    }

    /// The annotations of one image, in file order.
    pub fn annotations_of(&self, image_id: u64) -> impl Iterator<Item = &CocoAnnotation> {
        self.annotations.iter().filter(move |a| a.image_id == image_id)
    }

    /// The ground-truth people to run a top-down model on (mmpose's GT-box protocol): not
    /// crowd, at least one labelled keypoint, category 1.
    pub fn people_with_keypoints(&self, image_id: u64) -> impl Iterator<Item = &CocoAnnotation> {
        self.annotations_of(image_id).filter(|a| a.category_id == 1 && a.iscrowd == 0 && a.labelled_keypoints() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_coco_fields_and_ignores_the_rest() {
        let json = r#"{"info": {"year": 2017}, "images": [{"id": 7, "file_name": "a.jpg",
            "width": 640, "height": 480, "license": 3}], "annotations": [{"id": 1,
            "image_id": 7, "category_id": 1, "iscrowd": 0, "area": 100.5, "bbox": [1, 2, 3, 4],
            "segmentation": [[1, 2]],
            "keypoints": [1, 2, 2, 0, 0, 0], "num_keypoints": 1},
            {"id": 2, "image_id": 7, "category_id": 1, "area": 1, "bbox": [0, 0, 1, 1],
            "keypoints": [5, 5, 1, 6, 6, 2]}],
            "categories": [{"id": 1, "name": "person"}]}"#;
        let d: CocoDataset = serde_json::from_str(json).unwrap();
        assert_eq!(d.images[0].license, Some(3));
        assert_eq!(d.annotations[0].bbox, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.annotations[0].labelled_keypoints(), 1);
        assert_eq!(d.annotations[1].labelled_keypoints(), 2);
        assert_eq!(d.people_with_keypoints(7).count(), 2);
        assert_eq!(d.annotations[0].person_box(), BBox::new(1.0, 2.0, 3.0, 4.0, 1.0));
    }
}
