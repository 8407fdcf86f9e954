//! AVX-512 depthwise pixel kernel: 16 channels per register, the channel tail handled with
//! a lane mask.

use crate::ops::Clamp;
use std::arch::x86_64::*;

/// See [`super::PixelFn`].
#[target_feature(enable = "avx512f")]
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    let c = out.len();
    let (lo, hi) = (_mm512_set1_ps(clamp.min), _mm512_set1_ps(clamp.max));
    let (xp, wp, bp, op) = (x.as_ptr(), w.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
    let mut ch = 0;
    while ch + 32 <= c {
        let mut a0 = _mm512_loadu_ps(bp.add(ch));
        let mut a1 = _mm512_loadu_ps(bp.add(ch + 16));
        for &(xo, wo) in taps {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(xp.add(xo + ch)), _mm512_loadu_ps(wp.add(wo + ch)), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(xp.add(xo + ch + 16)), _mm512_loadu_ps(wp.add(wo + ch + 16)), a1);
        }
        _mm512_storeu_ps(op.add(ch), _mm512_min_ps(hi, _mm512_max_ps(lo, a0)));
        _mm512_storeu_ps(op.add(ch + 16), _mm512_min_ps(hi, _mm512_max_ps(lo, a1)));
        ch += 32;
    }
    while ch < c {
        let m: __mmask16 = if c - ch >= 16 { 0xffff } else { (1u16 << (c - ch)) - 1 };
        let mut a = _mm512_maskz_loadu_ps(m, bp.add(ch));
        for &(xo, wo) in taps {
            a = _mm512_fmadd_ps(
                _mm512_maskz_loadu_ps(m, xp.add(xo + ch)),
                _mm512_maskz_loadu_ps(m, wp.add(wo + ch)),
                a,
            );
        }
        _mm512_mask_storeu_ps(op.add(ch), m, _mm512_min_ps(hi, _mm512_max_ps(lo, a)));
        ch += 16;
    }
}
