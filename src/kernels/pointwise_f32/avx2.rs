//! AVX2 + FMA pointwise micro-kernel: `V` vectors of 8 output channels × `N` pixels of
//! accumulators (12 registers at full size: 2 × 6 or 1 × 12), per input channel and tap `V`
//! weight loads and one broadcast per pixel. Pixel `j` reads from `x + j · x_step` and stores
//! to `y + j · y_step`.

use super::{PointwiseF32, BLOCK};
use std::arch::x86_64::*;

/// Pixels per full tile for `V` vectors of channels: 12 accumulators.
const fn pixels(v: usize) -> usize {
    12 / v
}

/// Where pixels' inputs and outputs are: pixel `j` at `x + j · x_step`, `y + j · y_step`.
#[derive(Clone, Copy)]
pub struct Pixels {
    pub x: *const f32,
    pub x_step: usize,
    pub y: *mut f32,
    pub y_step: usize,
}

/// Channels `16b..16b + channels` of pixels `j0..j0 + N`: accumulators start at the bias,
/// `k` FMAs each (every tap's `C_in` inputs), then the clamp (NaN kept: the value is the
/// second operand) and the store.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const V: usize, const N: usize>(p: &PointwiseF32, px: Pixels, j0: usize, b: usize, channels: usize) {
    let (k, cin) = (p.k, p.cin);
    let wb = p.weights.as_ptr().add(b * k * BLOCK);
    let bias: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(p.bias.as_ptr().add(b * BLOCK + v * 8)));
    let mut acc = [bias; N];
    let xp: [*const f32; N] = std::array::from_fn(|j| px.x.add((j0 + j) * px.x_step));
    for (t, &off) in p.taps.iter().enumerate() {
        let wt = wb.add(t * cin * BLOCK);
        for kk in 0..cin {
            let w: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(wt.add(kk * BLOCK + v * 8)));
            for j in 0..N {
                let xv = _mm256_broadcast_ss(&*xp[j].add(off + kk));
                for v in 0..V {
                    acc[j][v] = _mm256_fmadd_ps(xv, w[v], acc[j][v]);
                }
            }
        }
    }
    let (lo, hi) = (_mm256_set1_ps(p.clamp.min), _mm256_set1_ps(p.clamp.max));
    // Lanes `8v..8v + 8` of the block that are real channels, as a store mask.
    let mask: [__m256i; V] = std::array::from_fn(|v| {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(channels as i32 - 8 * v as i32), lane)
    });
    for (j, acc) in acc.iter().enumerate() {
        let out = px.y.add((j0 + j) * px.y_step + b * BLOCK);
        for v in 0..V {
            let c = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[v]));
            if channels >= 8 * (v + 1) {
                _mm256_storeu_ps(out.add(8 * v), c);
            } else {
                _mm256_maskstore_ps(out.add(8 * v), mask[v], c);
            }
        }
    }
}

/// Channel block `b` (`channels` of them) for pixels `j0..j1`: whole tiles, then one pixel at
/// a time.
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const V: usize>(p: &PointwiseF32, px: Pixels, j0: usize, j1: usize, b: usize) {
    let channels = (p.m - b * BLOCK).min(BLOCK);
    let mut j = j0;
    while j + pixels(V) <= j1 {
        match V {
            1 => tile::<1, { pixels(1) }>(p, px, j, b, channels),
            _ => tile::<2, { pixels(2) }>(p, px, j, b, channels),
        }
        j += pixels(V);
    }
    for j in j..j1 {
        tile::<V, 1>(p, px, j, b, channels);
    }
}

/// See [`PointwiseF32::run_strided`]; the caller checked every pixel's reads and writes.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn run(p: &PointwiseF32, px: Pixels, n: usize, blocks: std::ops::Range<usize>) {
    let one = |j0: usize, j1: usize, b: usize| {
        if p.m - b * BLOCK <= 8 {
            block::<1>(p, px, j0, j1, b)
        } else {
            block::<2>(p, px, j0, j1, b)
        }
    };
    // Pixels in chunks (whole tiles of either size) whose inputs stay in L1 (≤ 16 KiB) while every channel block passes
    // over them; a block's weights (`16 · k` floats) are reread from L1/L2 per chunk.
    let chunk = (16 * 1024 / (4 * p.k).max(1)).max(pixels(1)) / pixels(1) * pixels(1);
    let mut j0 = 0;
    while j0 < n {
        let j1 = (j0 + chunk).min(n);
        for b in blocks.clone() {
            one(j0, j1, b);
        }
        j0 = j1;
    }
}
