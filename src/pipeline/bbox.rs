//! Person boxes and the crop region each one becomes (mmpose `GetBBoxCenterScale` +
//! `TopdownAffine._fix_aspect_ratio`, or BlazePose's square ROI).

use serde::{Deserialize, Serialize};

/// A person box in **image pixels**, COCO `xywh` (top-left corner, width, height), with the
/// detector's score (1 for ground-truth boxes).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
}

impl BBox {
    pub fn new(x: f32, y: f32, w: f32, h: f32, score: f32) -> BBox {
        BBox { x, y, w, h, score }
    }

    /// Clips the box to an image of `width × height` pixels as mmpose does for ground-truth
    /// boxes (`x1 = clip(x, 0, W−1)`, `x2 = clip(x + w, 0, W−1)`, same for y). Detector boxes
    /// are not clipped by mmpose.
    pub fn clipped_to_image(&self, width: u32, height: u32) -> BBox {
        let (wm, hm) = ((width.max(1) - 1) as f32, (height.max(1) - 1) as f32);
        let x1 = self.x.clamp(0.0, wm);
        let y1 = self.y.clamp(0.0, hm);
        let x2 = (self.x + self.w).clamp(0.0, wm);
        let y2 = (self.y + self.h).clamp(0.0, hm);
        BBox { x: x1, y: y1, w: x2 - x1, h: y2 - y1, score: self.score }
    }
}

/// How a person box becomes the crop the network sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropProtocol {
    /// mmpose top-down: `scale = (w, h)·padding`, then widened or heightened to the input's
    /// aspect ratio.
    #[default]
    Mmpose,
    /// BlazePose: a square of side `padding·max(w, h)` around the box centre (then fitted to
    /// the input's aspect ratio, a no-op for square inputs).
    Square,
}

/// The region of the image that fills the network input: centre and size in **image
/// pixels**. mmpose calls these `input_center` / `input_scale`; `scale[0]·scale[1]` is also the
/// instance area its OKS-NMS uses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CropBox {
    pub center: [f32; 2],
    pub scale: [f32; 2],
}

impl CropBox {
    /// The crop of `bbox` for a network input of `input` (width, height) pixels.
    ///
    /// A box without area (or with non-finite numbers) has no defined warp; it gets a crop
    /// one image pixel high (the network then sees a nearly uniform patch and its keypoints
    /// all land on the box centre).
    pub fn from_bbox(bbox: &BBox, protocol: CropProtocol, padding: f32, input: [usize; 2]) -> CropBox {
        let center = [bbox.x + bbox.w * 0.5, bbox.y + bbox.h * 0.5];
        let scale = match protocol {
            CropProtocol::Mmpose => [bbox.w * padding, bbox.h * padding],
            CropProtocol::Square => {
                let s = bbox.w.max(bbox.h) * padding;
                [s, s]
            }
        };
        let aspect = input[0] as f32 / input[1] as f32;
        let mut scale = fix_aspect_ratio(scale, aspect);
        if !(scale[0] > 0.0 && scale[1] > 0.0 && scale[0].is_finite() && scale[1].is_finite()) {
            scale = [aspect, 1.0];
        }
        let center = if center[0].is_finite() && center[1].is_finite() { center } else { [0.0, 0.0] };
        CropBox { center, scale }
    }

    /// Maps a point from input-crop pixels back to image pixels (mmpose
    /// `kp / input_size · scale + center − scale / 2`).
    pub fn crop_to_image(&self, x: f32, y: f32, input: [usize; 2]) -> (f32, f32) {
        (
            x / input[0] as f32 * self.scale[0] + self.center[0] - 0.5 * self.scale[0],
            y / input[1] as f32 * self.scale[1] + self.center[1] - 0.5 * self.scale[1],
        )
    }
}

/// mmpose `_fix_aspect_ratio`: with `a = w_in / h_in`, `(w, h)` becomes `(w, w / a)` if
/// `w > h·a`, else `(h·a, h)`.
fn fix_aspect_ratio([w, h]: [f32; 2], aspect: f32) -> [f32; 2] {
    if w > h * aspect {
        [w, w / aspect]
    } else {
        [h * aspect, h]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmpose_center_scale_with_aspect_fix() {
        // 100×100 box at (10, 20): centre (60, 70); padded 125×125; input 192×256 (a = 0.75):
        // 125 > 125·0.75 → (125, 166.67).
        let b = BBox::new(10.0, 20.0, 100.0, 100.0, 1.0);
        let c = CropBox::from_bbox(&b, CropProtocol::Mmpose, 1.25, [192, 256]);
        assert_eq!(c.center, [60.0, 70.0]);
        assert_eq!(c.scale[0], 125.0);
        assert!((c.scale[1] - 500.0 / 3.0).abs() < 1e-4);
        // A tall box keeps its height: 40×200 → padded 50×250 → (187.5, 250).
        let b = BBox::new(0.0, 0.0, 40.0, 200.0, 1.0);
        let c = CropBox::from_bbox(&b, CropProtocol::Mmpose, 1.25, [192, 256]);
        assert_eq!(c.scale, [187.5, 250.0]);
    }

    #[test]
    fn square_roi() {
        let b = BBox::new(0.0, 0.0, 40.0, 200.0, 1.0);
        let c = CropBox::from_bbox(&b, CropProtocol::Square, 1.25, [256, 256]);
        assert_eq!(c.center, [20.0, 100.0]);
        assert_eq!(c.scale, [250.0, 250.0]);
    }

    #[test]
    fn crop_to_image_inverts_the_crop() {
        let c = CropBox { center: [60.0, 70.0], scale: [120.0, 160.0] };
        // Input-crop origin is the crop's top-left corner; the far corner is the other one.
        assert_eq!(c.crop_to_image(0.0, 0.0, [192, 256]), (0.0, -10.0));
        assert_eq!(c.crop_to_image(192.0, 256.0, [192, 256]), (120.0, 150.0));
        assert_eq!(c.crop_to_image(96.0, 128.0, [192, 256]), (60.0, 70.0));
    }

    #[test]
    fn degenerate_boxes_get_a_one_pixel_crop() {
        let b = BBox::new(10.0, 20.0, 0.0, 0.0, 1.0);
        let c = CropBox::from_bbox(&b, CropProtocol::Mmpose, 1.25, [192, 256]);
        assert_eq!(c, CropBox { center: [10.0, 20.0], scale: [0.75, 1.0] });
        let b = BBox::new(f32::NAN, 0.0, f32::INFINITY, 5.0, 1.0);
        let c = CropBox::from_bbox(&b, CropProtocol::Square, 1.25, [256, 256]);
        assert_eq!(c, CropBox { center: [0.0, 0.0], scale: [1.0, 1.0] });
    }

    #[test]
    fn clipping_like_mmpose_gt_boxes() {
        let b = BBox::new(-10.0, 5.0, 700.0, 20.0, 1.0).clipped_to_image(640, 480);
        assert_eq!(b, BBox::new(0.0, 5.0, 639.0, 20.0, 1.0));
        // Degenerate inputs stay finite.
        let b = BBox::new(5.0, 5.0, 1.0, 1.0, 1.0).clipped_to_image(0, 0);
        assert_eq!((b.w, b.h), (0.0, 0.0));
    }
}
