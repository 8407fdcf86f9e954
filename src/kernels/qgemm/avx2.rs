//! AVX2 int8 GEMM micro-tile: 16 channels × up to 6 columns of i32 accumulators in 12
//! registers, started at the bias; per K pair, two weight vectors and one broadcast per column
//! (from the column buffer, or in place: [`super::Gather`]) feed `vpmaddwd`.

use super::{Tile, MR, NR};
use crate::kernels::column_runs::{ColumnRuns, Gather};
use crate::kernels::requant::avx2::store16;
use std::arch::x86_64::*;

#[target_feature(enable = "avx2")]
unsafe fn accumulate<const N: usize>(t: &Tile) -> [[__m256i; 2]; N] {
    let src = t.cols.as_ptr();
    let g = t.gather.unwrap_or(Gather::contiguous(t.kpad));
    accumulate_from::<N>(t, std::array::from_fn(|j| src.add(g.starts[j])), g.runs)
}

/// The accumulators of the columns starting at `cols`, each laid out as `runs` says (whole
/// K pairs per run).
#[inline(always)]
unsafe fn accumulate_from<const N: usize>(t: &Tile, cols: [*const i16; N], runs: ColumnRuns) -> [[__m256i; 2]; N] {
    // The accumulators start at the int32 bias (the requantization's bias is padded to whole
    // 16-channel blocks), so the epilogue does not add it.
    let bias = t.requant.bias.as_ptr().add(t.c0) as *const __m256i;
    let mut acc = [[_mm256_loadu_si256(bias), _mm256_loadu_si256(bias.add(1))]; N];
    debug_assert!(runs.k() == t.kpad && runs.len % 2 == 0);
    let mut a = t.a.as_ptr();
    for &at in runs.row_at {
        for q in (at..at + runs.len).step_by(2) {
            let w0 = _mm256_loadu_si256(a as *const __m256i);
            let w1 = _mm256_loadu_si256(a.add(16) as *const __m256i);
            a = a.add(MR * 2);
            for j in 0..N {
                let x = _mm256_set1_epi32(std::ptr::read_unaligned(cols[j].add(q) as *const i32));
                acc[j][0] = _mm256_add_epi32(acc[j][0], _mm256_madd_epi16(w0, x));
                acc[j][1] = _mm256_add_epi32(acc[j][1], _mm256_madd_epi16(w1, x));
            }
        }
    }
    acc
}

#[target_feature(enable = "avx2")]
unsafe fn tile_n<const N: usize>(t: &Tile, dst: &mut [u8], ldo: usize) {
    let acc = accumulate::<N>(t);
    let size = t.requant.out.size();
    for (j, a) in acc.iter().enumerate() {
        let o = j * ldo * size;
        assert!(o + t.channels * size <= dst.len());
        store16::<false>(t.requant, t.c0, a[0], a[1], dst.as_mut_ptr().add(o), t.channels);
    }
}

/// Computes and stores one tile; `dst` starts at (first column, first channel).
#[target_feature(enable = "avx2")]
pub unsafe fn tile(t: &Tile, dst: &mut [u8], ldo: usize) {
    debug_assert!(t.nt <= NR);
    match t.nt {
        6 => tile_n::<6>(t, dst, ldo),
        5 => tile_n::<5>(t, dst, ldo),
        4 => tile_n::<4>(t, dst, ldo),
        3 => tile_n::<3>(t, dst, ldo),
        2 => tile_n::<2>(t, dst, ldo),
        _ => tile_n::<1>(t, dst, ldo),
    }
}
