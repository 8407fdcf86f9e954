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

mod avx2;

use super::isa::Isa;
use crate::ops::Clamp;

/// Output channels per full block (two AVX2 vectors).
pub const BLOCK: usize = 16;

/// A planned pointwise convolution.
pub struct PointwiseF32 {
    /// Input channels (the reduction length).
    pub k: usize,
    /// Output channels.
    pub m: usize,
    /// `[ceil(m / 16)][k][16]`: channel block `b`, input channel `kk`, lane `i` holds
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
        Some(PointwiseF32 { k, m, weights, bias: b, clamp })
    }

    /// The one ISA with a kernel (AVX-512 CPUs run it too).
    pub fn isa(&self) -> Isa {
        Isa::Avx2
    }

    /// Computes `n` pixels: `x` holds `n · k` inputs (pixel-major, NHWC), `y` receives
    /// `n · m` outputs (pixel-major).
    pub fn run(&self, x: &[f32], n: usize, y: &mut [f32]) {
        assert!(x.len() >= n * self.k && y.len() >= n * self.m, "pointwise buffers too small for {n} pixels");
        // SAFETY: the plan was made for a detected AVX2 (+FMA) or AVX-512 ISA; the buffer
        // sizes are checked above.
        unsafe { avx2::run(self, x, n, y) }
    }
}

#[cfg(test)]
mod tests;
