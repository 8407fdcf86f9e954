//! Portable depthwise pixel kernel.

use crate::ops::Clamp;

/// See [`super::PixelFn`].
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    let c = out.len();
    out.copy_from_slice(&bias[..c]);
    for &(xo, wo) in taps {
        for ((o, &a), &b) in out.iter_mut().zip(&x[xo..xo + c]).zip(&w[wo..wo + c]) {
            *o += a * b;
        }
    }
    for o in out.iter_mut() {
        *o = clamp.apply_keeping_nan(*o);
    }
}
