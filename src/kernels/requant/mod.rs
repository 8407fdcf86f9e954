//! Requantization: what becomes of an output channel's i32 accumulator.
//!
//! `acc` is the exact integer sum `Σ (x − zx)·(w − zw)`. For an 8-bit output:
//! `q = clamp(round_half_even(f32(acc + bias) · mult + offset) + zero_point, lo, hi)`;
//! for a float output: `y = clamp(f32(acc + bias) · mult + offset, lo, hi)`.
//!
//! `mult = (s_x · s_w) / s_y` (or `s_x · s_w` for float outputs) is computed in f32 exactly
//! as onnxruntime computes its requantization scale; `bias` is the int32 bias of QDQ exports
//! (scale `s_x · s_w`); `offset` carries a float bias (`b / s_y`) when the model's bias is
//! not int32. The multiply and the add are separate roundings (no FMA) so that every
//! instruction set gives bit-identical results. Integer additions wrap (as SIMD adds do).

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(target_arch = "arm")]
pub mod neon32;

use crate::kernels::isa::Isa;

/// Where requantized values go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Output {
    /// 8-bit integers (`signed`: i8, else u8) with a zero point, clamped to `[lo, hi]`
    /// (the type's range narrowed by a fused activation).
    Int8 { zero_point: i32, lo: i32, hi: i32, signed: bool },
    /// f32, clamped to `[lo, hi]` (a fused activation).
    F32 { lo: f32, hi: f32 },
    /// The raw i32 accumulator plus bias (for ops that combine accumulators before
    /// requantizing, like transposed convolution).
    I32,
}

impl Output {
    /// Bytes per output element.
    pub fn size(&self) -> usize {
        match self {
            Output::Int8 { .. } => 1,
            Output::F32 { .. } | Output::I32 => 4,
        }
    }
}

/// Per-channel requantization parameters, padded with neutral values to a multiple of
/// [`Requant::PAD`] channels so SIMD code can load whole vectors.
#[derive(Clone, Debug)]
pub struct Requant {
    pub bias: Vec<i32>,
    pub mult: Vec<f32>,
    /// Set by [`Requant::new`] only: `offset_zero` records whether it is all zero.
    pub offset: Vec<f32>,
    pub out: Output,
    channels: usize,
    /// Every offset is +0.0 (an int32 bias, as QDQ exports have), so an 8-bit output may skip
    /// adding it: `r + 0.0` differs from `r` only for `r = −0.0`, which rounds to the same
    /// integer. (Only the AVX2 epilogue reads it.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    offset_zero: bool,
}

impl Requant {
    /// Channel padding granularity.
    pub const PAD: usize = 16;

