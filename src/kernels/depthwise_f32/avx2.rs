//! AVX2 + FMA depthwise kernels: 8 channels per register, accumulators kept in registers
//! across all taps; interior rows run several pixels per channel block so that their
//! multiply-add chains overlap, a lone pixel is a row of one.

use crate::ops::Clamp;
use std::arch::x86_64::*;

/// See [`super::PixelFn`]: the row kernel with one pixel (same tiles, same summation order).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    row(taps, x, 0, 1, w, bias, clamp, out)
}

/// `P` pixels × `V` vectors of channels from `ch`: pixel `p` reads its taps at `x + p·step`
/// and writes `out + p·c`.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const V: usize, const P: usize>(
    taps: &[(usize, usize)],
    x: *const f32,
    step: usize,
    w: *const f32,
    bias: *const f32,
    (lo, hi): (__m256, __m256),
    c: usize,
    ch: usize,
    out: *mut f32,
) {
    let b: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(bias.add(ch + 8 * v)));
    let mut acc = [b; P];
    for &(xo, wo) in taps {
        let wv: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(w.add(wo + ch + 8 * v)));
        for (p, a) in acc.iter_mut().enumerate() {
            for v in 0..V {
                a[v] = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(xo + p * step + ch + 8 * v)), wv[v], a[v]);
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        for v in 0..V {
            _mm256_storeu_ps(out.add(p * c + ch + 8 * v), _mm256_min_ps(hi, _mm256_max_ps(lo, a[v])));
        }
    }
}

/// Pixels `0..n` of channel block `ch` (`V` vectors), `P` at a time, the rest one by one.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn block<const V: usize, const P: usize>(
    taps: &[(usize, usize)],
    x: *const f32,
    step: usize,
    n: usize,
    w: *const f32,
    bias: *const f32,
    clamp: (__m256, __m256),
    c: usize,
    ch: usize,
    out: *mut f32,
) {
    let mut i = 0;
    while i + P <= n {
        tile::<V, P>(taps, x.add(i * step), step, w, bias, clamp, c, ch, out.add(i * c));
        i += P;
    }
    for i in i..n {
        tile::<V, 1>(taps, x.add(i * step), step, w, bias, clamp, c, ch, out.add(i * c));
    }
}

/// See [`super::RowFn`].
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn row(
    taps: &[(usize, usize)],
    x: &[f32],
    step: usize,
    n: usize,
    w: &[f32],
    bias: &[f32],
    clamp: Clamp,
    out: &mut [f32],
) {
    let c = out.len() / n;
    let lohi = (_mm256_set1_ps(clamp.min), _mm256_set1_ps(clamp.max));
    let (xp, wp, bp, op) = (x.as_ptr(), w.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
    let mut ch = 0;
    while ch + 16 <= c {
        block::<2, 4>(taps, xp, step, n, wp, bp, lohi, c, ch, op);
        ch += 16;
    }
    if ch + 8 <= c {
        block::<1, 8>(taps, xp, step, n, wp, bp, lohi, c, ch, op);
        ch += 8;
    }
    if ch < c {
        for i in 0..n {
            let (px, o) = (&x[i * step..], &mut out[i * c..(i + 1) * c]);
            for ch in ch..c {
                let mut a = bias[ch];
                for &(xo, wo) in taps {
                    a = px[xo + ch].mul_add(w[wo + ch], a);
                }
                o[ch] = clamp.apply_keeping_nan(a);
            }
        }
    }
}
