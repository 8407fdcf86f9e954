//! AVX2 + FMA depthwise pixel kernel: 8 channels per register, accumulators kept in
//! registers across all taps.

use crate::ops::Clamp;
use std::arch::x86_64::*;

/// See [`super::PixelFn`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    let c = out.len();
    let (lo, hi) = (_mm256_set1_ps(clamp.min), _mm256_set1_ps(clamp.max));
    let (xp, wp, bp, op) = (x.as_ptr(), w.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
    let mut ch = 0;
    while ch + 16 <= c {
        let mut a0 = _mm256_loadu_ps(bp.add(ch));
        let mut a1 = _mm256_loadu_ps(bp.add(ch + 8));
        for &(xo, wo) in taps {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(xo + ch)), _mm256_loadu_ps(wp.add(wo + ch)), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(xo + ch + 8)), _mm256_loadu_ps(wp.add(wo + ch + 8)), a1);
        }
        _mm256_storeu_ps(op.add(ch), _mm256_min_ps(hi, _mm256_max_ps(lo, a0)));
        _mm256_storeu_ps(op.add(ch + 8), _mm256_min_ps(hi, _mm256_max_ps(lo, a1)));
        ch += 16;
    }
    while ch + 8 <= c {
        let mut a = _mm256_loadu_ps(bp.add(ch));
        for &(xo, wo) in taps {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(xo + ch)), _mm256_loadu_ps(wp.add(wo + ch)), a);
        }
        _mm256_storeu_ps(op.add(ch), _mm256_min_ps(hi, _mm256_max_ps(lo, a)));
        ch += 8;
    }
    for ch in ch..c {
        let mut a = bias[ch];
        for &(xo, wo) in taps {
            a = x[xo + ch].mul_add(w[wo + ch], a);
        }
        out[ch] = clamp.apply_keeping_nan(a);
    }
}
