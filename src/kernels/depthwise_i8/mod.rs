//! Direct int8 depthwise convolution, NHWC, exact: `acc[c] = Σ_taps (x − zx) · (w − zw_c)`
//! in i32, then the shared per-channel requantization epilogue. Any kernel size, stride,
//! dilation and asymmetric padding (padded taps contribute zero, i.e. the real value 0).
//!
//! Weights are packed at plan time as i16 tap pairs `(w[t], w[t+1])` per channel (a zero
//! tap completes an odd count) for the scalar kernel, and in the chosen SIMD kernel's own
//! layout (see [`pack_simd`]). AArch64 has a NEON kernel, 32-bit ARM an `asm!` NEON one
//! (whole 8-channel blocks; its NEON intrinsics are not stable Rust).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "arm")]
mod neon32;
mod scalar;

use super::depthwise_f32::Geometry;
use super::isa::Isa;
use super::requant::Requant;
use std::ops::Range;

/// Most taps (padded to whole pairs) a row kernel takes: 5×5 kernels.
const MAX_TAPS: usize = 26;

/// A planned int8 depthwise convolution.
pub struct DepthwiseI8 {
    pub geometry: Geometry,
    /// `[pairs][C][2]` i16, natural channel order (the scalar kernel).
    weights: Vec<i16>,
    /// The SIMD kernel's weights (empty for scalar): `[ceil(C / 16)][pairs * 32]` i16 blocks
    /// of 16 channels, laid out within a block by the ISA's `weight_at`; channels past `C`
    /// in the last block have zero weights.
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")), allow(dead_code))]
    weights_simd: Vec<i16>,
    /// For SIMD interior rows: `−zx · Σ_taps w` per channel, block by block in the ISA's
    /// `lane_slot` order, the input zero point's share of the accumulator when every tap is
    /// inside the input (not used by the armv7 kernel, which subtracts the zero point).
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
    row_init_simd: Vec<i32>,
    /// Interior pixels two at a time, for 8-channel layers (see [`PixelPairs`]).
    pixel_pairs: Option<PixelPairs>,
    requant: Requant,
    x_zero_point: i16,
    /// The input zero point as a raw input byte (what a border patch's padding holds), when
    /// the input type can hold it.
    pad_byte: Option<u8>,
    signed_input: bool,
    isa: Isa,
    /// Per tap, padded to whole pairs: a pixel's input offsets (`None`: padding).
    grid: Vec<Option<usize>>,
    /// The armv7 kernel's buffers (empty for other ISAs).
    #[cfg(target_arch = "arm")]
    neon32: neon32::Scratch,
}

/// An 8-channel layer's interior pixels two at a time: with stride 1 along x, the 16 input
/// bytes at a tap of pixel `ox` are that tap's 8 channels for `ox` and for `ox + 1`, and the
/// 16 output bytes of pixel `ox` are both pixels' outputs. So the 16-lane interior kernel
/// runs unchanged on a 16-channel layer whose lane `i` is channel `i % 8`, stepping two
/// pixels at a time — instead of half-empty blocks and partial stores, one pixel each.
struct PixelPairs {
    /// [`pack_simd`] weights of that 16-channel layer.
    weights: Vec<i16>,
    /// Its interior-row constants.
    row_init: Vec<i32>,
    /// The layer's requantization, repeated for the second pixel's lanes.
    requant: Requant,
}

impl PixelPairs {
    /// 8 channels, stride 1 along x, and a 16-lane interior kernel (AVX2, AArch64 NEON).
    fn applies(isa: Isa, g: &Geometry) -> bool {
        matches!(isa, Isa::Avx2 | Isa::Neon) && g.c == 8 && g.stride[1] == 1
    }
}

