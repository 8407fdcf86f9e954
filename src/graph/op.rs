//! The operator set of qpose's graph. Each variant's parameters, shape rule and kernels live
//! in `crate::ops::<name>`; this file only dispatches.

use crate::ops::binary::BinaryOp;
use crate::ops::broadcast_shapes;
use crate::ops::cast::Cast;
use crate::ops::concat::Concat;
use crate::ops::conv::Conv;
use crate::ops::conv_transpose::ConvTranspose;
use crate::ops::dense::Dense;
use crate::ops::depth_to_space::DepthToSpace;
use crate::ops::expand::Expand;
use crate::ops::gather::Gather;
use crate::ops::matmul::MatMul;
use crate::ops::pad::Pad;
use crate::ops::pool::{GlobalPool, Pool};
use crate::ops::qconv::{check_code_range, check_layer, QConv, QDense};
use crate::ops::qconv_transpose::QConvTranspose;
use crate::ops::qemulated::QEmulated;
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::reduce::Reduce;
use crate::ops::reshape::Reshape;
use crate::ops::resize::Resize;
use crate::ops::slice::Slice;
use crate::ops::softmax::Softmax;
use crate::ops::transpose::Transpose;
use crate::ops::unary::UnaryOp;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Conv(Conv),
    ConvTranspose(ConvTranspose),
    Dense(Dense),
    MatMul(MatMul),
    Pool(Pool),
    GlobalPool(GlobalPool),
    Resize(Resize),
    DepthToSpace(DepthToSpace),
    Pad(Pad),
    Unary(UnaryOp),
    Binary(BinaryOp),
    Reshape(Reshape),
    Transpose(Transpose),
    Concat(Concat),
    Slice(Slice),
    Gather(Gather),
    Expand(Expand),
    Cast(Cast),
    Softmax(Softmax),
    Reduce(Reduce),
    QuantizeLinear(QuantizeLinear),
    DequantizeLinear(DequantizeLinear),
    QConv(QConv),
    QConvTranspose(QConvTranspose),
    QDense(QDense),
    QEmulated(QEmulated),
}

/// The type and shape of a value, as shape inference sees it.
pub type Fact<'a> = (DType, &'a [usize]);

