//! Max and average pooling over H and W (windowed and global).

use super::{window_out, Layout};
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

/// Windowed pooling (`MaxPool`, `AveragePool`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kind: PoolKind,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right.
    pub pads: [usize; 4],
    pub ceil_mode: bool,
    /// Average pooling: whether padded positions count in the divisor.
    pub count_include_pad: bool,
    pub layout: Layout,
}

impl Pool {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, w] = self.layout.nchw(x)?;
        let oh = window_out(h, self.kernel[0], self.strides[0], self.dilations[0], self.pads[0], self.pads[2], self.ceil_mode)?;
        let ow = window_out(w, self.kernel[1], self.strides[1], self.dilations[1], self.pads[1], self.pads[3], self.ceil_mode)?;
        Ok(self.layout.shape(n, c, oh, ow))
    }
}

/// Global pooling over all of H and W (`GlobalAveragePool`, `GlobalMaxPool`), keeping
/// 1x1 spatial dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalPool {
    pub kind: PoolKind,
    pub layout: Layout,
}

impl GlobalPool {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, _, _] = self.layout.nchw(x)?;
        Ok(self.layout.shape(n, c, 1, 1))
    }
}
