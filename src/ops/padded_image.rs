//! The input of an int8 convolution as a zero-bordered i16 image: NHWC values widened to
//! i16 with the zero point subtracted (`x − zx`, so a real 0 is 0), inside a border as wide as
//! the convolution's padding. An im2col column is then `kh` runs of `kw · c` contiguous
//! values (`crate::kernels::column_runs`), read in place or copied, with no bounds test and
//! no widening per tap: the image is widened once per run instead of once per tap (nine
//! times for a 3×3 kernel).
//!
//! Layout `[ph][pw][c]`, then one spare zero (a K pair that completes a kernel row of odd
//! length reads one value past the row); the image occupies rows `top..top + h` and columns
//! `left..left + w`. The border is zeroed at plan time and never written again.

use crate::{bail, Result};

/// A zero-bordered, zero-point-centred i16 copy of one NHWC image.
pub struct PaddedImage {
    data: Vec<i16>,
    /// Image height, width, channels.
    h: usize,
    w: usize,
    c: usize,
    /// Border rows above, columns left.
    top: usize,
    left: usize,
    /// Padded width in pixels.
    pw: usize,
}

impl PaddedImage {
    /// Plans an `h × w × c` image inside a border of `top` rows and `left` columns, in a
    /// padded extent of `ph × pw` pixels (`ph ≥ top + h`, `pw ≥ left + w`).
    pub fn new([h, w, c]: [usize; 3], [top, left]: [usize; 2], [ph, pw]: [usize; 2]) -> Result<PaddedImage> {
        let len = ph.checked_mul(pw).and_then(|p| p.checked_mul(c));
        match len {
            Some(len) if top + h <= ph && left + w <= pw => {
                Ok(PaddedImage { data: vec![0; len + 1], h, w, c, top, left, pw })
            }
            _ => bail!("padded image of {ph}x{pw}x{c} cannot hold {h}x{w}x{c} at ({top}, {left})"),
        }
    }

    /// Widens `image` (`h · w · c` bytes, s8 when `signed`, else u8) into the interior.
    pub fn fill(&mut self, image: &[u8], signed: bool, zx: i16) {
        let row = self.w * self.c;
        assert_eq!(image.len(), self.h * row, "image of {} bytes for a {}x{row} interior", image.len(), self.h);
        for (y, src) in image.chunks_exact(row).enumerate() {
            let at = ((self.top + y) * self.pw + self.left) * self.c;
            super::qconv::widen(src, signed, zx, &mut self.data[at..at + row]);
        }
    }

    /// Where padded pixel `(py, px)` starts in [`PaddedImage::values`].
    #[inline]
    pub fn offset(&self, py: usize, px: usize) -> usize {
        (py * self.pw + px) * self.c
    }

    /// Every value, border and spare zero included.
    pub fn values(&self) -> &[i16] {
        &self.data
    }

    /// Padded width, pixels.
    pub fn width(&self) -> usize {
        self.pw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn border_is_zero_and_interior_is_centred() {
        // 2x2 image of 1 channel, u8 with zero point 10, inside a 1-pixel border (4x4).
        let mut p = PaddedImage::new([2, 2, 1], [1, 1], [4, 4]).unwrap();
        p.fill(&[10, 11, 12, 255], false, 10);
        assert_eq!(p.values(), [0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 245, 0, 0, 0, 0, 0, 0]);
        p.fill(&[0x80, 0x7f, 0xff, 0], true, -3); // s8: -128, 127, -1, 0
        let run = |py, px| &p.values()[p.offset(py, px)..][..2];
        assert_eq!(run(1, 1), [-125, 130]);
        assert_eq!(run(2, 1), [2, 3]);
        assert_eq!(p.offset(2, 1), 9);
    }

    #[test]
    fn an_extent_too_small_or_overflowing_is_an_error() {
        assert!(PaddedImage::new([4, 4, 1], [1, 1], [4, 6]).is_err());
        assert!(PaddedImage::new([1, 1, 1], [0, 0], [usize::MAX, 2]).is_err());
    }
}