    pub fn new(bias: Vec<i32>, mult: Vec<f32>, offset: Vec<f32>, out: Output) -> Requant {
        let channels = mult.len();
        let padded = channels.div_ceil(Self::PAD) * Self::PAD;
        let pad_i = |mut v: Vec<i32>| {
            v.resize(padded, 0);
            v
        };
        let pad_f = |mut v: Vec<f32>| {
            v.resize(padded, 0.0);
            v
        };
        let offset_zero = offset.iter().all(|v| v.to_bits() == 0);
        Requant { bias: pad_i(bias), mult: pad_f(mult), offset: pad_f(offset), out, channels, offset_zero }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The parameters of `times` consecutive pixels' channels read as one run of
    /// `times · channels()` (for kernels that put neighbouring pixels of a thin layer in one
    /// vector).
    pub fn repeated(&self, times: usize) -> Requant {
        let c = self.channels;
        Requant::new(
            self.bias[..c].repeat(times),
            self.mult[..c].repeat(times),
            self.offset[..c].repeat(times),
            self.out,
        )
    }

    /// The real value before rounding, for channel `c`.
    #[inline(always)]
    pub fn real(&self, c: usize, acc: i32) -> f32 {
        acc.wrapping_add(self.bias[c]) as f32 * self.mult[c] + self.offset[c]
    }

    /// The 8-bit value of channel `c` (as i32), for an `Int8` output.
    #[inline(always)]
    pub fn int(&self, c: usize, acc: i32, zero_point: i32, lo: i32, hi: i32) -> i32 {
        // Clamping the real value to the integer bounds `[lo − zp, hi − zp]` before rounding
        // equals rounding then clamping (the bounds are integers), and keeps the conversion in
        // range. `max` then `min` (not `clamp`): a NaN becomes the low rail, as with the SIMD
        // `max_ps(v, low)`, so every instruction set gives the same value.
        let v = self.real(c, acc).max((lo - zero_point) as f32).min((hi - zero_point) as f32);
        v.round_ties_even() as i32 + zero_point
    }

    /// Requantizes all channels of one output pixel (`accs.len() == channels()`) into `dst`,
    /// with SIMD where `isa` has it.
    pub fn store_pixel(&self, isa: Isa, accs: &[i32], dst: &mut [u8]) {
        let n = accs.len();
        assert!(n <= self.bias.len() && dst.len() >= n * self.out.size());
        let size = self.out.size();
        // Whole groups of 16 channels (8 on armv7) with SIMD where `isa` has it; the rest
        // scalar.
        let full = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => n / 16 * 16,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => n / 16 * 16,
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => n / 8 * 8,
            _ => 0,
        };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        for c in (0..full).step_by(16) {
            // SAFETY: the ISA is available (the plan checked `isa`); 16 accumulators are read
            // and 16 outputs written at `c`, inside both slices (asserted above).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                use std::arch::x86_64::*;
                let a = _mm256_loadu_si256(accs.as_ptr().add(c) as *const __m256i);
                let b = _mm256_loadu_si256(accs.as_ptr().add(c + 8) as *const __m256i);
                avx2::store16::<true>(self, c, a, b, dst.as_mut_ptr().add(c * size), 16);
            }
            #[cfg(target_arch = "aarch64")]
            unsafe {
                let a = std::array::from_fn(|i| std::arch::aarch64::vld1q_s32(accs.as_ptr().add(c + 4 * i)));
                neon::store16(self, c, a, dst.as_mut_ptr().add(c * size), 16);
            }
        }
        #[cfg(target_arch = "arm")]
        for c in (0..full).step_by(8) {
            let acc = accs[c..c + 8].try_into().unwrap();
            // SAFETY: NEON was detected (the plan checked `isa`); `c + 8 <= n` channels, within
            // the padded parameters (asserted above).
            unsafe { neon32::store8(self, c, acc, &mut dst[c * size..(c + 8) * size]) };
        }
        self.store(full, &accs[full..], &mut dst[full * size..]);
    }

    /// Requantizes channels `c0..c0 + accs.len()` of one output pixel into `dst` (bytes of
    /// the output type, `accs.len()` elements).
    pub fn store(&self, c0: usize, accs: &[i32], dst: &mut [u8]) {
        match self.out {
            Output::Int8 { zero_point, lo, hi, .. } => {
                for (i, (&a, d)) in accs.iter().zip(dst.iter_mut()).enumerate() {
                    *d = self.int(c0 + i, a, zero_point, lo, hi) as u8;
                }
            }
            Output::F32 { lo, hi } => {
                for (i, (&a, d)) in accs.iter().zip(dst.chunks_exact_mut(4)).enumerate() {
                    d.copy_from_slice(&self.real(c0 + i, a).max(lo).min(hi).to_ne_bytes());
                }
            }
            Output::I32 => {
                for (i, (&a, d)) in accs.iter().zip(dst.chunks_exact_mut(4)).enumerate() {
                    d.copy_from_slice(&a.wrapping_add(self.bias[c0 + i]).to_ne_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Non-finite reals (an infinite scale times a zero accumulator is NaN) requantize to the
    /// same bytes on every instruction set: NaN to the low rail, ±inf to the rails.
    #[test]
    fn non_finite_reals_requantize_identically_on_every_isa() {
        let accs: Vec<i32> = (0..32).map(|i| (i % 3) - 1).collect();
        let outputs = [
            Output::Int8 { zero_point: 3, lo: -128, hi: 127, signed: true },
            Output::Int8 { zero_point: 128, lo: 0, hi: 255, signed: false },
            // Narrowed by a fused activation: the low rail above the type's.
            Output::Int8 { zero_point: -5, lo: -5, hi: 100, signed: true },
            Output::Int8 { zero_point: 128, lo: 128, hi: 200, signed: false },
            Output::F32 { lo: f32::NEG_INFINITY, hi: f32::INFINITY },
            Output::F32 { lo: 0.0, hi: 6.0 },
        ];
        for out in outputs {
            let mult: Vec<f32> = (0..32).map(|c| if c % 2 == 0 { f32::INFINITY } else { f32::NAN }).collect();
            let r = Requant::new(vec![0; 32], mult, vec![0.0; 32], out);
            let mut want = vec![0u8; 32 * out.size()];
            r.store(0, &accs, &mut want);
            if let Output::Int8 { lo, hi, .. } = out {
                let ints: Vec<i32> = (0..32).map(|c| r.int(c, accs[c], 0, lo, hi)).collect();
                // NaN (odd channels, and 0 · inf) is the low rail; ±inf the rails.
                assert_eq!(ints[1], lo);
                assert_eq!(ints[4], lo, "0 * inf is NaN");
                assert_eq!(ints[2], hi, "1 * inf");
            }
            for isa in Isa::available() {
                let mut got = vec![0u8; 32 * out.size()];
                r.store_pixel(isa, &accs, &mut got);
                assert_eq!(got, want, "{isa:?} {out:?}");
            }
        }
    }
}
