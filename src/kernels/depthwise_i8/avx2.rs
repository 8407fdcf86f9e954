//! AVX2 int8 depthwise pixel kernel: 16 channels per step, two taps per `vpmaddwd`; a last
//! partial block of channels runs at full width against zero weights.

use super::{Pixel, Row};
use crate::kernels::requant::{avx2::store16, Requant};
use std::arch::x86_64::*;

/// Position of tap `t` of lane `i` (0..16) in a block of the weights (see
/// [`super::pack_simd`]): `[pairs][16][2]` i16, tap pairs interleaved, lanes in
/// [`lane_slot`] order.
pub fn weight_at(i: usize, t: usize) -> usize {
    ((t / 2) * 16 + lane_slot(i)) * 2 + t % 2
}

/// Position of lane `i` (0..16) in the order `vpunpck{l,h}wd` interleaves channels in:
/// 0-3, 8-11, 4-7, 12-15.
pub fn lane_slot(i: usize) -> usize {
    match i {
        0..=3 => i,
        4..=7 => i + 4,
        8..=11 => i - 4,
        _ => i,
    }
}

/// The 16 bytes of `x` at `at` widened to i16 (sign- or zero-extended); bytes past the end of
/// `x` (a partial last channel block) read as zero. `INSIDE`: the caller knows all 16 are in
/// `x`, so no check.
#[inline(always)]
unsafe fn widen16<const INSIDE: bool>(x: &[u8], at: usize, signed: bool) -> __m256i {
    let b = if INSIDE || at + 16 <= x.len() {
        _mm_loadu_si128(x.as_ptr().add(at) as *const __m128i)
    } else {
        let mut tmp = [0u8; 16];
        tmp[..x.len() - at].copy_from_slice(&x[at..]);
        _mm_loadu_si128(tmp.as_ptr() as *const __m128i)
    };
    if signed {
        _mm256_cvtepi8_epi16(b)
    } else {
        _mm256_cvtepu8_epi16(b)
    }
}

/// 16 channels of tap `t` widened to i16 minus the zero point (zeros for a padded tap).
#[inline(always)]
unsafe fn load16(px: &Pixel, t: usize, ch: usize, zx: __m256i) -> __m256i {
    match px.grid[t] {
        Some(o) => _mm256_sub_epi16(widen16::<false>(px.x, o + ch, px.signed), zx),
        None => _mm256_setzero_si256(),
    }
}

/// Computes all channels of one output pixel in 16-channel blocks; returns how many it did.
/// Lanes of a partial last block hold neighbouring pixels' inputs, which meet zero weights
/// and are not stored.
#[target_feature(enable = "avx2")]
pub unsafe fn pixel(px: &Pixel, weights: &[i16], requant: &Requant, out: &mut [u8]) -> usize {
    let pairs = px.grid.len() / 2;
    let blocks = px.c.div_ceil(16);
    let zx = _mm256_set1_epi16(px.zx);
    let size = requant.out.size();
    for b in 0..blocks {
        let ch = b * 16;
        let mut lo = _mm256_setzero_si256();
        let mut hi = _mm256_setzero_si256();
        let wb = weights.as_ptr().add(b * pairs * 32);
        for p in 0..pairs {
            let (x0, x1) = (load16(px, 2 * p, ch, zx), load16(px, 2 * p + 1, ch, zx));
            let w_lo = _mm256_loadu_si256(wb.add(p * 32) as *const __m256i);
            let w_hi = _mm256_loadu_si256(wb.add(p * 32 + 16) as *const __m256i);
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), w_lo));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), w_hi));
        }
        // lo holds channels 0-3 | 8-11, hi 4-7 | 12-15: back to natural order.
        let a = _mm256_permute2x128_si256::<0x20>(lo, hi);
        let c = _mm256_permute2x128_si256::<0x31>(lo, hi);
        store16::<true>(requant, ch, a, c, out.as_mut_ptr().add(ch * size), (px.c - ch).min(16));
    }
    px.c
}

/// One row of interior output pixels (every tap inside the input), `P` tap pairs: the block's
/// weights stay in registers across the row, tap offsets advance by one stride per pixel, and
/// the input zero point enters as the per-channel constant `−zx · Σw` (`row_init`) instead of a
/// subtraction per tap. `out` starts at the row's first pixel. Returns `true` (it always
/// handles the row).
#[target_feature(enable = "avx2")]
pub unsafe fn interior_row<const P: usize>(
    row: &Row,
    weights: &[i16],
    row_init: &[i32],
    requant: &Requant,
    out: &mut [u8],
) -> bool {
    let last = row.offsets.iter().max().copied().unwrap_or(0) + (row.pixels.max(1) - 1) * row.step;
    for b in 0..row.c.div_ceil(16) {
        // Whole 16-byte loads stay inside `x` for every pixel of the row: no bounds checks.
        if last + b * 16 + 16 <= row.x.len() {
            block_row::<P, true>(row, b, weights, row_init, requant, out);
        } else {
            block_row::<P, false>(row, b, weights, row_init, requant, out);
        }
    }
    true
}

#[inline(always)]
unsafe fn block_row<const P: usize, const INSIDE: bool>(
    row: &Row,
    b: usize,
    weights: &[i16],
    row_init: &[i32],
    requant: &Requant,
    out: &mut [u8],
) {
    let Row { x, signed, c, offsets, step, pixels } = *row;
    let size = requant.out.size();
    let load = |at: usize| widen16::<INSIDE>(x, at, signed);
    let ch = b * 16;
    let wb = weights.as_ptr().add(b * P * 32);
    let w: [(__m256i, __m256i); P] = std::array::from_fn(|p| {
        (
            _mm256_loadu_si256(wb.add(p * 32) as *const __m256i),
            _mm256_loadu_si256(wb.add(p * 32 + 16) as *const __m256i),
        )
    });
    let init_lo = _mm256_loadu_si256(row_init.as_ptr().add(ch) as *const __m256i);
    let init_hi = _mm256_loadu_si256(row_init.as_ptr().add(ch + 8) as *const __m256i);
    let n = (c - ch).min(16);
    for i in 0..pixels {
        let shift = i * step + ch;
        let (mut lo, mut hi) = (init_lo, init_hi);
        for (p, &(w_lo, w_hi)) in w.iter().enumerate() {
            let (x0, x1) = (load(offsets[2 * p] + shift), load(offsets[2 * p + 1] + shift));
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), w_lo));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), w_hi));
        }
        let a = _mm256_permute2x128_si256::<0x20>(lo, hi);
        let d = _mm256_permute2x128_si256::<0x31>(lo, hi);
        store16::<true>(requant, ch, a, d, out.as_mut_ptr().add((i * c + ch) * size), n);
    }
}
