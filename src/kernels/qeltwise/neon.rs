//! NEON fused int8 element-wise kernel: 16 elements per step (four f32x4), the same IEEE
//! operations as the scalar definition (convert, subtract, multiply, op, divide, round half
//! even, clamp).

use super::{BinaryKind, QBinary, Quant};
use std::arch::aarch64::*;

/// Dequantizes 16 codes at `p`: `f32(q − z) · s`, four per vector.
#[inline(always)]
unsafe fn load16(p: *const u8, q: Quant) -> [float32x4_t; 4] {
    let b = vld1q_u8(p);
    let (lo, hi) = if q.signed {
        let s = vreinterpretq_s8_u8(b);
        (vmovl_s8(vget_low_s8(s)), vmovl_high_s8(s))
    } else {
        (vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(b))), vreinterpretq_s16_u16(vmovl_high_u8(b)))
    };
    let wide = [vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)), vmovl_high_s16(hi)];
    let (z, s) = (vdupq_n_s32(q.zero_point), vdupq_n_f32(q.scale));
    wide.map(|w| vmulq_f32(vcvtq_f32_s32(vsubq_s32(w, z)), s))
}

/// Quantizes 16 floats to 16 codes at `p`: divide by the scale, round half to even, add the
/// zero point, NaN becomes the zero point, clamp to `[lo, hi]`.
#[inline(always)]
unsafe fn store16(p: *mut u8, v: [float32x4_t; 4], q: Quant, lo: i32, hi: i32) {
    let (s, z) = (vdupq_n_f32(q.scale), vdupq_n_f32(q.zero_point as f32));
    let (lo, hi) = (vdupq_n_f32(lo as f32), vdupq_n_f32(hi as f32));
    let w = v.map(|v| {
        let r = vaddq_f32(vrndnq_f32(vdivq_f32(v, s)), z);
        let r = vbslq_f32(vceqq_f32(r, r), r, z);
        // Integral and in range now: the conversion is exact.
        vcvtq_s32_f32(vminq_f32(vmaxq_f32(r, lo), hi))
    });
    // 16 i32 within the 8-bit range: narrowing cannot saturate.
    let w0 = vcombine_s16(vqmovn_s32(w[0]), vqmovn_s32(w[1]));
    let w1 = vcombine_s16(vqmovn_s32(w[2]), vqmovn_s32(w[3]));
    let bytes = if q.signed {
        vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(w0), vqmovn_s16(w1)))
    } else {
        vcombine_u8(vqmovun_s16(w0), vqmovun_s16(w1))
    };
    vst1q_u8(p, bytes);
}

/// Processes whole groups of 16; returns how many elements it did.
#[target_feature(enable = "neon")]
pub unsafe fn binary(op: &QBinary, a: &[u8], b: &[u8], y: &mut [u8]) -> usize {
    let n = y.len().min(a.len()).min(b.len()) / 16 * 16;
    for i in (0..n).step_by(16) {
        let (fa, fb) = (load16(a.as_ptr().add(i), op.a), load16(b.as_ptr().add(i), op.b));
        let r: [float32x4_t; 4] = std::array::from_fn(|j| match op.kind {
            BinaryKind::Add => vaddq_f32(fa[j], fb[j]),
            BinaryKind::Sub => vsubq_f32(fa[j], fb[j]),
            BinaryKind::Mul => vmulq_f32(fa[j], fb[j]),
        });
        store16(y.as_mut_ptr().add(i), r, op.y, op.lo, op.hi);
    }
    n
}

/// Quantizes whole groups of 16; returns how many elements it did.
#[target_feature(enable = "neon")]
pub unsafe fn quantize(x: &[f32], q: Quant, lo: i32, hi: i32, y: &mut [u8]) -> usize {
    let n = y.len().min(x.len()) / 16 * 16;
    for i in (0..n).step_by(16) {
        let v = std::array::from_fn(|j| vld1q_f32(x.as_ptr().add(i + 4 * j)));
        store16(y.as_mut_ptr().add(i), v, q, lo, hi);
    }
    n
}

/// Dequantizes whole groups of 16; returns how many elements it did.
#[target_feature(enable = "neon")]
pub unsafe fn dequantize(x: &[u8], q: Quant, y: &mut [f32]) -> usize {
    let n = y.len().min(x.len()) / 16 * 16;
    for i in (0..n).step_by(16) {
        for (j, v) in load16(x.as_ptr().add(i), q).into_iter().enumerate() {
            vst1q_f32(y.as_mut_ptr().add(i + 4 * j), v);
        }
    }
    n
}
