//! What an op sees while being lowered to a [`Step`](super::Step): its node, and for each
//! input and output the type, shape, constant data and run-time slot.

use super::Slot;
use crate::kernels::isa::Isa;
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};

/// One input or output of the node being lowered.
#[derive(Clone, Copy)]
pub struct ValInfo<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: &'a [usize],
    pub constant: Option<&'a Tensor>,
    /// Where the tensor lives at run time. Constants an op packs at plan time (weights) have
    /// no slot ([`ValInfo::slot`] fails for them).
    pub slot: Option<Slot>,
}

impl<'a> ValInfo<'a> {
    pub fn slot(&self) -> Result<Slot> {
        self.slot.ok_or_else(|| Error::invalid(format!("'{}' has no run-time buffer", self.name)))
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The constant data, or an error naming the value.
    pub fn constant(&self) -> Result<&'a Tensor> {
        self.constant.ok_or_else(|| Error::invalid(format!("'{}' must be a constant", self.name)))
    }
}

/// The context of lowering one node.
pub struct LowerCtx<'a> {
    pub node_name: &'a str,
    pub inputs: Vec<ValInfo<'a>>,
    pub outputs: Vec<ValInfo<'a>>,
    /// The instruction set qpose's own kernels are built for.
    pub isa: Isa,
    /// Arena memory private to this step while it runs, if the op asked for any.
    pub scratch: Option<Slot>,
}
