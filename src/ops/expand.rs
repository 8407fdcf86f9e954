//! `Expand`: broadcast to a larger static shape.

use super::binary::BroadcastMap;
use super::broadcast_shapes;
use crate::tensor::Tensor;
use crate::Result;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Expand {
    pub shape: Vec<usize>,
}

impl Expand {
    /// Output shape: the numpy broadcast of the input shape and the requested one.
    pub fn output_shape(x: &[usize], requested: &[usize]) -> Result<Vec<usize>> {
        broadcast_shapes(x, requested)
    }

    /// For each output flat index, the input flat index it reads.
    pub fn source_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let map = BroadcastMap::new(x, &self.shape, &self.shape)?;
        Ok(map.pairs().map(|(i, _)| i).collect())
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        x.gather_flat(self.shape.clone(), &self.source_indices(x.shape())?)
    }
}

impl Expand {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let idx = self.source_indices(ctx.inputs[0].shape)?;
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, idx, 0.0)?))
    }
}
