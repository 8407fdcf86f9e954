//! 2-D transposed convolution (the heatmap head's upsampling), with an optional fused clamp.
//!
//! Inputs: `x` (rank 4, in `layout`), `w` (constant, `[C_in, C_out/group, kh, kw]` as ONNX
//! stores it), optional `b` (constant, `[C_out]`).

use super::{Clamp, Layout};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct ConvTranspose {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Cropping of the full output: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Extra rows/columns added at the bottom/right.
    pub output_padding: [usize; 2],
    pub group: usize,
    pub layout: Layout,
    pub clamp: Clamp,
}

impl ConvTranspose {
    /// Output size along one axis before cropping by the pads.
    pub fn full_size(input: usize, kernel: usize, stride: usize, dilation: usize, out_pad: usize) -> usize {
        stride * (input - 1) + out_pad + (kernel - 1) * dilation + 1
    }

    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, wd] = self.layout.nchw(x)?;
        if w.len() != 4 || w[0] != c {
            bail!("ConvTranspose weight {w:?} must be [C_in={c}, C_out/group, kh, kw]");
        }
        if self.group == 0 || c % self.group != 0 {
            bail!("group {} does not divide input channels {c}", self.group);
        }
        if [w[2], w[3]] != self.kernel {
            bail!("ConvTranspose weight {w:?} disagrees with kernel_shape {:?}", self.kernel);
        }
        if h == 0 || wd == 0 || self.strides.contains(&0) || self.dilations.contains(&0) {
            bail!("ConvTranspose needs a non-empty input and positive strides and dilations");
        }
        let fh = Self::full_size(h, self.kernel[0], self.strides[0], self.dilations[0], self.output_padding[0]);
        let fw = Self::full_size(wd, self.kernel[1], self.strides[1], self.dilations[1], self.output_padding[1]);
        if self.pads[0] + self.pads[2] >= fh || self.pads[1] + self.pads[3] >= fw {
            bail!("ConvTranspose pads {:?} crop the whole {fh}x{fw} output", self.pads);
        }
        Ok(self.layout.shape(n, w[1] * self.group, fh - self.pads[0] - self.pads[2], fw - self.pads[1] - self.pads[3]))
    }

    /// Multiply-accumulates of one run (every input pixel scatters a full kernel).
    pub fn macs(&self, x: &[usize], w: &[usize]) -> u64 {
        x.iter().product::<usize>() as u64 * (w[1] * w[2] * w[3]) as u64
    }
}