/// Packs `weights` (`[C][taps]`, zero points subtracted) for a SIMD kernel: 16-channel blocks
/// of `pairs * 32` i16 with tap `t` (< `2 * pairs`; taps past the kernel's are zero) of
/// channel `16b + i` at `b * pairs * 32 + weight_at(i, t)`, and the interior-row constants
/// `−zx · Σ_t w` with channel `16b + i` at `16b + lane_slot(i)`.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")), allow(dead_code))]
fn pack_simd(
    weights: &[i32],
    c: usize,
    taps: usize,
    x_zero_point: i32,
    weight_at: impl Fn(usize, usize) -> usize,
    lane_slot: fn(usize) -> usize,
) -> (Vec<i16>, Vec<i32>) {
    let pairs = taps.div_ceil(2);
    let blocks = c.div_ceil(16);
    let mut packed = vec![0i16; blocks * pairs * 32];
    let mut row_init = vec![0i32; blocks * 16];
    for ch in 0..c {
        let (b, i) = (ch / 16, ch % 16);
        let w = &weights[ch * taps..][..taps];
        for (t, &v) in w.iter().enumerate() {
            packed[b * pairs * 32 + weight_at(i, t)] = v as i16;
        }
        row_init[b * 16 + lane_slot(i)] = -x_zero_point * w.iter().sum::<i32>();
    }
    (packed, row_init)
}

