//! Portable int8 GEMM micro-tile.

use super::{Tile, MR};
use crate::kernels::column_runs::Gather;

/// Computes and stores one tile; `dst` starts at (first column, first channel).
pub fn tile(t: &Tile, dst: &mut [u8], ldo: usize) {
    let size = t.requant.out.size();
    // The columns in the column buffer, or in place.
    let g = t.gather.unwrap_or(Gather::contiguous(t.kpad));
    for j in 0..t.nt {
        // K pair p of column j.
        let at = |p: usize| g.starts[j] + g.runs.row_at[2 * p / g.runs.len] + 2 * p % g.runs.len;
        let mut acc = [0i32; MR];
        for p in 0..t.kpad / 2 {
            let pair = &t.cols[at(p)..at(p) + 2];
            let w = &t.a[p * MR * 2..(p + 1) * MR * 2];
            for (c, a) in acc.iter_mut().enumerate() {
                let s = w[2 * c] as i32 * pair[0] as i32 + w[2 * c + 1] as i32 * pair[1] as i32;
                *a = a.wrapping_add(s);
            }
        }
        let o = j * ldo * size;
        t.requant.store(t.c0, &acc[..t.channels], &mut dst[o..o + t.channels * size]);
    }
}
