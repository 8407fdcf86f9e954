//! Gemm and MatMul. With constant weights both become [`Dense`] (weights stored `[N, K]`);
//! otherwise a run-time [`MatMul`].

use super::Registry;
use crate::graph::{Op, ValueId};
use crate::onnx::{Attrs, Importer};
use crate::ops::binary::BinaryOp;
use crate::ops::dense::Dense;
use crate::ops::matmul::MatMul;
use crate::ops::transpose::Transpose;
use crate::ops::Clamp;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "Gemm"), gemm);
    r.insert(("", "MatMul"), matmul);
}

/// A 2-D constant as `[N, K]` (output-major) given it is stored `[K, N]` (`transposed` =
/// false) or already `[N, K]`, scaled by `alpha`.
fn dense_weight(t: &Tensor, transposed: bool, alpha: f32) -> Result<Tensor> {
    let (r, c) = match t.shape() {
        [r, c] => (*r, *c),
        s => bail!("weight must be 2-D, got {s:?}"),
    };
    let v = t.cast(DType::F32).to_f32_vec();
    let (n, k) = if transposed { (r, c) } else { (c, r) };
    let mut w = vec![0f32; n * k];
    for i in 0..n {
        for j in 0..k {
            w[i * k + j] = alpha
                * if transposed {
                    v[i * c + j]
                } else {
                    v[j * c + i]
                };
        }
    }
    Tensor::from_vec(vec![n, k], w)
}

fn transpose_2d(imp: &mut Importer, node: &NodeProto, v: ValueId, what: &str) -> Result<ValueId> {
    Ok(imp.emit(
        &imp.derived(node, what),
        Op::Transpose(Transpose { perm: vec![1, 0] }),
        vec![v],
    )?[0])
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
    let c = imp.opt_input(node, 2)?;
    if let Some(bt) = imp.const_input(node, 1, "B").ok().flatten().cloned() {
        let w = dense_weight(&bt, tb, alpha)?;
        let n = w.shape()[0];
        let w = imp.constant(&imp.derived(node, "weight"), w)?;
        // A bias that is the same for every row folds into Dense; anything else is added.
        let bias_row = c.and_then(|c| imp.const_of(c)).and_then(|ct| {
            let s = ct.shape();
            let per_row = s.iter().product::<usize>() == 1 || s == [n] || s == [1, n];
            per_row.then(|| {
                let v = ct.cast(DType::F32).to_f32_vec();
                (0..n)
                    .map(|j| beta * v[if v.len() == 1 { 0 } else { j }])
                    .collect::<Vec<f32>>()
            })
        });
        let mut inputs = vec![a, w];
        if let Some(b) = &bias_row {
            inputs.push(imp.constant(
                &imp.derived(node, "bias"),
                Tensor::from_vec(vec![n], b.clone())?,
            )?);
        }
        let has_extra_c = c.is_some() && bias_row.is_none();
        let name = if has_extra_c {
            imp.derived(node, "ab")
        } else {
            node.output[0].clone()
        };
        let y = imp.emit(&name, Op::Dense(Dense { clamp: Clamp::NONE }), inputs)?[0];
        return finish_with_c(imp, node, y, if has_extra_c { c } else { None }, beta);
    }
    let mut b = imp.input(node, 1)?;
    if tb {
        b = transpose_2d(imp, node, b, "B_t")?;
    }
    let mut y = imp.emit(&imp.derived(node, "ab"), Op::MatMul(MatMul), vec![a, b])?[0];
    if alpha != 1.0 {
        let k = imp.constant(&imp.derived(node, "alpha"), Tensor::scalar(alpha))?;
        y = imp.emit(
            &imp.derived(node, "alpha_ab"),
            Op::Binary(BinaryOp::Mul),
            vec![y, k],
        )?[0];
    }
    finish_with_c(imp, node, y, c, beta)
}

/// Adds `beta * C` to `y` (when C is present) and binds the node's output.
fn finish_with_c(
    imp: &mut Importer,
    node: &NodeProto,
    y: ValueId,
    c: Option<ValueId>,
    beta: f32,
) -> Result<()> {
    let Some(mut c) = c else {
        imp.bind(node, 0, y);
        return Ok(());
    };
    if beta != 1.0 {
        let k = imp.constant(&imp.derived(node, "beta"), Tensor::scalar(beta))?;
        c = imp.emit(
            &imp.derived(node, "beta_c"),
            Op::Binary(BinaryOp::Mul),
            vec![c, k],
        )?[0];
    }
    let out = imp.emit(&node.output[0], Op::Binary(BinaryOp::Add), vec![y, c])?[0];
    imp.bind(node, 0, out);
    Ok(())
}

fn matmul(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = imp.input(node, 0)?;
    if let Some(bt) = imp.const_input(node, 1, "B").ok().flatten().cloned() {
        if bt.rank() == 2 && !imp.shape(a).is_empty() && !imp.graph.value(a).is_const() {
            let w = dense_weight(&bt, false, 1.0)?;
            let w = imp.constant(&imp.derived(node, "weight"), w)?;
            imp.emit_node(node, Op::Dense(Dense { clamp: Clamp::NONE }), vec![a, w])?;
            return Ok(());
        }
    }
    let b = imp.input(node, 1)?;
    imp.emit_node(node, Op::MatMul(MatMul), vec![a, b])?;
    Ok(())
}
