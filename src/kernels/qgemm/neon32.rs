//! armv7 NEON int8 GEMM micro-tile in `asm!` (the `core::arch::arm` intrinsics are not
//! stable Rust): 8 channels × 4 columns of i32 accumulators in q8–q15, `vmlal.s16` by
//! scalar (i16 × i16 → i32, exact; the sums wrap like the scalar tile's).
//!
//! Why 8 × 4: ARMv7 NEON has 16 quad registers, and the 16-bit scalar operand of `vmlal`
//! must sit in d0–d7. Per 8 k the four columns' values fill d0–d7 (one 8-lane load each),
//! two k of weights (8 channels each) fill d8–d11 while the next two load into d12–d15, and
//! the 8 remaining quad registers hold the accumulators. Each k then runs 8 `vmlal` (32
//! MACs) from two weight and half a column register loaded — the most MACs per loaded value
//! that 8 accumulators allow (16 channels × 2 columns would load 4.25 registers per k for the
//! same 8 `vmlal`), and the packed weights are read once per 4 output columns.
//!
//! rustc's `armv7-unknown-linux-gnueabihf` target is `-d32`: `asm!` can name d0–d15 only,
//! as operands or clobbers. The template therefore saves d16–d31 on the stack (`vpush`) and
//! restores them (`vpop`) itself, and `Isa::Neon32` requires the CPU to report all 32
//! (`HWCAP_VFPD32`; every NEON implementation has them).

use super::Tile;
use crate::kernels::requant::neon32::store8;
use std::arch::asm;

/// Output channels per micro-tile.
pub const MR: usize = 8;
/// Columns (output pixels) per micro-tile.
pub const NR: usize = 4;

/// The 8 `vmlal.s16` of one k: weights `$lo` (channels 0–3) and `$hi` (channels 4–7) times
/// lane `$lane` of the column registers `$x0`–`$x3` (one per column), into q8–q15
/// (`q8 + 2j`: column `j`, channels 0–3; `q9 + 2j`: channels 4–7).
#[rustfmt::skip]
macro_rules! mac_k {
    ($lo:literal, $hi:literal, $x0:literal, $x1:literal, $x2:literal, $x3:literal, $lane:literal) => {
        concat!(
            "vmlal.s16 q8, ", $lo, ", ", $x0, "[", $lane, "]\n",
            "vmlal.s16 q9, ", $hi, ", ", $x0, "[", $lane, "]\n",
            "vmlal.s16 q10, ", $lo, ", ", $x1, "[", $lane, "]\n",
            "vmlal.s16 q11, ", $hi, ", ", $x1, "[", $lane, "]\n",
            "vmlal.s16 q12, ", $lo, ", ", $x2, "[", $lane, "]\n",
            "vmlal.s16 q13, ", $hi, ", ", $x2, "[", $lane, "]\n",
            "vmlal.s16 q14, ", $lo, ", ", $x3, "[", $lane, "]\n",
            "vmlal.s16 q15, ", $hi, ", ", $x3, "[", $lane, "]\n",
        )
    };
}

