//! armv7 NEON few-channel dot products in `asm!` (the `core::arch::arm` intrinsics are not
//! stable Rust): per output, 16 i16 lanes per step along K, widening multiply-adds
//! (`vmlal.s16`) into two i32x4 accumulators and a pairwise horizontal sum. Integer only, so
//! bit-identical to [`super::scalar::dots`] (i32 sums wrap alike). Only d0–d11 are used.

use super::{Block, KB, MAX_M};
use std::arch::asm;

/// `Σ_k x[k] · w[k]` over `len` values, `len` a non-zero multiple of 16.
///
/// # Safety
///
/// The CPU has NEON; `len` i16 values are readable at `x` and at `w`.
unsafe fn dot(x: *const i16, w: *const i16, len: usize) -> i32 {
    let sum: i32;
    // SAFETY: reads `len` i16 at `x` and at `w` (the caller's contract), 16 per iteration;
    // `len` is a non-zero multiple of 16, so the loop ends at 0. d0–d11 are declared
    // clobbered; no stack, no memory written.
    asm!(
        ".fpu neon",
        "vmov.i32 q0, #0",
        "vmov.i32 q1, #0",
        "1:",
        "vld1.16 {{d4-d7}}, [{x}]!",
        "vld1.16 {{d8-d11}}, [{w}]!",
        "vmlal.s16 q0, d4, d8",
        "vmlal.s16 q1, d5, d9",
        "vmlal.s16 q0, d6, d10",
        "vmlal.s16 q1, d7, d11",
        "subs {n}, {n}, #16",
        "bne 1b",
        "vadd.i32 q0, q0, q1",
        "vpadd.i32 d0, d0, d1",
        "vpadd.i32 d0, d0, d0",
        "vmov.32 {sum}, d0[0]",
        x = inout(reg) x => _,
        w = inout(reg) w => _,
        n = inout(reg) len => _,
        sum = out(reg) sum,
        out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
        out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
        options(nostack, readonly),
    );
    sum
}

/// See [`super::scalar::dots`].
///
/// # Safety
///
/// The CPU has NEON (`Isa::Neon32`).
pub unsafe fn dots(b: &Block, accs: &mut [[i32; MAX_M]]) {
    debug_assert!(b.gather.is_none(), "columns are read from the column buffer only");
    assert!(b.kpad > 0 && b.kpad % KB == 0 && b.cols.len() >= accs.len() * b.kpad && b.w.len() >= b.m * b.kpad);
    for (j, out) in accs.iter_mut().enumerate() {
        let col = b.cols[j * b.kpad..].as_ptr();
        for (c, o) in out[..b.m].iter_mut().enumerate() {
            // SAFETY: column j and weight row c each hold `kpad` values (asserted above).
            *o = unsafe { dot(col, b.w[c * b.kpad..].as_ptr(), b.kpad) };
        }
    }
}
