//! The "QOperator" form of quantized models: `QLinearConv`, `QLinearMatMul`, `ConvInteger`,
//! `MatMulInteger`, and onnxruntime's com.microsoft `QLinearAdd`, `QLinearMul`,
//! `QLinearGlobalAveragePool`, `QLinearSigmoid`, `QLinearConcat`. Each is imported as the
//! QDQ sandwich it stands for (`DequantizeLinear → float op → QuantizeLinear`), which the
//! int8 pass then turns into the same int8 ops as QDQ exports.
//!
//! `ConvInteger` / `MatMulInteger` (int32 outputs) become `DQ(scale 1) → op → Cast`: exact
//! while every accumulator stays within ±2^24 (the f32 mantissa).

use super::conv::conv_params;
use super::matmul::emit_matmul;
use super::quant::qparams_at;
use super::Registry;
use crate::graph::{Op, ValueId};
use crate::onnx::{Attrs, Importer};
use crate::ops::binary::BinaryOp;
use crate::ops::cast::Cast;
use crate::ops::concat::Concat;
use crate::ops::pool::{GlobalPool, PoolKind};
use crate::ops::quantize::{int_range, DequantizeLinear, QParams, QuantizeLinear};
use crate::ops::transpose::{Transpose, TO_NCHW, TO_NHWC};
use crate::ops::unary::UnaryOp;
use crate::ops::{norm_axis, Layout};
use crate::tensor::{DType, Tensor};
use crate::{bail, Error, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "QLinearConv"), qlinear_conv);
    r.insert(("", "QLinearMatMul"), qlinear_matmul);
    r.insert(("", "ConvInteger"), integer_op);
    r.insert(("", "MatMulInteger"), integer_op);
    r.insert(("com.microsoft", "QLinearAdd"), qlinear_binary);
    r.insert(("com.microsoft", "QLinearMul"), qlinear_binary);
    r.insert(("com.microsoft", "QLinearGlobalAveragePool"), qlinear_global_average_pool);
    r.insert(("com.microsoft", "QLinearSigmoid"), qlinear_sigmoid);
    r.insert(("com.microsoft", "QLinearConcat"), qlinear_concat);
}

/// `DequantizeLinear` of input `x_ix` with the scale and zero point at `sz` (per `axis` when
/// the scale is a vector).
fn dequantize(imp: &mut Importer, node: &NodeProto, x_ix: usize, sz: (usize, usize), axis: i64) -> Result<ValueId> {
    let x = imp.input(node, x_ix)?;
    let dt = imp.dtype(x);
    let (params, zdt) = qparams_at(imp, node, sz, imp.shape(x), axis, Some(Tensor::zeros(dt, vec![])?))?;
    if zdt != dt {
        bail!("zero point of input {x_ix} is {zdt} but the input is {dt}");
    }
    Ok(imp.emit(
        &imp.derived(node, &format!("dq{x_ix}")),
        Op::DequantizeLinear(DequantizeLinear { params }),
        vec![x],
    )?[0])
}

/// `QuantizeLinear` of `v` with the scale and zero point at `sz`, bound to the node's output.
fn quantize_output(imp: &mut Importer, node: &NodeProto, v: ValueId, sz: (usize, usize), default: DType) -> Result<()> {
    let (params, dtype) = qparams_at(imp, node, sz, imp.shape(v), 1, Some(Tensor::zeros(default, vec![])?))?;
    if params.scale.len() != 1 {
        bail!("the output quantization must be per tensor");
    }
    let (qmin, qmax) = int_range(dtype)?;
    if dtype == DType::I32 {
        bail!("int32 outputs are not supported");
    }
    imp.emit_node(node, Op::QuantizeLinear(QuantizeLinear { params, dtype, qmin, qmax }), vec![v])?;
    Ok(())
}

fn qlinear_conv(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = dequantize(imp, node, 0, (1, 2), 1)?;
    let w = dequantize(imp, node, 3, (4, 5), 0)?;
    let conv = conv_params(imp, node, x, w)?;
    let mut inputs = vec![x, w];
    if let Some(b) = imp.opt_input(node, 8)? {
        // The int32 bias is in units of s_x · s_w (per output channel).
        let (xs, ws) = (imp.const_input(node, 1, "x_scale")?, imp.const_input(node, 4, "w_scale")?);
        let (xs, ws) = match (xs, ws) {
            (Some(x), Some(w)) => (x.to_f32_vec()[0], w.to_f32_vec()),
            _ => bail!("scales must be constants"),
        };
        let cout = imp.shape(b).first().copied().unwrap_or(0);
        let scale: Vec<f32> = (0..cout).map(|c| xs * ws[if ws.len() == 1 { 0 } else { c }]).collect();
        if imp.const_of(b).is_none() || imp.dtype(b) != DType::I32 {
            bail!("QLinearConv bias must be a constant int32 tensor");
        }
        let params = QParams { zero_point: vec![0; scale.len()], axis: (scale.len() > 1).then_some(0), scale };
        inputs
            .push(imp.emit(&imp.derived(node, "bias"), Op::DequantizeLinear(DequantizeLinear { params }), vec![b])?[0]);
    }
    let y = imp.emit(&imp.derived(node, "conv"), Op::Conv(conv), inputs)?[0];
    let default = imp.dtype(imp.input(node, 0)?);
    quantize_output(imp, node, y, (6, 7), default)
}

