//! NEON int8 GEMM micro-tile: 16 channels × up to 6 columns of i32 accumulators in 24
//! registers. Per 8 k, one 8-lane i16 load per column; per k, two weight vectors (16
//! channels) each multiply one column lane into four accumulators (`vmlal_laneq_s16`,
//! i16 × i16 → i32, exact).

use super::{Tile, MR, NR};
use crate::kernels::requant::neon::store16;
use std::arch::aarch64::*;

/// Accumulators of one tile: `[column][4 channels × 4]`.
pub(super) type Acc<const N: usize> = [[int32x4_t; 4]; N];

/// Adds k step `L` of an 8-k group: weights `w` (16 channels of this k) times lane `L` of
/// each column vector `x`.
#[inline(always)]
unsafe fn step<const L: i32, const N: usize>(acc: &mut Acc<N>, w: *const i16, x: &[int16x8_t; N]) {
    let (w0, w1) = (vld1q_s16(w), vld1q_s16(w.add(8)));
    for j in 0..N {
        acc[j][0] = vmlal_laneq_s16::<L>(acc[j][0], vget_low_s16(w0), x[j]);
        acc[j][1] = vmlal_high_laneq_s16::<L>(acc[j][1], w0, x[j]);
        acc[j][2] = vmlal_laneq_s16::<L>(acc[j][2], vget_low_s16(w1), x[j]);
        acc[j][3] = vmlal_high_laneq_s16::<L>(acc[j][3], w1, x[j]);
    }
}

#[target_feature(enable = "neon")]
unsafe fn accumulate<const N: usize>(t: &Tile) -> Acc<N> {
    let mut acc = [[vdupq_n_s32(0); 4]; N];
    let a = t.a.as_ptr();
    let cols: [*const i16; N] = std::array::from_fn(|j| t.cols.as_ptr().add(j * t.kpad));
    debug_assert!(t.kpad % 8 == 0 && t.a.len() >= t.kpad * MR);
    for k0 in (0..t.kpad).step_by(8) {
        let x: [int16x8_t; N] = std::array::from_fn(|j| vld1q_s16(cols[j].add(k0)));
        let w = a.add(k0 * MR);
        step::<0, N>(&mut acc, w, &x);
        step::<1, N>(&mut acc, w.add(MR), &x);
        step::<2, N>(&mut acc, w.add(2 * MR), &x);
        step::<3, N>(&mut acc, w.add(3 * MR), &x);
        step::<4, N>(&mut acc, w.add(4 * MR), &x);
        step::<5, N>(&mut acc, w.add(5 * MR), &x);
        step::<6, N>(&mut acc, w.add(6 * MR), &x);
        step::<7, N>(&mut acc, w.add(7 * MR), &x);
    }
    acc
}

/// Requantizes and stores a tile's accumulators; `dst` starts at (first column, first
/// channel).
#[target_feature(enable = "neon")]
pub(super) unsafe fn store<T, const N: usize>(t: &Tile<T>, acc: &Acc<N>, dst: &mut [u8], ldo: usize) {
    let size = t.requant.out.size();
    for (j, &a) in acc.iter().enumerate() {
        let o = j * ldo * size;
        assert!(o + t.channels * size <= dst.len());
        store16(t.requant, t.c0, a, dst.as_mut_ptr().add(o), t.channels);
    }
}

#[target_feature(enable = "neon")]
unsafe fn tile_n<const N: usize>(t: &Tile, dst: &mut [u8], ldo: usize) {
    store(t, &accumulate::<N>(t), dst, ldo);
}

/// Computes and stores one tile; `dst` starts at (first column, first channel). The packed
/// weights are k-major (`[kpad][MR]`) and `kpad` a multiple of 8.
#[target_feature(enable = "neon")]
pub unsafe fn tile(t: &Tile, dst: &mut [u8], ldo: usize) {
    debug_assert!(t.gather.is_none(), "columns are read from the column buffer only");
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
