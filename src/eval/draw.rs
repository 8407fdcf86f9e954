//! Keypoints and skeletons drawn on an image (e.g. fp32 in one colour, int8 in another).

use image::{Rgb, RgbImage};

use crate::heads::Keypoint;

/// How one result set is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoseStyle {
    pub color: [u8; 3],
    /// Keypoint disc radius, pixels.
    pub radius: f32,
    /// Limb line width, pixels.
    pub line_width: f32,
    /// Keypoints scoring at or below this are not drawn (nor their limbs).
    pub min_score: f32,
}

impl PoseStyle {
    /// Radius 3, width 2, every keypoint drawn.
    pub fn new(color: [u8; 3]) -> PoseStyle {
        PoseStyle { color, radius: 3.0, line_width: 2.0, min_score: f32::NEG_INFINITY }
    }
}

/// Colour conventionally used for the float reference.
pub const FP32_COLOR: [u8; 3] = [40, 220, 60];
/// Colour conventionally used for the int8 result.
pub const INT8_COLOR: [u8; 3] = [230, 40, 200];

/// Draws one person's keypoints (image pixels) and the `skeleton` limbs between them.
pub fn draw_pose(image: &mut RgbImage, keypoints: &[Keypoint], skeleton: &[[usize; 2]], style: &PoseStyle) {
    let shown = |k: &Keypoint| k.score > style.min_score && k.x.is_finite() && k.y.is_finite();
    for &[a, b] in skeleton {
        if let (Some(p), Some(q)) = (keypoints.get(a), keypoints.get(b)) {
            if shown(p) && shown(q) {
                draw_line(image, (p.x, p.y), (q.x, q.y), style.line_width, style.color);
            }
        }
    }
    for k in keypoints.iter().filter(|k| shown(k)) {
        fill_disc(image, k.x, k.y, style.radius, style.color);
    }
}

/// Fills the pixels whose centres lie within `r` of `(cx, cy)`.
pub fn fill_disc(image: &mut RgbImage, cx: f32, cy: f32, r: f32, color: [u8; 3]) {
    let (w, h) = (image.width() as f32, image.height() as f32);
    if !(cx.is_finite() && cy.is_finite()) || cx + r < 0.0 || cy + r < 0.0 || cx - r >= w || cy - r >= h {
        return;
    }
    let (x0, x1) = ((cx - r).floor().max(0.0) as u32, (cx + r).ceil().min(w - 1.0) as u32);
    let (y0, y1) = ((cy - r).floor().max(0.0) as u32, (cy + r).ceil().min(h - 1.0) as u32);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            if dx * dx + dy * dy <= r * r {
                image.put_pixel(x, y, Rgb(color));
            }
        }
    }
}

/// Draws a segment `width` pixels wide (discs stamped every half pixel along it), clipped to
/// the image first so far-away endpoints cost nothing.
pub fn draw_line(image: &mut RgbImage, p: (f32, f32), q: (f32, f32), width: f32, color: [u8; 3]) {
    let r = (width * 0.5).max(0.5);
    let bounds = (-r, -r, image.width() as f32 + r, image.height() as f32 + r);
    let Some((p, q)) = clip_segment(p, q, bounds) else {
        return;
    };
    let len = (q.0 - p.0).hypot(q.1 - p.1);
    let steps = (len * 2.0).ceil().max(1.0) as u32;
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        fill_disc(image, p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t, r, color);
    }
}

/// Liang–Barsky clipping of `p → q` to the rectangle `(x0, y0, x1, y1)`.
fn clip_segment(
    p: (f32, f32),
    q: (f32, f32),
    (x0, y0, x1, y1): (f32, f32, f32, f32),
) -> Option<((f32, f32), (f32, f32))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f32, 1.0f32);
    for (den, num) in [(-dx, p.0 - x0), (dx, x1 - p.0), (-dy, p.1 - y0), (dy, y1 - p.1)] {
        if den == 0.0 {
            if num < 0.0 {
                return None;
            }
        } else {
            let t = num / den;
            if den < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some(((p.0 + t0 * dx, p.1 + t0 * dy), (p.0 + t1 * dx, p.1 + t1 * dy)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disc_and_limb_pixels() {
        let mut img = RgbImage::new(20, 10);
        let kps = [Keypoint { x: 2.0, y: 5.0, score: 1.0 }, Keypoint { x: 17.0, y: 5.0, score: 1.0 }];
        draw_pose(&mut img, &kps, &[[0, 1]], &PoseStyle::new(FP32_COLOR));
        // Disc of radius 3 around (2, 5): (2, 2) is on it, (2, 1) is not... but the limb runs
        // along y = 5 only with width 2.
        assert_eq!(img.get_pixel(2, 2).0, FP32_COLOR);
        assert_eq!(img.get_pixel(2, 1).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(10, 5).0, FP32_COLOR);
        assert_eq!(img.get_pixel(10, 7).0, [0, 0, 0]);
    }

    #[test]
    fn low_scores_and_wild_coordinates_are_skipped_safely() {
        let mut img = RgbImage::new(10, 10);
        let kps = [
            Keypoint { x: 5.0, y: 5.0, score: 0.1 },
            Keypoint { x: f32::NAN, y: 0.0, score: 1.0 },
            Keypoint { x: -1e30, y: 1e30, score: 1.0 },
            Keypoint { x: 1e30, y: 5.0, score: 1.0 },
        ];
        let style = PoseStyle { min_score: 0.5, ..PoseStyle::new(INT8_COLOR) };
        draw_pose(&mut img, &kps, &[[0, 1], [1, 2], [2, 3], [0, 9]], &style);
        assert_eq!(img.get_pixel(5, 5).0, [0, 0, 0]);
        draw_pose(&mut RgbImage::new(0, 0), &kps, &[[2, 3]], &PoseStyle::new(INT8_COLOR));
    }

    #[test]
    fn clipping() {
        let b = (0.0, 0.0, 10.0, 10.0);
        assert_eq!(clip_segment((-10.0, 5.0), (20.0, 5.0), b), Some(((0.0, 5.0), (10.0, 5.0))));
        assert_eq!(clip_segment((-10.0, -5.0), (20.0, -5.0), b), None);
    }
}
