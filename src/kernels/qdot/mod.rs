//! Exact int8 matrix product for layers with few output channels (≤ [`MAX_M`]), such as a
//! single-map head (8 → 1 channels, 3×3): `out[j, c] = requant_c(Σ_k (x[j, k] − zx) ·
//! (w[c, k] − zw_c))`, each output a dot product vectorised along K (AVX2, NEON, armv7
//! NEON). The tiled GEMM ([`super::qgemm`]) vectorises along output channels in blocks of 16
//! and would compute 15 wasted channels of every block here.
//!
//! Same contract as [`super::qgemm::QGemm`]: operands are widened to i16 with their zero points
//! subtracted, `fill(j, dst)` writes column `j`'s K inputs, outputs go channel-contiguous
//! (element `(j, c)` at `j · ldo + c`), and the shared per-channel epilogue requantizes.
//! A single-channel layer with outputs side by side (`ldo == 1`, a one-map head) requantizes
//! [`RUN`] outputs at once, as that many channels of one repeated channel's parameters, with
//! the epilogue's SIMD code instead of one scalar rounding per output.
//! Tested with the GEMM, against the same reference (`qgemm/tests.rs`).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "arm")]
mod neon32;
mod scalar;

use super::column_runs::{ColumnRuns, Gather};
use super::isa::Isa;
use super::requant::Requant;

/// Largest output-channel count the dot-product kernel takes.
pub const MAX_M: usize = 4;
/// K is padded to a multiple of this (i16 lanes of one AVX2 vector, two NEON vectors).
pub const KB: usize = 16;
/// Columns gathered per kernel call.
pub const NB: usize = 8;
/// Outputs of a single-channel product requantized together (a multiple of [`NB`]).
pub const RUN: usize = Requant::PAD;

/// A planned few-channel int8 product.
pub struct QDot {
    m: usize,
    k: usize,
    /// K rounded up to [`KB`].
    kpad: usize,
    /// `[m][kpad]` i16: `w − zw`, zero padded.
    w: Vec<i16>,
    requant: Requant,
    /// One channel's parameters repeated [`RUN`] times (`m == 1`).
    single: Option<Requant>,
    /// [`NB`] columns of `kpad` values (`x − zx`); the padding stays zero.
    cols: Vec<i16>,
    isa: Isa,
}

impl QDot {
    /// Plans the product for weights `w` (`m x k` row-major, zero points already subtracted,
    /// each in [-255, 255]), `m ≤ MAX_M`.
    pub fn new(w: &[i32], m: usize, k: usize, requant: Requant, isa: Isa) -> QDot {
        assert!(m <= MAX_M && w.len() == m * k && requant.channels() == m);
        let kpad = k.next_multiple_of(KB).max(KB);
        let mut packed = vec![0i16; m * kpad];
        for c in 0..m {
            for kk in 0..k {
                packed[c * kpad + kk] = w[c * k + kk] as i16;
            }
        }
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => Isa::Neon32,
            _ => Isa::Scalar,
        };
        let single = (m == 1).then(|| requant.repeated(RUN));
        QDot { m, k, kpad, w: packed, requant, single, cols: vec![0; NB * kpad], isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Computes `n` output columns; see [`super::qgemm::QGemm::run`] for `fill`, `out` and
    /// `ldo`.
    pub fn run(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [i16]), out: &mut [u8], ldo: usize) {
        let (kpad, k) = (self.kpad, self.k);
        // Taken for the loop (no allocation) so the blocks can borrow the plan.
        let mut cols = std::mem::take(&mut self.cols);
        let this = &*self;
        this.blocks(n, out, ldo, |j0, nt, accs| {
            for j in 0..nt {
                fill(j0 + j, &mut cols[j * kpad..j * kpad + k]);
            }
            this.dots(&Block { w: &this.w, cols: &cols[..nt * kpad], kpad, m: this.m, gather: None }, accs);
        });
        self.cols = cols;
    }

    /// Whether [`QDot::run_gathered`] can read columns in place (AVX2, scalar).
    pub fn takes_gathered(&self) -> bool {
        matches!(self.isa, Isa::Avx2 | Isa::Scalar)
    }

    /// Like [`QDot::run`], with every column read in place from `src`; see
    /// [`super::qgemm::QGemm::run_gathered`]. Needs [`QDot::takes_gathered`].
    pub fn run_gathered(
        &mut self,
        n: usize,
        src: &[i16],
        start: impl Fn(usize) -> usize,
        runs: ColumnRuns,
        out: &mut [u8],
        ldo: usize,
    ) {
        assert!(self.takes_gathered(), "the {} dot products do not read columns in place", self.isa.name());
        runs.assert_pairs(self.k);
        self.blocks(n, out, ldo, |j0, nt, accs| {
            let gather = Some(Gather::new(j0, nt, &start, runs, src.len()));
            self.dots(&Block { w: &self.w, cols: src, kpad: self.kpad, m: self.m, gather }, accs);
        });
    }

    /// `accs[j]` for the block's columns, on the plan's ISA.
    fn dots(&self, block: &Block, accs: &mut [[i32; MAX_M]]) {
        match self.isa {
            // SAFETY: AVX2 was detected when the plan chose this ISA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::dots(block, accs) },
            // SAFETY: NEON was detected when the plan chose this ISA.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::dots(block, accs) },
            // SAFETY: NEON was detected when the plan chose this ISA.
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => unsafe { neon32::dots(block, accs) },
            _ => scalar::dots(block, accs),
        }
    }

    /// Runs `compute(j0, nt, accs)` over blocks of up to [`NB`] columns and requantizes each
    /// block's accumulators into `out`.
    fn blocks(&self, n: usize, out: &mut [u8], ldo: usize, mut compute: impl FnMut(usize, usize, &mut [[i32; MAX_M]])) {
        let size = self.requant.out.size();
        assert!(n == 0 || ((n - 1) * ldo + self.m) * size <= out.len(), "product output buffer too small");
        let m = self.m;
        let mut accs = [[0i32; MAX_M]; NB];
        // Side-by-side single-channel outputs, gathered for one requantization per RUN.
        let single = self.single.as_ref().filter(|_| ldo == 1);
        let mut run = [0i32; RUN];
        let mut j0 = 0;
        while j0 < n {
            let nt = NB.min(n - j0);
            compute(j0, nt, &mut accs[..nt]);
            if let Some(r) = single {
                // j0 is a multiple of NB until the last block.
                let at = j0 % RUN;
                for (dst, acc) in run[at..at + nt].iter_mut().zip(&accs[..nt]) {
                    *dst = acc[0];
                }
                let filled = at + nt;
                if filled == RUN || j0 + nt == n {
                    let first = j0 + nt - filled;
                    r.store_pixel(self.isa, &run[..filled], &mut out[first * size..(first + filled) * size]);
                }
            } else {
                for (j, acc) in accs[..nt].iter().enumerate() {
                    let o = (j0 + j) * ldo * size;
                    self.requant.store(0, &acc[..m], &mut out[o..o + m * size]);
                }
            }
            j0 += nt;
        }
    }
}

/// One block of columns and the weights.
pub(crate) struct Block<'a> {
    /// `[m][kpad]`.
    w: &'a [i16],
    /// `nt` columns of `kpad` values, or the source `gather` reads them from in place.
    cols: &'a [i16],
    kpad: usize,
    m: usize,
    /// Columns read in place (the AVX2 and scalar kernels; see [`QDot::run_gathered`]).
    gather: Option<Gather<'a, NB>>,
}