fn qlinear_matmul(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = dequantize(imp, node, 0, (1, 2), 1)?;
    // Per-column scales of B ([K, N]) are on its last axis.
    let b_rank = imp.shape(imp.input(node, 3)?).len() as i64;
    let b = dequantize(imp, node, 3, (4, 5), b_rank - 1)?;
    let y = emit_matmul(imp, node, a, b, &imp.derived(node, "matmul"))?;
    let default = imp.dtype(imp.input(node, 0)?);
    quantize_output(imp, node, y, (6, 7), default)
}

/// Zero-point-only dequantization (scale 1) for ConvInteger / MatMulInteger.
fn centre(imp: &mut Importer, node: &NodeProto, x_ix: usize, zp_ix: usize, axis: usize) -> Result<ValueId> {
    let x = imp.input(node, x_ix)?;
    let zp = match imp.const_input(node, zp_ix, "zero point")? {
        Some(z) => z.to_i64_vec().into_iter().map(|v| v as i32).collect(),
        None => vec![0],
    };
    let n = zp.len();
    let params = QParams { scale: vec![1.0; n], zero_point: zp, axis: (n > 1).then_some(axis) };
    Ok(imp.emit(
        &imp.derived(node, &format!("centred{x_ix}")),
        Op::DequantizeLinear(DequantizeLinear { params }),
        vec![x],
    )?[0])
}

fn integer_op(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = centre(imp, node, 0, 2, 0)?;
    let y = if node.op_type == "ConvInteger" {
        let w = centre(imp, node, 1, 3, 0)?;
        let conv = conv_params(imp, node, x, w)?;
        imp.emit(&imp.derived(node, "conv"), Op::Conv(conv), vec![x, w])?[0]
    } else {
        let b_rank = imp.shape(imp.input(node, 1)?).len();
        let w = centre(imp, node, 1, 3, b_rank.saturating_sub(1))?;
        emit_matmul(imp, node, x, w, &imp.derived(node, "matmul"))?
    };
    imp.emit_node(node, Op::Cast(Cast { to: DType::I32 }), vec![y])?;
    Ok(())
}

fn qlinear_binary(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = dequantize(imp, node, 0, (1, 2), 1)?;
    let b = dequantize(imp, node, 3, (4, 5), 1)?;
    let op = if node.op_type == "QLinearAdd" { BinaryOp::Add } else { BinaryOp::Mul };
    let y = imp.emit(&imp.derived(node, "float"), Op::Binary(op), vec![a, b])?[0];
    let default = imp.dtype(imp.input(node, 0)?);
    quantize_output(imp, node, y, (6, 7), default)
}

fn qlinear_global_average_pool(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let mut x = dequantize(imp, node, 0, (1, 2), 1)?;
    if imp.shape(x).len() != 4 {
        bail!("only rank-4 global pooling is supported, got {:?}", imp.shape(x));
    }
    let channels_last = Attrs::new(node).int_or("channels_last", 0)? != 0;
    if channels_last {
        x = imp.emit(&imp.derived(node, "to_nchw"), Op::Transpose(Transpose { perm: TO_NCHW.to_vec() }), vec![x])?[0];
    }
    let mut y = imp.emit(
        &imp.derived(node, "gap"),
        Op::GlobalPool(GlobalPool { kind: PoolKind::Avg, layout: Layout::Nchw }),
        vec![x],
    )?[0];
    if channels_last {
        y = imp.emit(&imp.derived(node, "to_nhwc"), Op::Transpose(Transpose { perm: TO_NHWC.to_vec() }), vec![y])?[0];
    }
    let default = imp.dtype(imp.input(node, 0)?);
    quantize_output(imp, node, y, (3, 4), default)
}

fn qlinear_sigmoid(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = dequantize(imp, node, 0, (1, 2), 1)?;
    let y = imp.emit(&imp.derived(node, "sigmoid"), Op::Unary(UnaryOp::Sigmoid), vec![x])?[0];
    let default = imp.dtype(imp.input(node, 0)?);
    quantize_output(imp, node, y, (3, 4), default)
}

fn qlinear_concat(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    if node.input.len() < 5 || (node.input.len() - 2) % 3 != 0 {
        bail!("QLinearConcat takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples");
    }
    let mut parts = Vec::new();
    for i in (2..node.input.len()).step_by(3) {
        parts.push(dequantize(imp, node, i, (i + 1, i + 2), 1)?);
    }
    let rank = imp.shape(parts[0]).len();
    let axis = norm_axis(Attrs::new(node).int("axis")?.ok_or_else(|| Error::invalid("axis is required"))?, rank)?;
    let y = imp.emit(&imp.derived(node, "concat"), Op::Concat(Concat { axis }), parts)?[0];
    let default = imp.dtype(imp.input(node, 2)?);
    quantize_output(imp, node, y, (0, 1), default)
}
