//! Moves transposes down through ops that do not care about axis order (element-wise ops,
//! Q/DQ, concat, pad, slice, one-axis gather, softmax, keep-dims reductions — with their axes
//! remapped and constant operands permuted) and composes consecutive transposes, so that the
//! pairs the layout pass creates cancel out. One forward sweep in execution order.
//!
//! Notation: a transposed value `t = transpose(x, P)` has `t.shape[i] = x.shape[P[i]]`, so
//! axis `a` of `t` is axis `P[a]` of `x`.

use super::layout::permute;
use crate::graph::{Graph, Node, Op, ValueId};
use crate::ops::transpose::Transpose;
use crate::Result;

pub fn run(g: &mut Graph) -> Result<()> {
    let old = std::mem::take(&mut g.nodes);
    let mut nodes: Vec<Node> = Vec::with_capacity(old.len());
    // For values produced by a transpose: (its input, its permutation).
    let mut transposed: Vec<Option<(ValueId, Vec<usize>)>> = vec![None; g.values.len()];
    let mut alias: Vec<ValueId> = (0..g.values.len()).map(ValueId).collect();
    for mut node in old {
        for v in &mut node.inputs {
            *v = alias[v.0];
        }
        if let Op::Transpose(t) = &node.op {
            let x = node.inputs[0];
            let out = node.outputs[0];
            let (src, perm) = match transposed.get(x.0).cloned().flatten() {
                Some((src, p)) => (src, Transpose { perm: p }.then(t).perm),
                None => (x, t.perm.clone()),
            };
            if perm.iter().enumerate().all(|(i, &p)| i == p) && !g.is_output(out) {
                alias[out.0] = src;
                continue;
            }
            node.inputs[0] = src;
            node.op = Op::Transpose(Transpose { perm: perm.clone() });
            grow(&mut transposed, &mut alias, g.values.len());
            transposed[out.0] = Some((src, perm));
            nodes.push(node);
            continue;
        }
        match sink(g, &node, &transposed) {
            Some((op, inputs, perm)) => {
                let out = node.outputs[0];
                let inv = Transpose { perm: perm.clone() }.inverse();
                let shape = permute(&g.value(out).shape, &inv.perm);
                let inner = g.add_value(g.derived_name(&g.value(out).name), g.value(out).dtype, shape);
                g.value_mut(inner).origin = g.value(out).origin.as_ref().map(|o| o.then(&inv.perm));
                grow(&mut transposed, &mut alias, g.values.len());
                nodes.push(Node { name: node.name.clone(), op, inputs, outputs: vec![inner] });
                nodes.push(Node {
                    name: format!("{}/transpose", node.name),
                    op: Op::Transpose(Transpose { perm: perm.clone() }),
                    inputs: vec![inner],
                    outputs: vec![out],
                });
                transposed[out.0] = Some((inner, perm));
            }
            None => nodes.push(node),
        }
    }
    for v in &mut g.outputs {
        *v = alias[v.0];
    }
    g.nodes = nodes;
    g.prune();
    g.sort()
}

fn grow(transposed: &mut Vec<Option<(ValueId, Vec<usize>)>>, alias: &mut Vec<ValueId>, n: usize) {
    transposed.resize(n, None);
    while alias.len() < n {
        alias.push(ValueId(alias.len()));
    }
}

/// If `node` can run on the untransposed inputs, its rewritten op, inputs and the
/// permutation to apply after it.
fn sink(
    g: &mut Graph,
    node: &Node,
    transposed: &[Option<(ValueId, Vec<usize>)>],
) -> Option<(Op, Vec<ValueId>, Vec<usize>)> {
    if node.outputs.len() != 1 {
        return None;
    }
    let rank = g.value(node.outputs[0]).shape.len();
    // The common permutation of the transposed inputs.
    let perm = node.inputs.iter().find_map(|v| transposed.get(v.0).cloned().flatten())?.1;
    if perm.len() != rank {
        return None;
    }
    let remap = |a: usize| perm[a];
    let op = match &node.op {
        Op::Unary(_) | Op::Cast(_) | Op::Binary(_) => node.op.clone(),
        Op::QEmulated(q) => match &*q.op {
            Op::Unary(_) | Op::Binary(_) => node.op.clone(),
            Op::Concat(c) => {
                let concat = Op::Concat(crate::ops::concat::Concat { axis: remap(c.axis) });
                Op::QEmulated(crate::ops::qemulated::QEmulated { op: Box::new(concat), ..q.clone() })
            }
            _ => return None,
        },
        Op::Gather(gt) if gt.indices_shape.len() == 1 => {
            Op::Gather(crate::ops::gather::Gather { axis: remap(gt.axis), ..gt.clone() })
        }
        Op::QuantizeLinear(q) => {
            let mut q = q.clone();
            q.params.axis = q.params.axis.map(remap);
            Op::QuantizeLinear(q)
        }
        Op::DequantizeLinear(d) => {
            let mut d = d.clone();
            d.params.axis = d.params.axis.map(remap);
            Op::DequantizeLinear(d)
        }
        Op::Concat(c) => Op::Concat(crate::ops::concat::Concat { axis: remap(c.axis) }),
        Op::Softmax(s) => Op::Softmax(crate::ops::softmax::Softmax { axis: remap(s.axis), log: s.log }),
        Op::Pad(p) => {
            let mut pads = vec![(0, 0); rank];
            for (a, &pp) in p.pads.iter().enumerate() {
                pads[remap(a)] = pp;
            }
            Op::Pad(crate::ops::pad::Pad { pads, value: p.value })
        }
        Op::Slice(s) => {
            let mut ranges = s.ranges.clone();
            for (a, &r) in s.ranges.iter().enumerate() {
                ranges[remap(a)] = r;
            }
            Op::Slice(crate::ops::slice::Slice { ranges })
        }
        Op::Reduce(r) if r.keep_dims => {
            let mut r = r.clone();
            r.axes = r.axes.iter().map(|&a| remap(a)).collect();
            r.axes.sort_unstable();
            Op::Reduce(r)
        }
        _ => return None,
    };
    let inv = Transpose { perm: perm.clone() }.inverse();
    let mut inputs = Vec::with_capacity(node.inputs.len());
    for &v in &node.inputs {
        match transposed.get(v.0).cloned().flatten() {
            Some((src, p)) if p == perm => inputs.push(src),
            Some(_) => return None,
            None => {
                let val = g.value(v);
                if val.shape.iter().product::<usize>() == 1 && val.shape.len() <= rank {
                    inputs.push(v);
                } else if let Some(c) = val.constant.clone() {
                    if c.rank() > rank {
                        return None;
                    }
                    let mut shape = vec![1; rank - c.rank()];
                    shape.extend_from_slice(c.shape());
                    let c = c.reshaped(shape).ok()?;
                    let t = Transpose { perm: inv.perm.clone() }.eval(&c).ok()?;
                    let name = g.derived_name(&val.name);
                    inputs.push(g.add_const(name, t));
                } else {
                    return None;
                }
            }
        }
    }
    Some((op, inputs, perm))
}
