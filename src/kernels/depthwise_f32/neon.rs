//! NEON depthwise pixel kernel: 4 channels per register.

use crate::ops::Clamp;
use std::arch::aarch64::*;

/// See [`super::PixelFn`].
#[target_feature(enable = "neon")]
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    let c = out.len();
    let (lo, hi) = (vdupq_n_f32(clamp.min), vdupq_n_f32(clamp.max));
    let (xp, wp, bp, op) = (x.as_ptr(), w.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
    let mut ch = 0;
    while ch + 8 <= c {
        let mut a0 = vld1q_f32(bp.add(ch));
        let mut a1 = vld1q_f32(bp.add(ch + 4));
        for &(xo, wo) in taps {
            a0 = vfmaq_f32(a0, vld1q_f32(xp.add(xo + ch)), vld1q_f32(wp.add(wo + ch)));
            a1 = vfmaq_f32(a1, vld1q_f32(xp.add(xo + ch + 4)), vld1q_f32(wp.add(wo + ch + 4)));
        }
        vst1q_f32(op.add(ch), vminq_f32(vmaxq_f32(a0, lo), hi));
        vst1q_f32(op.add(ch + 4), vminq_f32(vmaxq_f32(a1, lo), hi));
        ch += 8;
    }
    while ch + 4 <= c {
        let mut a = vld1q_f32(bp.add(ch));
        for &(xo, wo) in taps {
            a = vfmaq_f32(a, vld1q_f32(xp.add(xo + ch)), vld1q_f32(wp.add(wo + ch)));
        }
        vst1q_f32(op.add(ch), vminq_f32(vmaxq_f32(a, lo), hi));
        ch += 4;
    }
    for ch in ch..c {
        let mut a = bias[ch];
        for &(xo, wo) in taps {
            a = x[xo + ch].mul_add(w[wo + ch], a);
        }
        out[ch] = clamp.apply_keeping_nan(a);
    }
}
