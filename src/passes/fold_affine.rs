//! Folds a per-output-channel multiply or add (what BatchNormalization becomes at import)
//! into the convolution or fully-connected layer that produces its input:
//! `(W·x + b)·m + a = (W·m)·x + (b·m + a)`.

use crate::graph::{Graph, NodeId, Op, ValueId};
use crate::ops::binary::BinaryOp;
use crate::tensor::{DType, Tensor};
use crate::Result;

/// One sweep in execution order: a folded producer then writes the affine node's output, so
/// a chain of affine ops folds into the same producer (linear in the graph size).
pub fn run(g: &mut Graph) -> Result<()> {
    let mut producers = g.producers();
    let consumers = g.consumers();
    let mut dead = vec![false; g.nodes.len()];
    for i in 0..g.nodes.len() {
        let Some((producer, values, op)) = find(g, i, &producers, &consumers) else {
            continue;
        };
        apply(g, producer, &values, op)?;
        // The affine node's output is now the producer's.
        let out = g.nodes[i].outputs[0];
        let prod_out = g.nodes[producer.0].outputs[0];
        g.nodes[producer.0].outputs[0] = out;
        g.value_mut(out).shape = g.value(prod_out).shape.clone();
        producers[out.0] = Some(producer);
        dead[i] = true;
    }
    let mut d = dead.iter();
    g.nodes.retain(|_| !*d.next().unwrap_or(&false));
    Ok(())
}

/// Output-channel axis of a producer's output and its channel count.
fn channel_axis(op: &Op, out_shape: &[usize]) -> Option<usize> {
    match op {
        Op::Conv(c) if c.clamp.is_none() => Some(c.layout.chw_axes().0),
        Op::ConvTranspose(c) if c.clamp.is_none() => Some(c.layout.chw_axes().0),
        Op::Dense(d) if d.clamp.is_none() => Some(out_shape.len() - 1),
        _ => None,
    }
}

/// The per-channel values of a constant broadcast against a tensor of `shape` whose channel
/// axis is `axis`, if it varies along that axis only.
fn per_channel(c: &Tensor, shape: &[usize], axis: usize) -> Option<Vec<f32>> {
    if c.dtype() != DType::F32 || c.rank() > shape.len() {
        return None;
    }
    let lead = shape.len() - c.rank();
    let varies_elsewhere = c.shape().iter().enumerate().any(|(i, &d)| d != 1 && i + lead != axis);
    if varies_elsewhere {
        return None;
    }
    let v = c.to_f32_vec();
    let n = shape[axis];
    Some(if v.len() == 1 {
        vec![v[0]; n]
    } else if v.len() == n {
        v
    } else {
        return None;
    })
}

/// Whether node `i` is an affine op foldable into its producer: (producer, per-channel
/// values, op).
fn find(
    g: &Graph,
    i: usize,
    producers: &[Option<NodeId>],
    consumers: &[Vec<NodeId>],
) -> Option<(NodeId, Vec<f32>, BinaryOp)> {
    let n = &g.nodes[i];
    let Op::Binary(op @ (BinaryOp::Mul | BinaryOp::Add | BinaryOp::Sub | BinaryOp::Div)) = n.op else {
        return None;
    };
    let (x, c) = match (g.value(n.inputs[0]).is_const(), g.value(n.inputs[1]).is_const()) {
        (false, true) => (n.inputs[0], n.inputs[1]),
        (true, false) if op.commutes() => (n.inputs[1], n.inputs[0]),
        _ => return None,
    };
    let p = (*producers.get(x.0)?)?;
    if consumers[x.0].len() != 1 || g.is_output(x) || g.value(n.outputs[0]).shape != g.value(x).shape {
        return None;
    }
    let axis = channel_axis(&g.nodes[p.0].op, &g.value(x).shape)?;
    let values = per_channel(g.const_of(c)?, &g.value(x).shape, axis)?;
    if op == BinaryOp::Div && values.contains(&0.0) {
        return None;
    }
    Some((p, values, op))
}

/// Rewrites the producer's weights and bias for `y = op(producer(x), values)`.
fn apply(g: &mut Graph, producer: NodeId, values: &[f32], op: BinaryOp) -> Result<()> {
    let n = values.len();
    let (mul, add): (Vec<f32>, Vec<f32>) = match op {
        BinaryOp::Mul => (values.to_vec(), vec![0.0; n]),
        BinaryOp::Div => (values.iter().map(|v| 1.0 / v).collect(), vec![0.0; n]),
        BinaryOp::Add => (vec![1.0; n], values.to_vec()),
        _ => (vec![1.0; n], values.iter().map(|v| -v).collect()),
    };
    let node = &g.nodes[producer.0];
    let w_id = node.inputs[1];
    let mut w = g.const_of(w_id).ok_or_else(|| crate::Error::invalid("weights are not constant"))?.cast(DType::F32);
    let ws = w.shape().to_vec();
    let group = match &node.op {
        Op::ConvTranspose(c) => c.group,
        _ => 1,
    };
    // Index of the output channel of each weight element.
    let out_channel: Box<dyn Fn(usize) -> usize> = match &node.op {
        Op::ConvTranspose(_) => {
            let (cin, cout_g, k) = (ws[0], ws[1], ws[2] * ws[3]);
            let cin_g = cin / group;
            Box::new(move |i| {
                let ci = i / (cout_g * k);
                (ci / cin_g) * cout_g + (i / k) % cout_g
            })
        }
        _ => {
            let per_out: usize = ws[1..].iter().product();
            Box::new(move |i| i / per_out)
        }
    };
    for (i, v) in w.as_slice_mut::<f32>()?.iter_mut().enumerate() {
        *v *= mul[out_channel(i)];
    }
    let old_bias =
        node.inputs.get(2).and_then(|&b| g.const_of(b)).map(|t| t.to_f32_vec()).unwrap_or_else(|| vec![0.0; n]);
    let bias: Vec<f32> = (0..n).map(|c| old_bias[c] * mul[c] + add[c]).collect();
    let name = g.nodes[producer.0].name.clone();
    let new_w = g.add_const(g.derived_name(&format!("{name}/weight")), w);
    let new_b = g.add_const(g.derived_name(&format!("{name}/bias")), Tensor::from_vec(vec![n], bias)?);
    let inputs: Vec<ValueId> = vec![g.nodes[producer.0].inputs[0], new_w, new_b];
    g.nodes[producer.0].inputs = inputs;
    Ok(())
}
