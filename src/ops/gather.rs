//! `Gather` with constant indices along one axis.

use crate::tensor::{numel, Tensor};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Gather {
    pub axis: usize,
    /// Indices (already made non-negative), row-major in `indices_shape`.
    pub indices: Vec<usize>,
    pub indices_shape: Vec<usize>,
}

impl Gather {
    /// Builds the op, normalising negative indices against the axis length.
    pub fn new(axis: usize, dim: usize, indices: &Tensor) -> Result<Gather> {
        let idx = indices
            .to_i64_vec()
            .into_iter()
            .map(|i| {
                let j = if i < 0 { i + dim as i64 } else { i };
                if j < 0 || j >= dim as i64 {
                    bail!("Gather index {i} out of range for an axis of {dim}");
                }
                Ok(j as usize)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Gather { axis, indices: idx, indices_shape: indices.shape().to_vec() })
    }

    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if self.axis >= x.len() {
            bail!("Gather axis {} out of range for rank {}", self.axis, x.len());
        }
        if let Some(&bad) = self.indices.iter().find(|&&i| i >= x[self.axis]) {
            bail!("Gather index {bad} out of range for an axis of {}", x[self.axis]);
        }
        let mut out = x[..self.axis].to_vec();
        out.extend_from_slice(&self.indices_shape);
        out.extend_from_slice(&x[self.axis + 1..]);
        Ok(out)
    }

    /// For each output flat index, the input flat index it reads.
    pub fn source_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let out = self.output_shape(x)?;
        let outer: usize = x[..self.axis].iter().product();
        let inner: usize = x[self.axis + 1..].iter().product();
        let mut v = Vec::with_capacity(numel(&out)?);
        for o in 0..outer {
            for &i in &self.indices {
                for k in 0..inner {
                    v.push((o * x[self.axis] + i) * inner + k);
                }
            }
        }
        Ok(v)
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        x.gather_flat(self.output_shape(x.shape())?, &self.source_indices(x.shape())?)
    }
}

impl Gather {
    /// A gather that shuffles its axis (ShuffleNet's channel shuffle) is a transpose of the
    /// axis viewed as `[groups, len / groups]`, copied without an index table; anything else
    /// goes through [`super::index_copy::IndexCopy`].
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let x = ctx.inputs[0].shape;
        self.output_shape(x)?;
        if let Some(groups) = self.shuffle_groups(x[self.axis]) {
            let outer = x[..self.axis].iter().product();
            let inner = x[self.axis + 1..].iter().product();
            let view = [outer, groups, x[self.axis] / groups, inner];
            return Ok(Box::new(super::permute_copy::PermuteCopy::viewed(ctx, &view, &[0, 2, 1, 3])?));
        }
        let idx = self.source_indices(x)?;
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, idx, 0.0)?))
    }

    /// The channel shuffle of `groups` groups along `axis` of length `len`: output `k` reads
    /// `k % groups · (len / groups) + k / groups` (the groups' first elements, then their
    /// second ones, ...).
    pub fn shuffle(axis: usize, len: usize, groups: usize) -> Gather {
        let indices = (0..len).map(|k| k % groups * (len / groups) + k / groups).collect();
        Gather { axis, indices, indices_shape: vec![len] }
    }

    /// `g` when this gather is [`Gather::shuffle`] of `g` groups along its axis of length
    /// `len`, for some `g` in `2..len`.
    fn shuffle_groups(&self, len: usize) -> Option<usize> {
        if self.indices_shape.len() != 1 || self.indices.len() != len {
            return None;
        }
        (2..len).filter(|g| len % g == 0).find(|&g| *self == Gather::shuffle(self.axis, len, g))
    }
}
