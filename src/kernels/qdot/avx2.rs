//! AVX2 few-channel dot products: 16 i16 products per `vpmaddwd` along K, one accumulator
//! per output channel, a horizontal sum per output. Gathered columns' runs end in 8, 4 or 2
//! values at a time.

use super::{Block, KB, MAX_M};
use crate::kernels::column_runs::Gather;
use std::arch::x86_64::*;

/// The sum of the eight lanes of `v` and the four of `t` (wrapping).
#[target_feature(enable = "avx2")]
unsafe fn hsum(v: __m256i, t: __m128i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, t);
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2")]
unsafe fn dots_m<const M: usize>(b: &Block, accs: &mut [[i32; MAX_M]]) {
    assert!(b.w.len() >= M * b.kpad && b.kpad % KB == 0);
    assert!(b.gather.is_some() || b.cols.len() >= accs.len() * b.kpad);
    let Gather { starts, runs } = b.gather.unwrap_or(Gather::contiguous(b.kpad));
    let w = b.w.as_ptr();
    for (j, out) in accs.iter_mut().enumerate() {
        let col = b.cols.as_ptr().add(starts[j]);
        let mut acc = [_mm256_setzero_si256(); M];
        // Run tails shorter than KB (gathered columns): 8, 4 and 2 values at a time.
        let mut tail = [_mm_setzero_si128(); M];
        for (r, &at) in runs.row_at.iter().enumerate() {
            let (x, wr) = (col.add(at), w.add(r * runs.len));
            let mut i = 0;
            while i + KB <= runs.len {
                let xv = _mm256_loadu_si256(x.add(i) as *const __m256i);
                for (c, a) in acc.iter_mut().enumerate() {
                    let wv = _mm256_loadu_si256(wr.add(c * b.kpad + i) as *const __m256i);
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(xv, wv));
                }
                i += KB;
            }
            for width in [8, 4, 2] {
                if i + width <= runs.len {
                    let load = |p: *const i16| match width {
                        8 => _mm_loadu_si128(p as *const __m128i),
                        4 => _mm_loadl_epi64(p as *const __m128i),
                        _ => _mm_cvtsi32_si128(std::ptr::read_unaligned(p as *const i32)),
                    };
                    let xv = load(x.add(i));
                    for (c, t) in tail.iter_mut().enumerate() {
                        *t = _mm_add_epi32(*t, _mm_madd_epi16(xv, load(wr.add(c * b.kpad + i))));
                    }
                    i += width;
                }
            }
        }
        for c in 0..M {
            out[c] = hsum(acc[c], tail[c]);
        }
    }
}

/// See [`super::scalar::dots`].
#[target_feature(enable = "avx2")]
pub unsafe fn dots(b: &Block, accs: &mut [[i32; MAX_M]]) {
    match b.m {
        1 => dots_m::<1>(b, accs),
        2 => dots_m::<2>(b, accs),
        3 => dots_m::<3>(b, accs),
        _ => dots_m::<4>(b, accs),
    }
}
