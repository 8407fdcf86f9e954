//! Portable int8 GEMM micro-tile.

use super::{Tile, MR};

/// Computes and stores one tile; `dst` starts at (first column, first channel).
pub fn tile(t: &Tile, dst: &mut [u8], ldo: usize) {
    let size = t.requant.out.size();
    for j in 0..t.nt {
        let col = &t.cols[j * t.kpad..(j + 1) * t.kpad];
        let mut acc = [0i32; MR];
        for (p, pair) in col.chunks_exact(2).enumerate() {
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
