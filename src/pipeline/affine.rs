//! 2×3 affine transforms between image pixels and input-crop pixels.
//!
//! Pixel convention (OpenCV's): the centre of pixel `(col, row)` is at coordinate
//! `(col, row)`; a `w`-pixel-wide image spans `[−0.5, w − 0.5]`.

use super::bbox::CropBox;
use crate::{bail, Result};

/// `[x', y'] = [[a, b, c], [d, e, f]] · [x, y, 1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine2x3 {
    pub m: [[f64; 3]; 2],
}

impl Affine2x3 {
    /// mmpose `get_warp_matrix(center, scale, rot = 0, output_size)`: image → input crop,
    /// `x' = (x − cx)·w/sw + w/2`, `y' = (y − cy)·h/sh + h/2`. The crop's edges map to the
    /// input's outer pixel edges 0 and w.
    pub fn image_to_input(crop: &CropBox, input: [usize; 2]) -> Affine2x3 {
        let (w, h) = (input[0] as f64, input[1] as f64);
        let kx = w / f64::from(crop.scale[0]);
        let ky = h / f64::from(crop.scale[1]);
        Affine2x3 {
            m: [
                [kx, 0.0, w * 0.5 - kx * f64::from(crop.center[0])],
                [0.0, ky, h * 0.5 - ky * f64::from(crop.center[1])],
            ],
        }
    }

    /// mmpose `get_udp_warp_matrix(center, scale, rot = 0, output_size)`: image → input crop
    /// with the crop's edges on the *centres* of pixels 0 and w − 1:
    /// `x' = (x − cx + sw/2)·(w − 1)/sw`.
    pub fn image_to_input_udp(crop: &CropBox, input: [usize; 2]) -> Affine2x3 {
        let sx = (input[0] as f64 - 1.0) / f64::from(crop.scale[0]);
        let sy = (input[1] as f64 - 1.0) / f64::from(crop.scale[1]);
        let (cx, cy) = (f64::from(crop.center[0]), f64::from(crop.center[1]));
        let (hw, hh) = (f64::from(crop.scale[0]) * 0.5, f64::from(crop.scale[1]) * 0.5);
        Affine2x3 { m: [[sx, 0.0, sx * (hw - cx)], [0.0, sy, sy * (hh - cy)]] }
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        (m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2])
    }

    /// The inverse transform; an error when the matrix is singular or not finite.
    pub fn inverse(&self) -> Result<Affine2x3> {
        let [[a, b, c], [d, e, f]] = self.m;
        let det = a * e - b * d;
        if det == 0.0 || !det.is_finite() || !(c.is_finite() && f.is_finite()) {
            bail!("affine transform {:?} is not invertible", self.m);
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Ok(Affine2x3 { m: [[ia, ib, -(ia * c + ib * f)], [id, ie, -(id * c + ie * f)]] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmpose_matrix_maps_crop_edges_to_pixel_edges() {
        // Crop centred at (100, 50), 120×160, input 192×256: k = 1.6.
        let crop = CropBox { center: [100.0, 50.0], scale: [120.0, 160.0] };
        let m = Affine2x3::image_to_input(&crop, [192, 256]);
        assert_eq!(m.m, [[1.6, 0.0, 96.0 - 160.0], [0.0, 1.6, 128.0 - 80.0]]);
        assert_eq!(m.apply(40.0, -30.0), (0.0, 0.0));
        assert_eq!(m.apply(160.0, 130.0), (192.0, 256.0));
    }

    #[test]
    fn udp_matrix_maps_crop_edges_to_pixel_centres() {
        let crop = CropBox { center: [100.0, 50.0], scale: [120.0, 160.0] };
        let m = Affine2x3::image_to_input_udp(&crop, [192, 256]);
        let (x0, y0) = m.apply(40.0, -30.0);
        let (x1, y1) = m.apply(160.0, 130.0);
        assert!(x0.abs() < 1e-12 && y0.abs() < 1e-12);
        assert!((x1 - 191.0).abs() < 1e-12 && (y1 - 255.0).abs() < 1e-12);
    }

    #[test]
    fn inverse_of_a_general_matrix() {
        let m = Affine2x3 { m: [[2.0, 1.0, 3.0], [-1.0, 0.5, 7.0]] };
        let inv = m.inverse().unwrap();
        let (x, y) = m.apply(4.0, -2.0);
        let (bx, by) = inv.apply(x, y);
        assert!((bx - 4.0).abs() < 1e-12 && (by + 2.0).abs() < 1e-12);
        assert!(Affine2x3 { m: [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]] }.inverse().is_err());
        assert!(Affine2x3 { m: [[f64::INFINITY, 0.0, 0.0], [0.0, 1.0, 0.0]] }.inverse().is_err());
    }
}
