//! NEON direct convolution: up to 8 vectors of 4 output channels in registers per output
//! pixel; each input value is broadcast once and multiplied (fused) into all of them.

use super::ConvDirectF32;
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

#[target_feature(enable = "neon")]
pub unsafe fn run(k: &ConvDirectF32, x: &[f32], y: &mut [f32]) {
    let g = k.geometry;
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let out = &mut y[(oy * g.ow + ox) * k.cout..][..k.cout];
            match k.cpad / 8 {
                1 => pixel::<2>(k, x, oy, ox, out),
                2 => pixel::<4>(k, x, oy, ox, out),
                3 => pixel::<6>(k, x, oy, ox, out),
                _ => pixel::<8>(k, x, oy, ox, out),
            }
        }
    }
}
