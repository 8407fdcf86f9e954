//! A strided transposed convolution as `s_y · s_x` ordinary convolutions, its phases.
//!
//! Output row `oy` receives only the kernel rows `ky ≡ t (mod s_y)`, `t = oy + pad_top`: row
//! `ky = r + s_y · j` from input row `q − j`, with `r = t mod s_y` and `q = t div s_y` (columns
//! likewise). So the outputs of one residue pair `(r_y, r_x)` form a convolution of the input
//! with that residue's kernel taps, reversed, and consecutive outputs of a phase row read
//! consecutive input pixels. Each output pixel is written once, by one phase: no column
//! buffer, no scatter-add. Geometry only (dilation 1); `ConvTranspose` runs it.
//!
//! Coordinates are those of the input inside a zero border wide enough for every window:
//! [`Phases::top`] rows above, [`Phases::left`] columns left, [`Phases::extent`] in all.

use super::conv_transpose::ConvTranspose;

/// One phase: the outputs `(oy, ox)` with `(oy + pad_top) mod s_y = residue[0]` (and x).
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub residue: [usize; 2],
    /// Kernel taps per axis: rows `residue[0] + s_y · j` for `j < taps[0]` (and x).
    pub taps: [usize; 2],
}

impl Phase {
    /// The kernel position read by window tap `(a, b)` (`a = 0`: the window's top row, the
    /// input row furthest back, `q − taps[0] + 1`).
    pub fn kernel_tap(&self, strides: [usize; 2], [a, b]: [usize; 2]) -> [usize; 2] {
        [self.residue[0] + strides[0] * (self.taps[0] - 1 - a), self.residue[1] + strides[1] * (self.taps[1] - 1 - b)]
    }

    /// Every window tap `[a, b]`, row-major, with the kernel position it reads.
    pub fn window(&self, strides: [usize; 2]) -> impl Iterator<Item = ([usize; 2], [usize; 2])> + '_ {
        let [ty, tx] = self.taps;
        (0..ty).flat_map(move |a| (0..tx).map(move |b| ([a, b], self.kernel_tap(strides, [a, b]))))
    }
}

/// The phases of one transposed convolution and the zero border they need.
#[derive(Clone, Debug, PartialEq)]
pub struct Phases {
    pub list: Vec<Phase>,
    pub strides: [usize; 2],
    /// Cropping at the top and left of the full output.
    crop: [usize; 2],
    /// Output height and width.
    out: [usize; 2],
    /// Zero rows above and columns left of the input.
    pub top: usize,
    pub left: usize,
    /// Height and width of the bordered input.
    pub extent: [usize; 2],
}

