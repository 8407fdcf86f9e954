//! Direct f32 depthwise convolution, NHWC: every channel convolved with its own `kh x kw`
//! filter, vectorised across channels (no im2col). Any kernel size, stride, dilation and
//! asymmetric zero padding.
//!
//! Weights are repacked at plan time to `[kh * kw, C]` (tap-major, channels contiguous).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "arm")]
mod neon32;
mod scalar;

use super::isa::Isa;
use crate::ops::Clamp;

/// Spatial geometry of a depthwise convolution (one image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Top and left zero padding (bottom/right follow from the output size).
    pub pad_tl: [usize; 2],
}

impl Geometry {
    /// Offsets `(x_offset, w_offset)` of the taps of output pixel (`oy`, `ox`) that fall
    /// inside the input, written into `taps`; `x_offset` indexes the NHWC input of one
    /// image at channel 0, `w_offset` the packed weights at channel 0.
    pub fn taps(&self, oy: usize, ox: usize, taps: &mut Vec<(usize, usize)>) {
        taps.clear();
        for ky in 0..self.kh {
            let iy = (oy * self.stride[0] + ky * self.dilation[0]) as isize - self.pad_tl[0] as isize;
            if iy < 0 || iy >= self.h as isize {
                continue;
            }
            for kx in 0..self.kw {
                let ix = (ox * self.stride[1] + kx * self.dilation[1]) as isize - self.pad_tl[1] as isize;
                if ix < 0 || ix >= self.w as isize {
                    continue;
                }
                taps.push(((iy as usize * self.w + ix as usize) * self.c, (ky * self.kw + kx) * self.c));
            }
        }
    }
}

impl Geometry {
    /// Output rows and columns whose every tap falls inside the input (possibly empty).
    pub fn interior(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let axis = |out: usize, size: usize, k: usize, s: usize, d: usize, pad: usize| {
            // First o with o*s >= pad; last o with o*s + (k-1)*d - pad < size.
            let start = pad.div_ceil(s);
            let reach = (k - 1) * d;
            let end = if size + pad > reach { (size + pad - reach - 1) / s + 1 } else { 0 };
            start.min(out)..end.min(out).max(start.min(out))
        };
        (
            axis(self.oh, self.h, self.kh, self.stride[0], self.dilation[0], self.pad_tl[0]),
            axis(self.ow, self.w, self.kw, self.stride[1], self.dilation[1], self.pad_tl[1]),
        )
    }

    /// For every tap `ky * kw + kx` of output pixel (`oy`, `ox`), the offset of its input
    /// pixel (channel 0) in one NHWC image, or `None` where the tap falls in the padding.
    pub fn tap_grid(&self, oy: usize, ox: usize, grid: &mut [Option<usize>]) {
        for ky in 0..self.kh {
            let iy = (oy * self.stride[0] + ky * self.dilation[0]) as isize - self.pad_tl[0] as isize;
            for kx in 0..self.kw {
                let ix = (ox * self.stride[1] + kx * self.dilation[1]) as isize - self.pad_tl[1] as isize;
                grid[ky * self.kw + kx] = (iy >= 0 && ix >= 0 && (iy as usize) < self.h && (ix as usize) < self.w)
                    .then(|| (iy as usize * self.w + ix as usize) * self.c);
            }
        }
    }
}

/// The per-pixel kernel every ISA implements: `out[c] = clamp(bias[c] + sum over taps of
/// x[xo + c] * w[wo + c])` for `c < out.len()`.
pub type PixelFn =
    unsafe fn(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]);

/// An interior row kernel: `n` pixels with every tap inside the input, pixel `i`'s taps at
/// the tap offsets plus `i · step` in `x`; `out` holds the `n` pixels' `C` channels.
#[allow(clippy::too_many_arguments)]
pub type RowFn = unsafe fn(
    taps: &[(usize, usize)],
    x: &[f32],
    step: usize,
    n: usize,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    out: &mut [f32],
);

/// A planned depthwise convolution.
pub struct DepthwiseF32 {
    pub geometry: Geometry,
    weights: Vec<f32>,
    bias: Vec<f32>,
    clamp: Clamp,
    isa: Isa,
    pixel: PixelFn,
    /// The ISA's interior-row kernel, where it has one (else interior pixels go one by one).
    row: Option<RowFn>,
    taps: Vec<(usize, usize)>,
}

impl DepthwiseF32 {
    /// Plans the convolution from ONNX weights `[C, 1, kh, kw]` and an optional bias.
    pub fn new(geometry: Geometry, weights_chw: &[f32], bias: Option<&[f32]>, clamp: Clamp, isa: Isa) -> DepthwiseF32 {
        let g = geometry;
        let taps = g.kh * g.kw;
        let mut weights = vec![0.0; taps * g.c];
        for c in 0..g.c {
            for t in 0..taps {
                weights[t * g.c + c] = weights_chw[c * taps + t];
            }
        }
        let isa = isa.without_dot();
        let (isa, pixel, row): (Isa, PixelFn, Option<RowFn>) = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => (isa, avx2::pixel, Some(avx2::row)),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => (isa, avx512::pixel, None),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => (isa, neon::pixel, None),
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => (isa, neon32::pixel, None),
            _ => (Isa::Scalar, scalar::pixel, None),
        };
        DepthwiseF32 {
            geometry: g,
            weights,
            bias: bias.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; g.c]),
            clamp,
            isa,
            pixel,
            row,
            taps: Vec::with_capacity(taps),
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Convolves one NHWC image `x` (`h * w * c`) into `y` (`oh * ow * c`).
    pub fn run(&mut self, x: &[f32], y: &mut [f32]) {
        let g = self.geometry;
        assert!(x.len() >= g.h * g.w * g.c && y.len() >= g.oh * g.ow * g.c);
        let (rows, cols) = g.interior();
        for oy in 0..g.oh {
            let mut ox = 0;
            while ox < g.ow {
                let o = (oy * g.ow + ox) * g.c;
                g.taps(oy, ox, &mut self.taps);
                if ox == cols.start && !cols.is_empty() && rows.contains(&oy) {
                    // Interior run: every pixel has all taps, at the first pixel's offsets
                    // shifted by one stride each, so the tap list is built once per row.
                    let step = g.stride[1] * g.c;
                    if let Some(row) = self.row {
                        let out = &mut y[o..o + cols.len() * g.c];
                        // SAFETY: as below; pixel `i`'s taps are the first pixel's shifted by
                        // `i` whole strides, inside `x` for every interior pixel.
                        unsafe { row(&self.taps, x, step, cols.len(), &self.weights, &self.bias, self.clamp, out) };
                        ox = cols.end;
                        continue;
                    }
                    for i in 0..cols.len() {
                        let o = o + i * g.c;
                        // SAFETY: as below, with `x` advanced by whole strides that keep every
                        // tap of an interior pixel inside it.
                        unsafe {
                            (self.pixel)(
                                &self.taps,
                                &x[i * step..],
                                &self.weights,
                                &self.bias,
                                self.clamp,
                                &mut y[o..o + g.c],
                            )
                        };
                    }
                    ox = cols.end;
                    continue;
                }
                // SAFETY: `isa` was checked available when the plan chose it; every tap
                // offset plus `c` lies inside `x` and `weights` (Geometry::taps).
                unsafe { (self.pixel)(&self.taps, x, &self.weights, &self.bias, self.clamp, &mut y[o..o + g.c]) };
                ox += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::odd_geometries as odd_geometries_for_tests;
