//! armv7 NEON depthwise pixel kernel in `asm!` (the `core::arch::arm` intrinsics are not
//! stable Rust): 8 channels per block in two f32x4 accumulators, one tap per step.
//!
//! `vmla.f32` rounds the product before adding it, as the scalar kernel's `o += a * b` does,
//! so results equal the scalar ones except where ARMv7 NEON flushes subnormals to zero. The
//! clamp is `vmax`/`vmin`, which return NaN when an operand is NaN (NaN propagates). Only
//! whole blocks of 8 channels run here; the channel tail runs the scalar kernel.
//! Only d0–d15 are used.

use crate::ops::Clamp;
use std::arch::asm;
use std::mem::{offset_of, size_of};

// The loop reads each tap as two consecutive words: x offset, then w offset.
const _: () = assert!(
    size_of::<(usize, usize)>() == 8 && offset_of!((usize, usize), 0) == 0 && offset_of!((usize, usize), 1) == 4
);

/// See [`super::PixelFn`].
///
/// # Safety
///
/// The CPU has NEON (`Isa::Neon32`); the offsets of `taps` plus `out.len()` are within `x`
/// and `w`, and `bias` holds `out.len()` values.
pub unsafe fn pixel(taps: &[(usize, usize)], x: &[f32], w: &[f32], bias: &[f32], clamp: Clamp, out: &mut [f32]) {
    let c = out.len();
    let blocks = if taps.is_empty() { 0 } else { c / 8 };
    let bounds = [clamp.min, clamp.max];
    for b in 0..blocks {
        let ch = 8 * b;
        // SAFETY: per tap, reads 8 floats at `x[xo + ch]` and `w[wo + ch]` (within `x` and `w`
        // by the caller's contract, ch + 8 <= c); reads 8 bias values and the two bounds;
        // writes 8 floats at `out[ch]`. The tap count is non-zero, so the loop ends. d0–d15
        // are declared clobbered; no stack.
        unsafe {
            asm!(
                ".fpu neon",
                "vld1.32 {{d14}}, [{bounds}]",
                "vdup.32 q6, d14[0]",
                "vdup.32 q7, d14[1]",
                "vld1.32 {{d0-d3}}, [{bias}]",
                "1:",
                "ldr {xo}, [{t}], #4",
                "ldr {wo}, [{t}], #4",
                "add {xo}, {x}, {xo}, lsl #2",
                "add {wo}, {w}, {wo}, lsl #2",
                "vld1.32 {{d4-d7}}, [{xo}]",
                "vld1.32 {{d8-d11}}, [{wo}]",
                "vmla.f32 q0, q2, q4",
                "vmla.f32 q1, q3, q5",
                "subs {n}, {n}, #1",
                "bne 1b",
                "vmax.f32 q0, q0, q6",
                "vmax.f32 q1, q1, q6",
                "vmin.f32 q0, q0, q7",
                "vmin.f32 q1, q1, q7",
                "vst1.32 {{d0-d3}}, [{out}]",
                bounds = in(reg) bounds.as_ptr(),
                bias = in(reg) bias.as_ptr().add(ch),
                x = in(reg) x.as_ptr().add(ch),
                w = in(reg) w.as_ptr().add(ch),
                out = in(reg) out.as_mut_ptr().add(ch),
                t = inout(reg) taps.as_ptr() => _,
                n = inout(reg) taps.len() => _,
                xo = out(reg) _,
                wo = out(reg) _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _, out("d6") _, out("d7") _,
                out("d8") _, out("d9") _, out("d10") _, out("d11") _, out("d12") _, out("d13") _, out("d14") _, out("d15") _,
                options(nostack),
            );
        }
    }
    let done = 8 * blocks;
    // SAFETY: the channel tail, by the scalar kernel (no CPU requirement). Tap offsets count
    // from channel 0, so every base shifted by `done` gives channels `done..c`, within the
    // caller's bounds.
    unsafe { super::scalar::pixel(taps, &x[done..], &w[done..], &bias[done..], clamp, &mut out[done..]) };
}
