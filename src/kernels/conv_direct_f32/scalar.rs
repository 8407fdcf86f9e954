//! Portable direct convolution.

use super::{ConvDirectF32, MAX_COUT};

pub fn run(k: &ConvDirectF32, x: &[f32], y: &mut [f32]) {
    let g = k.geometry;
    // On the stack: the kernel runs on the inference hot path (no allocation there).
    let mut acc_buf = [0f32; MAX_COUT];
    let acc = &mut acc_buf[..k.cpad];
    for oy in 0..g.oh {
        let (ky0, ky1) = ConvDirectF32::tap_range(oy, g.stride[0], g.dilation[0], g.pad_tl[0], g.kh, g.h);
        for ox in 0..g.ow {
            let (kx0, kx1) = ConvDirectF32::tap_range(ox, g.stride[1], g.dilation[1], g.pad_tl[1], g.kw, g.w);
            acc.copy_from_slice(&k.bias);
            for ky in ky0..ky1 {
                let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
                for kx in kx0..kx1 {
                    let ix = ox * g.stride[1] + kx * g.dilation[1] - g.pad_tl[1];
                    let px = &x[(iy * g.w + ix) * g.c..][..g.c];
                    let wt = &k.weights[(ky * g.kw + kx) * g.c * k.cpad..];
                    for (ci, &v) in px.iter().enumerate() {
                        for (a, &w) in acc.iter_mut().zip(&wt[ci * k.cpad..(ci + 1) * k.cpad]) {
                            *a += v * w;
                        }
                    }
                }
            }
            let out = &mut y[(oy * g.ow + ox) * k.cout..][..k.cout];
            for (o, &a) in out.iter_mut().zip(acc.iter()) {
                *o = k.clamp.apply_keeping_nan(a);
            }
        }
    }
}
