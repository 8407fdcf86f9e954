//! Portable int8 depthwise pixel kernel (also the channel tail of the SIMD kernels).

use super::Pixel;
use crate::kernels::requant::Requant;

/// Computes channels `from..c` of one output pixel into `out` (output-type bytes).
pub fn pixel(px: &Pixel, weights: &[i16], requant: &Requant, from: usize, out: &mut [u8]) {
    let size = requant.out.size();
    let pairs = px.grid.len() / 2;
    for ch in from..px.c {
        let mut acc = 0i32;
        for p in 0..pairs {
            let w = &weights[(p * px.c + ch) * 2..][..2];
            acc = acc.wrapping_add(px.input(2 * p, ch) * w[0] as i32 + px.input(2 * p + 1, ch) * w[1] as i32);
        }
        requant.store(ch, &[acc], &mut out[ch * size..(ch + 1) * size]);
    }
}
