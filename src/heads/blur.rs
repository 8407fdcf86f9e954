//! The Gaussian modulation of DARK and UDP decoding: mmpose's `gaussian_blur` /
//! `gaussian_blur1d` (zero border, `cv2.GaussianBlur(k, σ = 0)`, then rescaled so the blurred
//! map keeps the original maximum).

use crate::{bail, Result};

/// A normalised 1-D Gaussian kernel as `cv2.getGaussianKernel(size, 0)` builds it:
/// sizes 1, 3, 5 and 7 use OpenCV's fixed binomial tables, larger sizes use
/// `σ = 0.3·((size − 1)/2 − 1) + 0.8`.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianKernel {
    weights: Vec<f32>,
}

impl GaussianKernel {
    pub fn new(size: usize) -> Result<GaussianKernel> {
        if size % 2 == 0 {
            bail!("Gaussian blur kernel size must be odd, got {size}");
        }
        let weights: Vec<f32> = match size {
            1 => vec![1.0],
            3 => vec![0.25, 0.5, 0.25],
            5 => vec![0.0625, 0.25, 0.375, 0.25, 0.0625],
            7 => vec![0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
            _ => {
                let sigma = 0.3 * ((size as f64 - 1.0) * 0.5 - 1.0) + 0.8;
                let c = (size as f64 - 1.0) * 0.5;
                let raw: Vec<f64> =
                    (0..size).map(|i| (-(i as f64 - c).powi(2) / (2.0 * sigma * sigma)).exp()).collect();
                let sum: f64 = raw.iter().sum();
                raw.iter().map(|w| (w / sum) as f32).collect()
            }
        };
        Ok(GaussianKernel { weights })
    }

    /// Half-width `(size − 1) / 2`.
    fn radius(&self) -> usize {
        self.weights.len() / 2
    }

    /// Convolves `src` (a row of `src.len()` values, zeros outside) into `dst`.
    fn convolve_row(&self, src: &[f32], dst: &mut [f32], stride_src: usize, stride_dst: usize, n: usize) {
        let r = self.radius() as isize;
        for i in 0..n as isize {
            let mut acc = 0.0f64;
            for (t, w) in self.weights.iter().enumerate() {
                let j = i + t as isize - r;
                if j >= 0 && j < n as isize {
                    acc += f64::from(*w) * f64::from(src[j as usize * stride_src]);
                }
            }
            dst[i as usize * stride_dst] = acc as f32;
        }
    }

    /// Blurs a 1-D signal in place with a zero border, then rescales it so its maximum equals
    /// the original maximum (mmpose `gaussian_blur1d`). `tmp` is scratch space.
    pub fn blur_1d(&self, signal: &mut [f32], tmp: &mut Vec<f32>) {
        let n = signal.len();
        let origin_max = max_of(signal);
        tmp.clear();
        tmp.extend_from_slice(signal);
        self.convolve_row(tmp, signal, 1, 1, n);
        rescale_to_max(signal, origin_max);
    }

    /// Blurs an `h × w` map (row-major) in place with a zero border, separably (rows, then
    /// columns), then rescales it to its original maximum (mmpose `gaussian_blur`).
    pub fn blur_2d(&self, map: &mut [f32], h: usize, w: usize, tmp: &mut Vec<f32>) {
        let origin_max = max_of(map);
        tmp.clear();
        tmp.resize(h * w, 0.0);
        for y in 0..h {
            self.convolve_row(&map[y * w..], &mut tmp[y * w..], 1, 1, w);
        }
        for x in 0..w {
            self.convolve_row(&tmp[x..], &mut map[x..], w, w, h);
        }
        rescale_to_max(map, origin_max);
    }
}

fn max_of(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// `v *= origin_max / max(v)`. A blurred maximum of 0 (an all-zero map) would divide by zero
/// (NaN in mmpose); the map is then left as it is.
fn rescale_to_max(v: &mut [f32], origin_max: f32) {
    let m = max_of(v);
    if m != 0.0 && m.is_finite() {
        let k = origin_max / m;
        v.iter_mut().for_each(|x| *x *= k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_eleven_matches_opencv() {
        // cv2.getGaussianKernel(11, 0) printed by OpenCV 5.0.
        let expected = [
            0.00881223, 0.02714358, 0.06511406, 0.12164907, 0.17699836, 0.20056541, 0.17699836, 0.12164907, 0.06511406,
            0.02714358, 0.00881223,
        ];
        let k = GaussianKernel::new(11).unwrap();
        for (a, b) in k.weights.iter().zip(expected) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
        assert!(GaussianKernel::new(4).is_err());
    }

    #[test]
    fn blur_1d_of_an_impulse_is_the_kernel_rescaled() {
        // Impulse at 3 of 7 with the 3-tap table [.25 .5 .25]: [0,0,.25,.5,.25,0,0], max .5,
        // rescaled to the original max 2 → [0,0,1,2,1,0,0].
        let k = GaussianKernel::new(3).unwrap();
        let mut s = [0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0];
        k.blur_1d(&mut s, &mut Vec::new());
        assert_eq!(s, [0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn blur_2d_zero_border_at_the_corner() {
        // Impulse 4 at (0,0) of 3×3: blurred (0,0) = .5·.5·4 = 1, (0,1) = .5, (1,1) = .25;
        // the max 1 is rescaled to 4.
        let k = GaussianKernel::new(3).unwrap();
        let mut m = [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        k.blur_2d(&mut m, 3, 3, &mut Vec::new());
        assert_eq!(m, [4.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn all_zero_map_stays_zero() {
        let k = GaussianKernel::new(11).unwrap();
        let mut m = [0.0f32; 12];
        k.blur_2d(&mut m, 3, 4, &mut Vec::new());
        assert!(m.iter().all(|&v| v == 0.0));
    }
}