impl Op {
    /// A short name for listings (`qpose inspect`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::Dense(_) => "Dense",
            Op::MatMul(_) => "MatMul",
            Op::Pool(p) => match p.kind {
                crate::ops::pool::PoolKind::Max => "MaxPool",
                crate::ops::pool::PoolKind::Avg => "AveragePool",
            },
            Op::GlobalPool(p) => match p.kind {
                crate::ops::pool::PoolKind::Max => "GlobalMaxPool",
                crate::ops::pool::PoolKind::Avg => "GlobalAveragePool",
            },
            Op::Resize(_) => "Resize",
            Op::DepthToSpace(_) => "DepthToSpace",
            Op::Pad(_) => "Pad",
            Op::Unary(_) => "Unary",
            Op::Binary(_) => "Binary",
            Op::Reshape(_) => "Reshape",
            Op::Transpose(_) => "Transpose",
            Op::Concat(_) => "Concat",
            Op::Slice(_) => "Slice",
            Op::Gather(_) => "Gather",
            Op::Expand(_) => "Expand",
            Op::Cast(_) => "Cast",
            Op::Softmax(_) => "Softmax",
            Op::Reduce(_) => "Reduce",
            Op::QuantizeLinear(_) => "QuantizeLinear",
            Op::DequantizeLinear(_) => "DequantizeLinear",
            Op::QConv(_) => "QConv",
            Op::QConvTranspose(_) => "QConvTranspose",
            Op::QDense(_) => "QDense",
            Op::QEmulated(_) => "QEmulated",
        }
    }

    /// Output types and shapes from input types and shapes.
    pub fn infer(&self, inputs: &[Fact]) -> Result<Vec<(DType, Vec<usize>)>> {
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<()> {
            if !n.contains(&inputs.len()) {
                bail!("{} takes {n:?} inputs, got {}", self.name(), inputs.len());
            }
            Ok(())
        };
        let float_in = |i: usize| -> Result<()> {
            if inputs[i].0 != DType::F32 {
                bail!("{} input {i} must be f32, got {}", self.name(), inputs[i].0);
            }
            Ok(())
        };
        let one = |dt: DType, shape: Vec<usize>| Ok(vec![(dt, shape)]);
        // An optional bias (input 2) has one value per output channel.
        let bias_of = |channels: usize| -> Result<()> {
            match inputs.get(2) {
                Some((_, b)) if b.iter().product::<usize>() != channels => {
                    bail!("{} bias of shape {b:?} does not have one value per output channel ({channels})", self.name())
                }
                _ => Ok(()),
            }
        };
        match self {
            Op::Conv(c) => {
                arity(2..=3)?;
                float_in(0)?;
                let out = c.output_shape(inputs[0].1, inputs[1].1)?;
                bias_of(c.layout.nchw(&out)?[1])?;
                one(DType::F32, out)
            }
            Op::ConvTranspose(c) => {
                arity(2..=3)?;
                float_in(0)?;
                let out = c.output_shape(inputs[0].1, inputs[1].1)?;
                bias_of(c.layout.nchw(&out)?[1])?;
                one(DType::F32, out)
            }
            Op::Dense(d) => {
                arity(2..=3)?;
                float_in(0)?;
                let out = d.output_shape(inputs[0].1, inputs[1].1)?;
                bias_of(*out.last().unwrap_or(&1))?;
                one(DType::F32, out)
            }
            Op::MatMul(m) => {
                arity(2..=2)?;
                float_in(0)?;
                float_in(1)?;
                one(DType::F32, m.output_shape(inputs[0].1, inputs[1].1)?)
            }
            Op::Pool(p) => {
                arity(1..=1)?;
                one(inputs[0].0, p.output_shape(inputs[0].1)?)
            }
            Op::GlobalPool(p) => {
                arity(1..=1)?;
                one(inputs[0].0, p.output_shape(inputs[0].1)?)
            }
            Op::Resize(r) => {
                arity(1..=1)?;
                one(inputs[0].0, r.output_shape(inputs[0].1)?)
            }
            Op::DepthToSpace(d) => {
                arity(1..=1)?;
                one(inputs[0].0, d.output_shape(inputs[0].1)?)
            }
            Op::Pad(p) => {
                arity(1..=1)?;
                one(inputs[0].0, p.output_shape(inputs[0].1)?)
            }
            Op::Unary(_) => {
                arity(1..=1)?;
                one(inputs[0].0, inputs[0].1.to_vec())
            }
            Op::Binary(_) => {
                arity(2..=2)?;
                if inputs[0].0 != inputs[1].0 {
                    bail!("element-wise operands have different types: {} and {}", inputs[0].0, inputs[1].0);
                }
                one(inputs[0].0, broadcast_shapes(inputs[0].1, inputs[1].1)?)
            }
            Op::Reshape(r) => {
                arity(1..=1)?;
                one(inputs[0].0, r.output_shape(inputs[0].1)?)
            }
            Op::Transpose(t) => {
                arity(1..=1)?;
                one(inputs[0].0, t.output_shape(inputs[0].1)?)
            }
            Op::Concat(c) => {
                arity(1..=usize::MAX)?;
                if inputs.iter().any(|i| i.0 != inputs[0].0) {
                    bail!("Concat inputs have different types");
                }
                let shapes: Vec<&[usize]> = inputs.iter().map(|i| i.1).collect();
                one(inputs[0].0, c.output_shape(&shapes)?)
            }
            Op::Slice(s) => {
                arity(1..=1)?;
                one(inputs[0].0, s.output_shape(inputs[0].1)?)
            }
            Op::Gather(g) => {
                arity(1..=1)?;
                one(inputs[0].0, g.output_shape(inputs[0].1)?)
            }
            Op::Expand(e) => {
                arity(1..=1)?;
                one(inputs[0].0, Expand::output_shape(inputs[0].1, &e.shape)?)
            }
            Op::Cast(c) => {
                arity(1..=1)?;
                one(c.to, inputs[0].1.to_vec())
            }
            Op::Softmax(s) => {
                arity(1..=1)?;
                float_in(0)?;
                if s.axis >= inputs[0].1.len() {
                    bail!("Softmax axis {} out of range for rank {}", s.axis, inputs[0].1.len());
                }
                one(DType::F32, inputs[0].1.to_vec())
            }
            Op::Reduce(r) => {
                arity(1..=1)?;
                one(inputs[0].0, r.output_shape(inputs[0].1)?)
            }
            Op::QuantizeLinear(q) => {
                arity(1..=1)?;
                float_in(0)?;
                q.params.validate(inputs[0].1, q.dtype)?;
                check_code_range(q.qmin, q.qmax, q.dtype)?;
                one(q.dtype, inputs[0].1.to_vec())
            }
            Op::DequantizeLinear(d) => {
                arity(1..=1)?;
                d.params.validate(inputs[0].1, inputs[0].0)?;
                one(DType::F32, inputs[0].1.to_vec())
            }
            Op::QConv(c) => {
                arity(2..=3)?;
                let out = c.output_shape(inputs[0].1, inputs[1].1)?;
                check_layer(&c.x, &c.w, &c.out, inputs, c.conv.layout.nchw(&out)?[1])?;
                one(c.out.dtype(), out)
            }
            Op::QConvTranspose(c) => {
                arity(2..=3)?;
                let out = c.output_shape(inputs[0].1, inputs[1].1)?;
                check_layer(&c.x, &c.w, &c.out, inputs, c.deconv.layout.nchw(&out)?[1])?;
                one(c.out.dtype(), out)
            }
            Op::QDense(d) => {
                arity(2..=3)?;
                let out = d.output_shape(inputs[0].1, inputs[1].1)?;
                check_layer(&d.x, &d.w, &d.out, inputs, *out.last().unwrap_or(&1))?;
                one(d.out.dtype(), out)
            }
            Op::QEmulated(q) => q.infer(inputs),
        }
    }

    /// Evaluates the op on constant inputs (constant folding), or `None` when the op is not
    /// folded: heavy ops, and `DequantizeLinear`, whose constant input the int8 passes use as
    /// integer weights. (`QuantizeLinear` of a constant folds: that is how QAT exports store
    /// quantized weights.)
    pub fn eval(&self, inputs: &[&Tensor]) -> Option<Result<Tensor>> {
        Some(match self {
            Op::Unary(u) => u.eval(inputs[0]),
            Op::Binary(b) => b.eval(inputs[0], inputs[1]),
            Op::Reshape(r) => r.eval(inputs[0]),
            Op::Transpose(t) => t.eval(inputs[0]),
            Op::Concat(c) => c.eval(inputs),
            Op::Slice(s) => s.eval(inputs[0]),
            Op::Gather(g) => g.eval(inputs[0]),
            Op::Expand(e) => e.eval(inputs[0]),
            Op::Cast(c) => Ok(inputs[0].cast(c.to)),
            Op::Reduce(r) => r.eval(inputs[0]),
            Op::QuantizeLinear(q) => q.eval(inputs[0]),
            _ => return None,
        })
    }
}

