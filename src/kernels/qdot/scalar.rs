//! Portable few-channel dot products.

use super::{Block, MAX_M};
use crate::kernels::column_runs::Gather;

/// `accs[j][c] = Σ_k cols[j][k] · w[c][k]` (wrapping i32, exact for the operand ranges),
/// column `j` contiguous or read in place (`Block::gather`).
pub fn dots(b: &Block, accs: &mut [[i32; MAX_M]]) {
    let Gather { starts, runs } = b.gather.unwrap_or(Gather::contiguous(b.kpad));
    for (j, acc) in accs.iter_mut().enumerate() {
        for (c, a) in acc[..b.m].iter_mut().enumerate() {
            *a = 0;
            for (r, &at) in runs.row_at.iter().enumerate() {
                let x = &b.cols[starts[j] + at..][..runs.len];
                let w = &b.w[c * b.kpad + r * runs.len..][..runs.len];
                *a = x.iter().zip(w).fold(*a, |s, (&x, &w)| s.wrapping_add(x as i32 * w as i32));
            }
        }
    }
}
