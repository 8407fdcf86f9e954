//! Removes no-op reshapes and transposes, merges chains of them, and turns transposes that
//! only move size-1 axes into (free) reshapes. Linear in the graph size per sweep.

use crate::graph::{Graph, Op, ValueId};
use crate::ops::reshape::Reshape;
use crate::Result;

pub fn run(g: &mut Graph) -> Result<()> {
    loop {
        let producers = g.producers();
        // alias[v] = the value every reader of v may read instead.
        let mut alias: Vec<ValueId> = (0..g.values.len()).map(ValueId).collect();
        let mut changed = false;
        for i in 0..g.nodes.len() {
            let Some(&x) = g.nodes[i].inputs.first() else {
                continue;
            };
            let x = resolve(&alias, x);
            g.nodes[i].inputs[0] = x;
            let out = g.nodes[i].outputs[0];
            let same_shape = g.value(x).shape == g.value(out).shape;
            let rewrite = match &g.nodes[i].op {
                Op::Reshape(_) | Op::Transpose(_) if same_shape && is_noop(&g.nodes[i].op) && !g.is_output(out) => {
                    alias[out.0] = x;
                    None
                }
                Op::Transpose(t) if moves_only_unit_axes(&t.perm, &g.value(x).shape) => {
                    Some((x, Op::Reshape(Reshape { shape: g.value(out).shape.clone() })))
                }
                Op::Reshape(r) => match producers[x.0].map(|p| &g.nodes[p.0]) {
                    Some(p) if matches!(p.op, Op::Reshape(_)) => Some((p.inputs[0], Op::Reshape(r.clone()))),
                    _ => None,
                },
                Op::Transpose(t) => match producers[x.0].map(|p| &g.nodes[p.0]) {
                    Some(p) => match &p.op {
                        Op::Transpose(first) => Some((p.inputs[0], Op::Transpose(first.then(t)))),
                        _ => None,
                    },
                    None => None,
                },
                _ => None,
            };
            if let Some((src, op)) = rewrite {
                g.nodes[i].inputs[0] = src;
                g.nodes[i].op = op;
                changed = true;
            }
            changed |= alias[out.0] != out;
        }
        for n in &mut g.nodes {
            for v in &mut n.inputs {
                *v = resolve(&alias, *v);
            }
        }
        if !changed {
            return Ok(());
        }
        g.prune();
    }
}

fn resolve(alias: &[ValueId], mut v: ValueId) -> ValueId {
    while alias[v.0] != v {
        v = alias[v.0];
    }
    v
}

fn is_noop(op: &Op) -> bool {
    match op {
        Op::Reshape(_) => true,
        Op::Transpose(t) => t.is_identity(),
        _ => false,
    }
}

/// Whether the permutation keeps every axis longer than 1 in its relative order, so the
/// data does not move in memory.
fn moves_only_unit_axes(perm: &[usize], shape: &[usize]) -> bool {
    let order: Vec<usize> = perm.iter().copied().filter(|&p| shape[p] != 1).collect();
    order.windows(2).all(|w| w[0] < w[1])
}
