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

/// Where requantized values go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Output {
    /// 8-bit integers (`signed`: i8, else u8) with a zero point, clamped to `[lo, hi]`
    /// (the type's range narrowed by a fused activation).
    Int8 { zero_point: i32, lo: i32, hi: i32, signed: bool },
    /// f32, clamped to `[lo, hi]` (a fused activation).
    F32 { lo: f32, hi: f32 },
}

impl Output {
    /// Bytes per output element.
    pub fn size(&self) -> usize {
        match self {
            Output::Int8 { .. } => 1,
            Output::F32 { .. } => 4,
        }
    }
}

/// Per-channel requantization parameters, padded with neutral values to a multiple of
/// [`Requant::PAD`] channels so SIMD code can load whole vectors.
#[derive(Clone, Debug)]
pub struct Requant {
    pub bias: Vec<i32>,
    pub mult: Vec<f32>,
    pub offset: Vec<f32>,
    pub out: Output,
    channels: usize,
}

/// Largest magnitude a requantized value is clamped to before rounding, so that out-of-range
/// values convert identically on every instruction set.
pub const ROUND_LIMIT: f32 = (1 << 30) as f32;

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
        Requant { bias: pad_i(bias), mult: pad_f(mult), offset: pad_f(offset), out, channels }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The real value before rounding, for channel `c`.
    #[inline(always)]
    pub fn real(&self, c: usize, acc: i32) -> f32 {
        acc.wrapping_add(self.bias[c]) as f32 * self.mult[c] + self.offset[c]
    }

    /// The 8-bit value of channel `c` (as i32), for an `Int8` output.
    #[inline(always)]
    pub fn int(&self, c: usize, acc: i32, zero_point: i32, lo: i32, hi: i32) -> i32 {
        let v = self.real(c, acc).clamp(-ROUND_LIMIT, ROUND_LIMIT);
        (v.round_ties_even() as i32 + zero_point).clamp(lo, hi)
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
                let out: &mut [f32] = bytemuck::cast_slice_mut(&mut dst[..accs.len() * 4]);
                for (i, (&a, d)) in accs.iter().zip(out.iter_mut()).enumerate() {
                    *d = self.real(c0 + i, a).max(lo).min(hi);
                }
            }
        }
    }
}
