//! Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D at `axis`; that is a
//! softmax over the flattened trailing axes, built here as reshape → softmax → reshape.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::norm_axis;
use crate::ops::reshape::Reshape;
use crate::ops::softmax::Softmax;
use crate::Result;
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "Softmax"), softmax);
    r.insert(("", "LogSoftmax"), softmax);
}

fn softmax(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape(x).to_vec();
    let log = node.op_type == "LogSoftmax";
    let legacy = imp.opset() < 13;
    let axis = norm_axis(Attrs::new(node).int_or("axis", if legacy { 1 } else { -1 })?, shape.len())?;
    if !legacy || axis + 1 == shape.len() {
        imp.emit_node(node, Op::Softmax(Softmax { axis, log }), vec![x])?;
        return Ok(());
    }
    let flat = vec![shape[..axis].iter().product(), shape[axis..].iter().product()];
    let r = imp.emit(&imp.derived(node, "2d"), Op::Reshape(Reshape { shape: flat }), vec![x])?[0];
    let s = imp.emit(&imp.derived(node, "softmax2d"), Op::Softmax(Softmax { axis: 1, log }), vec![r])?[0];
    imp.emit_node(node, Op::Reshape(Reshape { shape }), vec![s])?;
    Ok(())
}
