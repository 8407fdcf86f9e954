//! AVX2 few-channel dot products: 16 i16 products per `vpmaddwd` along K, one accumulator
//! per output channel, a horizontal sum per output.

use super::{Block, KB, MAX_M};
use std::arch::x86_64::*;

#[target_feature(enable = "avx2")]
unsafe fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2")]
unsafe fn dots_m<const M: usize>(b: &Block, accs: &mut [[i32; MAX_M]]) {
    assert!(b.cols.len() >= accs.len() * b.kpad && b.w.len() >= M * b.kpad && b.kpad % KB == 0);
    let w = b.w.as_ptr();
    for (j, out) in accs.iter_mut().enumerate() {
        let col = b.cols.as_ptr().add(j * b.kpad);
        let mut acc = [_mm256_setzero_si256(); M];
        for kb in (0..b.kpad).step_by(KB) {
            let x = _mm256_loadu_si256(col.add(kb) as *const __m256i);
            for (c, a) in acc.iter_mut().enumerate() {
                let wv = _mm256_loadu_si256(w.add(c * b.kpad + kb) as *const __m256i);
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(x, wv));
            }
        }
        for c in 0..M {
            out[c] = hsum(acc[c]);
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
