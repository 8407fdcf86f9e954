//! Exact int8 matrix product with per-output-channel requantization fused into the tile
//! epilogue: `out[j, c] = requant_c(Σ_k (x[j, k] − zx) · (w[c, k] − zw_c))`.
//!
//! Operands are widened to i16 with their zero points subtracted (weights once at plan
//! time, activations per column tile), so every product and pair sum is exact whatever the
//! zero points and signedness (u8/s8 activations, s8/u8 weights). The micro-kernel computes
//! a tile of [`MR`] output channels by up to [`NR`] columns (output pixels) — 8 by 4 on
//! armv7 NEON, which has half the registers ([`tile_shape`]) — from i16 pairs (`vpmaddwd`
//! on AVX2) or single i16 weights times a column lane (`vmlal_laneq_s16` on NEON,
//! `vmlal.s16` by scalar on armv7) — or, with ARMv8.2's dot product, from i8 quads (`sdot`)
//! when the weights fit s8 and the activations a shifted s8 — keeps the i32 accumulators in
//! registers over all of K, and requantizes them while they are hot. Outputs are written
//! channel-contiguous (NHWC): element `(j, c)` at `j · ldo + c`.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "arm")]
mod neon32;
#[cfg(target_arch = "aarch64")]
mod neondot;
mod scalar;

use super::column_runs::{ColumnRuns, Gather};
use super::isa::Isa;
use super::requant::Requant;
use std::ops::RangeInclusive;

/// Output channels per micro-tile (every ISA but armv7 NEON: see [`tile_shape`]).
pub const MR: usize = 16;
/// Columns (output pixels) per micro-tile (every ISA but armv7 NEON).
pub const NR: usize = 6;

/// The micro-tile of `isa`: output channels × columns.
fn tile_shape(isa: Isa) -> (usize, usize) {
    match isa {
        #[cfg(target_arch = "arm")]
        Isa::Neon32 => (neon32::MR, neon32::NR),
        _ => (MR, NR),
    }
}

/// A planned int8 GEMM: packed weights, requantization parameters, and the column buffer
/// for one tile of activations.
pub struct QGemm {
    m: usize,
    k: usize,
    /// K rounded up to a multiple of the ISA's K step ([`k_step`]).
    kpad: usize,
    /// The ISA's micro-tile, channels × columns ([`tile_shape`]).
    mr: usize,
    nr: usize,
    a: Packed,
    requant: Requant,
    /// `nr` columns of `kpad` i16 values (x − zx), zero padded.
    cols: Vec<i16>,
    isa: Isa,
}

