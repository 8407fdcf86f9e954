//! ReduceMean, ReduceSum, ReduceMax, ReduceMin.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::norm_axis;
use crate::ops::reduce::{Reduce, ReduceKind};
use crate::tensor::Tensor;
use crate::Result;
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    for name in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"] {
        r.insert(("", name), reduce);
    }
}

fn reduce(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let rank = imp.shape(x).len();
    let a = Attrs::new(node);
    let kind = match node.op_type.as_str() {
        "ReduceMean" => ReduceKind::Mean,
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMax" => ReduceKind::Max,
        _ => ReduceKind::Min,
    };
    // Axes moved from attribute to input in opset 13 for ReduceSum, 18 for the others.
    let input_since = if kind == ReduceKind::Sum { 13 } else { 18 };
    let axes = if imp.opset() >= input_since {
        imp.const_input(node, 1, "axes")?.map(Tensor::to_i64_vec)
    } else {
        a.ints("axes")?.map(<[i64]>::to_vec)
    };
    let axes = match axes.filter(|v| !v.is_empty()) {
        Some(v) => v.iter().map(|&ax| norm_axis(ax, rank)).collect::<Result<Vec<_>>>()?,
        None if a.int_or("noop_with_empty_axes", 0)? != 0 => {
            imp.bind(node, 0, x);
            return Ok(());
        }
        None => (0..rank).collect(),
    };
    let mut axes = axes;
    axes.sort_unstable();
    axes.dedup();
    let keep_dims = a.int_or("keepdims", 1)? != 0;
    imp.emit_node(node, Op::Reduce(Reduce { kind, axes, keep_dims }), vec![x])?;
    Ok(())
}
