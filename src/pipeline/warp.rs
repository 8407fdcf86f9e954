//! Bilinear affine warp of an RGB image into the network's input tensor, normalised.
//!
//! Matches `cv2.warpAffine(img, M, (w, h), flags=INTER_LINEAR, borderMode=BORDER_CONSTANT,
//! borderValue=0)` in float: output pixel `(col, row)` samples the image at `M⁻¹·(col, row)`
//! with OpenCV's pixel-centre convention (pixel `(i, j)` centred at `(i, j)`), bilinearly from
//! the four neighbours, neighbours outside the image counting as 0 (before normalisation, so
//! they become `−mean/std`). OpenCV itself rounds the sample position to 1/32 pixel and uses
//! fixed-point weights for 8-bit images, so it differs from this float warp by up to about one
//! grey level.

use std::ops::Range;
use std::sync::OnceLock;

use image::RgbImage;

use super::affine::Affine2x3;
use super::config::{ChannelOrder, InputConfig, Layout};
use crate::kernels::bilinear_rgb8::{Rgb8, Run, Sampler, Store};
use crate::kernels::isa::Isa;
use crate::{bail, Result};

/// Warps `image` through `image_to_input` (image pixels → input pixels) into `out`, laid out,
/// ordered and normalised as `input` says. `out` must hold `input.len()` floats. Does not
/// allocate (the first call picks the instruction set, [`Isa::best`]).
///
/// Output row `r` samples the straight run of positions `M⁻¹·(c, r)`, `c = 0, 1, …`. Its
/// interior — the columns whose four taps all lie inside the image — goes through the SIMD
/// [`Sampler`] (positions stepped in f32 from an f64 anchor every 32 pixels: within ~1e−5 px
/// of `M⁻¹·(col, row)` for crops of ordinary size); the columns on either side that still
/// touch the image are sampled one at a time here, zero outside, and the rest are the
/// normalised zero border.
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
    static SAMPLER: OnceLock<Sampler> = OnceLock::new();
    let sampler = SAMPLER.get_or_init(|| Sampler::new(Isa::best()));
    let inv = image_to_input.inverse()?;
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    // Images the sampler cannot take (under 2×2 pixels, or 2 GiB and more) are sampled
    // entirely here.
    let view = Rgb8::new(pixels, iw, ih);
    let (w, h) = (input.width, input.height);
    let store = store(input);
    let step = [inv.m[0][0], inv.m[1][0]];
    let (iw_f, ih_f) = (iw as f64, ih as f64);
    for row in 0..h {
        let (x, y) = inv.apply(0.0, row as f64);
        // Columns whose position is outside [−1, size] on either axis have no tap in the
        // image; one more column on each side of the rest covers rounding in that bound.
        let touching = intersect(columns_within(x, step[0], -1.0, iw_f, w), columns_within(y, step[1], -1.0, ih_f, w));
        let touching = touching.start.saturating_sub(1)..(touching.end + 1).min(w);
        let interior = match view {
            Some(_) => intersect(
                intersect(
                    columns_within(x, step[0], 0.0, iw_f - 1.0, w),
                    columns_within(y, step[1], 0.0, ih_f - 1.0, w),
                ),
                touching.clone(),
            ),
            None => touching.start..touching.start,
        };
        let first = row * w;
        for col in (0..touching.start).chain(touching.end..w) {
            store.put(out, first + col, [0.0; 3]);
        }
        for col in (touching.start..interior.start).chain(interior.end..touching.end) {
            let (sx, sy) = inv.apply(col as f64, row as f64);
            store.put(out, first + col, sample_bilinear(pixels, iw as i64, ih as i64, sx, sy));
        }
        if let (Some(view), false) = (view, interior.is_empty()) {
            let c = interior.start as f64;
            let run = Run { start: [x + c * step[0], y + c * step[1]], step, len: interior.len() };
            sampler.sample(view, &run, &store, &mut out[(first + interior.start) * store.pixel_stride..]);
        }
    }
    Ok(())
}

/// Where the sampler writes: network channel `c` reads image channel `src[c]` and lives in
/// plane `c` (NCHW) or at offset `c` of every pixel (NHWC).
fn store(input: &InputConfig) -> Store {
    let src = match input.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (pixel_stride, channel_stride) = match input.layout {
        Layout::Nchw => (1, input.width * input.height),
        Layout::Nhwc => (3, 1),
    };
    let mut store = Store { pixel_stride, offset: [0; 3], mean: [0.0; 3], inv_std: [1.0; 3] };
    for (c, s) in src.into_iter().enumerate() {
        store.offset[s] = c * channel_stride;
        store.mean[s] = input.mean[c];
        store.inv_std[s] = 1.0 / input.std[c];
    }
    store
}