impl Phases {
    /// The phases of `d` for an `[h, w]` input and `[oh, ow]` output, or `None` when `d`
    /// dilates its kernel.
    pub fn new(d: &ConvTranspose, [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Option<Phases> {
        if d.dilations != [1, 1] {
            return None;
        }
        let (s, k) = (d.strides, d.kernel);
        // Taps of residue r along an axis of kernel k and stride s.
        let taps = |r: usize, k: usize, s: usize| if r < k { (k - r).div_ceil(s) } else { 0 };
        let mut list = Vec::with_capacity(s[0] * s[1]);
        for ry in 0..s[0] {
            for rx in 0..s[1] {
                list.push(Phase { residue: [ry, rx], taps: [taps(ry, k[0], s[0]), taps(rx, k[1], s[1])] });
            }
        }
        // A window reaches `taps − 1` rows above its output's input row; the last output's
        // input row may lie past the input (cropping, output padding): zeros there too.
        let (top, left) = (k[0].div_ceil(s[0]).max(1) - 1, k[1].div_ceil(s[1]).max(1) - 1);
        let last_q = |o: usize, crop: usize, s: usize| (o - 1 + crop) / s;
        let extent = [
            (top + h).max(top + last_q(oh, d.pads[0], s[0]) + 1),
            (left + w).max(left + last_q(ow, d.pads[1], s[1]) + 1),
        ];
        Some(Phases { list, strides: s, crop: [d.pads[0], d.pads[1]], out: [oh, ow], top, left, extent })
    }

    /// Elements of the bordered input of `channels` channels (saturating: a hostile size is
    /// refused by the arena limit, not wrapped).
    pub fn bordered_len(&self, channels: usize) -> usize {
        self.extent[0].saturating_mul(self.extent[1]).saturating_mul(channels)
    }

    /// The first output index of residue `r` along an axis, and how many there are.
    fn first_and_count(&self, axis: usize, r: usize) -> (usize, usize) {
        let s = self.strides[axis];
        let first = (r + s - self.crop[axis] % s) % s;
        let count = if first < self.out[axis] { (self.out[axis] - first - 1) / s + 1 } else { 0 };
        (first, count)
    }

    /// The output rows of `p`: the first `oy`, how many (every `s_y`-th), and the bordered
    /// row of the first one's window's top; each next output row's window is one row on.
    pub fn rows(&self, p: &Phase) -> (usize, usize, usize) {
        self.axis(0, p)
    }

    /// The output columns of `p`, like [`Phases::rows`]: each next output's window is one
    /// column on.
    pub fn columns(&self, p: &Phase) -> (usize, usize, usize) {
        self.axis(1, p)
    }

    fn axis(&self, axis: usize, p: &Phase) -> (usize, usize, usize) {
        let (first, count) = self.first_and_count(axis, p.residue[axis]);
        let border = [self.top, self.left][axis];
        let window = (first + self.crop[axis]) / self.strides[axis] + border + 1 - p.taps[axis].max(1);
        (first, count, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Clamp, Layout};

    fn deconv(kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4], output_padding: [usize; 2]) -> ConvTranspose {
        ConvTranspose {
            kernel,
            strides,
            dilations: [1, 1],
            pads,
            output_padding,
            group: 1,
            layout: Layout::Nhwc,
            clamp: Clamp::NONE,
        }
    }

    /// Every (output, kernel tap, input) contribution the phases produce, against the
    /// definition `o = i · s + k − pad` (one axis at a time, both axes together).
    #[test]
    fn the_phases_produce_exactly_the_contributions_of_the_definition() {
        let cases = [
            (deconv([4, 4], [2, 2], [1, 1, 1, 1], [0, 0]), [5, 3]),
            (deconv([3, 2], [2, 3], [0, 1, 1, 0], [1, 2]), [4, 3]),
            (deconv([2, 2], [3, 3], [0, 0, 0, 0], [0, 0]), [2, 3]),
            (deconv([5, 1], [1, 1], [2, 0, 2, 0], [0, 0]), [4, 2]),
            (deconv([3, 3], [2, 2], [2, 2, 0, 0], [1, 1]), [3, 3]),
        ];
        for (d, [h, w]) in cases {
            let shape = d.output_shape(&[1, h, w, 1], &[1, 1, d.kernel[0], d.kernel[1]]).unwrap();
            let (oh, ow) = (shape[1], shape[2]);
            let mut want = Vec::new();
            for iy in 0..h {
                for ix in 0..w {
                    for ky in 0..d.kernel[0] {
                        for kx in 0..d.kernel[1] {
                            let oy = (iy * d.strides[0] + ky) as isize - d.pads[0] as isize;
                            let ox = (ix * d.strides[1] + kx) as isize - d.pads[1] as isize;
                            if (0..oh as isize).contains(&oy) && (0..ow as isize).contains(&ox) {
                                want.push((oy as usize, ox as usize, ky, kx, iy, ix));
                            }
                        }
                    }
                }
            }
            let p = Phases::new(&d, [h, w], [oh, ow]).unwrap();
            let mut got = Vec::new();
            let mut written = vec![0; oh * ow];
            for phase in &p.list {
                let (ox0, n, px0) = p.columns(phase);
                let (oy0, rows, py0) = p.rows(phase);
                for (oy, py) in (0..rows).map(|r| (oy0 + r * d.strides[0], py0 + r)) {
                    for i in 0..n {
                        let ox = ox0 + i * d.strides[1];
                        written[oy * ow + ox] += 1;
                        for a in 0..phase.taps[0] {
                            for b in 0..phase.taps[1] {
                                let [ky, kx] = phase.kernel_tap(d.strides, [a, b]);
                                let (by, bx) = (py + a, px0 + i + b);
                                assert!(by < p.extent[0] && bx < p.extent[1], "{d:?}: window outside the border");
                                let inside = (p.top..p.top + h).contains(&by) && (p.left..p.left + w).contains(&bx);
                                if inside {
                                    got.push((oy, ox, ky, kx, by - p.top, bx - p.left));
                                }
                            }
                        }
                    }
                }
            }
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{d:?} on {h}x{w}");
            assert!(written.iter().all(|&c| c == 1), "{d:?}: every output written once");
        }
    }

    #[test]
    fn a_dilated_kernel_has_no_phases() {
        let mut d = deconv([3, 3], [2, 2], [0; 4], [0, 0]);
        d.dilations = [2, 1];
        assert!(Phases::new(&d, [4, 4], [9, 7]).is_none());
    }
}
