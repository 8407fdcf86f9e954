//! armv7 NEON requantization of 8 channels of one output pixel, in `asm!`, bit-identical to
//! the scalar [`super::Requant::store`].
//!
//! Only 8-bit outputs take the NEON path. ARMv7 NEON arithmetic always flushes subnormals to
//! zero, rounds to nearest and has no round-to-nearest conversion or NaN-ignoring max/min;
//! for an 8-bit output none of that shows: every value a flush changes is below 2⁻⁹⁵ in
//! magnitude (at most 2³¹ times a subnormal) and rounds to 0 like its flushed zero, or
//! vanishes in the rounding of its sum with a larger offset; the clamps
//! are compare-and-select (a NaN fails the compare and takes the low rail, as the scalar
//! `f32::max` does), and round half to even is `(v + 1.5·2²³) − 1.5·2²³`, exact for the
//! clamped `|v| ≤ 510`. Float outputs could differ in their subnormals, so they and raw i32
//! outputs run the scalar code.

use super::{Output, Requant};
use std::arch::asm;

/// `1.5 · 2²³`: adding and subtracting it rounds an f32 below 2²² in magnitude to an integer,
/// half to even (the round-to-nearest-even of the sum, whose unit is 1).
const ROUND: f32 = 12_582_912.0;

/// Requantizes the accumulators `acc` of channels `c0..c0 + 8` and stores the first
/// `dst.len() / size` of them (at most 8) to `dst` (raw output bytes).
///
/// # Safety
///
/// The CPU has NEON (`Isa::Neon32`); `c0 + 8` is within the padded parameters
/// (`c0` a multiple of 8 below `channels()`).
pub unsafe fn store8(r: &Requant, c0: usize, acc: &[i32; 8], dst: &mut [u8]) {
    let Output::Int8 { zero_point, lo, hi, .. } = r.out else {
        return r.store(c0, &acc[..dst.len() / r.out.size()], dst);
    };
    let n = dst.len();
    assert!(n <= 8 && c0 + 8 <= r.bias.len());
    // q4–q7 are broadcast from these: clamp bounds, rounding constant, zero point.
    let consts: [u32; 4] = [
        ((lo - zero_point) as f32).to_bits(),
        ((hi - zero_point) as f32).to_bits(),
        ROUND.to_bits(),
        zero_point as u32,
    ];
    let mut bytes = [0u8; 8];
    // SAFETY: reads 8 values (32 bytes) at `acc` and at channel `c0` of bias, mult and
    // offset (inside the padded vectors, asserted above) and 16 bytes of `consts`; writes the 8
    // bytes of `bytes`. Only d0–d15 are used, all declared clobbered; the stack is untouched.
    // The caller guarantees NEON.
    asm!(
        ".fpu neon",
        "vld1.32 {{d14-d15}}, [{consts}]",
        "vdup.32 q4, d14[0]",
        "vdup.32 q5, d14[1]",
        "vdup.32 q6, d15[0]",
        "vdup.32 q7, d15[1]",
        // real = f32(acc + bias) · mult + offset: two roundings, as in the scalar code.
        "vld1.32 {{d0-d3}}, [{acc}]",
        "vld1.32 {{d4-d7}}, [{bias}]",
        "vadd.i32 q0, q0, q2",
        "vadd.i32 q1, q1, q3",
        "vcvt.f32.s32 q0, q0",
        "vcvt.f32.s32 q1, q1",
        "vld1.32 {{d4-d7}}, [{mult}]",
        "vmul.f32 q0, q0, q2",
        "vmul.f32 q1, q1, q3",
        "vld1.32 {{d4-d7}}, [{offset}]",
        "vadd.f32 q0, q0, q2",
        "vadd.f32 q1, q1, q3",
        // v = v > lo ? v : lo (NaN: lo), then v = hi > v ? v : hi.
        "vcgt.f32 q2, q0, q4",
        "vcgt.f32 q3, q1, q4",
        "vbif q0, q4, q2",
        "vbif q1, q4, q3",
        "vcgt.f32 q2, q5, q0",
        "vcgt.f32 q3, q5, q1",
        "vbif q0, q5, q2",
        "vbif q1, q5, q3",
        // Round half to even, convert (exact: integers), add the zero point.
        "vadd.f32 q0, q0, q6",
        "vadd.f32 q1, q1, q6",
        "vsub.f32 q0, q0, q6",
        "vsub.f32 q1, q1, q6",
        "vcvt.s32.f32 q0, q0",
        "vcvt.s32.f32 q1, q1",
        "vadd.i32 q0, q0, q7",
        "vadd.i32 q1, q1, q7",
        // Within the output type's range: the low byte is the u8 or i8 value.
        "vmovn.i32 d0, q0",
        "vmovn.i32 d1, q1",
        "vmovn.i16 d0, q0",
        "vst1.8 {{d0}}, [{out}]",
        consts = in(reg) consts.as_ptr(),
        acc = in(reg) acc.as_ptr(),
        bias = in(reg) r.bias.as_ptr().add(c0),
        mult = in(reg) r.mult.as_ptr().add(c0),
        offset = in(reg) r.offset.as_ptr().add(c0),
        out = in(reg) bytes.as_mut_ptr(),
        out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _, out("d6") _, out("d7") _,
        out("d8") _, out("d9") _, out("d10") _, out("d11") _, out("d12") _, out("d13") _, out("d14") _, out("d15") _,
        options(nostack),
    );
    dst.copy_from_slice(&bytes[..n]);
}
