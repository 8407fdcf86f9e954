//! Bilinear affine warp of an RGB image into the network's input tensor, normalised.
//!
//! Matches `cv2.warpAffine(img, M, (w, h), flags=INTER_LINEAR, borderMode=BORDER_CONSTANT,
//! borderValue=0)` in float: output pixel `(col, row)` samples the image at `M⁻¹·(col, row)`
//! with OpenCV's pixel-centre convention (pixel `(i, j)` centred at `(i, j)`), bilinearly from
//! the four neighbours, neighbours outside the image counting as 0 (before normalisation, so
//! they become `−mean/std`). OpenCV itself rounds the sample position to 1/32 pixel and uses
//! fixed-point weights for 8-bit images, so it differs from this float warp by up to about one
//! grey level.

use image::RgbImage;

use super::affine::Affine2x3;
use super::config::{ChannelOrder, InputConfig, Layout};
use crate::{bail, Result};

/// Warps `image` through `image_to_input` (image pixels → input pixels) into `out`, laid out,
/// ordered and normalised as `input` says. `out` must hold `input.len()` floats. Does not
/// allocate.
pub fn warp_into(image: &RgbImage, image_to_input: &Affine2x3, input: &InputConfig, out: &mut [f32]) -> Result<()> {
    if out.len() != input.len() {
        bail!(
            "input buffer holds {} floats, the network input {}×{}×3 needs {}",
            out.len(),
            input.width,
            input.height,
            input.len()
        );
    }
    let inv = image_to_input.inverse()?;
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    let pixels = image.as_raw();
    let (w, h) = (input.width, input.height);
    // Network channel c reads image channel src[c].
    let src = match input.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let inv_std = input.std.map(|s| 1.0 / s);
    let plane = w * h;
    for row in 0..h {
        for col in 0..w {
            let (sx, sy) = inv.apply(col as f64, row as f64);
            let rgb = sample_bilinear(pixels, iw, ih, sx, sy);
            let v: [f32; 3] = std::array::from_fn(|c| (rgb[src[c]] - input.mean[c]) * inv_std[c]);
            match input.layout {
                Layout::Nchw => {
                    let at = row * w + col;
                    out[at] = v[0];
                    out[plane + at] = v[1];
                    out[2 * plane + at] = v[2];
                }
                Layout::Nhwc => out[(row * w + col) * 3..][..3].copy_from_slice(&v),
            }
        }
    }
    Ok(())
}