impl DepthwiseI8 {
    /// Plans the convolution. `weights` are ONNX `[C, 1, kh, kw]` with zero points already
    /// subtracted (each in [-255, 255]).
    pub fn new(
        geometry: Geometry,
        weights: &[i32],
        requant: Requant,
        x_zero_point: i32,
        signed_input: bool,
        isa: Isa,
    ) -> DepthwiseI8 {
        let g = geometry;
        let taps = g.kh * g.kw;
        let pairs = taps.div_ceil(2);
        let w = |c: usize, t: usize| {
            if t < taps && c < g.c {
                weights[c * taps + t] as i16
            } else {
                0
            }
        };
        let mut packed = vec![0i16; pairs * g.c * 2];
        for p in 0..pairs {
            for c in 0..g.c {
                packed[(p * g.c + c) * 2] = w(c, 2 * p);
                packed[(p * g.c + c) * 2 + 1] = w(c, 2 * p + 1);
            }
        }
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            // The armv7 kernel subtracts the zero point as a byte of the input type.
            #[cfg(target_arch = "arm")]
            Isa::Neon32 if (if signed_input { -128..=127 } else { 0..=255 }).contains(&x_zero_point) => Isa::Neon32,
            _ => Isa::Scalar,
        };
        let pack = |weights: &[i32], c: usize| match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => pack_simd(weights, c, taps, x_zero_point, avx2::weight_at, avx2::lane_slot),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => pack_simd(weights, c, taps, x_zero_point, neon::weight_at, |i| i),
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => {
                let weight_at = |i, t| neon32::weight_at(pairs, i, t);
                (pack_simd(weights, c, taps, x_zero_point, weight_at, |i| i).0, Vec::new())
            }
            _ => (Vec::new(), Vec::new()),
        };
        let (weights_simd, row_init_simd) = pack(weights, g.c);
        let pixel_pairs = PixelPairs::applies(isa, &g).then(|| {
            let twice: Vec<i32> = (0..16).flat_map(|i| weights[(i % 8) * taps..][..taps].iter().copied()).collect();
            let (weights, row_init) = pack(&twice, 16);
            PixelPairs { weights, row_init, requant: requant.repeated(2) }
        });
        DepthwiseI8 {
            geometry: g,
            weights: packed,
            weights_simd,
            row_init_simd,
            pixel_pairs,
            requant,
            x_zero_point: x_zero_point as i16,
            pad_byte: match signed_input {
                true => i8::try_from(x_zero_point).ok().map(|v| v as u8),
                false => u8::try_from(x_zero_point).ok(),
            },
            signed_input,
            isa,
            grid: vec![None; pairs * 2],
            #[cfg(target_arch = "arm")]
            neon32: if isa == Isa::Neon32 {
                neon32::Scratch::new(g.c, pairs, x_zero_point as i16)
            } else {
                neon32::Scratch::default()
            },
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Arena scratch [`DepthwiseI8::run`] takes for geometry `g`, bytes: one border patch
    /// (see [`DepthwiseI8::run`]) as wide as a whole output row, and 16 bytes for the
    /// kernels' whole-vector loads.
    pub fn scratch_bytes(g: &Geometry) -> usize {
        let (rows, cols) = Self::patch_extent(g, g.ow);
        rows * cols * g.c + 16
    }

    /// Input rows and columns a patch for `pixels` output pixels of one row spans.
    fn patch_extent(g: &Geometry, pixels: usize) -> (usize, usize) {
        ((g.kh - 1) * g.dilation[0] + 1, (pixels.max(1) - 1) * g.stride[1] + (g.kw - 1) * g.dilation[1] + 1)
    }

    /// Convolves one NHWC image `x` (`h * w * c` bytes, u8 or i8) into `y` (`oh * ow * c`
    /// elements of the requantization's output type, as bytes). Interior pixels read `x`
    /// directly; border pixels read a patch of `x` copied into `scratch` with the padding
    /// filled with the zero point (a real 0), so the same row kernels compute them. With
    /// less scratch than [`DepthwiseI8::scratch_bytes`], or without a row kernel for this
    /// ISA and size, border pixels go one by one.
    pub fn run(&mut self, x: &[u8], y: &mut [u8], scratch: &mut [u8]) {
        let g = self.geometry;
        let size = self.requant.out.size();
        assert!(x.len() >= g.h * g.w * g.c && y.len() >= g.oh * g.ow * g.c * size);
        let (rows, cols) = g.interior();
        for oy in 0..g.oh {
            if rows.contains(&oy) && !cols.is_empty() {
                self.border(x, y, oy, 0..cols.start, scratch);
                // Tap (0, 0) of the row's first pixel, inside the input.
                let iy = oy * g.stride[0] - g.pad_tl[0];
                let ix = cols.start * g.stride[1] - g.pad_tl[1];
                let mut offsets = [0usize; MAX_TAPS];
                let offsets = self.tap_offsets((iy * g.w + ix) * g.c, g.w, &mut offsets);
                if !self.row(x, offsets, y, oy, cols.clone()) {
                    self.pixels(x, y, oy, cols.clone());
                }
                self.border(x, y, oy, cols.end..g.ow, scratch);
            } else {
                self.border(x, y, oy, 0..g.ow, scratch);
            }
        }
    }

    /// Border pixels `span` of row `oy` through a zero-point-filled patch of `x` in `scratch`.
    fn border(&mut self, x: &[u8], y: &mut [u8], oy: usize, span: Range<usize>, scratch: &mut [u8]) {
        if span.is_empty() {
            return;
        }
        let g = self.geometry;
        let (prows, pcols) = Self::patch_extent(&g, span.len());
        let bytes = prows * pcols * g.c;
        let room = bytes + 16 <= scratch.len() && self.grid.len() <= MAX_TAPS;
        let Some(pad) = self.pad_byte.filter(|_| room) else {
            return self.pixels(x, y, oy, span);
        };
        // Patch pixel (r, col) is input pixel (iy0 + r, ix0 + col), or padding.
        let iy0 = (oy * g.stride[0]) as isize - g.pad_tl[0] as isize;
        let ix0 = (span.start * g.stride[1]) as isize - g.pad_tl[1] as isize;
        let (c, w) = (g.c, g.w as isize);
        for (r, dst) in scratch[..bytes].chunks_exact_mut(pcols * c).enumerate() {
            let iy = iy0 + r as isize;
            if iy < 0 || iy >= g.h as isize {
                dst.fill(pad);
                continue;
            }
            // Patch columns a..b hold input columns ix0 + a .. ix0 + b, inside the image.
            let a = (-ix0).clamp(0, pcols as isize);
            let b = (w - ix0).clamp(a, pcols as isize);
            let (left, inside) = (a as usize * c, (b - a) as usize * c);
            dst[..left].fill(pad);
            if inside > 0 {
                let from = (iy as usize * g.w + (ix0 + a) as usize) * c;
                dst[left..left + inside].copy_from_slice(&x[from..from + inside]);
            }
            dst[left + inside..].fill(pad);
        }
        let mut offsets = [0usize; MAX_TAPS];
        let offsets = self.tap_offsets(0, pcols, &mut offsets);
        if !self.row(&scratch[..bytes + 16], offsets, y, oy, span.clone()) {
            self.pixels(x, y, oy, span);
        }
    }

    /// Pixels `span` of row `oy` one by one.
    fn pixels(&mut self, x: &[u8], y: &mut [u8], oy: usize, span: Range<usize>) {
        for ox in span {
            self.pixel(x, y, oy, ox);
        }
    }

    /// Per tap (padded to whole pairs, at most [`MAX_TAPS`]), the offset of channel 0 of the
    /// tap's input pixel in a source `width` pixels wide (the input, or a border patch) whose
    /// tap (0, 0) is at `first`. The padding tap of an odd count repeats the last tap (it
    /// meets zero weights).
    fn tap_offsets<'o>(&self, first: usize, width: usize, offsets: &'o mut [usize; MAX_TAPS]) -> &'o [usize] {
        let g = self.geometry;
        let taps = self.grid.len().min(MAX_TAPS);
        for (t, o) in offsets[..taps].iter_mut().enumerate() {
            let t = t.min(g.kh * g.kw - 1);
            *o = first + ((t / g.kw) * g.dilation[0] * width + (t % g.kw) * g.dilation[1]) * g.c;
        }
        &offsets[..taps]
    }

    /// Output pixel (`oy`, `ox`), any position.
    fn pixel(&mut self, x: &[u8], y: &mut [u8], oy: usize, ox: usize) {
        let g = self.geometry;
        let size = self.requant.out.size();
        let pairs = self.grid.len() / 2;
        g.tap_grid(oy, ox, &mut self.grid[..g.kh * g.kw]);
        let out = &mut y[(oy * g.ow + ox) * g.c * size..][..g.c * size];
        let px = Pixel { grid: &self.grid[..pairs * 2], x, c: g.c, zx: self.x_zero_point, signed: self.signed_input };
        let done = match self.isa {
            // SAFETY: AVX2 was detected when the plan chose this ISA; tap offsets
            // come from the geometry and stay inside `x`.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::pixel(&px, &self.weights_simd, &self.requant, out) },
            // SAFETY: NEON was detected when the plan chose this ISA; as above.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::pixel(&px, &self.weights_simd, &self.requant, out) },
            // SAFETY: NEON was detected and the zero point checked when the plan chose this
            // ISA; as above.
            #[cfg(target_arch = "arm")]
            Isa::Neon32 => unsafe { neon32::pixel(&px, &self.weights_simd, &self.requant, &mut self.neon32, out) },
            _ => 0,
        };
        scalar::pixel(&px, &self.weights, &self.requant, done, out);
    }

    /// Output pixels `span` of row `oy` from `src`, where the first pixel's tap `t` (padded to
    /// whole pairs) reads channel 0 at `offsets[t]` and every tap is inside `src` (the input,
    /// or a border patch). A kernel specialised for the common tap counts (armv7: any count,
    /// whole 8-channel blocks only); `false` if there is none for this ISA and size (always,
    /// on architectures without SIMD kernels).
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")), allow(unused_variables))]
    fn row(&mut self, src: &[u8], offsets: &[usize], y: &mut [u8], oy: usize, span: Range<usize>) -> bool {
        if offsets.len() != self.grid.len() {
            return false;
        }
        let g = self.geometry;
        let size = self.requant.out.size();
        let out = &mut y[(oy * g.ow + span.start) * g.c * size..][..span.len() * g.c * size];
        let row =
            Row { x: src, signed: self.signed_input, c: g.c, offsets, step: g.stride[1] * g.c, pixels: span.len() };
        // Pixel pairs: a 16-channel row of half as many pixels, each step two pixels on; an
        // odd last pixel goes alone, after.
        let paired = self.pixel_pairs.is_some() && span.len() >= 2;
        let done = if paired {
            let pairs = Row { c: 16, step: 2 * row.step, pixels: span.len() / 2, ..row };
            self.row_kernel(&pairs, true, out)
        } else {
            self.row_kernel(&row, false, out)
        };
        if done && paired && span.len() % 2 == 1 {
            let mut last = [0usize; MAX_TAPS];
            for (l, &o) in last.iter_mut().zip(offsets) {
                *l = o + (span.len() - 1) * row.step;
            }
            let one = Row { offsets: &last[..offsets.len()], pixels: 1, ..row };
            let out = &mut out[(span.len() - 1) * g.c * size..];
            self.row_kernel(&one, false, out);
        }
        done
    }

    /// The ISA's row kernel for this tap count, if it has one, with the weights of the
    /// layer or (`paired`) of its pixel pairs. (armv7's kernel takes no row constants.)
    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_variables))]
    fn row_kernel(&mut self, row: &Row, paired: bool, out: &mut [u8]) -> bool {
        let pairs = self.grid.len() / 2;
        let (weights, row_init, requant) = match &self.pixel_pairs {
            Some(p) if paired => (&p.weights, &p.row_init, &p.requant),
            _ => (&self.weights_simd, &self.row_init_simd, &self.requant),
        };
        match (self.isa, pairs) {
            // SAFETY: AVX2 was detected when the plan chose this ISA; every tap of the row's
            // pixels is inside `row.x` and loads near its end are bounded.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, 5) => unsafe { avx2::interior_row::<5>(row, weights, row_init, requant, out) },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, 13) => unsafe { avx2::interior_row::<13>(row, weights, row_init, requant, out) },
            // SAFETY: NEON was detected when the plan chose this ISA; as above. The kernel
            // reads the first 9 or 25 offsets (no padding tap).
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, 5) if self.geometry.kh * self.geometry.kw == 9 => unsafe {
                neon::interior_row::<9>(row, weights, row_init, requant, out)
            },
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, 13) if self.geometry.kh * self.geometry.kw == 25 => unsafe {
                neon::interior_row::<25>(row, weights, row_init, requant, out)
            },
            // SAFETY: NEON was detected and the zero point checked when the plan chose this
            // ISA; every tap of the row's pixels is inside `row.x`. Any tap count.
            #[cfg(target_arch = "arm")]
            (Isa::Neon32, _) => unsafe {
                neon32::interior_row(row, weights, requant, self.x_zero_point, &mut self.neon32, out)
            },
            _ => false,
        }
    }
}

/// A run of output pixels of one row whose every tap is inside `x` (the input, or a border
/// patch of it).
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")), allow(dead_code))]
pub(crate) struct Row<'a> {
    x: &'a [u8],
    signed: bool,
    c: usize,
    /// Per tap (padded to whole pairs): input offset of channel 0 for the first pixel; a
    /// pair's missing second tap repeats the first one's offset (its weights are zero).
    offsets: &'a [usize],
    /// Input advance per output pixel, bytes.
    step: usize,
    pixels: usize,
}

/// One output pixel's inputs.
pub(crate) struct Pixel<'a> {
    /// Per tap (padded to whole pairs): input offset of channel 0, or `None` (padding).
    grid: &'a [Option<usize>],
    x: &'a [u8],
    c: usize,
    zx: i16,
    signed: bool,
}

impl Pixel<'_> {
    #[inline(always)]
    fn input(&self, tap: usize, ch: usize) -> i32 {
        match self.grid[tap] {
            Some(o) => {
                let b = self.x[o + ch];
                (if self.signed { b as i8 as i32 } else { b as i32 }) - self.zx as i32
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests;
