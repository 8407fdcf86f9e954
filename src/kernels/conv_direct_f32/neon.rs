//! NEON direct convolution: up to 8 vectors of 4 output channels in registers per output
//! pixel; each input value is broadcast once and multiplied (fused) into all of them. With
//! the plan's dot-product weights, interior pixels run as dot products along kernel rows.

use super::{ConvDirectF32, DOT_PIXELS};
use std::arch::aarch64::*;

/// One output pixel, `V` vectors of 4 channels (`4 · V` = the padded channel count).
#[inline(always)]
unsafe fn pixel<const V: usize>(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let g = k.geometry;
    let (ky0, ky1) = ConvDirectF32::tap_range(oy, g.stride[0], g.dilation[0], g.pad_tl[0], g.kh, g.h);
    let (kx0, kx1) = ConvDirectF32::tap_range(ox, g.stride[1], g.dilation[1], g.pad_tl[1], g.kw, g.w);
    let mut acc: [float32x4_t; V] = std::array::from_fn(|v| vld1q_f32(k.bias.as_ptr().add(v * 4)));
    let cp = k.cpad;
    for ky in ky0..ky1 {
        let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
        for kx in kx0..kx1 {
            let ix = ox * g.stride[1] + kx * g.dilation[1] - g.pad_tl[1];
            let px = x.as_ptr().add((iy * g.w + ix) * g.c);
            let wt = k.weights.as_ptr().add((ky * g.kw + kx) * g.c * cp);
            for ci in 0..g.c {
                let v = vdupq_n_f32(*px.add(ci));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = vfmaq_f32(*a, v, vld1q_f32(wt.add(ci * cp + j * 4)));
                }
            }
        }
    }
    // `vmaxq`/`vminq` return NaN when either operand is NaN: NaN passes through, as in
    // every other f32 kernel.
    let (lo, hi) = (vdupq_n_f32(k.clamp.min), vdupq_n_f32(k.clamp.max));
    let mut tmp = [0f32; 32];
    for (j, a) in acc.iter().enumerate() {
        vst1q_f32(tmp.as_mut_ptr().add(j * 4), vminq_f32(vmaxq_f32(*a, lo), hi));
    }
    out.copy_from_slice(&tmp[..out.len()]);
}

/// Output channel `o`'s sums (no bias) for `N` interior pixels from `ox` of row `oy`: per
/// kernel row, 4 floats at a time, one accumulator per pixel, then a sum across lanes.
#[target_feature(enable = "neon")]
unsafe fn dots_n<const N: usize>(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, o: usize) -> [f32; DOT_PIXELS] {
    let g = k.geometry;
    let row = g.kw * g.c;
    let mut acc = [vdupq_n_f32(0.0); N];
    for ky in 0..g.kh {
        let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
        let w = k.dot.as_ptr().add((o * g.kh + ky) * row);
        let px: [*const f32; N] =
            std::array::from_fn(|p| x.as_ptr().add((iy * g.w + (ox + p) * g.stride[1] - g.pad_tl[1]) * g.c));
        for q in (0..row).step_by(4) {
            let wv = vld1q_f32(w.add(q));
            for p in 0..N {
                acc[p] = vfmaq_f32(acc[p], vld1q_f32(px[p].add(q)), wv);
            }
        }
    }
    let mut out = [0f32; DOT_PIXELS];
    for p in 0..N {
        out[p] = vaddvq_f32(acc[p]);
    }
    out
}

/// See [`super::DotFn`].
#[target_feature(enable = "neon")]
unsafe fn dots(k: &ConvDirectF32, x: &[f32], oy: usize, ox: usize, o: usize, n: usize) -> [f32; DOT_PIXELS] {
    match n {
        4 => dots_n::<4>(k, x, oy, ox, o),
        3 => dots_n::<3>(k, x, oy, ox, o),
        2 => dots_n::<2>(k, x, oy, ox, o),
        _ => dots_n::<1>(k, x, oy, ox, o),
    }
}

#[target_feature(enable = "neon")]
pub unsafe fn run(k: &ConvDirectF32, x: &[f32], y: &mut [f32]) {
    let g = k.geometry;
    for oy in 0..g.oh {
        let pixel = |y: &mut [f32], ox: usize| {
            let out = &mut y[(oy * g.ow + ox) * k.cout..][..k.cout];
            match k.cpad / 8 {
                1 => pixel::<2>(k, x, oy, ox, out),
                2 => pixel::<4>(k, x, oy, ox, out),
                3 => pixel::<6>(k, x, oy, ox, out),
                _ => pixel::<8>(k, x, oy, ox, out),
            }
        };
        k.for_each_span(y, oy, !k.dot.is_empty(), pixel, |y, span| k.dot_row(x, y, oy, span, dots));
    }
}
