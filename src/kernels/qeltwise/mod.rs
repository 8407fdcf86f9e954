//! Element-wise int8 ops computed exactly as a QDQ graph defines them, in one pass:
//! `q = clamp(round_half_even(f(dq(a), dq(b)) / s_y) + z_y, lo, hi)` with
//! `dq(q) = f32(q − z) · s`. Every step is the same IEEE operation as the float path
//! (dequantize, float op, quantize), so results are bit-identical to it on every ISA.
//! AArch64 has a NEON kernel; 32-bit ARM uses the scalar one (see [`kernel_isa`]): ARMv7 NEON
//! has no float division, and a reciprocal multiply would move ties. Lookup tables
//! ([`lookup_table`]) are applied by [`super::byte_table`].

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use super::isa::Isa;

/// The instruction set these kernels run for a plan's `isa`, which steps keep (and name):
/// armv7 NEON (`Neon32`) has no code here and runs the scalar loops.
pub fn kernel_isa(isa: Isa) -> Isa {
    match isa {
        Isa::Neon32 => Isa::Scalar,
        isa => isa,
    }
}

/// Per-tensor quantization of one operand or of the result (`signed`: i8, else u8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
    pub signed: bool,
}

/// The float op between the two dequantized operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
}

/// One fused element-wise binary op on same-shape 8-bit tensors.
#[derive(Clone, Copy, Debug)]
pub struct QBinary {
    pub kind: BinaryKind,
    pub a: Quant,
    pub b: Quant,
    pub y: Quant,
    /// Integer output clamp.
    pub lo: i32,
    pub hi: i32,
}

impl QBinary {
    /// `y[i] = op(a[i], b[i])` for all `i` (bytes of the 8-bit types).
    pub fn run(&self, isa: Isa, a: &[u8], b: &[u8], y: &mut [u8]) {
        let n = y.len().min(a.len()).min(b.len());
        let done = match isa {
            // SAFETY: AVX2 was detected when the plan chose `isa`.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => unsafe { avx2::binary(self, &a[..n], &b[..n], &mut y[..n]) },
            // SAFETY: NEON was detected when the plan chose `isa`.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => unsafe { neon::binary(self, &a[..n], &b[..n], &mut y[..n]) },
            _ => 0,
        };
        scalar::binary(self, &a[done..n], &b[done..n], &mut y[done..n]);
    }

    /// The exact result for one pair of 8-bit codes (the definition every ISA reproduces).
    #[inline(always)]
    pub fn one(&self, a: u8, b: u8) -> u8 {
        let fa = dequantize(a, self.a);
        let fb = dequantize(b, self.b);
        let r = match self.kind {
            BinaryKind::Add => fa + fb,
            BinaryKind::Sub => fa - fb,
            BinaryKind::Mul => fa * fb,
        };
        quantize(r, self.y, self.lo, self.hi)
    }
}

#[inline(always)]
pub fn dequantize(code: u8, q: Quant) -> f32 {
    let v = if q.signed { code as i8 as i32 } else { code as i32 };
    (v - q.zero_point) as f32 * q.scale
}

/// ONNX `QuantizeLinear` of one value to the code range `[lo, hi]`; NaN quantizes to the zero
/// point (the real value 0), ±inf saturate.
#[inline(always)]
pub fn quantize(v: f32, q: Quant, lo: i32, hi: i32) -> u8 {
    let r = (v / q.scale).round_ties_even() + q.zero_point as f32;
    let r = if r.is_nan() { q.zero_point as f32 } else { r };
    r.clamp(lo as f32, hi as f32) as i32 as u8
}

/// `y[i] = quantize(x[i])` (8-bit codes as bytes).
pub fn quantize_slice(isa: Isa, x: &[f32], q: Quant, lo: i32, hi: i32, y: &mut [u8]) {
    let n = x.len().min(y.len());
    let done = match isa {
        // SAFETY: AVX2 was detected when the plan chose `isa`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx2::quantize(&x[..n], q, lo, hi, &mut y[..n]) },
        // SAFETY: NEON was detected when the plan chose `isa`.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon | Isa::NeonDot => unsafe { neon::quantize(&x[..n], q, lo, hi, &mut y[..n]) },
        _ => 0,
    };
    y[done..n].iter_mut().zip(&x[done..n]).for_each(|(o, &v)| *o = quantize(v, q, lo, hi));
}

/// `y[i] = dequantize(x[i])` (8-bit codes as bytes).
pub fn dequantize_slice(isa: Isa, x: &[u8], q: Quant, y: &mut [f32]) {
    let n = x.len().min(y.len());
    let done = match isa {
        // SAFETY: AVX2 was detected when the plan chose `isa`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx2::dequantize(&x[..n], q, &mut y[..n]) },
        // SAFETY: NEON was detected when the plan chose `isa`.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon | Isa::NeonDot => unsafe { neon::dequantize(&x[..n], q, &mut y[..n]) },
        _ => 0,
    };
    y[done..n].iter_mut().zip(&x[done..n]).for_each(|(o, &c)| *o = dequantize(c, q));
}

/// A 256-entry table for a unary op on 8-bit codes: `table[code] = q(f(dq(code)))`.
pub fn lookup_table(x: Quant, y: Quant, lo: i32, hi: i32, f: impl Fn(f32) -> f32) -> [u8; 256] {
    std::array::from_fn(|code| quantize(f(dequantize(code as u8, x)), y, lo, hi))
}

#[cfg(test)]
mod tests;