/// The columns `c < n` whose coordinate `start + c·step` lies in `[lo, hi]` (empty for
/// NaN). Rounding may add or drop a column whose coordinate is within rounding of a bound.
fn columns_within(start: f64, step: f64, lo: f64, hi: f64, n: usize) -> Range<usize> {
    let (first, end) = if step == 0.0 {
        if (lo..=hi).contains(&start) {
            (0.0, n as f64)
        } else {
            return 0..0;
        }
    } else {
        let (a, b) = ((lo - start) / step, (hi - start) / step);
        let (a, b) = if step > 0.0 { (a, b) } else { (b, a) };
        (a.ceil(), b.floor() + 1.0)
    };
    // `as` saturates (NaN → 0): the bounds land in 0..=n.
    let clamp = |v: f64| v.clamp(0.0, n as f64) as usize;
    clamp(first)..clamp(end).max(clamp(first))
}

/// The columns in both `a` and `b`, a sub-range of `b` (empty: `b.start..b.start`).
fn intersect(a: Range<usize>, b: Range<usize>) -> Range<usize> {
    let (start, end) = (a.start.max(b.start), a.end.min(b.end));
    if start < end {
        start..end
    } else {
        b.start..b.start
    }
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

    /// The row split (zero border, per-pixel edges, SIMD interior) against sampling every
    /// pixel one at a time, for rotated, mirrored, scaled and shifted crops reaching past
    /// every edge of images down to 1×1, in both layouts and channel orders.
    #[test]
    fn split_rows_match_per_pixel_sampling() {
        let mut compared = 0;
        for (iw, ih) in [(37, 23), (2, 2), (1, 5), (1, 1)] {
            // Pixel values 1..=255: a zero sample means no tap inside the image.
            let img = RgbImage::from_fn(iw, ih, |x, y| {
                image::Rgb([
                    (1 + (x * 37 + y * 11) % 255) as u8,
                    (1 + (x * y * 7) % 255) as u8,
                    (1 + (x + 3 * y) % 255) as u8,
                ])
            });
            for (angle, scale, mirror) in [
                (0.0, 1.0, 1.0),
                (0.0, 2.3, -1.0),
                (0.3, 0.4, 1.0),
                (std::f64::consts::FRAC_PI_2, 1.7, 1.0),
                (2.5, 0.9, -1.0),
            ] {
                let (c, s) = (scale * f64::cos(angle), scale * f64::sin(angle));
                // input → image: a 24×20 crop centred on the image, 4 px wider than it each side.
                let (cx, cy) = (f64::from(iw) / 2.0, f64::from(ih) / 2.0);
                let input_to_image = Affine2x3 {
                    m: [
                        [mirror * c, -s, cx - 12.0 * mirror * c + 10.0 * s],
                        [mirror * s, c, cy - 12.0 * mirror * s - 10.0 * c],
                    ],
                };
                let m = input_to_image.inverse().unwrap();
                let inv = m.inverse().unwrap();
                for (layout, channels) in [(Layout::Nchw, ChannelOrder::Rgb), (Layout::Nhwc, ChannelOrder::Bgr)] {
                    let cfg = input(24, 20, layout, channels);
                    let mut out = vec![f32::NAN; cfg.len()];
                    warp_into(&img, &m, &cfg, &mut out).unwrap();
                    let pixels = img.as_raw();
                    for row in 0..20 {
                        for col in 0..24 {
                            let (x, y) = inv.apply(col as f64, row as f64);
                            let rgb = sample_bilinear(pixels, i64::from(iw), i64::from(ih), x, y);
                            let want = match channels {
                                ChannelOrder::Rgb => rgb,
                                ChannelOrder::Bgr => [rgb[2], rgb[1], rgb[0]],
                            };
                            for (ch, want) in want.into_iter().enumerate() {
                                let got = match layout {
                                    Layout::Nchw => out[(ch * 20 + row) * 24 + col],
                                    Layout::Nhwc => out[(row * 24 + col) * 3 + ch],
                                };
                                // The SIMD interior steps positions in f32 (~1e−6 px here).
                                assert!(
                                    (got - want).abs() <= 1e-3 && (got == 0.0) == (want == 0.0),
                                    "{iw}×{ih} angle {angle} scale {scale} {layout:?} ({col}, {row}) ch {ch}: {got} vs {want}"
                                );
                                compared += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 5 * 2 * 24 * 20 * 3);
    }
}
