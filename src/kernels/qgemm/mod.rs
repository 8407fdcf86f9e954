//! Exact int8 matrix product with per-output-channel requantization fused into the tile
//! epilogue: `out[j, c] = requant_c(Σ_k (x[j, k] − zx) · (w[c, k] − zw_c))`.
//!
//! Operands are widened to i16 with their zero points subtracted (weights once at plan
//! time, activations per column tile), so every product and pair sum is exact whatever the
//! zero points and signedness (u8/s8 activations, s8/u8 weights). The micro-kernel computes
//! a tile of [`MR`] output channels by up to [`NR`] columns (output pixels) from i16 pairs
//! (`vpmaddwd` on AVX2) or single i16 weights times a column lane (`vmlal_laneq_s16` on
//! NEON) — or, with ARMv8.2's dot product, from i8 quads (`sdot`) when the weights fit s8
//! and the activations a shifted s8 — keeps the i32 accumulators in registers over all of K, and
//! requantizes them while they are hot. Outputs are written channel-contiguous (NHWC):
//! element `(j, c)` at `j · ldo + c`.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
mod neondot;
mod scalar;

use super::isa::Isa;
use super::requant::Requant;
use std::ops::RangeInclusive;

/// Output channels per micro-tile.
pub const MR: usize = 16;
/// Columns (output pixels) per micro-tile.
pub const NR: usize = 6;

/// A planned int8 GEMM: packed weights, requantization parameters, and the column buffer
/// for one tile of activations.
pub struct QGemm {
    m: usize,
    k: usize,
    /// K rounded up to a multiple of the ISA's K step ([`k_step`]).
    kpad: usize,
    a: Packed,
    requant: Requant,
    /// `NR` columns of `kpad` i16 values (x − zx), zero padded.
    cols: Vec<i16>,
    isa: Isa,
}

/// Weights packed for the plan's ISA: `[m / MR][kpad / g][MR][g]`, (w − zw) in groups of
/// `g` = [`k_group`] consecutive k per channel.
enum Packed {
    /// Scalar and AVX2 (`g` = 2, pairs), NEON (`g` = 1: 16 channels contiguous per k).
    I16(Vec<i16>),
    /// NEON dot product (`g` = 4, s8), for s8-range weights and activations spanning at
    /// most 256 values: the tile multiplies `x − zx − shift` (in i8; `cols` holds one tile
    /// of them, laid out `[kpad / 4][8][4]`), and `shift · Σ_k w` is folded into the bias
    /// (see `neondot::plan`).
    #[cfg(target_arch = "aarch64")]
    I8 { a: Vec<i8>, shift: i16, cols: Vec<i8> },
}

