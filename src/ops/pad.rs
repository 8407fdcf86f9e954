//! Constant padding on any axes (ONNX `Pad`, mode `constant`).

use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq)]
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
            .map(|(&d, &(b, e))| d.checked_add(b + e).ok_or_else(|| crate::Error::Limit("padded size overflows".into())))
            .collect()
    }
}
