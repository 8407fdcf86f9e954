//! Element-wise ops: activations, arithmetic, variadic reductions over inputs.

use super::{clip_bounds, Registry};
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::binary::BinaryOp;
use crate::ops::unary::UnaryOp;
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    for name in [
        "Relu",
        "Sigmoid",
        "Tanh",
        "Exp",
        "Log",
        "Neg",
        "Abs",
        "Sqrt",
        "Reciprocal",
        "Floor",
        "Ceil",
        "Round",
        "LeakyRelu",
        "HardSigmoid",
        "HardSwish",
        "Softplus",
        "Erf",
    ] {
        r.insert(("", name), unary);
    }
    r.insert(("", "Clip"), clip);
    for name in ["Add", "Sub", "Mul", "Div", "Pow", "PRelu"] {
        r.insert(("", name), binary);
    }
    for name in ["Sum", "Max", "Min", "Mean"] {
        r.insert(("", name), variadic);
    }
    r.insert(("", "Identity"), identity);
    r.insert(("", "Dropout"), identity);
}

fn float_only(imp: &Importer, node: &NodeProto) -> Result<()> {
    for i in 0..node.input.len() {
        if let Some(v) = imp.opt_input(node, i)? {
            if imp.dtype(v) != crate::tensor::DType::F32 && !imp.graph.value(v).is_const() {
                bail!("{} on a {} tensor is not supported (f32 only)", node.op_type, imp.dtype(v));
            }
        }
    }
    Ok(())
}

fn unary(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = Attrs::new(node);
    let op = match node.op_type.as_str() {
        "Relu" => UnaryOp::Relu,
        "Sigmoid" => UnaryOp::Sigmoid,
        "Tanh" => UnaryOp::Tanh,
        "Exp" => UnaryOp::Exp,
        "Log" => UnaryOp::Log,
        "Neg" => UnaryOp::Neg,
        "Abs" => UnaryOp::Abs,
        "Sqrt" => UnaryOp::Sqrt,
        "Reciprocal" => UnaryOp::Reciprocal,
        "Floor" => UnaryOp::Floor,
        "Ceil" => UnaryOp::Ceil,
        "Round" => UnaryOp::Round,
        "LeakyRelu" => UnaryOp::LeakyRelu { alpha: a.float_or("alpha", 0.01)? },
        "HardSigmoid" => UnaryOp::HardSigmoid { alpha: a.float_or("alpha", 0.2)?, beta: a.float_or("beta", 0.5)? },
        "HardSwish" => UnaryOp::HardSwish,
        "Softplus" => UnaryOp::Softplus,
        "Erf" => UnaryOp::Erf,
        other => bail!("'{other}' is not a unary op"),
    };
    let x = imp.input(node, 0)?;
    if !imp.graph.value(x).is_const() && !matches!(op, UnaryOp::Relu | UnaryOp::Neg | UnaryOp::Abs) {
        float_only(imp, node)?;
    }
    imp.emit_node(node, Op::Unary(op), vec![x])?;
    Ok(())
}

fn clip(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let c = clip_bounds(imp, node)?;
    let x = imp.input(node, 0)?;
    imp.emit_node(node, Op::Unary(UnaryOp::Clip { min: c.min, max: c.max }), vec![x])?;
    Ok(())
}

fn binary(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let op = match node.op_type.as_str() {
        "Add" => BinaryOp::Add,
        "Sub" => BinaryOp::Sub,
        "Mul" => BinaryOp::Mul,
        "Div" => BinaryOp::Div,
        "Pow" => BinaryOp::Pow,
        "PRelu" => BinaryOp::PRelu,
        other => bail!("'{other}' is not a binary op"),
    };
    if imp.opset() < 7 && Attrs::new(node).has("broadcast") {
        bail!("legacy broadcast attribute (opset < 7) is not supported");
    }
    let (a, mut b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    // Pow with an integer exponent on floats: keep the exponent in the base's type.
    if op == BinaryOp::Pow && imp.dtype(a) != imp.dtype(b) {
        if let Some(t) = imp.const_of(b).cloned() {
            b = imp.constant(&imp.derived(node, "exponent"), t.cast(imp.dtype(a)))?;
        }
    }
    imp.emit_node(node, Op::Binary(op), vec![a, b])?;
    Ok(())
}

/// Sum / Max / Min / Mean of any number of inputs: a chain of binary ops.
fn variadic(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let op = match node.op_type.as_str() {
        "Sum" | "Mean" => BinaryOp::Add,
        "Max" => BinaryOp::Max,
        _ => BinaryOp::Min,
    };
    let n = node.input.len();
    if n == 0 {
        bail!("{} needs at least one input", node.op_type);
    }
    let mut acc = imp.input(node, 0)?;
    for i in 1..n {
        let b = imp.input(node, i)?;
        acc = imp.emit(&imp.derived(node, &format!("acc{i}")), Op::Binary(op), vec![acc, b])?[0];
    }
    if node.op_type == "Mean" {
        let k = imp.constant(&imp.derived(node, "count"), crate::tensor::Tensor::scalar(n as f32))?;
        acc = imp.emit(&imp.derived(node, "mean"), Op::Binary(BinaryOp::Div), vec![acc, k])?[0];
    }
    imp.bind(node, 0, acc);
    Ok(())
}

fn identity(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    if node.op_type == "Dropout" {
        // Opset 12+: `training_mode` (input 2) makes Dropout random unless `ratio` is 0.
        if imp.opt_input(node, 2)?.is_some() {
            let training =
                imp.const_input(node, 2, "training_mode")?.is_some_and(|t| t.to_i64_vec().iter().any(|&v| v != 0));
            let ratio = match imp.const_input(node, 1, "ratio")? {
                Some(t) => t.to_f32_vec().first().copied().unwrap_or(0.5),
                None => 0.5,
            };
            if training && ratio != 0.0 {
                bail!("training-mode Dropout (random, ratio {ratio}) is not supported");
            }
        }
    }
    let x = imp.input(node, 0)?;
    imp.bind(node, 0, x);
    if node.op_type == "Dropout" && node.output.get(1).is_some_and(|m| !m.is_empty()) {
        // Nothing is dropped: the mask keeps every element.
        let shape = imp.shape(x).to_vec();
        let n = crate::tensor::numel(&shape)?;
        let mask = crate::tensor::Tensor::new(shape, crate::tensor::TensorData::Bool(vec![1; n]))?;
        let m = imp.constant(&node.output[1], mask)?;
        imp.bind(node, 1, m);
    }
    Ok(())
}
