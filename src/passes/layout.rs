//! The switch from ONNX's NCHW to NHWC, the only layout spatial kernels implement.
//!
//! Every spatial op is rewritten to NHWC with a transpose on its way in and one on its way
//! out; [`super::transpose_sink`] then cancels the pairs, leaving a layout change only where
//! the model itself needs NCHW data (its input, a flatten in a head, an NCHW output).

use crate::graph::{Graph, Node, Op, ValueId};
use crate::ops::transpose::{Transpose, TO_NCHW, TO_NHWC};
use crate::ops::Layout;
use crate::Result;

fn layout_of(op: &mut Op) -> Option<&mut Layout> {
    match op {
        Op::Conv(c) => Some(&mut c.layout),
        Op::ConvTranspose(c) => Some(&mut c.layout),
        Op::Pool(p) => Some(&mut p.layout),
        Op::GlobalPool(p) => Some(&mut p.layout),
        Op::Resize(r) => Some(&mut r.layout),
        Op::DepthToSpace(d) => Some(&mut d.layout),
        Op::QConv(c) => Some(&mut c.conv.layout),
        Op::QConvTranspose(c) => Some(&mut c.deconv.layout),
        Op::QEmulated(q) => layout_of(&mut q.op),
        _ => None,
    }
}

/// Rewrites every NCHW spatial op to NHWC, wrapped in transposes.
pub fn to_nhwc(g: &mut Graph) -> Result<()> {
    let old = std::mem::take(&mut g.nodes);
    let mut nodes = Vec::with_capacity(old.len());
    for mut node in old {
        let Some(layout) = layout_of(&mut node.op) else {
            nodes.push(node);
            continue;
        };
        if *layout != Layout::Nchw {
            nodes.push(node);
            continue;
        }
        *layout = Layout::Nhwc;
        let x = node.inputs[0];
        let xs = g.value(x).shape.clone();
        let x_nhwc =
            g.add_value(g.derived_name(&format!("{}/nhwc_in", node.name)), g.value(x).dtype, permute(&xs, &TO_NHWC));
        g.value_mut(x_nhwc).origin = g.value(x).origin.as_ref().map(|o| o.then(&TO_NHWC));
        nodes.push(Node {
            name: format!("{}/to_nhwc", node.name),
            op: transpose(&TO_NHWC),
            inputs: vec![x],
            outputs: vec![x_nhwc],
        });
        let out = node.outputs[0];
        let os = g.value(out).shape.clone();
        let out_nhwc: ValueId =
            g.add_value(g.derived_name(&format!("{}/nhwc_out", node.name)), g.value(out).dtype, permute(&os, &TO_NHWC));
        g.value_mut(out_nhwc).origin = g.value(out).origin.as_ref().map(|o| o.then(&TO_NHWC));
        node.inputs[0] = x_nhwc;
        node.outputs[0] = out_nhwc;
        let back = Node {
            name: format!("{}/to_nchw", node.name),
            op: transpose(&TO_NCHW),
            inputs: vec![out_nhwc],
            outputs: vec![out],
        };
        nodes.push(node);
        nodes.push(back);
    }
    g.nodes = nodes;
    Ok(())
}

fn transpose(perm: &[usize]) -> Op {
    Op::Transpose(Transpose { perm: perm.to_vec() })
}

/// `shape` permuted: output axis `i` is input axis `perm[i]`.
pub fn permute(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    perm.iter().map(|&p| shape[p]).collect()
}
