//! NEON requantization of 16 channels of one output pixel (four vectors of 4 i32
//! accumulators), bit-identical to the scalar [`super::Requant::store`].

use super::{Output, Requant};
use std::arch::aarch64::*;

/// Requantizes accumulators `acc[i]` (channels `c0 + 4i .. c0 + 4i + 4`) and stores the
/// first `n` (≤ 16) channels to `dst` (raw output bytes).
#[target_feature(enable = "neon")]
#[inline]
pub unsafe fn store16(r: &Requant, c0: usize, acc: [int32x4_t; 4], dst: *mut u8, n: usize) {
    debug_assert!(n <= 16 && c0 + 16 <= r.bias.len());
    let acc: [int32x4_t; 4] = std::array::from_fn(|i| vaddq_s32(acc[i], vld1q_s32(r.bias.as_ptr().add(c0 + 4 * i))));
    if r.out == Output::I32 {
        let mut tmp = [0i32; 16];
        for (i, &a) in acc.iter().enumerate() {
            vst1q_s32(tmp.as_mut_ptr().add(4 * i), a);
        }
        std::ptr::copy_nonoverlapping(tmp.as_ptr() as *const u8, dst, n * 4);
        return;
    }
    // Multiply, then add: two roundings, never a fused vfmaq, as in the scalar code.
    let real: [float32x4_t; 4] = std::array::from_fn(|i| {
        let c = c0 + 4 * i;
        let v = vmulq_f32(vcvtq_f32_s32(acc[i]), vld1q_f32(r.mult.as_ptr().add(c)));
        vaddq_f32(v, vld1q_f32(r.offset.as_ptr().add(c)))
    });
    // `vmaxnmq`/`vminnmq` return the number when the other operand is NaN, like the scalar
    // `f32::max`/`min`: a NaN becomes the low rail.
    let clamp = |v: float32x4_t, lo: float32x4_t, hi: float32x4_t| vminnmq_f32(vmaxnmq_f32(v, lo), hi);
    match r.out {
        Output::Int8 { zero_point, lo, hi, signed } => {
            // Clamp in float to the integer bounds minus the zero point, then round half to
            // even (`vcvtnq`): equal to round-then-clamp, and the conversion stays in range.
            let (min, max) = (vdupq_n_f32((lo - zero_point) as f32), vdupq_n_f32((hi - zero_point) as f32));
            let zp = vdupq_n_s32(zero_point);
            let q: [int32x4_t; 4] = std::array::from_fn(|i| vaddq_s32(vcvtnq_s32_f32(clamp(real[i], min, max)), zp));
            // Values are within the 8-bit range now: narrowing cannot saturate.
            let h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
            let h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
            let bytes = if signed {
                vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)))
            } else {
                vcombine_u8(vqmovun_s16(h0), vqmovun_s16(h1))
            };
            if n == 16 {
                vst1q_u8(dst, bytes);
            } else {
                let mut tmp = [0u8; 16];
                vst1q_u8(tmp.as_mut_ptr(), bytes);
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, n);
            }
        }
        Output::F32 { lo, hi } => {
            let (lo, hi) = (vdupq_n_f32(lo), vdupq_n_f32(hi));
            let mut tmp = [0f32; 16];
            for (i, &v) in real.iter().enumerate() {
                vst1q_f32(tmp.as_mut_ptr().add(4 * i), clamp(v, lo, hi));
            }
            std::ptr::copy_nonoverlapping(tmp.as_ptr() as *const u8, dst, n * 4);
        }
        Output::I32 => unreachable!("handled above"),
    }
}
