//! Bilinear sampling of an RGB8 image along a straight run of positions — one output row of
//! an affine warp — normalised to f32 and stored planar (NCHW) or interleaved (NHWC).
//!
//! Positions are in image pixels with pixel `(i, j)` centred at `(i, j)` (OpenCV's
//! convention). A run is meant to lie where all four taps of every sample are inside the
//! image, i.e. positions in `[0, width − 1] × [0, height − 1]`; positions outside are clamped
//! onto that rectangle, so no variant ever reads outside the image whatever the run (the
//! caller samples the zero border itself).
//!
//! Every variant computes the same positions, bit for bit: the run is cut into blocks of
//! [`BLOCK`] pixels, each block's first position is computed in f64 and split into an integer
//! anchor plus an f32 offset, and pixel `k` of the block sits at `offset + k·step` in f32
//! (a product and a sum, never fused). Relative to the anchor the f32 positions stay small:
//! pixel `k` is within `(3·k·|step| + 4)·2⁻²⁴` pixels of its exact position (≲ 1e−5 px for a
//! 2× downscale) wherever the run lies in a large image.
//! The bilinear sum `w00·tl + w01·tr + w10·bl + w11·br` is the only place the variants differ:
//! the SIMD ones fuse its multiply-adds, the scalar one rounds every product.
//!
//! AArch64 has a NEON variant; 32-bit ARM uses the scalar one (its NEON intrinsics are not
//! stable Rust).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use super::isa::Isa;

/// Pixels per block: positions are re-anchored in f64 at the start of every block. The
/// variants walk a block a vector (the scalar one, 8 pixels) at a time.
const BLOCK: usize = 32;

/// A packed RGB8 image (`width·3` bytes per row, no padding) a [`Sampler`] can read.
#[derive(Clone, Copy, Debug)]
pub struct Rgb8<'a> {
    pixels: &'a [u8],
    width: usize,
    height: usize,
}

impl<'a> Rgb8<'a> {
    /// `None` unless `pixels` holds exactly `width·height` RGB pixels, the image has at least
    /// 2×2 pixels (a bilinear sample has four distinct taps) and fewer than 2³¹ bytes (tap
    /// offsets are i32 in the SIMD variants).
    pub fn new(pixels: &'a [u8], width: usize, height: usize) -> Option<Rgb8<'a>> {
        let bytes = width.checked_mul(height)?.checked_mul(3)?;
        (width >= 2 && height >= 2 && bytes == pixels.len() && bytes <= i32::MAX as usize).then_some(Rgb8 {
            pixels,
            width,
            height,
        })
    }

    /// Bytes per image row.
    fn stride(&self) -> usize {
        self.width * 3
    }
}

/// `len` sample positions `start + j·step` (`j < len`), image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub start: [f64; 2],
    pub step: [f64; 2],
    pub len: usize,
}

/// How samples are normalised and where they go, indexed by **image** channel `s` (R, G, B):
/// the value `v` of channel `s` at pixel `j` of a run is stored as `(v − mean[s])·inv_std[s]`
/// at `out[j·pixel_stride + offset[s]]`. Planar output has `pixel_stride` 1 and offsets a
/// plane apart; interleaved output has `pixel_stride` 3 and offsets within `0..3`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Store {
    pub pixel_stride: usize,
    pub offset: [usize; 3],
    pub mean: [f32; 3],
    pub inv_std: [f32; 3],
}

impl Store {
    /// Normalises `rgb` (image channel order, 0..255 units) and stores it as pixel `j`.
    #[inline(always)]
    pub fn put(&self, out: &mut [f32], j: usize, rgb: [f32; 3]) {
        for (s, v) in rgb.into_iter().enumerate() {
            out[j * self.pixel_stride + self.offset[s]] = (v - self.mean[s]) * self.inv_std[s];
        }
    }

    /// Stores pixels `j..j + n` from `N` normalised lanes, `v[s][k]` being channel `s` of
    /// pixel `j + k` (the SIMD variants' partial blocks and uncommon layouts).
    #[inline(always)]
    pub fn write_lanes<const N: usize>(&self, out: &mut [f32], j: usize, v: &[[f32; N]; 3], n: usize) {
        for k in 0..n {
            for (s, v) in v.iter().enumerate() {
                out[(j + k) * self.pixel_stride + self.offset[s]] = v[k];
            }
        }
    }

