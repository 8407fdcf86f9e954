//! `DepthToSpace`: moves blocks of channels into space.

use super::Layout;
use crate::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DepthToSpaceMode {
    /// depth-column-row: channel index = (by * b + bx) * C_out + c.
    Dcr,
    /// column-row-depth: channel index = c * b * b + by * b + bx.
    Crd,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DepthToSpace {
    pub block: usize,
    pub mode: DepthToSpaceMode,
    pub layout: Layout,
}

impl DepthToSpace {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, w] = self.layout.nchw(x)?;
        // b² must divide C, so b ≤ √C: checked before squaring (a hostile blocksize overflows).
        let b2 = self.block.checked_mul(self.block).filter(|&b2| b2 != 0 && c % b2 == 0);
        let Some(b2) = b2 else {
            bail!("DepthToSpace blocksize {} does not divide {c} channels", self.block);
        };
        Ok(self.layout.shape(n, c / b2, h * self.block, w * self.block))
    }

    /// The input channel that feeds output channel `c` at block offset (`by`, `bx`).
    pub fn source_channel(&self, c: usize, by: usize, bx: usize, c_out: usize) -> usize {
        let b = self.block;
        match self.mode {
            DepthToSpaceMode::Dcr => (by * b + bx) * c_out + c,
            DepthToSpaceMode::Crd => c * b * b + by * b + bx,
        }
    }
}

impl DepthToSpace {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if self.layout != Layout::Nhwc {
            bail!("DepthToSpace runs in NHWC only");
        }
        let [n, c, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        let b = self.block;
        let co = c / (b * b);
        let (oh, ow) = (h * b, w * b);
        let mut idx = Vec::with_capacity(n * oh * ow * co);
        for ni in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for cc in 0..co {
                        let src_c = self.source_channel(cc, oy % b, ox % b, co);
                        idx.push(((ni * h + oy / b) * w + ox / b) * c + src_c);
                    }
                }
            }
        }
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, idx, 0.0)?))
    }
}
