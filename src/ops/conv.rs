//! 2-D convolution (regular, grouped, depthwise), with an optional fused clamp.
//!
//! Inputs: `x` (rank 4, in `layout`), `w` (constant, `[C_out, C_in/group, kh, kw]` as ONNX
//! stores it), optional `b` (constant, `[C_out]`).

use super::{window_out, Clamp, Layout};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// Kernel height, width.
    pub kernel: [usize; 2],
    /// Vertical, horizontal stride.
    pub strides: [usize; 2],
    /// Vertical, horizontal dilation.
    pub dilations: [usize; 2],
    /// Zero padding: top, left, bottom, right.
    pub pads: [usize; 4],
    pub group: usize,
    pub layout: Layout,
    /// Activation fused into the output.
    pub clamp: Clamp,
}

impl Conv {
    /// Output shape for input `x` and weight shape `w`.
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, wd] = self.layout.nchw(x)?;
        if w.len() != 4 {
            bail!("Conv weight must be rank 4 [C_out, C_in/group, kh, kw], got {w:?}");
        }
        if self.group == 0 || c % self.group != 0 || w[0] % self.group != 0 {
            bail!("group {} does not divide input channels {c} and output channels {}", self.group, w[0]);
        }
        if w[1] * self.group != c {
            bail!("Conv weight {w:?} expects {} input channels, input has {c}", w[1] * self.group);
        }
        if [w[2], w[3]] != self.kernel {
            bail!("Conv weight {w:?} disagrees with kernel_shape {:?}", self.kernel);
        }
        let oh = window_out(h, self.kernel[0], self.strides[0], self.dilations[0], self.pads[0], self.pads[2], false)?;
        let ow = window_out(wd, self.kernel[1], self.strides[1], self.dilations[1], self.pads[1], self.pads[3], false)?;
        Ok(self.layout.shape(n, w[0], oh, ow))
    }

    /// Whether every group has exactly one input and one output channel.
    pub fn is_depthwise(&self, c_in: usize, c_out: usize) -> bool {
        self.group == c_in && c_in == c_out && self.group > 1
    }

    /// Multiply-accumulates of one run.
    pub fn macs(&self, out_shape: &[usize], w: &[usize]) -> u64 {
        out_shape.iter().product::<usize>() as u64 * (w[1] * w[2] * w[3]) as u64
    }
}
