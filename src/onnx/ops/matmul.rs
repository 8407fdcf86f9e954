//! Gemm and MatMul. With constant weights (or dequantized constant weights, as QDQ exports
//! give them) both become [`Dense`] with weights stored `[N, K]`; otherwise a run-time
//! [`MatMul`].

use super::Registry;
use crate::graph::{Op, ValueId};
use crate::onnx::{Attrs, Importer};
use crate::ops::binary::BinaryOp;
use crate::ops::dense::Dense;
use crate::ops::matmul::MatMul;
use crate::ops::quantize::DequantizeLinear;
use crate::ops::transpose::Transpose;
use crate::ops::Clamp;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "Gemm"), gemm);
    r.insert(("", "MatMul"), matmul);
}

/// A 2-D matrix as `[N, K]` given it is stored `[K, N]` (`transposed` = false) or `[N, K]`.
fn output_major(t: &Tensor, transposed: bool) -> Result<Tensor> {
    if t.rank() != 2 {
        bail!("weight must be 2-D, got {:?}", t.shape());
    }
    if transposed {
        Ok(t.clone())
    } else {
        Transpose { perm: vec![1, 0] }.eval(t)
    }
}

/// The weight of a fully-connected layer as a value of shape `[N, K]`, scaled by `alpha`,
/// for `B` stored `[K, N]` (`transposed` = false) or `[N, K]`. `None` when `B` is a run-time
/// value. A dequantized constant stays quantized: the integer matrix is rearranged and its
/// per-axis scales follow their axis.
fn dense_weight(
    imp: &mut Importer,
    node: &NodeProto,
    b: ValueId,
    transposed: bool,
    alpha: f32,
) -> Result<Option<ValueId>> {
    if let Some(t) = imp.const_of(b).cloned() {
        let mut w = output_major(&t.cast(DType::F32), transposed)?;
        if alpha != 1.0 {
            w.as_slice_mut::<f32>()?.iter_mut().for_each(|v| *v *= alpha);
        }
        return Ok(Some(imp.constant(&imp.derived(node, "weight"), w)?));
    }
    // A transposed weight (torch exports Linear as MatMul(x, Transpose(W))) is read through.
    if let Some(t) = imp.producer(b).filter(|n| n.op == Op::Transpose(Transpose { perm: vec![1, 0] })) {
        let src = t.inputs[0];
        if imp.is_weight(src) {
            return dense_weight(imp, node, src, !transposed, alpha);
        }
    }
    let Some((q, params)) = imp.dequantized_const(b).map(|(t, p)| (t.clone(), p.clone())) else {
        return Ok(None);
    };
    if alpha <= 0.0 {
        bail!("alpha {alpha} with quantized weights is not supported");
    }
    let wq = output_major(&q, transposed)?;
    let mut params = params;
    params.axis = params.axis.map(|a| if transposed { a } else { 1 - a });
    params.scale.iter_mut().for_each(|s| *s *= alpha);
    let wq = imp.constant(&imp.derived(node, "weight_q"), wq)?;
    Ok(Some(imp.emit(&imp.derived(node, "weight"), Op::DequantizeLinear(DequantizeLinear { params }), vec![wq])?[0]))
}

/// A bias `C` that is the same for every row (`[N]`, `[1, N]` or one value), as a `[N]`
/// value scaled by `beta`: a constant, or a dequantized constant. `None` otherwise.
fn dense_bias(imp: &mut Importer, node: &NodeProto, c: ValueId, n: usize, beta: f32) -> Result<Option<ValueId>> {
    let shape = imp.shape(c).to_vec();
    if !(shape.iter().product::<usize>() == 1 || shape == [n] || shape == [1, n]) {
        return Ok(None);
    }
    if let Some(t) = imp.const_of(c).cloned() {
        let v = t.cast(DType::F32).to_f32_vec();
        let b: Vec<f32> = (0..n).map(|j| beta * v[if v.len() == 1 { 0 } else { j }]).collect();
        return Ok(Some(imp.constant(&imp.derived(node, "bias"), Tensor::from_vec(vec![n], b)?)?));
    }
    let Some((q, params)) = imp.dequantized_const(c).map(|(t, p)| (t.clone(), p.clone())) else {
        return Ok(None);
    };
    if q.len() != n || beta <= 0.0 {
        return Ok(None);
    }
    let mut params = params;
    params.axis = params.axis.map(|_| 0);
    params.scale.iter_mut().for_each(|s| *s *= beta);
    let bq = imp.constant(&imp.derived(node, "bias_q"), q.reshaped(vec![n])?)?;
    Ok(Some(imp.emit(&imp.derived(node, "bias"), Op::DequantizeLinear(DequantizeLinear { params }), vec![bq])?[0]))
}

