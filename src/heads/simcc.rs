//! SimCC decoding (mmpose `SimCCLabel.decode` with `get_simcc_maximum`).
//!
//! Per keypoint: `x = argmax(simcc_x)`, `y = argmax(simcc_y)` (first maximum on ties),
//! `score = min(max simcc_x, max simcc_y)` on the raw logits (no softmax); where
//! `score ≤ 0` both bins become −1. With `dark_sigma`, the bins are refined by 1-D DARK
//! (`refine_simcc_dark`); then `x_in = bin / split_ratio` (input-crop pixels).

use super::blur::GaussianKernel;
use super::maximum::first_argmax;
use super::{FlipIndices, HeadDecoder, Keypoint, KeypointSelection, OutputTensor};
use crate::{bail, Result};

/// Decodes SimCC outputs `x` `[1, K, Wx]` and `y` `[1, K, Wy]`.
pub struct SimccDecoder {
    x_name: String,
    y_name: String,
    split_ratio: f32,
    /// Blur kernels (x, y) when 1-D DARK is on.
    dark: Option<[GaussianKernel; 2]>,
    selection: KeypointSelection,
    merged_x: Vec<f32>,
    merged_y: Vec<f32>,
    scratch: DarkScratch,
}

/// mmpose's DARK blur kernel for a SimCC label σ: `(σ·20 − 7) // 3`, minus one if even.
pub fn simcc_dark_kernel_size(sigma: f32) -> usize {
    let k = ((f64::from(sigma) * 20.0 - 7.0) / 3.0).floor().max(1.0) as usize;
    if k % 2 == 0 {
        k - 1
    } else {
        k
    }
}

impl SimccDecoder {
    pub fn new(
        x: &str,
        y: &str,
        split_ratio: f32,
        dark_sigma: Option<[f32; 2]>,
        selection: KeypointSelection,
    ) -> Result<SimccDecoder> {
        if split_ratio.is_nan() || split_ratio <= 0.0 {
            bail!("SimCC split_ratio must be positive, got {split_ratio}");
        }
        let dark = match dark_sigma {
            Some([sx, sy]) => Some([
                GaussianKernel::new(simcc_dark_kernel_size(sx))?,
                GaussianKernel::new(simcc_dark_kernel_size(sy))?,
            ]),
            None => None,
        };
        Ok(SimccDecoder {
            x_name: x.to_owned(),
            y_name: y.to_owned(),
            split_ratio,
            dark,
            selection,
            merged_x: Vec::new(),
            merged_y: Vec::new(),
            scratch: DarkScratch::default(),
        })
    }

    /// Finds both outputs and checks they agree.
    fn inputs<'a>(&self, outputs: &[OutputTensor<'a>]) -> Result<Vectors<'a>> {
        let x = OutputTensor::find(outputs, &self.x_name)?;
        let y = OutputTensor::find(outputs, &self.y_name)?;
        let (kx, wx) = x.matrix()?;
        let (ky, wy) = y.matrix()?;
        if kx != ky {
            bail!(
                "SimCC outputs disagree on the keypoint count: '{}' {:?}, '{}' {:?}",
                x.name,
                x.shape,
                y.name,
                y.shape
            );
        }
        if wx == 0 || wy == 0 {
            bail!("SimCC outputs have empty vectors: '{}' {:?}, '{}' {:?}", x.name, x.shape, y.name, y.shape);
        }
        Ok(Vectors { x: x.data, wx, y: y.data, wy, k: kx })
    }
}

/// Both SimCC outputs of one run: `k` rows of `wx` and of `wy` logits.
struct Vectors<'a> {
    x: &'a [f32],
    wx: usize,
    y: &'a [f32],
    wy: usize,
    k: usize,
}

impl<'a> Vectors<'a> {
    /// The x and y vectors of raw keypoint `c`.
    fn rows(&self, c: usize) -> (&'a [f32], &'a [f32]) {
        (&self.x[c * self.wx..(c + 1) * self.wx], &self.y[c * self.wy..(c + 1) * self.wy])
    }
}