/// The i32 sums of one tile, `[column][channel]` (`[NR][MR]`), over all of `kpad`. Columns
/// `nt..NR` are computed from whatever the column buffer holds there and are not used.
///
/// # Safety
///
/// The CPU has NEON with 32 double registers; `t.a` holds `kpad × MR` weights
/// (`[kpad][MR]`) and `t.cols` `NR × kpad` values (`[NR][kpad]`), `kpad` a multiple of 8.
unsafe fn accumulate(t: &Tile) -> [i32; MR * NR] {
    assert!(t.kpad % 8 == 0 && t.a.len() >= t.kpad * MR && t.cols.len() >= t.kpad * NR);
    let mut acc = [0i32; MR * NR];
    let c = t.cols.as_ptr();
    // SAFETY: the loop reads `kpad / 8` times 8 k of each column (16 bytes at c0–c3) and of
    // the weights (128 bytes at w), inside the slices asserted above; the stores write the 32
    // accumulators into `acc`. d0–d15 are declared clobbered; d16–d31, which `asm!` cannot
    // name on this target, are saved to the stack and restored. The caller guarantees NEON.
    asm!(
        ".fpu neon",
        "vpush {{d16-d31}}",
        "vmov.i32 q8, #0",
        "vmov.i32 q9, #0",
        "vmov.i32 q10, #0",
        "vmov.i32 q11, #0",
        "vmov.i32 q12, #0",
        "vmov.i32 q13, #0",
        "vmov.i32 q14, #0",
        "vmov.i32 q15, #0",
        "cmp {n}, #0",
        "beq 2f",
        "1:",
        // Column j's k0–k3 in d(2j), k4–k7 in d(2j + 1).
        "vld1.16 {{d0-d1}}, [{c0}]!",
        "vld1.16 {{d2-d3}}, [{c1}]!",
        "vld1.16 {{d4-d5}}, [{c2}]!",
        "vld1.16 {{d6-d7}}, [{c3}]!",
        // Weights of k0, k1 (d8–d11), then k2, k3 (d12–d15): 8 channels per k.
        "vld1.16 {{d8-d11}}, [{w}]!",
        "vld1.16 {{d12-d15}}, [{w}]!",
        mac_k!("d8", "d9", "d0", "d2", "d4", "d6", "0"),
        mac_k!("d10", "d11", "d0", "d2", "d4", "d6", "1"),
        "vld1.16 {{d8-d11}}, [{w}]!",
        mac_k!("d12", "d13", "d0", "d2", "d4", "d6", "2"),
        mac_k!("d14", "d15", "d0", "d2", "d4", "d6", "3"),
        "vld1.16 {{d12-d15}}, [{w}]!",
        mac_k!("d8", "d9", "d1", "d3", "d5", "d7", "0"),
        mac_k!("d10", "d11", "d1", "d3", "d5", "d7", "1"),
        mac_k!("d12", "d13", "d1", "d3", "d5", "d7", "2"),
        mac_k!("d14", "d15", "d1", "d3", "d5", "d7", "3"),
        "subs {n}, {n}, #1",
        "bne 1b",
        "2:",
        "vst1.32 {{d16-d19}}, [{out}]!",
        "vst1.32 {{d20-d23}}, [{out}]!",
        "vst1.32 {{d24-d27}}, [{out}]!",
        "vst1.32 {{d28-d31}}, [{out}]",
        "vpop {{d16-d31}}",
        n = inout(reg) t.kpad / 8 => _,
        w = inout(reg) t.a.as_ptr() => _,
        c0 = inout(reg) c => _,
        c1 = inout(reg) c.add(t.kpad) => _,
        c2 = inout(reg) c.add(2 * t.kpad) => _,
        c3 = inout(reg) c.add(3 * t.kpad) => _,
        out = inout(reg) acc.as_mut_ptr() => _,
        out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _, out("d6") _, out("d7") _,
        out("d8") _, out("d9") _, out("d10") _, out("d11") _, out("d12") _, out("d13") _, out("d14") _, out("d15") _,
    );
    acc
}

/// Computes and stores one tile; `dst` starts at (first column, first channel). The packed
/// weights are k-major (`[kpad][MR]`) and `kpad` a multiple of 8.
///
/// # Safety
///
/// The CPU has NEON with 32 double registers (`Isa::Neon32`).
pub unsafe fn tile(t: &Tile, dst: &mut [u8], ldo: usize) {
    debug_assert!(t.gather.is_none(), "columns are read from the column buffer only");
    let acc = accumulate(t);
    let size = t.requant.out.size();
    for (j, col) in acc.chunks_exact(MR).take(t.nt).enumerate() {
        let o = j * ldo * size;
        store8(t.requant, t.c0, col.try_into().unwrap(), &mut dst[o..o + t.channels * size]);
    }
}
