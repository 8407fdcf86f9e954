//! Portable few-channel dot products.

use super::{Block, MAX_M};

/// `accs[j][c] = Σ_k cols[j][k] · w[c][k]` (wrapping i32, exact for the operand ranges).
pub fn dots(b: &Block, accs: &mut [[i32; MAX_M]]) {
    for (j, acc) in accs.iter_mut().enumerate() {
        let col = &b.cols[j * b.kpad..(j + 1) * b.kpad];
        for (c, a) in acc[..b.m].iter_mut().enumerate() {
            let w = &b.w[c * b.kpad..(c + 1) * b.kpad];
            *a = col.iter().zip(w).fold(0i32, |s, (&x, &w)| s.wrapping_add(x as i32 * w as i32));
        }
    }
}
