//! armv7 NEON int8 depthwise kernel in `asm!` (the `core::arch::arm` intrinsics are not
//! stable Rust): 8 channels per block, two taps per step, each tap's 8 input bytes widened
//! minus the zero point in one `vsubl.u8` and multiplied into two i32x4 accumulators with
//! `vmlal.s16` (exact: inputs and weights are within ±255). Only whole blocks of 8 channels
//! run here; the scalar kernel does the rest.
//!
//! Signed inputs enter the same unsigned subtraction with their sign bit flipped: for i8
//! `x` and `zx`, `(x ^ 0x80) − (zx ^ 0x80)` as u8 values is `x − zx`. Padded taps (outside
//! the input) read a row of zero-point bytes, whose difference is 0, so every pixel runs
//! all taps without a branch. Only d0–d15 are used: nothing to save.

use super::{Pixel, Row};
use crate::kernels::requant::neon32::store8;
use crate::kernels::requant::Requant;
use std::arch::asm;

/// Position of tap `t` of lane `i` (0..16) in a 16-channel block of the weights (see
/// [`super::pack_simd`]) for taps padded to `pairs` pairs: `[2][2 * pairs][8]` i16, so
/// the weights of consecutive 8-channel blocks are `[2 * pairs][8]` runs one after another.
pub fn weight_at(pairs: usize, i: usize, t: usize) -> usize {
    ((i / 8) * 2 * pairs + t) * 8 + i % 8
}

/// Per-plan buffers, allocated once and reused by every pixel.
#[derive(Default)]
pub struct Scratch {
    /// `C` bytes of the raw input zero point: what a padded tap reads.
    zero_row: Vec<u8>,
    /// Per tap (whole pairs): address of the tap's channel 0.
    taps: Vec<usize>,
    /// One pixel's i32 sums, channels `0..C / 8 * 8`.
    acc: Vec<i32>,
}

impl Scratch {
    /// For `c` channels, `pairs` tap pairs and input zero point `zx` (within the input type).
    pub fn new(c: usize, pairs: usize, zx: i16) -> Scratch {
        Scratch { zero_row: vec![zx as u8; c], taps: vec![0; 2 * pairs], acc: vec![0; c / 8 * 8] }
    }
}

/// `acc[ch] = Σ_t (x_t[ch] − zx) · w_t[ch]` for every channel of `acc` (8-channel blocks),
/// where `x_t` is the input byte row at address `taps[t] + shift` (i8 if `signed`, else u8)
/// and `w_t` tap `t`'s weights in [`weight_at`] order.
///
/// # Safety
///
/// The CPU has NEON; for every tap, `acc.len()` bytes at `taps[t] + shift` are
/// readable; `zx` is within the input type.
unsafe fn sums(taps: &[usize], shift: usize, weights: &[i16], signed: bool, zx: i16, acc: &mut [i32]) {
    let blocks = acc.len() / 8;
    assert!(blocks > 0 && acc.len() % 8 == 0 && !taps.is_empty() && taps.len() % 2 == 0);
    assert!(weights.len() >= blocks * taps.len() * 8);
    // Flipping the sign bit maps i8 onto u8 in order: `x − zx` is unchanged.
    let flip: u32 = if signed { 0x80 } else { 0 };
    let zx = (zx as u8) as u32 ^ flip;
    let tap_end = taps.as_ptr_range().end;
    // SAFETY: per block and tap pair, reads two 8-byte input rows (readable: the caller's
    // contract) and 16 weights (the block's `taps.len() × 8` run, inside `weights` as asserted);
    // stores 8 sums per block into `acc`. Uses d0–d15, declared clobbered; no stack.
    asm!(
        ".fpu neon",
        "vdup.8 d4, {a}",
        "vdup.8 d5, {b}",
        "1:",
        "vmov.i32 q0, #0",
        "vmov.i32 q1, #0",
        "mov {t}, {taps}",
        "2:",
        "ldr {a}, [{t}], #4",
        "ldr {b}, [{t}], #4",
        "add {a}, {a}, {shift}",
        "add {b}, {b}, {shift}",
        "vld1.8 {{d6}}, [{a}]",
        "vld1.8 {{d7}}, [{b}]",
        // Taps a and b: 8 channels each.
        "vld1.16 {{d8-d11}}, [{w}]!",
        "veor d6, d6, d4",
        "veor d7, d7, d4",
        "vsubl.u8 q6, d6, d5",
        "vsubl.u8 q7, d7, d5",
        "vmlal.s16 q0, d12, d8",
        "vmlal.s16 q1, d13, d9",
        "vmlal.s16 q0, d14, d10",
        "vmlal.s16 q1, d15, d11",
        "cmp {t}, {tap_end}",
        "bne 2b",
        "vst1.32 {{d0-d3}}, [{out}]!",
        "add {shift}, {shift}, #8",
        "subs {n}, {n}, #1",
        "bne 1b",
        a = inout(reg) flip => _,
        b = inout(reg) zx => _,
        t = out(reg) _,
        taps = in(reg) taps.as_ptr(),
        tap_end = in(reg) tap_end,
        shift = inout(reg) shift => _,
        w = inout(reg) weights.as_ptr() => _,
        out = inout(reg) acc.as_mut_ptr() => _,
        n = inout(reg) blocks => _,
        out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _, out("d6") _, out("d7") _,
        out("d8") _, out("d9") _, out("d10") _, out("d11") _, out("d12") _, out("d13") _, out("d14") _, out("d15") _,
        options(nostack),
    );
}

