//! Axis permutation.

use crate::tensor::{numel, strides, Tensor};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transpose {
    /// Output axis `i` is input axis `perm[i]`.
    pub perm: Vec<usize>,
}

/// NCHW → NHWC.
pub const TO_NHWC: [usize; 4] = [0, 2, 3, 1];
/// NHWC → NCHW.
pub const TO_NCHW: [usize; 4] = [0, 3, 1, 2];

impl Transpose {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let mut seen = vec![false; x.len()];
        if self.perm.len() != x.len()
            || self.perm.iter().any(|&p| p >= x.len() || std::mem::replace(&mut seen[p], true))
        {
            bail!("perm {:?} is not a permutation of the {} axes of {x:?}", self.perm, x.len());
        }
        Ok(self.perm.iter().map(|&p| x[p]).collect())
    }

    pub fn is_identity(&self) -> bool {
        self.perm.iter().enumerate().all(|(i, &p)| i == p)
    }

    /// The permutation equal to applying `self` then `then`.
    pub fn then(&self, then: &Transpose) -> Transpose {
        Transpose { perm: then.perm.iter().map(|&p| self.perm[p]).collect() }
    }

    /// The permutation undoing this one.
    pub fn inverse(&self) -> Transpose {
        let mut inv = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inv[p] = i;
        }
        Transpose { perm: inv }
    }

    /// For each output flat index, the input flat index it reads.
    pub fn source_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let out = self.output_shape(x)?;
        let xs = strides(x);
        let os = strides(&out);
        let n = numel(&out)?;
        Ok((0..n).map(|k| (0..out.len()).map(|a| ((k / os[a]) % out[a]) * xs[self.perm[a]]).sum()).collect())
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.output_shape(x.shape())?;
        x.gather_flat(out, &self.source_indices(x.shape())?)
    }
}

impl Transpose {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        self.output_shape(ctx.inputs[0].shape)?;
        Ok(Box::new(super::permute_copy::PermuteCopy::new(ctx, &self.perm)?))
    }
}