impl Op {
    /// Whether the op's output is its input reinterpreted (same bytes): no step, the
    /// planner gives both the same buffer.
    pub fn is_alias(&self) -> bool {
        matches!(self, Op::Reshape(_))
    }

    /// Whether input `i` is consumed at plan time (packed weights) rather than read from
    /// memory at run time.
    pub fn packs_input(&self, i: usize) -> bool {
        matches!(
            self,
            Op::Conv(_) | Op::ConvTranspose(_) | Op::Dense(_) | Op::QConv(_) | Op::QConvTranspose(_) | Op::QDense(_)
        ) && i >= 1
    }

    /// Arena scratch the op's step needs while it runs, bytes.
    pub fn scratch_bytes(&self, inputs: &[Fact], outputs: &[Fact]) -> usize {
        match self {
            Op::Conv(c) => c.scratch_bytes(inputs[0].1, outputs[0].1),
            Op::ConvTranspose(c) => c.scratch_bytes(inputs[0].1, outputs[0].1),
            Op::QEmulated(q) => q.scratch_bytes(inputs, outputs),
            Op::QConvTranspose(c) => c.scratch_bytes(inputs[0].1, outputs[0].1),
            Op::QConv(c) => c.scratch_bytes(inputs[0].1, outputs[0].1),
            _ => 0,
        }
    }