/// Weights packed for the plan's ISA: `[m / mr][kpad / g][mr][g]` (`mr` the tile's
/// channels), (w − zw) in groups of `g` = [`k_group`] consecutive k per channel.
enum Packed {
    /// Scalar and AVX2 (`g` = 2, pairs), NEON (`g` = 1: 16 channels contiguous per k),
    /// armv7 NEON (`g` = 1: 8 channels contiguous per k).
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
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => Isa::Neon32,
            _ => Isa::Scalar,
        };
        let (kpad, g) = (k.next_multiple_of(k_step(isa)), k_group(isa));
        let (mr, nr) = tile_shape(isa);
        let (a, requant) = match isa {
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => neondot::plan(w, m, k, kpad, *x_range.start(), requant),
            _ => (Packed::I16(pack(w, m, k, kpad, mr, g, |v| v as i16)), requant),
        };
        QGemm { m, k, kpad, mr, nr, a, requant, cols: vec![0; nr * kpad], isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The micro-tile: output channels × columns.
    pub fn tile_shape(&self) -> (usize, usize) {
        (self.mr, self.nr)
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Output channels.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Bytes per output element.
    pub fn out_size(&self) -> usize {
        self.requant.out.size()
    }

    /// Computes `n` output columns. `fill(j, dst)` writes column `j`'s `k` inputs (already
    /// minus the input zero point, within the plan's `x_range`) into `dst`; column `j`
    /// channel `c` is stored at element `j * ldo + c` of `out` (bytes of the output type).
    pub fn run(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [i16]), out: &mut [u8], ldo: usize) {
        self.check_out(n, out, ldo);
        let kpad = self.kpad;
        // Taken for the loop (no allocation) so `tiles` can borrow the plan mutably.
        let mut cols = std::mem::take(&mut self.cols);
        let mut j0 = 0;
        while j0 < n {
            let nt = self.nr.min(n - j0);
            for j in 0..nt {
                let col = &mut cols[j * kpad..(j + 1) * kpad];
                fill(j0 + j, &mut col[..self.k]);
                col[self.k..].fill(0);
            }
            self.tiles(j0, nt, &cols, None, out, ldo);
            j0 += nt;
        }
        self.cols = cols;
    }

    /// Whether [`QGemm::run_columns`] can take `k` contiguous values per column: the ISA's K
    /// step divides `k`, so no column needs zero padding.
    pub fn takes_columns(&self) -> bool {
        self.kpad == self.k
    }

    /// Like [`QGemm::run`], with every column already widened: column `j` is
    /// `cols[j * k..(j + 1) * k]` (minus the input zero point, within the plan's `x_range`).
    /// Needs [`QGemm::takes_columns`].
    pub fn run_columns(&mut self, n: usize, cols: &[i16], out: &mut [u8], ldo: usize) {
        assert!(self.takes_columns(), "K = {} is not a whole number of K steps", self.k);
        assert!(cols.len() >= n * self.k, "{} widened values for {n} columns of {}", cols.len(), self.k);
        self.check_out(n, out, ldo);
        let (k, nr) = (self.k, self.nr);
        let whole = n / nr * nr;
        for j0 in (0..whole).step_by(nr) {
            self.tiles(j0, nr, &cols[j0 * k..(j0 + nr) * k], None, out, ldo);
        }
        if whole < n {
            // A last partial tile goes through the column buffer: some tiles read all `nr`
            // columns (armv7), which `cols` may not have past `n`.
            let mut buf = std::mem::take(&mut self.cols);
            buf[..(n - whole) * k].copy_from_slice(&cols[whole * k..n * k]);
            self.tiles(whole, n - whole, &buf, None, out, ldo);
            self.cols = buf;
        }
    }

    /// Whether [`QGemm::run_gathered`] can read this product's columns in place: the tile
    /// takes K in pairs (AVX2, scalar) and K is a whole number of them.
    pub fn takes_gathered(&self) -> bool {
        matches!(self.a, Packed::I16(_)) && k_group(self.isa) == 2 && self.kpad == self.k
    }

    /// Like [`QGemm::run`], with every column read in place from `src` instead of copied:
    /// column `j` is the runs of `runs` from `start(j)` on (values minus the input zero point,
    /// within the plan's `x_range`). Runs hold whole K pairs. Needs
    /// [`QGemm::takes_gathered`].
    pub fn run_gathered(
        &mut self,
        n: usize,
        src: &[i16],
        start: impl Fn(usize) -> usize,
        runs: ColumnRuns,
        out: &mut [u8],
        ldo: usize,
    ) {
        assert!(self.takes_gathered(), "the {} tile does not read columns in place", self.isa.name());
        runs.assert_pairs(self.k);
        self.check_out(n, out, ldo);
        for j0 in (0..n).step_by(self.nr) {
            let nt = self.nr.min(n - j0);
            let gather = Gather::new(j0, nt, &start, runs, src.len());
            self.tiles(j0, nt, src, Some(gather), out, ldo);
        }
    }

    fn check_out(&self, n: usize, out: &[u8], ldo: usize) {
        let size = self.requant.out.size();
        assert!(n == 0 || ((n - 1) * ldo + self.m) * size <= out.len(), "GEMM output buffer too small");
    }

    /// Columns `j0..j0 + nt` (`nt ≤ nr`) through every channel block: the first `nt` columns
    /// of `kpad` values each of `cols`, or read in place from it as `gather` says.
    fn tiles(&mut self, j0: usize, nt: usize, cols: &[i16], gather: Option<Gather<NR>>, out: &mut [u8], ldo: usize) {
        let (m, kpad, mr, requant) = (self.m, self.kpad, self.mr, &self.requant);
        let size = requant.out.size();
        #[cfg(target_arch = "aarch64")]
        if let Packed::I8 { shift, cols: packed, .. } = &mut self.a {
            // SAFETY: NEON was detected when the plan chose NeonDot.
            unsafe { neondot::pack_cols(cols, kpad, nt, *shift, packed) };
        }
        for blk in 0..m.div_ceil(mr) {
            let dst = &mut out[(j0 * ldo + blk * mr) * size..];
            match &self.a {
                Packed::I16(a) => {
                    let tile = Tile { gather, ..Tile::new(a, cols, blk, mr, kpad, nt, requant) };
                    match self.isa {
                        // SAFETY: AVX2 was detected when the plan chose this ISA.
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2 => unsafe { avx2::tile(&tile, dst, ldo) },
                        // SAFETY: NEON was detected when the plan chose this ISA.
                        #[cfg(target_arch = "aarch64")]
                        Isa::Neon => unsafe { neon::tile(&tile, dst, ldo) },
                        // SAFETY: NEON with 32 double registers was detected when the plan
                        // chose this ISA.
                        #[cfg(target_arch = "arm")]
                        Isa::Neon32 => unsafe { neon32::tile(&tile, dst, ldo) },
                        _ => scalar::tile(&tile, dst, ldo),
                    }
                }
                // SAFETY: NEON and the dot product were detected when the plan chose
                // NeonDot.
                #[cfg(target_arch = "aarch64")]
                Packed::I8 { a, cols, .. } => unsafe {
                    neondot::tile(&Tile::new(a, cols, blk, mr, kpad, nt, requant), dst, ldo)
                },
            }
        }
    }
}