/// Bilinear sample of an RGB8 image at `(x, y)` (pixel centres at integers), zero outside.
fn sample_bilinear(pixels: &[u8], iw: i64, ih: i64, x: f64, y: f64) -> [f32; 3] {
    let mut acc = [0.0f32; 3];
    // Outside (-1, size) every tap is outside the image; this also keeps `x0 + 1` from
    // overflowing for huge coordinates (a degenerate box), and rejects NaN.
    if !(x > -1.0 && y > -1.0 && x < iw as f64 && y < ih as f64) {
        return acc;
    }
    // floor() of a value in (-1, size): truncation, or -1 below zero (exact, and no libm
    // call on baselines without SSE4.1's `roundsd`).
    let floor = |v: f64| if v >= 0.0 { v as i64 } else { -1 };
    let (x0, y0) = (floor(x), floor(y));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    if x0 >= 0 && y0 >= 0 && x0 + 1 < iw && y0 + 1 < ih {
        // All four taps inside: the same sum in the same order, without the checks (a zero
        // weight adds an exact 0.0).
        let row = (iw * 3) as usize;
        let i = ((y0 * iw + x0) * 3) as usize;
        let (top, bottom) = (&pixels[i..i + 6], &pixels[i + row..i + row + 6]);
        let wgt = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
        for (c, a) in acc.iter_mut().enumerate() {
            *a += wgt[0] * f32::from(top[c]);
            *a += wgt[1] * f32::from(top[3 + c]);
            *a += wgt[2] * f32::from(bottom[c]);
            *a += wgt[3] * f32::from(bottom[3 + c]);
        }
        return acc;
    }
    let taps = [
        (x0, y0, (1.0 - fx) * (1.0 - fy)),
        (x0 + 1, y0, fx * (1.0 - fy)),
        (x0, y0 + 1, (1.0 - fx) * fy),
        (x0 + 1, y0 + 1, fx * fy),
    ];
    for (px, py, wgt) in taps {
        if px >= 0 && px < iw && py >= 0 && py < ih && wgt != 0.0 {
            let i = ((py * iw + px) * 3) as usize;
            for (a, &p) in acc.iter_mut().zip(&pixels[i..i + 3]) {
                *a += wgt * f32::from(p);
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::{IMAGENET_MEAN, IMAGENET_STD};

    fn input(w: usize, h: usize, layout: Layout, channels: ChannelOrder) -> InputConfig {
        InputConfig { name: "input".into(), width: w, height: h, layout, channels, mean: [0.0; 3], std: [1.0; 3] }
    }

    fn gradient_image() -> RgbImage {
        // R = 10·x, G = 10·y, B = 7.
        RgbImage::from_fn(4, 3, |x, y| image::Rgb([(10 * x) as u8, (10 * y) as u8, 7]))
    }

    #[test]
    fn identity_copies_pixels_in_both_layouts() {
        let img = gradient_image();
        let id = Affine2x3 { m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] };
        let mut out = vec![0.0; 36];
        warp_into(&img, &id, &input(4, 3, Layout::Nchw, ChannelOrder::Rgb), &mut out).unwrap();
        assert_eq!(&out[..4], &[0.0, 10.0, 20.0, 30.0]); // R plane, row 0
        assert_eq!(out[12 + 2 * 4 + 1], 20.0); // G at (1, 2)
        assert_eq!(out[24], 7.0); // B
        warp_into(&img, &id, &input(4, 3, Layout::Nhwc, ChannelOrder::Bgr), &mut out).unwrap();
        // Pixel (1, 2) in BGR: 7, 20, 10.
        assert_eq!(&out[(2 * 4 + 1) * 3..][..3], &[7.0, 20.0, 10.0]);
    }

    #[test]
    fn half_pixel_shift_interpolates_and_border_is_zero() {
        let img = gradient_image();
        // input = image − 0.5: output (c, r) samples image (c + 0.5, r).
        let m = Affine2x3 { m: [[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]] };
        let mut out = vec![0.0; 36];
        warp_into(&img, &m, &input(4, 3, Layout::Nchw, ChannelOrder::Rgb), &mut out).unwrap();
        // R row 0: 5, 15, 25, then (3.5, 0) = ½·30 + ½·0 (outside) = 15.
        assert_eq!(&out[..4], &[5.0, 15.0, 25.0, 15.0]);
        // B at the last column: ½·7.
        assert_eq!(out[24 + 3], 3.5);
    }

    #[test]
    fn normalisation_applies_to_the_zero_border() {
        let img = gradient_image();
        let far = Affine2x3 { m: [[1.0, 0.0, 100.0], [0.0, 1.0, 0.0]] };
        let mut cfg = input(2, 2, Layout::Nchw, ChannelOrder::Rgb);
        cfg.mean = IMAGENET_MEAN;
        cfg.std = IMAGENET_STD;
        let mut out = vec![0.0; 12];
        warp_into(&img, &far, &cfg, &mut out).unwrap();
        assert!((out[0] + 123.675 / 58.395).abs() < 1e-6);
        assert!((out[11] + 103.53 / 57.375).abs() < 1e-6);
    }

    #[test]
    fn wrong_buffer_or_singular_matrix_is_an_error() {
        let img = gradient_image();
        let id = Affine2x3 { m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] };
        let cfg = input(4, 3, Layout::Nchw, ChannelOrder::Rgb);
        assert!(warp_into(&img, &id, &cfg, &mut [0.0; 35]).is_err());
        let singular = Affine2x3 { m: [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]] };
        assert!(warp_into(&img, &singular, &cfg, &mut [0.0; 36]).is_err());
    }

    #[test]
    fn empty_image_warps_to_border() {
        let img = RgbImage::new(0, 0);
        let id = Affine2x3 { m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] };
        let mut out = vec![1.0; 12];
        warp_into(&img, &id, &input(2, 2, Layout::Nhwc, ChannelOrder::Rgb), &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