impl QGemm {
    /// Plans the product for weights `w` (`m x k` row-major, zero points already subtracted,
    /// each in [-255, 255]). Every activation value `fill` will write (see [`QGemm::run`])
    /// lies in `x_range`; with s8-range weights and a range of at most 256 values, NEON's
    /// dot-product tile can run.
    pub fn new(w: &[i32], m: usize, k: usize, x_range: RangeInclusive<i32>, requant: Requant, isa: Isa) -> QGemm {
        assert_eq!(w.len(), m * k);
        assert_eq!(requant.channels(), m);
        assert!(-255 <= *x_range.start() && *x_range.end() <= 255, "activations beyond [-255, 255]");
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot if x_range.end() - x_range.start() <= 255 && w.iter().all(|v| (-128..=127).contains(v)) => {
                Isa::NeonDot
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            _ => Isa::Scalar,
        };
        let (kpad, g) = (k.next_multiple_of(k_step(isa)), k_group(isa));
        let (a, requant) = match isa {
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => neondot::plan(w, m, k, kpad, *x_range.start(), requant),
            _ => (Packed::I16(pack(w, m, k, kpad, g, |v| v as i16)), requant),
        };
        QGemm { m, k, kpad, a, requant, cols: vec![0; NR * kpad], isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Computes `n` output columns. `fill(j, dst)` writes column `j`'s `k` inputs (already
    /// minus the input zero point, within the plan's `x_range`) into `dst`; column `j`
    /// channel `c` is stored at element `j * ldo + c` of `out` (bytes of the output type).
    pub fn run(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [i16]), out: &mut [u8], ldo: usize) {
        let size = self.requant.out.size();
        assert!(n == 0 || ((n - 1) * ldo + self.m) * size <= out.len(), "GEMM output buffer too small");
        let (m, kpad, requant) = (self.m, self.kpad, &self.requant);
        let mut j0 = 0;
        while j0 < n {
            let nt = NR.min(n - j0);
            for j in 0..nt {
                let col = &mut self.cols[j * kpad..(j + 1) * kpad];
                fill(j0 + j, &mut col[..self.k]);
                col[self.k..].fill(0);
            }
            #[cfg(target_arch = "aarch64")]
            if let Packed::I8 { shift, cols, .. } = &mut self.a {
                // SAFETY: NEON was detected when the plan chose NeonDot.
                unsafe { neondot::pack_cols(&self.cols, kpad, nt, *shift, cols) };
            }
            for blk in 0..m.div_ceil(MR) {
                let dst = &mut out[(j0 * ldo + blk * MR) * size..];
                match &self.a {
                    Packed::I16(a) => {
                        let tile = Tile::new(a, &self.cols, blk, kpad, nt, m, requant);
                        match self.isa {
                            // SAFETY: AVX2 was detected when the plan chose this ISA.
                            #[cfg(target_arch = "x86_64")]
                            Isa::Avx2 => unsafe { avx2::tile(&tile, dst, ldo) },
                            // SAFETY: NEON was detected when the plan chose this ISA.
                            #[cfg(target_arch = "aarch64")]
                            Isa::Neon => unsafe { neon::tile(&tile, dst, ldo) },
                            _ => scalar::tile(&tile, dst, ldo),
                        }
                    }
                    // SAFETY: NEON and the dot product were detected when the plan chose
                    // NeonDot.
                    #[cfg(target_arch = "aarch64")]
                    Packed::I8 { a, cols, .. } => unsafe {
                        neondot::tile(&Tile::new(a, cols, blk, kpad, nt, m, requant), dst, ldo)
                    },
                }
            }
            j0 += nt;
        }
    }
}

/// Packs `w` (`m x k`) as `[m / MR][kpad / g][MR][g]`, zero padded, converting with `to`.
fn pack<T: Copy + Default>(w: &[i32], m: usize, k: usize, kpad: usize, g: usize, to: impl Fn(i32) -> T) -> Vec<T> {
    let mut a = vec![T::default(); m.div_ceil(MR) * kpad * MR];
    for c in 0..m {
        let (blk, ci) = (c / MR, c % MR);
        for kk in 0..k {
            a[((blk * (kpad / g) + kk / g) * MR + ci) * g + kk % g] = to(w[c * k + kk]);
        }
    }
    a
}

/// The multiple of K that a micro-tile of `isa` consumes per step (columns and weights are
/// zero padded to it): a pair for `vpmaddwd` and the scalar tile, one 8-lane i16 column
/// load for NEON (both variants).
fn k_step(isa: Isa) -> usize {
    match isa {
        Isa::Neon | Isa::NeonDot => 8,
        _ => 2,
    }
}

/// Consecutive k values stored together per channel in the packed weights of `isa`.
fn k_group(isa: Isa) -> usize {
    match isa {
        Isa::Neon => 1,
        Isa::NeonDot => 4,
        _ => 2,
    }
}

/// One micro-tile's operands: i16 for the scalar, AVX2 and NEON tiles, i8 for NEON's dot
/// product.
pub(crate) struct Tile<'a, T = i16> {
    /// This channel block's packed weights: `[kpad / g][MR][g]` (see [`Packed`]).
    a: &'a [T],
    /// `nt` columns of `kpad` values (the dot-product tile: `[kpad / 4][8][4]`).
    cols: &'a [T],
    kpad: usize,
    nt: usize,
    c0: usize,
    /// Valid channels in this block (≤ MR).
    channels: usize,
    requant: &'a Requant,
}

impl<'a, T> Tile<'a, T> {
    /// Channel block `blk` of the packed weights `a` (of `m` channels) against `cols`.
    fn new(a: &'a [T], cols: &'a [T], blk: usize, kpad: usize, nt: usize, m: usize, requant: &'a Requant) -> Self {
        let c0 = blk * MR;
        Tile { a: &a[c0 * kpad..(c0 + MR) * kpad], cols, kpad, nt, c0, channels: MR.min(m - c0), requant }
    }
}

#[cfg(test)]
mod tests;