fn transpose_2d(imp: &mut Importer, node: &NodeProto, v: ValueId, what: &str) -> Result<ValueId> {
    Ok(imp.emit(&imp.derived(node, what), Op::Transpose(Transpose { perm: vec![1, 0] }), vec![v])?[0])
}

fn gemm(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let at = Attrs::new(node);
    let alpha = at.float_or("alpha", 1.0)?;
    let beta = at.float_or("beta", 1.0)?;
    let (ta, tb) = (at.int_or("transA", 0)? != 0, at.int_or("transB", 0)? != 0);
    let mut a = imp.input(node, 0)?;
    if imp.shape(a).len() != 2 {
        bail!("Gemm input A must be 2-D, got {:?}", imp.shape(a));
    }
    if ta {
        a = transpose_2d(imp, node, a, "A_t")?;
    }
    let b = imp.input(node, 1)?;
    let c = imp.opt_input(node, 2)?;
    if let Some(w) = dense_weight(imp, node, b, tb, alpha)? {
        let n = imp.shape(w)[0];
        let bias = match c {
            Some(c) => dense_bias(imp, node, c, n, beta)?,
            None => None,
        };
        let mut inputs = vec![a, w];
        inputs.extend(bias);
        let extra_c = if bias.is_none() { c } else { None };
        let y = if extra_c.is_some() {
            imp.emit(&imp.derived(node, "ab"), Op::Dense(Dense { clamp: Clamp::NONE }), inputs)?[0]
        } else {
            imp.emit_node(node, Op::Dense(Dense { clamp: Clamp::NONE }), inputs)?
        };
        return finish_with_c(imp, node, y, extra_c, beta);
    }
    let b = if tb { transpose_2d(imp, node, b, "B_t")? } else { b };
    let mut y = imp.emit(&imp.derived(node, "ab"), Op::MatMul(MatMul), vec![a, b])?[0];
    if alpha != 1.0 {
        let k = imp.constant(&imp.derived(node, "alpha"), Tensor::scalar(alpha))?;
        y = imp.emit(&imp.derived(node, "alpha_ab"), Op::Binary(BinaryOp::Mul), vec![y, k])?[0];
    }
    finish_with_c(imp, node, y, c, beta)
}

/// Adds `beta * C` to `y` (when C is present) and binds the node's output.
fn finish_with_c(imp: &mut Importer, node: &NodeProto, y: ValueId, c: Option<ValueId>, beta: f32) -> Result<()> {
    let Some(mut c) = c else {
        imp.bind(node, 0, y);
        return Ok(());
    };
    if beta != 1.0 {
        let k = imp.constant(&imp.derived(node, "beta"), Tensor::scalar(beta))?;
        c = imp.emit(&imp.derived(node, "beta_c"), Op::Binary(BinaryOp::Mul), vec![c, k])?[0];
    }
    imp.emit_node(node, Op::Binary(BinaryOp::Add), vec![y, c])?;
    Ok(())
}

/// `a · b` with numpy semantics: a fully-connected layer when `b` is a (dequantized)
/// constant matrix, a run-time product otherwise. Returns the product, named `name`.
pub(crate) fn emit_matmul(imp: &mut Importer, node: &NodeProto, a: ValueId, b: ValueId, name: &str) -> Result<ValueId> {
    if imp.shape(b).len() == 2 && !imp.shape(a).is_empty() && !imp.graph.value(a).is_const() {
        if let Some(w) = dense_weight(imp, node, b, false, 1.0)? {
            return Ok(imp.emit(name, Op::Dense(Dense { clamp: Clamp::NONE }), vec![a, w])?[0]);
        }
    }
    Ok(imp.emit(name, Op::MatMul(MatMul), vec![a, b])?[0])
}

fn matmul(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    let y = emit_matmul(imp, node, a, b, &node.output[0])?;
    imp.bind(node, 0, y);
    Ok(())
}
