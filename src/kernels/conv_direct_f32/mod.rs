//! Direct f32 convolution for layers with few output channels (≤ [`MAX_COUT`]), NHWC, one
//! group: every output pixel accumulates `kh·kw·C_in` broadcast inputs times a vector of
//! output-channel weights, in registers. No im2col buffer, no packing — what stems
//! (3 → 16/24 channels) and single-map heads (8 → 1) need; a GEMM of `C_out ≤ 32` rows
//! wastes most of its tile there.
//!
//! Weights are packed at plan time to `[kh][kw][C_in][C_out padded to 8]`. AVX2, AArch64 NEON
//! and armv7 NEON (`asm!`) kernels; a scalar one elsewhere.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "arm")]
mod neon32;
mod scalar;

use super::depthwise_f32::Geometry;
use super::isa::Isa;
use crate::ops::Clamp;

/// Largest output-channel count the direct kernel takes.
pub const MAX_COUT: usize = 32;

/// A planned direct convolution. `geometry.c` is the input channel count.
pub struct ConvDirectF32 {
    pub geometry: Geometry,
    pub cout: usize,
    /// `cout` rounded up to 8.
    cpad: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
    clamp: Clamp,
    isa: Isa,
}

impl ConvDirectF32 {
    /// Plans the convolution from ONNX weights `[C_out, C_in, kh, kw]`.
    pub fn new(
        geometry: Geometry,
        cout: usize,
        weights: &[f32],
        bias: Option<&[f32]>,
        clamp: Clamp,
        isa: Isa,
    ) -> ConvDirectF32 {
        assert!(cout <= MAX_COUT);
        let g = geometry;
        let cpad = cout.next_multiple_of(8);
        let mut packed = vec![0.0; g.kh * g.kw * g.c * cpad];
        for o in 0..cout {
            for ci in 0..g.c {
                for t in 0..g.kh * g.kw {
                    packed[(t * g.c + ci) * cpad + o] = weights[(o * g.c + ci) * g.kh * g.kw + t];
                }
            }
        }
        let mut b = bias.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; cout]);
        b.resize(cpad, 0.0);
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => Isa::Neon32,
            _ => Isa::Scalar,
        };
        ConvDirectF32 { geometry: g, cout, cpad, weights: packed, bias: b, clamp, isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Convolves one NHWC image `x` (`h·w·C_in`) into `y` (`oh·ow·C_out`).
    pub fn run(&self, x: &[f32], y: &mut [f32]) {
        let g = self.geometry;
        assert!(x.len() >= g.h * g.w * g.c && y.len() >= g.oh * g.ow * self.cout);
        match self.isa {
            // SAFETY: AVX2+FMA were detected when the plan chose this ISA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::run(self, x, y) },
            // SAFETY: NEON was detected when the plan chose this ISA.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::run(self, x, y) },
            // SAFETY: NEON was detected when the plan chose this ISA.
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => unsafe { neon32::run(self, x, y) },
            _ => scalar::run(self, x, y),
        }
    }

    /// The valid tap range `[k0, k1)` along one axis for output coordinate `o`.
    #[inline(always)]
    fn tap_range(o: usize, stride: usize, dilation: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
        let start = (o * stride) as isize - pad as isize;
        let lo = if start >= 0 { 0 } else { ((-start) as usize).div_ceil(dilation) };
        let mut hi = k;
        while hi > lo && start + ((hi - 1) * dilation) as isize >= len as isize {
            hi -= 1;
        }
        (lo.min(k), hi)
    }
}

#[cfg(test)]
mod tests;
