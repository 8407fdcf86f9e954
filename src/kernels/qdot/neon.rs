//! NEON few-channel dot products: 8 i16 lanes per step along K, widening multiply-adds
//! (`vmlal_s16` on both halves) into i32 accumulators, one per output channel, and a
//! horizontal sum per output.

use super::{Block, KB, MAX_M};
use std::arch::aarch64::*;

#[target_feature(enable = "neon")]
unsafe fn dots_m<const M: usize>(b: &Block, accs: &mut [[i32; MAX_M]]) {
    assert!(b.cols.len() >= accs.len() * b.kpad && b.w.len() >= M * b.kpad && b.kpad % KB == 0);
    let w = b.w.as_ptr();
    for (j, out) in accs.iter_mut().enumerate() {
        let col = b.cols.as_ptr().add(j * b.kpad);
        let mut acc = [vdupq_n_s32(0); M];
        for k8 in (0..b.kpad).step_by(8) {
            let x = vld1q_s16(col.add(k8));
            for (c, a) in acc.iter_mut().enumerate() {
                let wv = vld1q_s16(w.add(c * b.kpad + k8));
                *a = vmlal_s16(*a, vget_low_s16(x), vget_low_s16(wv));
                *a = vmlal_high_s16(*a, x, wv);
            }
        }
        for c in 0..M {
            out[c] = vaddvq_s32(acc[c]);
        }
    }
}

/// See [`super::scalar::dots`].
#[target_feature(enable = "neon")]
pub unsafe fn dots(b: &Block, accs: &mut [[i32; MAX_M]]) {
    debug_assert!(b.gather.is_none(), "columns are read from the column buffer only");
    match b.m {
        1 => dots_m::<1>(b, accs),
        2 => dots_m::<2>(b, accs),
        3 => dots_m::<3>(b, accs),
        _ => dots_m::<4>(b, accs),
    }
}