/// Packs `w` (`m x k`) as `[m / mr][kpad / g][mr][g]`, zero padded, converting with `to`.
fn pack<T: Copy + Default>(
    w: &[i32],
    m: usize,
    k: usize,
    kpad: usize,
    mr: usize,
    g: usize,
    to: impl Fn(i32) -> T,
) -> Vec<T> {
    let mut a = vec![T::default(); m.div_ceil(mr) * kpad * mr];
    for c in 0..m {
        let (blk, ci) = (c / mr, c % mr);
        for kk in 0..k {
            a[((blk * (kpad / g) + kk / g) * mr + ci) * g + kk % g] = to(w[c * k + kk]);
        }
    }
    a
}

/// The multiple of K that a micro-tile of `isa` consumes per step (columns and weights are
/// zero padded to it): a pair for `vpmaddwd` and the scalar tile, one 8-lane i16 column
/// load for NEON (all three variants).
fn k_step(isa: Isa) -> usize {
    match isa {
        Isa::Neon | Isa::NeonDot | Isa::Neon32 => 8,
        _ => 2,
    }
}

/// Consecutive k values stored together per channel in the packed weights of `isa`.
fn k_group(isa: Isa) -> usize {
    match isa {
        Isa::Neon | Isa::Neon32 => 1,
        Isa::NeonDot => 4,
        _ => 2,
    }
}

/// One micro-tile's operands: i16 for the scalar, AVX2 and NEON tiles, i8 for NEON's dot
/// product.
pub(crate) struct Tile<'a, T = i16> {
    /// This channel block's packed weights: `[kpad / g][mr][g]` (see [`Packed`]).
    a: &'a [T],
    /// `nt` columns of `kpad` values, then whatever the column buffer holds up to its `nr`
    /// columns (the dot-product tile: `[kpad / 4][8][4]`).
    cols: &'a [T],
    kpad: usize,
    nt: usize,
    c0: usize,
    /// Valid channels in this block (≤ mr).
    channels: usize,
    requant: &'a Requant,
    /// Columns read in place from `cols` (the AVX2 and scalar tiles; see
    /// [`QGemm::run_gathered`]); `None`: column `j` is `cols[j * kpad..]`.
    gather: Option<Gather<'a, NR>>,
}

impl<'a, T> Tile<'a, T> {
    /// Channel block `blk` (of `mr` channels) of the packed weights `a` against `cols`; the
    /// product has `requant.channels()` channels.
    fn new(a: &'a [T], cols: &'a [T], blk: usize, mr: usize, kpad: usize, nt: usize, requant: &'a Requant) -> Self {
        let c0 = blk * mr;
        let channels = mr.min(requant.channels() - c0);
        Tile { a: &a[c0 * kpad..(c0 + mr) * kpad], cols, kpad, nt, c0, channels, requant, gather: None }
    }
}

#[cfg(test)]
mod tests;
