//! Direct f32 convolution for layers with few output channels (≤ [`MAX_COUT`]), NHWC, one
//! group: every output pixel accumulates `kh·kw·C_in` broadcast inputs times a vector of
//! output-channel weights, in registers. No im2col buffer, no packing — what stems
//! (3 → 16/24 channels) and single-map heads (8 → 1) need; a GEMM of `C_out ≤ 32` rows
//! wastes most of its tile there.
//!
//! Weights are packed at plan time to `[kh][kw][C_in][C_out padded to 8]`. AVX2, AArch64 NEON
//! and armv7 NEON (`asm!`) kernels; a scalar one elsewhere.
//!
//! With at most [`DOT_MAX_COUT`] output channels (a single-map head), broadcasting fills one
//! to four lanes of each vector and chains every multiply-add into one accumulator. There,
//! on AVX2 and AArch64 NEON, the interior pixels (every tap inside the input) run as dot
//! products along each kernel row instead — a row's `kw·C_in` inputs are contiguous in NHWC
//! — four pixels at a time, one accumulator each, summed across lanes at the end
//! ([`ConvDirectF32::dot_row`]); the border pixels keep the broadcast kernel. Otherwise, on
//! AVX2, interior pixels are broadcast several at a time (12 accumulators: 12 pixels of 8
//! channels down to 3 of 32), so the multiply-adds of one pixel do not wait on each other.

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
use std::ops::Range;

/// Largest output-channel count the direct kernel takes.
pub const MAX_COUT: usize = 32;
/// Largest output-channel count whose interior pixels run as dot products along kernel rows.
pub const DOT_MAX_COUT: usize = 4;
/// Interior pixels computed per dot-product call.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
const DOT_PIXELS: usize = 4;

/// `DOT_PIXELS` dot products: output channel `o`'s pre-bias sums for interior pixels
/// `ox..ox + n` of row `oy` (`n ≤ DOT_PIXELS`; lanes past `n` are unspecified).
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
type DotFn = unsafe fn(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, o: usize, n: usize) -> [f32; DOT_PIXELS];

/// A planned direct convolution. `geometry.c` is the input channel count.
pub struct ConvDirectF32 {
    pub geometry: Geometry,
    pub cout: usize,
    /// `cout` rounded up to 8.
    cpad: usize,
    weights: Vec<f32>,
    /// The dot-product weights, `[C_out][kh][kw·C_in]` (empty when interior pixels broadcast
    /// too: see [`ConvDirectF32::takes_dot`]).
    dot: Vec<f32>,
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
        // ONNX order is already `[C_out][C_in][kh][kw]`; a kernel row wants `[kw][C_in]`.
        let dot = if Self::takes_dot(&g, cout, isa) {
            let row = g.kw * g.c;
            let mut dot = vec![0.0; cout * g.kh * row];
            for o in 0..cout {
                for ci in 0..g.c {
                    for t in 0..g.kh * g.kw {
                        let (ky, kx) = (t / g.kw, t % g.kw);
                        dot[(o * g.kh + ky) * row + kx * g.c + ci] = weights[(o * g.c + ci) * g.kh * g.kw + t];
                    }
                }
            }
            dot
        } else {
            Vec::new()
        };
        ConvDirectF32 { geometry: g, cout, cpad, weights: packed, dot, bias: b, clamp, isa }
    }

    /// Whether interior pixels run as dot products along kernel rows: few output channels, a
    /// kernel row contiguous in the input (no dilation along x) and a whole number of 8-float
    /// vectors long, and an ISA with a dot-product kernel.
    fn takes_dot(g: &Geometry, cout: usize, isa: Isa) -> bool {
        let shape = cout <= DOT_MAX_COUT && g.dilation[1] == 1 && (g.kw * g.c) % 8 == 0;
        shape && matches!(isa, Isa::Avx2 | Isa::Neon)
    }

    /// The kernel name's layout part: `direct` (broadcast only) or `direct+dot`.
    pub fn variant(&self) -> &'static str {
        if self.dot.is_empty() {
            "direct"
        } else {
            "direct+dot"
        }
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

    /// Output row `oy`'s pixels: `pixel(y, ox)` for each, except that with `spans` an interior
    /// row's interior span (every tap inside the input) goes to `span(y, range)` in one call.
    #[inline(always)]
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
    fn for_each_span(
        &self,
        y: &mut [f32],
        oy: usize,
        spans: bool,
        mut pixel: impl FnMut(&mut [f32], usize),
        span: impl FnOnce(&mut [f32], Range<usize>),
    ) {
        let g = self.geometry;
        let (rows, cols) = if spans { g.interior() } else { (0..0, 0..0) };
        let inner = if rows.contains(&oy) && !cols.is_empty() { cols } else { g.ow..g.ow };
        (0..inner.start).for_each(|ox| pixel(y, ox));
        if !inner.is_empty() {
            span(y, inner.clone());
        }
        (inner.end..g.ow).for_each(|ox| pixel(y, ox));
    }

    /// Interior pixels `span` of output row `oy` (every tap inside the input) by `dots`:
    /// [`DOT_PIXELS`] pixels per call and output channel, then bias and clamp (NaN kept).
    #[inline(always)]
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
    fn dot_row(&self, x: &[f32], y: &mut [f32], oy: usize, span: Range<usize>, dots: DotFn) {
        let g = self.geometry;
        // The last input float the span reads: its bottom-right tap's last channel.
        let (iy, ix) = (oy * g.stride[0] + (g.kh - 1) * g.dilation[0] - g.pad_tl[0], (span.end - 1) * g.stride[1]);
        assert!(
            (iy * g.w + ix - g.pad_tl[1] + g.kw) * g.c <= x.len() && self.dot.len() == self.cout * g.kh * g.kw * g.c
        );
        let mut ox = span.start;
        while ox < span.end {
            let n = (span.end - ox).min(DOT_PIXELS);
            for o in 0..self.cout {
                // SAFETY: every tap of these interior pixels is inside `x` (asserted for the
                // last one above); the ISA was detected when the plan chose it.
                let sums = unsafe { dots(self, x, oy, ox, o, n) };
                for (p, &s) in sums[..n].iter().enumerate() {
                    y[(oy * g.ow + ox + p) * self.cout + o] = self.clamp.apply_keeping_nan(s + self.bias[o]);
                }
            }
            ox += n;
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
