//! AVX2 + FMA direct convolution: up to 4 vectors of 8 output channels in registers per
//! output pixel; each input value is broadcast once and multiplied into all of them. With the
//! plan's dot-product weights, interior pixels run as dot products along kernel rows instead.

use super::{ConvDirectF32, DOT_PIXELS};
use std::arch::x86_64::*;

/// `P` pixels from `ox` of row `oy`, `V` vectors of channels: each input value is broadcast
/// once per pixel into all `V` vectors, and the `P·V` accumulators are independent chains.
/// The taps are those of pixel `ox` that fall inside the input (all of them when `P > 1`: the
/// caller passes interior pixels). `out` starts at pixel `ox`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn pixels<const V: usize, const P: usize>(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let g = k.geometry;
    let (ky0, ky1) = ConvDirectF32::tap_range(oy, g.stride[0], g.dilation[0], g.pad_tl[0], g.kh, g.h);
    let (kx0, kx1) = ConvDirectF32::tap_range(ox, g.stride[1], g.dilation[1], g.pad_tl[1], g.kw, g.w);
    let cp = k.cpad;
    let bias: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(k.bias.as_ptr().add(v * 8)));
    let mut acc = [bias; P];
    for ky in ky0..ky1 {
        let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
        for kx in kx0..kx1 {
            let px: [*const f32; P] = std::array::from_fn(|p| {
                let ix = (ox + p) * g.stride[1] + kx * g.dilation[1] - g.pad_tl[1];
                x.as_ptr().add((iy * g.w + ix) * g.c)
            });
            let wt = k.weights.as_ptr().add((ky * g.kw + kx) * g.c * cp);
            for ci in 0..g.c {
                let w: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(wt.add(ci * cp + v * 8)));
                for p in 0..P {
                    let xv = _mm256_broadcast_ss(&*px[p].add(ci));
                    for v in 0..V {
                        acc[p][v] = _mm256_fmadd_ps(xv, w[v], acc[p][v]);
                    }
                }
            }
        }
    }
    let (lo, hi) = (_mm256_set1_ps(k.clamp.min), _mm256_set1_ps(k.clamp.max));
    let mut tmp = [0f32; 32];
    for (p, a) in acc.iter().enumerate() {
        for (v, a) in a.iter().enumerate() {
            // The value goes second so that NaN passes through (as in every other f32 kernel).
            _mm256_storeu_ps(tmp.as_mut_ptr().add(v * 8), _mm256_min_ps(hi, _mm256_max_ps(lo, *a)));
        }
        out[p * k.cout..(p + 1) * k.cout].copy_from_slice(&tmp[..k.cout]);
    }
}

/// Interior pixels `span` of row `oy`: `P` at a time, the rest one by one.
#[target_feature(enable = "avx2,fma")]
unsafe fn interior_span<const V: usize, const P: usize>(
    k: &ConvDirectF32,
    x: &[f32],
    y: &mut [f32],
    oy: usize,
    span: std::ops::Range<usize>,
) {
    let g = k.geometry;
    // The last input float the span reads: its bottom-right tap's last channel.
    let (iy, ix) = (oy * g.stride[0] + (g.kh - 1) * g.dilation[0] - g.pad_tl[0], (span.end - 1) * g.stride[1]);
    assert!((iy * g.w + ix + (g.kw - 1) * g.dilation[1] - g.pad_tl[1] + 1) * g.c <= x.len());
    let row = &mut y[oy * g.ow * k.cout..(oy + 1) * g.ow * k.cout];
    let mut ox = span.start;
    while ox + P <= span.end {
        pixels::<V, P>(k, x, oy, ox, &mut row[ox * k.cout..(ox + P) * k.cout]);
        ox += P;
    }
    for ox in ox..span.end {
        pixels::<V, 1>(k, x, oy, ox, &mut row[ox * k.cout..(ox + 1) * k.cout]);
    }
}

/// Output channel `o`'s sums (no bias) for `N` interior pixels from `ox` of row `oy`: per
/// kernel row, 8 floats at a time, one accumulator per pixel, then a horizontal sum.
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_n<const N: usize>(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, o: usize) -> [f32; DOT_PIXELS] {
    let g = k.geometry;
    let row = g.kw * g.c;
    let mut acc = [_mm256_setzero_ps(); DOT_PIXELS];
    for ky in 0..g.kh {
        let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
        let w = k.dot.as_ptr().add((o * g.kh + ky) * row);
        let px: [*const f32; N] =
            std::array::from_fn(|p| x.as_ptr().add((iy * g.w + (ox + p) * g.stride[1] - g.pad_tl[1]) * g.c));
        for q in (0..row).step_by(8) {
            let wv = _mm256_loadu_ps(w.add(q));
            for p in 0..N {
                acc[p] = _mm256_fmadd_ps(_mm256_loadu_ps(px[p].add(q)), wv, acc[p]);
            }
        }
    }
    // Lane sums of the four accumulators: pairwise adds within each 128-bit half, then the
    // halves together.
    let t = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
    let sums = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
    let mut out = [0f32; DOT_PIXELS];
    _mm_storeu_ps(out.as_mut_ptr(), sums);
    out
}

/// See [`super::DotFn`].
#[target_feature(enable = "avx2,fma")]
unsafe fn dots(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, o: usize, n: usize) -> [f32; DOT_PIXELS] {
    match n {
        4 => dots_n::<4>(k, x, oy, ox, o),
        3 => dots_n::<3>(k, x, oy, ox, o),
        2 => dots_n::<2>(k, x, oy, ox, o),
        _ => dots_n::<1>(k, x, oy, ox, o),
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn run(k: &ConvDirectF32, x: &[f32], y: &mut [f32]) {
    let g = k.geometry;
    for oy in 0..g.oh {
        let pixel = |y: &mut [f32], ox: usize| {
            let out = &mut y[(oy * g.ow + ox) * k.cout..][..k.cout];
            match k.cpad / 8 {
                1 => pixels::<1, 1>(k, x, oy, ox, out),
                2 => pixels::<2, 1>(k, x, oy, ox, out),
                3 => pixels::<3, 1>(k, x, oy, ox, out),
                _ => pixels::<4, 1>(k, x, oy, ox, out),
            }
        };
        k.for_each_span(y, oy, true, pixel, |y, span| {
            if !k.dot.is_empty() {
                return k.dot_row(x, y, oy, span, dots);
            }
            match k.cpad / 8 {
                1 => interior_span::<1, 12>(k, x, y, oy, span),
                2 => interior_span::<2, 6>(k, x, y, oy, span),
                3 => interior_span::<3, 4>(k, x, y, oy, span),
                _ => interior_span::<4, 3>(k, x, y, oy, span),
            }
        });
    }
}
