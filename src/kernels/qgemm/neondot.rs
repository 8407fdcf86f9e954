//! NEON dot-product (ARMv8.2 `sdot`) int8 GEMM micro-tile: 16 channels × up to 6 columns
//! of i32 accumulators in 24 registers. Per 4 k, four weight vectors (4 channels × 4 k
//! each, s8) and two column vectors (4 columns × 4 k each, s8) feed one `sdot` by element
//! per (4 channels, column): each i32 lane gains a sum of four exact s8 × s8 products.
//!
//! The activations enter as `x − zx − shift` in i8 (see [`pack_cols`]); the plan folded
//! `shift · Σ w` into the requantization bias, so the stored values are exact.

use super::neon::{store, Acc};
use super::{pack, Packed, Tile, MR, NR};
use crate::kernels::requant::Requant;
use std::arch::aarch64::*;
use std::arch::asm;

/// Packs `w` (`m x k`, s8 range) for [`tile`] (`kpad` a multiple of 8) when every activation
/// is at least `x_min` and below `x_min + 256`: the tile multiplies `x' = x − zx − shift`
/// (with `shift = x_min + 128`, so x' fits i8), and since
/// `Σ (x − zx)·w = Σ x'·w + shift·Σ w`, the second term joins the requantization bias.
pub fn plan(w: &[i32], m: usize, k: usize, kpad: usize, x_min: i32, mut requant: Requant) -> (Packed, Requant) {
    let shift = x_min + 128;
    for (c, b) in requant.bias[..m].iter_mut().enumerate() {
        let sum = w[c * k..(c + 1) * k].iter().fold(0i32, |s, &v| s.wrapping_add(v));
        *b = b.wrapping_add(shift.wrapping_mul(sum));
    }
    let a = pack(w, m, k, kpad, MR, 4, |v| v as i8);
    (Packed::I8 { a, shift: shift as i16, cols: vec![0; kpad * 8] }, requant)
}

/// Converts the tile's `nt` i16 columns (`[nt][kpad]`, values x − zx) to i8 `x − zx − shift`
/// in the dot-product layout `[kpad / 4][8][4]`: column `j`'s k-quad `q` at `(q · 8 + j) · 4`
/// (slots `nt..8` are left as they are; no tile reads them).
///
/// Panics if a shifted value does not fit i8: the plan's `x_range` did not hold.
#[target_feature(enable = "neon")]
pub unsafe fn pack_cols(cols: &[i16], kpad: usize, nt: usize, shift: i16, out: &mut [i8]) {
    assert!(kpad % 8 == 0 && nt <= NR && cols.len() >= nt * kpad && out.len() >= kpad * 8);
    let s = vdupq_n_s16(shift);
    let (mut lo, mut hi) = (vdupq_n_s16(0), vdupq_n_s16(0));
    let o = out.as_mut_ptr();
    for j in 0..nt {
        for k0 in (0..kpad).step_by(8) {
            let v = vsubq_s16(vld1q_s16(cols.as_ptr().add(j * kpad + k0)), s);
            (lo, hi) = (vminq_s16(lo, v), vmaxq_s16(hi, v));
            let quads = vreinterpret_s32_s8(vmovn_s16(v));
            let q = k0 / 4;
            std::ptr::write_unaligned(o.add((q * 8 + j) * 4) as *mut i32, vget_lane_s32::<0>(quads));
            std::ptr::write_unaligned(o.add(((q + 1) * 8 + j) * 4) as *mut i32, vget_lane_s32::<1>(quads));
        }
    }
    assert!(vminvq_s16(lo) >= -128 && vmaxvq_s16(hi) <= 127, "GEMM activations outside the planned range");
}

/// `acc` lane `l` += Σ_i `w[4l + i] · x[4L + i]` (s8 products): `sdot` by element `L`. Inline
/// assembly because the dot-product intrinsics are not stable Rust.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn sdot<const L: i32>(mut acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    asm!(
        "sdot {acc:v}.4s, {w:v}.16b, {x:v}.4b[{l}]",
        acc = inout(vreg) acc,
        w = in(vreg) w,
        x = in(vreg) x,
        l = const L,
        options(pure, nomem, nostack, preserves_flags)
    );
    acc
}

/// Adds one k-quad of column `j` (element `L` of `x`) to its 16 channels, if `j < N`.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn column<const L: i32, const N: usize>(acc: &mut Acc<N>, j: usize, w: &[int8x16_t; 4], x: int8x16_t) {
    if j < N {
        for (a, &w) in acc[j].iter_mut().zip(w) {
            *a = sdot::<L>(*a, w, x);
        }
    }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn accumulate<const N: usize>(t: &Tile<i8>) -> Acc<N> {
    debug_assert!(t.kpad % 4 == 0 && t.a.len() >= t.kpad * MR && t.cols.len() >= t.kpad * 8);
    let mut acc = [[vdupq_n_s32(0); 4]; N];
    let (a, cols) = (t.a.as_ptr(), t.cols.as_ptr());
    for q in 0..t.kpad / 4 {
        let w: [int8x16_t; 4] = std::array::from_fn(|g| vld1q_s8(a.add((q * MR + 4 * g) * 4)));
        let (x0, x1) = (vld1q_s8(cols.add(q * 32)), vld1q_s8(cols.add(q * 32 + 16)));
        column::<0, N>(&mut acc, 0, &w, x0);
        column::<1, N>(&mut acc, 1, &w, x0);
        column::<2, N>(&mut acc, 2, &w, x0);
        column::<3, N>(&mut acc, 3, &w, x0);
        column::<0, N>(&mut acc, 4, &w, x1);
        column::<1, N>(&mut acc, 5, &w, x1);
    }
    acc
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn tile_n<const N: usize>(t: &Tile<i8>, dst: &mut [u8], ldo: usize) {
    store(t, &accumulate::<N>(t), dst, ldo);
}

/// Computes and stores one tile; `dst` starts at (first column, first channel). The packed
/// weights are `[kpad / 4][MR][4]` s8, the columns as [`pack_cols`] leaves them.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn tile(t: &Tile<i8>, dst: &mut [u8], ldo: usize) {
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