/// Scratch buffers of 1-D DARK.
#[derive(Default)]
struct DarkScratch {
    modulated: Vec<f32>,
    blur: Vec<f32>,
}

/// Decodes one keypoint from its x and y vectors (see the module doc).
fn decode_keypoint(
    x: &[f32],
    y: &[f32],
    split_ratio: f32,
    dark: Option<&[GaussianKernel; 2]>,
    scratch: &mut DarkScratch,
) -> Keypoint {
    let (bx, vx) = first_argmax(x);
    let (by, vy) = first_argmax(y);
    let score = vx.min(vy);
    if score.is_nan() || score <= 0.0 {
        // mmpose sets the location to −1 before dividing by the split ratio. (Its DARK step
        // would then refine from bin −1; such keypoints are left unrefined here.)
        let loc = -1.0 / split_ratio;
        return Keypoint { x: loc, y: loc, score };
    }
    let (fx, fy) = match dark {
        Some([kx, ky]) => (refine_dark_1d(x, bx, kx, scratch), refine_dark_1d(y, by, ky, scratch)),
        None => (bx as f32, by as f32),
    };
    Keypoint { x: fx / split_ratio, y: fy / split_ratio, score }
}

/// 1-D DARK refinement of bin `b` of `v` (mmpose `refine_simcc_dark`): blur (zero border,
/// rescaled to the original max), clip to [1e−3, 50], log, extend the edges, then
/// `b − ½(l[b+1] − l[b−1]) / (1e−9 + ¼(l[b+2] − 2·l[b] + l[b−2]))`.
fn refine_dark_1d(v: &[f32], b: usize, kernel: &GaussianKernel, scratch: &mut DarkScratch) -> f32 {
    let m = &mut scratch.modulated;
    m.clear();
    m.extend_from_slice(v);
    kernel.blur_1d(m, &mut scratch.blur);
    let last = m.len() as isize - 1;
    let l = |d: isize| -> f64 {
        let i = (b as isize + d).clamp(0, last) as usize;
        f64::from(m[i].clamp(1e-3, 50.0)).ln()
    };
    let dx = 0.5 * (l(1) - l(-1));
    let dxx = 1e-9 + 0.25 * (l(2) - 2.0 * l(0) + l(-2));
    (b as f64 - dx / dxx) as f32
}

impl HeadDecoder for SimccDecoder {
    fn decode(&mut self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        let v = self.inputs(outputs)?;
        let n = self.selection.count(v.k)?;
        out.clear();
        for j in 0..n {
            let (x, y) = v.rows(self.selection.raw(j));
            out.push(decode_keypoint(x, y, self.split_ratio, self.dark.as_ref(), &mut self.scratch));
        }
        Ok(())
    }

    /// mmpose `flip_vectors`: the flipped run's x vectors are reversed and both are permuted by
    /// `flip`; each pair is averaged (no shift).
    fn decode_flip(
        &mut self,
        outputs: &[OutputTensor<'_>],
        flipped: &[OutputTensor<'_>],
        flip: &FlipIndices,
        out: &mut Vec<Keypoint>,
    ) -> Result<()> {
        let v = self.inputs(outputs)?;
        let f = self.inputs(flipped)?;
        if (f.wx, f.wy, f.k) != (v.wx, v.wy, v.k) {
            bail!("flipped SimCC outputs differ in shape from the unflipped ones");
        }
        let n = self.selection.count(v.k)?;
        flip.check_len(n)?;
        out.clear();
        for j in 0..n {
            let (x, y) = v.rows(self.selection.raw(j));
            let (fx, fy) = f.rows(self.selection.raw(flip.of(j)));
            self.merged_x.clear();
            self.merged_x.extend(x.iter().zip(fx.iter().rev()).map(|(a, b)| 0.5 * (a + b)));
            self.merged_y.clear();
            self.merged_y.extend(y.iter().zip(fy).map(|(a, b)| 0.5 * (a + b)));
            out.push(decode_keypoint(
                &self.merged_x,
                &self.merged_y,
                self.split_ratio,
                self.dark.as_ref(),
                &mut self.scratch,
            ));
        }
        Ok(())
    }
}
