//! Direct int8 depthwise convolution, NHWC, exact: `acc[c] = Σ_taps (x − zx) · (w − zw_c)`
//! in i32, then the shared per-channel requantization epilogue. Any kernel size, stride,
//! dilation and asymmetric padding (padded taps contribute zero, i.e. the real value 0).
//!
//! Weights are packed at plan time as i16 tap pairs `(w[t], w[t+1])` per channel (a zero
//! tap completes an odd count), the form `vpmaddwd` consumes.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod scalar;

use super::depthwise_f32::Geometry;
use super::isa::Isa;
use super::requant::Requant;

/// A planned int8 depthwise convolution.
pub struct DepthwiseI8 {
    pub geometry: Geometry,
    /// `[pairs][C][2]` i16, natural channel order (scalar and channel tails).
    weights: Vec<i16>,
    /// For AVX2: `[ceil(C / 16)][pairs][16][2]` i16 with channels ordered 0-3, 8-11, 4-7,
    /// 12-15 (the order `vpunpck{l,h}wd` interleaves them in); channels past `C` in the last
    /// block have zero weights.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    weights_avx2: Vec<i16>,
    /// For AVX2 interior rows: `−zx · Σ_taps w` per channel in the same order, the input zero
    /// point's share of the accumulator when every tap is inside the input.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    row_init_avx2: Vec<i32>,
    requant: Requant,
    x_zero_point: i16,
    signed_input: bool,
    isa: Isa,
    grid: Vec<Option<usize>>,
}

/// Position of natural channel `i` (0..16) in the AVX2 weight order.
fn avx2_slot(i: usize) -> usize {
    match i {
        0..=3 => i,
        4..=7 => i + 4,
        8..=11 => i - 4,
        _ => i,
    }
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
        let blocks = g.c.div_ceil(16);
        let mut packed_avx2 = vec![0i16; blocks * pairs * 32];
        for b in 0..blocks {
            for p in 0..pairs {
                for i in 0..16 {
                    let at = ((b * pairs + p) * 16 + avx2_slot(i)) * 2;
                    packed_avx2[at] = w(b * 16 + i, 2 * p);
                    packed_avx2[at + 1] = w(b * 16 + i, 2 * p + 1);
                }
            }
        }
        let mut row_init = vec![0i32; blocks * 16];
        for c in 0..g.c {
            let sum: i32 = (0..taps).map(|t| weights[c * taps + t]).sum();
            row_init[c / 16 * 16 + avx2_slot(c % 16)] = -x_zero_point * sum;
        }
        let isa = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => Isa::Avx2,
            _ => Isa::Scalar,
        };
        DepthwiseI8 {
            geometry: g,
            weights: packed,
            weights_avx2: packed_avx2,
            row_init_avx2: row_init,
            requant,
            x_zero_point: x_zero_point as i16,
            signed_input,
            isa,
            grid: vec![None; pairs * 2],
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Convolves one NHWC image `x` (`h * w * c` bytes, u8 or i8) into `y` (`oh * ow * c`
    /// elements of the requantization's output type, as bytes).
    pub fn run(&mut self, x: &[u8], y: &mut [u8]) {
        let g = self.geometry;
        let size = self.requant.out.size();
        assert!(x.len() >= g.h * g.w * g.c && y.len() >= g.oh * g.ow * g.c * size);
        let (rows, cols) = g.interior();
        for oy in 0..g.oh {
            let mut ox = 0;
            while ox < g.ow {
                if ox == cols.start
                    && !cols.is_empty()
                    && rows.contains(&oy)
                    && self.interior_row(x, y, oy, cols.clone())
                {
                    ox = cols.end;
                    continue;
                }
                self.pixel(x, y, oy, ox);
                ox += 1;
            }
        }
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
            Isa::Avx2 => unsafe { avx2::pixel(&px, &self.weights_avx2, &self.requant, out) },
            _ => 0,
        };
        scalar::pixel(&px, &self.weights, &self.requant, done, out);
    }

    /// Interior output pixels `cols` of row `oy` (every tap inside the input) with a kernel
    /// specialised for the common tap counts; `false` if there is none for this ISA and size.
    fn interior_row(&mut self, x: &[u8], y: &mut [u8], oy: usize, cols: std::ops::Range<usize>) -> bool {
        let g = self.geometry;
        let size = self.requant.out.size();
        let pairs = self.grid.len() / 2;
        g.tap_grid(oy, cols.start, &mut self.grid[..g.kh * g.kw]);
        let mut offsets = [0usize; 26];
        if pairs * 2 > offsets.len() {
            return false;
        }
        for (t, o) in offsets[..pairs * 2].iter_mut().enumerate() {
            // The padding tap of an odd count reuses its pair's first tap (zero weights).
            *o = self.grid.get(t).copied().flatten().unwrap_or_else(|| self.grid[t - 1].unwrap_or(0));
        }
        let out = &mut y[(oy * g.ow + cols.start) * g.c * size..][..cols.len() * g.c * size];
        #[allow(unused_variables)]
        let row = Row {
            x,
            signed: self.signed_input,
            c: g.c,
            offsets: &offsets[..pairs * 2],
            step: g.stride[1] * g.c,
            pixels: cols.len(),
        };
        match (self.isa, pairs) {
            // SAFETY: AVX2 was detected when the plan chose this ISA; every tap of an interior
            // pixel is inside `x` and loads near its end are bounded.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, 5) => unsafe {
                avx2::interior_row::<5>(&row, &self.weights_avx2, &self.row_init_avx2, &self.requant, out)
            },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, 13) => unsafe {
                avx2::interior_row::<13>(&row, &self.weights_avx2, &self.row_init_avx2, &self.requant, out)
            },
            _ => false,
        }
    }
}

/// A run of interior output pixels of one row.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
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
