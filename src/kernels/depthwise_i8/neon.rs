//! NEON int8 depthwise kernels: 16 channels per step as two i16x8 inputs, one tap at a time
//! with `vmlal_s16`/`vmlal_high_s16` into four i32x4 accumulators (exact: inputs and weights
//! are within ±255). A last partial block of channels runs at full width against zero weights.

use super::{Pixel, Row};
use crate::kernels::requant::neon::store16;
use crate::kernels::requant::Requant;
use std::arch::aarch64::*;

/// Position of tap `t` of lane `i` (0..16) in a block of the weights (see
/// [`super::pack_simd`]): `[2 * pairs][16]` i16, natural channel order.
pub fn weight_at(i: usize, t: usize) -> usize {
    t * 16 + i
}

/// The 16 bytes of `x` at `at` widened to i16 (sign- or zero-extended), channels 0-7 and 8-15;
/// bytes past the end of `x` (a partial last channel block) read as zero. `INSIDE`: the caller
/// knows all 16 are in `x`, so no check.
#[inline(always)]
unsafe fn widen16<const INSIDE: bool>(x: &[u8], at: usize, signed: bool) -> (int16x8_t, int16x8_t) {
    let b = if INSIDE || at + 16 <= x.len() {
        vld1q_u8(x.as_ptr().add(at))
    } else {
        let mut tmp = [0u8; 16];
        tmp[..x.len() - at].copy_from_slice(&x[at..]);
        vld1q_u8(tmp.as_ptr())
    };
    if signed {
        let s = vreinterpretq_s8_u8(b);
        (vmovl_s8(vget_low_s8(s)), vmovl_high_s8(s))
    } else {
        (vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(b))), vreinterpretq_s16_u16(vmovl_high_u8(b)))
    }
}

/// `acc += x · w` for 16 channels (`x`, `w`: channels 0-7 and 8-15).
#[inline(always)]
unsafe fn mla16(acc: &mut [int32x4_t; 4], x: (int16x8_t, int16x8_t), w: (int16x8_t, int16x8_t)) {
    acc[0] = vmlal_s16(acc[0], vget_low_s16(x.0), vget_low_s16(w.0));
    acc[1] = vmlal_high_s16(acc[1], x.0, w.0);
    acc[2] = vmlal_s16(acc[2], vget_low_s16(x.1), vget_low_s16(w.1));
    acc[3] = vmlal_high_s16(acc[3], x.1, w.1);
}

/// The 16 weights of tap `t` in the block at `wb`.
#[inline(always)]
unsafe fn weights16(wb: *const i16, t: usize) -> (int16x8_t, int16x8_t) {
    (vld1q_s16(wb.add(t * 16)), vld1q_s16(wb.add(t * 16 + 8)))
}

/// Computes all channels of one output pixel in 16-channel blocks; returns how many it did.
/// Lanes of a partial last block hold neighbouring pixels' inputs, which meet zero weights
/// and are not stored.
#[target_feature(enable = "neon")]
pub unsafe fn pixel(px: &Pixel, weights: &[i16], requant: &Requant, out: &mut [u8]) -> usize {
    let taps = px.grid.len();
    let zx = vdupq_n_s16(px.zx);
    let size = requant.out.size();
    for b in 0..px.c.div_ceil(16) {
        let ch = b * 16;
        let wb = weights.as_ptr().add(b * taps * 16);
        let mut acc = [vdupq_n_s32(0); 4];
        for (t, o) in px.grid.iter().enumerate() {
            if let Some(o) = o {
                let (x0, x1) = widen16::<false>(px.x, o + ch, px.signed);
                mla16(&mut acc, (vsubq_s16(x0, zx), vsubq_s16(x1, zx)), weights16(wb, t));
            }
        }
        store16(requant, ch, acc, out.as_mut_ptr().add(ch * size), (px.c - ch).min(16));
    }
    px.c
}

/// One row of interior output pixels (every tap inside the input) of a `T`-tap kernel: the
/// input zero point enters as the per-channel constant `−zx · Σw` (`row_init`) instead of a
/// subtraction per tap, and tap offsets advance by one stride per pixel. `out` starts at the
/// row's first pixel. Returns `true` (it always handles the row).
#[target_feature(enable = "neon")]
pub unsafe fn interior_row<const T: usize>(
    row: &Row,
    weights: &[i16],
    row_init: &[i32],
    requant: &Requant,
    out: &mut [u8],
) -> bool {
    let offsets = &row.offsets[..T];
    let last = offsets.iter().max().copied().unwrap_or(0) + (row.pixels.max(1) - 1) * row.step;
    // Blocks are `2 * pairs` taps long, T rounded up to even.
    let block = T.next_multiple_of(2) * 16;
    for b in 0..row.c.div_ceil(16) {
        // Whole 16-byte loads stay inside `x` for every pixel of the row: no bounds checks.
        if last + b * 16 + 16 <= row.x.len() {
            block_row::<T, true>(row, offsets, b, &weights[b * block..][..block], row_init, requant, out);
        } else {
            block_row::<T, false>(row, offsets, b, &weights[b * block..][..block], row_init, requant, out);
        }
    }
    true
}

#[inline(always)]
unsafe fn block_row<const T: usize, const INSIDE: bool>(
    row: &Row,
    offsets: &[usize],
    b: usize,
    weights: &[i16],
    row_init: &[i32],
    requant: &Requant,
    out: &mut [u8],
) {
    let Row { x, signed, c, step, pixels, .. } = *row;
    let size = requant.out.size();
    let ch = b * 16;
    let w: [(int16x8_t, int16x8_t); T] = std::array::from_fn(|t| weights16(weights.as_ptr(), t));
    let init: [int32x4_t; 4] = std::array::from_fn(|i| vld1q_s32(row_init.as_ptr().add(ch + 4 * i)));
    let n = (c - ch).min(16);
    for i in 0..pixels {
        let shift = i * step + ch;
        let mut acc = init;
        for (&o, &wt) in offsets.iter().zip(&w) {
            mla16(&mut acc, widen16::<INSIDE>(x, o + shift, signed), wt);
        }
        store16(requant, ch, acc, out.as_mut_ptr().add((i * c + ch) * size), n);
    }
}
