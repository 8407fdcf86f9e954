//! Constant padding on any axes (ONNX `Pad`, mode `constant`).

use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pad {
    /// (before, after) per axis.
    pub pads: Vec<(usize, usize)>,
    pub value: f32,
}

impl Pad {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if x.len() != self.pads.len() {
            bail!("Pad has {} axes of pads for a rank-{} input", self.pads.len(), x.len());
        }
        x.iter()
            .zip(&self.pads)
            .map(|(&d, &(b, e))| {
                d.checked_add(b + e).ok_or_else(|| crate::Error::Limit("padded size overflows".into()))
            })
            .collect()
    }
}

impl Pad {
    /// For each output flat index, the input flat index it copies, or `usize::MAX` where the
    /// output is padding.
    pub fn source_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let out = self.output_shape(x)?;
        let xs = crate::tensor::strides(x);
        let os = crate::tensor::strides(&out);
        Ok((0..crate::tensor::numel(&out)?)
            .map(|k| {
                let mut src = 0;
                for a in 0..out.len() {
                    let o = (k / os[a]) % out[a];
                    let (b, _) = self.pads[a];
                    if o < b || o - b >= x[a] {
                        return usize::MAX;
                    }
                    src += (o - b) * xs[a];
                }
                src
            })
            .collect())
    }

    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let idx = self.source_indices(ctx.inputs[0].shape)?;
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, idx, self.value)?))
    }
}