/// Requantizes `acc` (whole 8-channel blocks from channel 0) into `out` (output-type bytes).
///
/// # Safety
///
/// The CPU has NEON.
unsafe fn store(requant: &Requant, acc: &[i32], out: &mut [u8]) {
    let size = requant.out.size();
    for (b, a) in acc.chunks_exact(8).enumerate() {
        store8(requant, b * 8, a.try_into().unwrap(), &mut out[b * 8 * size..(b + 1) * 8 * size]);
    }
}

/// Computes the whole 8-channel blocks of one output pixel; returns how many channels it did.
///
/// # Safety
///
/// The CPU has NEON; `px.zx` is within the input type; the grid's offsets are inside
/// `px.x` with all `px.c` channels.
pub unsafe fn pixel(px: &Pixel, weights: &[i16], requant: &Requant, s: &mut Scratch, out: &mut [u8]) -> usize {
    let full = s.acc.len();
    if full == 0 {
        return 0;
    }
    assert!(s.zero_row.len() >= full && s.taps.len() == px.grid.len());
    let (x, zero) = (px.x.as_ptr() as usize, s.zero_row.as_ptr() as usize);
    for (a, o) in s.taps.iter_mut().zip(px.grid) {
        *a = o.map_or(zero, |o| x + o);
    }
    sums(&s.taps, 0, weights, px.signed, px.zx, &mut s.acc);
    store(requant, &s.acc, out);
    full
}

/// One row of interior output pixels (every tap inside the input), when the channels are
/// whole 8-channel blocks; `false` (not handled) otherwise. `out` starts at the row's first
/// pixel.
///
/// # Safety
///
/// The CPU has NEON; `zx` is within the input type; every tap of every pixel of the
/// row, with all `row.c` channels, is inside `row.x`.
pub unsafe fn interior_row(
    row: &Row,
    weights: &[i16],
    requant: &Requant,
    zx: i16,
    s: &mut Scratch,
    out: &mut [u8],
) -> bool {
    if row.c % 8 != 0 {
        return false;
    }
    assert!(s.taps.len() == row.offsets.len());
    let x = row.x.as_ptr() as usize;
    for (a, &o) in s.taps.iter_mut().zip(row.offsets) {
        *a = x + o;
    }
    let size = requant.out.size();
    for i in 0..row.pixels {
        sums(&s.taps, i * row.step, weights, row.signed, zx, &mut s.acc);
        store(requant, &s.acc, &mut out[i * row.c * size..(i + 1) * row.c * size]);
    }
    true
}
