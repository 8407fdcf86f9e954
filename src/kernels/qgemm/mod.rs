//! Exact int8 matrix product with per-output-channel requantization fused into the tile
//! epilogue: `out[j, c] = requant_c(Σ_k (x[j, k] − zx) · (w[c, k] − zw_c))`.
//!
//! Operands are widened to i16 with their zero points subtracted (weights once at plan
//! time, activations per column tile), so every product and pair sum is exact whatever the
//! zero points and signedness (u8/s8 activations, s8/u8 weights). The micro-kernel computes
//! a tile of [`MR`] output channels by up to [`NR`] columns (output pixels) from i16 pairs
//! (`vpmaddwd` on AVX2) or single i16 weights times a column lane (`vmlal_laneq_s16` on
//! NEON), keeps the i32 accumulators in registers over all of K, and
//! requantizes them while they are hot. Outputs are written channel-contiguous (NHWC):
//! element `(j, c)` at `j · ldo + c`.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use super::isa::Isa;
use super::requant::Requant;

/// Output channels per micro-tile.
pub const MR: usize = 16;
/// Columns (output pixels) per micro-tile.
pub const NR: usize = 6;

/// A planned int8 GEMM: weights packed as i16 pairs, requantization parameters, and the
/// column buffer for one tile of activations.
pub struct QGemm {
    m: usize,
    k: usize,
    /// K rounded up to a multiple of the ISA's K step ([`k_step`]).
    kpad: usize,
    /// `[m / MR][kpad / g][MR][g]` i16: (w − zw) in groups of `g` consecutive k per
    /// channel, `g` from [`k_group`] (2: pairs; 1: 16 channels contiguous per k).
    a: Vec<i16>,
    requant: Requant,
    /// `NR` columns of `kpad` i16 values (x − zx), zero padded.
    cols: Vec<i16>,
    isa: Isa,
}

impl QGemm {
    /// Plans the product for weights `w` (`m x k` row-major, zero points already subtracted,
    /// each in [-255, 255]).
    pub fn new(w: &[i32], m: usize, k: usize, requant: Requant, isa: Isa) -> QGemm {
        assert_eq!(w.len(), m * k);
        assert_eq!(requant.channels(), m);
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => Isa::Neon,
            _ => Isa::Scalar,
        };
        let (kpad, g) = (k.next_multiple_of(k_step(isa)), k_group(isa));
        let blocks = m.div_ceil(MR);
        let mut a = vec![0i16; blocks * kpad * MR];
        for c in 0..m {
            let (blk, ci) = (c / MR, c % MR);
            for kk in 0..k {
                a[((blk * (kpad / g) + kk / g) * MR + ci) * g + kk % g] = w[c * k + kk] as i16;
            }
        }
        QGemm { m, k, kpad, a, requant, cols: vec![0; NR * kpad], isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Computes `n` output columns. `fill(j, dst)` writes column `j`'s `k` inputs (already
    /// minus the input zero point) into `dst`; column `j` channel `c` is stored at element
    /// `j * ldo + c` of `out` (bytes of the output type).
    pub fn run(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [i16]), out: &mut [u8], ldo: usize) {
        let size = self.requant.out.size();
        assert!(n == 0 || ((n - 1) * ldo + self.m) * size <= out.len(), "GEMM output buffer too small");
        let kpad = self.kpad;
        let mut j0 = 0;
        while j0 < n {
            let nt = NR.min(n - j0);
            for j in 0..nt {
                let col = &mut self.cols[j * kpad..(j + 1) * kpad];
                fill(j0 + j, &mut col[..self.k]);
                col[self.k..].fill(0);
            }
            for blk in 0..self.m.div_ceil(MR) {
                let c0 = blk * MR;
                let a = &self.a[blk * kpad * MR..(blk + 1) * kpad * MR];
                let tile =
                    Tile { a, cols: &self.cols, kpad, nt, c0, channels: MR.min(self.m - c0), requant: &self.requant };
                let dst = &mut out[(j0 * ldo + c0) * size..];
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
            j0 += nt;
        }
    }
}

/// The multiple of K that a micro-tile of `isa` consumes per step (columns and weights are
/// zero padded to it): a pair for `vpmaddwd` and the scalar tile, one 8-lane column load
/// for NEON.
fn k_step(isa: Isa) -> usize {
    match isa {
        Isa::Neon => 8,
        _ => 2,
    }
}

/// Consecutive k values stored together per channel in the packed weights of `isa`.
fn k_group(isa: Isa) -> usize {
    match isa {
        Isa::Neon => 1,
        _ => 2,
    }
}

/// One micro-tile's operands.
pub(crate) struct Tile<'a> {
    /// This channel block's packed weights: `[kpad / g][MR][g]` (see [`QGemm::a`]).
    a: &'a [i16],
    /// `nt` columns of `kpad` values.
    cols: &'a [i16],
    kpad: usize,
    nt: usize,
    c0: usize,
    /// Valid channels in this block (≤ MR).
    channels: usize,
    requant: &'a Requant,
}

#[cfg(test)]
mod tests;