    /// Builds the run-time step.
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        match self {
            Op::Conv(c) => c.lower(ctx),
            Op::ConvTranspose(c) => c.lower(ctx),
            Op::Dense(d) => d.lower(ctx),
            Op::MatMul(m) => m.lower(ctx),
            Op::Pool(p) => p.lower(ctx),
            Op::GlobalPool(p) => p.lower(ctx),
            Op::Resize(r) => r.lower(ctx),
            Op::DepthToSpace(d) => d.lower(ctx),
            Op::Pad(p) => p.lower(ctx),
            Op::Unary(u) => u.lower(ctx),
            Op::Binary(b) => b.lower(ctx),
            Op::Transpose(t) => t.lower(ctx),
            Op::Concat(c) => c.lower(ctx),
            Op::Slice(s) => s.lower(ctx),
            Op::Gather(g) => g.lower(ctx),
            Op::Expand(e) => e.lower(ctx),
            Op::Cast(c) => c.lower(ctx),
            Op::Softmax(s) => s.lower(ctx),
            Op::Reduce(r) => r.lower(ctx),
            Op::QuantizeLinear(q) => q.lower(ctx),
            Op::DequantizeLinear(d) => d.lower(ctx),
            Op::QConv(c) => c.lower(ctx),
            Op::QConvTranspose(c) => c.lower(ctx),
            Op::QDense(d) => d.lower(ctx),
            Op::QEmulated(q) => q.lower(ctx),
            // Planned as an alias unless its input is a constant.
            Op::Reshape(r) => r.lower(ctx),
        }
    }

    /// The work of one run the `max_macs` limit counts: [`Op::macs`], plus a pooling
    /// window's taps (a huge kernel over heavy padding has a tiny output but a long run).
    pub fn work(&self, inputs: &[Fact], outputs: &[Fact]) -> u64 {
        match self {
            Op::Pool(p) => p.taps(outputs[0].1),
            _ => self.macs(inputs, outputs),
        }
    }

    /// Multiply-accumulates of one run (convolutions and matrix products; 0 otherwise).
    pub fn macs(&self, inputs: &[Fact], outputs: &[Fact]) -> u64 {
        match self {
            Op::Conv(c) => c.macs(outputs[0].1, inputs[1].1),
            Op::QConv(c) => c.conv.macs(outputs[0].1, inputs[1].1),
            Op::QConvTranspose(c) => c.deconv.macs(inputs[0].1, inputs[1].1),
            Op::QDense(_) => inputs[0].1.iter().product::<usize>() as u64 * inputs[1].1[0] as u64,
            Op::ConvTranspose(c) => c.macs(inputs[0].1, inputs[1].1),
            Op::Dense(d) => d.macs(inputs[0].1, inputs[1].1),
            Op::MatMul(_) => {
                let k = *inputs[0].1.last().unwrap_or(&1) as u64;
                outputs[0].1.iter().product::<usize>() as u64 * k
            }
            _ => 0,
        }
    }
}
