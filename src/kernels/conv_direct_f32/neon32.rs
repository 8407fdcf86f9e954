//! armv7 NEON direct convolution in `asm!` (the `core::arch::arm` intrinsics are not stable
//! Rust): output channels in blocks of 8 (two f32x4 accumulators); per tap, each input value
//! is broadcast and multiplied into the block with `vmla.f32`, which rounds the product before
//! adding it, as the scalar kernel's `a += v * w` does — so results equal the scalar ones
//! except where ARMv7 NEON flushes subnormals to zero. The clamp is the scalar one. Only
//! d0–d11 are used.

use super::ConvDirectF32;
use std::arch::asm;

/// `acc[i] += Σ_ci px[ci] · wt[ci · cpad + i]` for `i < 8`, `ci < cin`, in that order.
///
/// # Safety
///
/// The CPU has NEON; `cin > 0`; `cin` floats are readable at `px`, and 8 at `wt + ci · cpad`
/// for every `ci < cin`.
unsafe fn mac8(acc: &mut [f32; 8], px: *const f32, wt: *const f32, cin: usize, cpad: usize) {
    // SAFETY: reads `cin` floats at `px` and 8 floats per `ci` at `wt + ci · cpad` (the
    // caller's contract); reads and writes the 8 floats of `acc`. `cin > 0`, so the loop ends.
    // d0–d11 are declared clobbered; no stack.
    unsafe {
        asm!(
            ".fpu neon",
            "vld1.32 {{d0-d3}}, [{acc}]",
            "1:",
            "vld1.32 {{d4[], d5[]}}, [{px}]!",
            "vld1.32 {{d8-d11}}, [{wt}], {step}",
            "vmla.f32 q0, q4, q2",
            "vmla.f32 q1, q5, q2",
            "subs {n}, {n}, #1",
            "bne 1b",
            "vst1.32 {{d0-d3}}, [{acc}]",
            acc = in(reg) acc.as_mut_ptr(),
            px = inout(reg) px => _,
            wt = inout(reg) wt => _,
            step = in(reg) cpad * 4,
            n = inout(reg) cin => _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            options(nostack),
        );
    }
}

/// Convolves one NHWC image `x` into `y` (see [`ConvDirectF32::run`]).
///
/// # Safety
///
/// The CPU has NEON (`Isa::Neon32`); `x` and `y` hold the geometry's input and output.
pub unsafe fn run(k: &ConvDirectF32, x: &[f32], y: &mut [f32]) {
    let g = k.geometry;
    assert!(g.c > 0 && x.len() >= g.h * g.w * g.c && k.weights.len() >= g.kh * g.kw * g.c * k.cpad);
    for oy in 0..g.oh {
        let (ky0, ky1) = ConvDirectF32::tap_range(oy, g.stride[0], g.dilation[0], g.pad_tl[0], g.kh, g.h);
        for ox in 0..g.ow {
            let (kx0, kx1) = ConvDirectF32::tap_range(ox, g.stride[1], g.dilation[1], g.pad_tl[1], g.kw, g.w);
            let out = &mut y[(oy * g.ow + ox) * k.cout..][..k.cout];
            for (block, out) in out.chunks_mut(8).enumerate() {
                let c0 = 8 * block;
                let mut acc = [0f32; 8];
                acc.copy_from_slice(&k.bias[c0..c0 + 8]);
                for ky in ky0..ky1 {
                    let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad_tl[0];
                    for kx in kx0..kx1 {
                        let ix = ox * g.stride[1] + kx * g.dilation[1] - g.pad_tl[1];
                        let px = x[(iy * g.w + ix) * g.c..].as_ptr();
                        let wt = k.weights[(ky * g.kw + kx) * g.c * k.cpad + c0..].as_ptr();
                        // SAFETY: the tap is inside the image (tap_range), so its `C_in` inputs
                        // are in `x`; its weights are `C_in` rows of `cpad` in the packed
                        // weights, and `c0 + 8 <= cpad` (asserted sizes above).
                        unsafe { mac8(&mut acc, px, wt, g.c, k.cpad) };
                    }
                }
                for (o, &a) in out.iter_mut().zip(&acc) {
                    *o = k.clamp.apply_keeping_nan(a);
                }
            }
        }
    }
}
