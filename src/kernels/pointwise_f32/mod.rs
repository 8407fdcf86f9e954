//! f32 1x1 convolution on NHWC activations with the output channels in registers:
//! `y[j, c] = clamp(bias[c] + Σ_k x[j, k] · w[c, k])` for pixels `j`, channels `c`.
//!
//! NHWC makes pixel `j`'s `k` inputs contiguous, so the micro-kernel broadcasts them straight
//! from the input (no packing pass over the activations, unlike a general GEMM), multiplies
//! each into a block of output-channel weight vectors packed at plan time, and stores the
//! block's channels contiguously with the bias and clamp applied in registers. AVX2 + FMA
//! only (the module exists on x86-64): 16 channels × 6 pixels of accumulators, or 8 × 12 for
//! a block of at most 8 channels. Other instruction sets keep the tract-linalg GEMM
//! ([`super::gemm_f32`]), which has kernels for them.
//!
//! With taps ([`PointwiseF32::with_taps`]) the same tile computes a small convolution over a
//! zero-bordered NHWC image: pixel `j` reads `C_in` contiguous inputs at each tap's offset
//! from its own position, `k = taps · C_in` in all — what one phase of a strided transposed
//! convolution is (`crate::ops::conv_transpose`).

mod avx2;

use super::isa::Isa;
use crate::ops::Clamp;

/// Output channels per full block (two AVX2 vectors).
pub const BLOCK: usize = 16;

/// A planned pointwise convolution (or a convolution of a few taps, see the module doc).
pub struct PointwiseF32 {
    /// The reduction length: taps × input channels.
    pub k: usize,
    /// Output channels.
    pub m: usize,
    /// Input channels read at each tap.
    cin: usize,
    /// Each tap's offset (elements) from a pixel's first input; `[0]` for a 1x1 convolution.
    taps: Vec<usize>,
    /// `[ceil(m / 16)][k][16]`: channel block `b`, reduction index `kk`, lane `i` holds
    /// `w[16b + i, kk]`; lanes past `m` are zero.
    weights: Vec<f32>,
    /// `m` rounded up to 16, zero padded.
    bias: Vec<f32>,
    clamp: Clamp,
}

impl PointwiseF32 {
    /// Plans the product for weights `w` (`m x k` row-major, ONNX `[C_out, C_in, 1, 1]`),
    /// or `None` when `isa` has no kernel here.
    pub fn new(w: &[f32], m: usize, k: usize, bias: Option<&[f32]>, clamp: Clamp, isa: Isa) -> Option<PointwiseF32> {
        Self::with_taps(w, m, k, vec![0], bias, clamp, isa)
    }

    /// Plans a convolution of `taps.len()` taps of `cin` input channels each: `w` is
    /// `m x (taps · cin)` row-major, tap-major (`w[c, t · cin + i]` weighs input channel `i`
    /// at offset `taps[t]`). `None` when `isa` has no kernel here.
    pub fn with_taps(
        w: &[f32],
        m: usize,
        cin: usize,
        taps: Vec<usize>,
        bias: Option<&[f32]>,
        clamp: Clamp,
        isa: Isa,
    ) -> Option<PointwiseF32> {
        let k = taps.len() * cin;
        assert_eq!(w.len(), m * k);
        if !matches!(isa, Isa::Avx2 | Isa::Avx512) {
            return None;
        }
        let blocks = m.div_ceil(BLOCK);
        let mut weights = vec![0.0; blocks * k * BLOCK];
        for c in 0..m {
            for kk in 0..k {
                weights[((c / BLOCK) * k + kk) * BLOCK + c % BLOCK] = w[c * k + kk];
            }
        }
        let mut b = bias.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; m]);
        b.resize(blocks * BLOCK, 0.0);
        Some(PointwiseF32 { k, m, cin, taps, weights, bias: b, clamp })
    }

    /// The one ISA with a kernel (AVX-512 CPUs run it too).
    pub fn isa(&self) -> Isa {
        Isa::Avx2
    }

    /// Channel blocks of 16 (the last one partial).
    pub fn blocks(&self) -> usize {
        self.m.div_ceil(BLOCK)
    }

    /// Computes `n` pixels: `x` holds `n · k` inputs (pixel-major, NHWC), `y` receives
    /// `n · m` outputs (pixel-major). For a 1x1 convolution.
    pub fn run(&self, x: &[f32], n: usize, y: &mut [f32]) {
        self.run_strided(x, [0, self.k], n, y, [0, self.m], 0..self.blocks());
    }

    /// Computes output channel blocks `blocks` (of 16 channels, see [`PointwiseF32::blocks`])
    /// of `n` pixels, pixel `j` reading its taps from `x[x0 + j · x_step ..]` and storing its
    /// channels at `y[y0 + j · y_step ..]` (`[x0, x_step]`, `[y0, y_step]`, in elements).
    pub fn run_strided(
        &self,
        x: &[f32],
        [x0, x_step]: [usize; 2],
        n: usize,
        y: &mut [f32],
        [y0, y_step]: [usize; 2],
        blocks: std::ops::Range<usize>,
    ) {
        if n == 0 || blocks.is_empty() {
            return;
        }
        let reach = self.taps.iter().max().map_or(0, |t| t + self.cin);
        assert!(
            x0 + (n - 1) * x_step + reach <= x.len() && y0 + (n - 1) * y_step + self.m <= y.len(),
            "pointwise buffers too small for {n} pixels"
        );
        assert!(blocks.end <= self.blocks(), "channel blocks {blocks:?} of {}", self.blocks());
        let px = avx2::Pixels { x: x[x0..].as_ptr(), x_step, y: y[y0..].as_mut_ptr(), y_step };
        // SAFETY: the plan was made for a detected AVX2 (+FMA) or AVX-512 ISA; every read
        // and write is inside the buffers (checked above).
        unsafe { avx2::run(self, px, n, blocks) }
    }
}

#[cfg(test)]
mod tests;