    /// Whether pixels are stored as consecutive triples (`pixel_stride` 3, offsets a
    /// permutation of 0, 1, 2).
    pub fn is_interleaved(&self) -> bool {
        let mut o = self.offset;
        o.sort_unstable();
        self.pixel_stride == 3 && o == [0, 1, 2]
    }

    /// Floats a run of `len` pixels spans in `out`.
    fn span(&self, len: usize) -> usize {
        match len {
            0 => 0,
            _ => (len - 1) * self.pixel_stride + self.offset.iter().max().unwrap_or(&0) + 1,
        }
    }
}

/// One axis of one block: the integer anchor the block's positions are relative to, and
/// what turns a position into a tap index and weight.
#[derive(Clone, Copy, Debug)]
struct BlockAxis {
    /// Image coordinate, in `[0, size − 2]`, the positions below are relative to.
    anchor: i32,
    /// Position of the block's first pixel relative to `anchor` (pixels).
    first: f32,
    /// Position step from one pixel to the next (pixels).
    step: f32,
    /// Relative positions are clamped to `[lo, hi]`: the image's `[0, size − 1]`.
    lo: f32,
    hi: f32,
    /// Largest relative index of the first tap (`size − 2 − anchor`): a position on the last
    /// pixel centre samples it as the second tap with weight 1.
    last: i32,
}

impl BlockAxis {
    /// The axis of the block whose first position is `first` (image pixels, f64), stepping by
    /// `step`, in an image `size ≥ 2` pixels long on this axis.
    #[inline(always)]
    fn new(first: f64, step: f32, size: usize) -> BlockAxis {
        let last = size as i32 - 2;
        // Any integer near `first` will do (truncation, no floor needed); clamped so that
        // NaN or huge positions still give an anchor inside the image.
        let anchor = (first as i32).clamp(0, last);
        BlockAxis {
            anchor,
            first: (first - f64::from(anchor)) as f32,
            step,
            lo: -anchor as f32,
            hi: (last + 1 - anchor) as f32,
            last: last - anchor,
        }
    }
}

/// The block axes (x, y) of the block starting at pixel `j` of `run`.
#[inline(always)]
fn block_axes(image: &Rgb8<'_>, run: &Run, j: usize) -> [BlockAxis; 2] {
    let at = |a: usize| run.start[a] + j as f64 * run.step[a];
    [BlockAxis::new(at(0), run.step[0] as f32, image.width), BlockAxis::new(at(1), run.step[1] as f32, image.height)]
}

/// A bilinear run sampler for one instruction set.
#[derive(Clone, Copy, Debug)]
pub struct Sampler {
    isa: Isa,
}

impl Sampler {
    /// The sampler for `isa` (checked available by the caller, e.g. [`Isa::best`]); ISAs
    /// without a variant of their own use the nearest one: AVX2 for AVX-512, NEON for
    /// NEON + dot product, scalar elsewhere.
    pub fn new(isa: Isa) -> Sampler {
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            // No armv7 NEON code for this kernel.
            Isa::Neon32 => Isa::Scalar,
            _ => Isa::Scalar,
        };
        Sampler { isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Samples `run` from `image` into `out` as `store` says. Panics if `out` is shorter than
    /// the run's span (`(len − 1)·pixel_stride + max(offset) + 1` floats).
    pub fn sample(&self, image: Rgb8<'_>, run: &Run, store: &Store, out: &mut [f32]) {
        assert!(out.len() >= store.span(run.len), "run of {} pixels overflows its output", run.len);
        match self.isa {
            // SAFETY: AVX2 + FMA were checked available before the sampler was built for them;
            // `out` holds the run's span (asserted above).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::sample(image, run, store, out) },
            // SAFETY: as above, for NEON.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::sample(image, run, store, out) },
            _ => scalar::sample(image, run, store, out),
        }
    }
}

#[cfg(test)]
mod tests;
