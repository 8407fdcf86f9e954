//! Turns QDQ sandwiches into int8 ops, on the imported (NCHW) graph, before anything is
//! folded into float:
//!
//! 1. `DQ(x) → Conv|Dense (DQ(w), [DQ(b)|b]) → [Relu|Clip] → Q` becomes [`QConv`] /
//!    [`QDense`] with an int8 output (or a float output when no `Q` follows);
//! 2. `DQ(x) → data movement → Q` with equal quantization (reshape, transpose, slice,
//!    gather, concat, pad, max pooling, nearest resize, depth-to-space) runs directly on the
//!    8-bit tensor;
//! 3. any other `DQ(x…) → op → Q` becomes [`QEmulated`]: exact DQ → float op → Q in one
//!    step, 8-bit tensors in memory;
//! 4. `DQ(x) → Q` (a re-quantization an exporter left between two ops) becomes a 256-entry
//!    table on the 8-bit tensor.
//!
//! What matches none of these stays float, with its Q/DQ nodes as run-time conversions:
//! correct by construction, and how `keep_float` nodes are kept in float.

use crate::graph::{Graph, NodeId, Op, ValueId};
use crate::ops::pool::PoolKind;
use crate::ops::qconv::{ActQuant, QConv, QDense, QOutput, WeightQuant};
use crate::ops::qconv_transpose::QConvTranspose;
use crate::ops::qemulated::QEmulated;
use crate::ops::quantize::{QParams, QuantizeLinear};
use crate::ops::resize::ResizeMode;
use crate::ops::Clamp;
use crate::tensor::{DType, Tensor};
use crate::Result;
use std::collections::HashSet;

/// How many nodes each rule rewrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QdqSummary {
    pub int8_layers: usize,
    pub int8_movement: usize,
    pub emulated: usize,
}

struct Ctx<'a> {
    g: &'a Graph,
    producers: Vec<Option<NodeId>>,
    consumers: Vec<Vec<NodeId>>,
}

impl Ctx<'_> {
    fn producer(&self, v: ValueId) -> Option<&crate::graph::Node> {
        self.producers[v.0].map(|p| &self.g.nodes[p.0])
    }

    /// `v = DequantizeLinear(q)` of a run-time 8-bit tensor, per tensor: `(q, its quantization)`.
    fn dq_activation(&self, v: ValueId) -> Option<(ValueId, ActQuant)> {
        let n = self.producer(v)?;
        let Op::DequantizeLinear(d) = &n.op else { return None };
        let q = n.inputs[0];
        let dtype = self.g.value(q).dtype;
        if d.params.scale.len() != 1 || !dtype.is_quantized() || self.g.value(q).is_const() {
            return None;
        }
        Some((q, ActQuant { scale: d.params.scale[0], zero_point: d.params.zero_point[0], dtype }))
    }

    /// `v = DequantizeLinear(constant)`: `(the constant, its parameters)`.
    fn dq_constant(&self, v: ValueId) -> Option<(ValueId, &QParams)> {
        let n = self.producer(v)?;
        let Op::DequantizeLinear(d) = &n.op else { return None };
        self.g.value(n.inputs[0]).is_const().then_some((n.inputs[0], &d.params))
    }

    /// The sole consumer of `v`, if `v` has exactly one and is not a graph output.
    fn sole_consumer(&self, v: ValueId) -> Option<NodeId> {
        (self.consumers[v.0].len() == 1 && !self.g.is_output(v)).then(|| self.consumers[v.0][0])
    }

    /// Follows `v → [Relu|Clip] → Q` (per tensor, 8-bit): the nodes consumed, the Q's output
    /// and quantization, and the integer clamp (Q's range narrowed by the activation).
    fn q_output(&self, v: ValueId) -> Option<(Vec<NodeId>, ValueId, ActQuant, i32, i32)> {
        let mut dead = Vec::new();
        let mut clamp = Clamp::NONE;
        let mut at = self.sole_consumer(v)?;
        if let Op::Unary(u) = &self.g.nodes[at.0].op {
            clamp = u.as_clamp()?;
            dead.push(at);
            at = self.sole_consumer(self.g.nodes[at.0].outputs[0])?;
        }
        let Op::QuantizeLinear(q) = &self.g.nodes[at.0].op else { return None };
        let aq = quant_of(q)?;
        dead.push(at);
        let lo = if clamp.min.is_finite() { q.qmin.max(aq.quantize(clamp.min)) } else { q.qmin };
        let hi = if clamp.max.is_finite() { q.qmax.min(aq.quantize(clamp.max)) } else { q.qmax };
        Some((dead, self.g.nodes[at.0].outputs[0], aq, lo, hi))
    }
}

/// The per-tensor quantization a Q node applies.
fn quant_of(q: &QuantizeLinear) -> Option<ActQuant> {
    (q.params.scale.len() == 1).then(|| ActQuant {
        scale: q.params.scale[0],
        zero_point: q.params.zero_point[0],
        dtype: q.dtype,
    })
}

/// Whether `q` saturates to its type's whole range (no clamp fused into it).
pub(crate) fn full_range(q: &QuantizeLinear) -> bool {
    (q.qmin, q.qmax) == if q.dtype == DType::I8 { (-128, 127) } else { (0, 255) }
}

/// Whether `q` quantizes values of quantization `x` back to the same codes: the same
/// per-tensor parameters and type, over the type's whole range.
fn requantizes_alike(q: &QuantizeLinear, x: ActQuant) -> bool {
    full_range(q) && quant_of(q) == Some(x)
}

/// Weight quantization expanded to one scale and zero point per output channel (on weight
/// axis `axis`).
fn weight_quant(p: &QParams, channels: usize, axis: usize) -> Option<WeightQuant> {
    match (p.axis, p.scale.len()) {
        (Some(a), n) if a == axis && n == channels => {
            Some(WeightQuant { scale: p.scale.clone(), zero_point: p.zero_point.clone() })
        }
        (_, 1) => Some(WeightQuant { scale: vec![p.scale[0]; channels], zero_point: vec![p.zero_point[0]; channels] }),
        _ => None,
    }
}

/// A rewrite decided for one node.
struct Rewrite {
    node: NodeId,
    op: Op,
    inputs: Vec<ValueId>,
    output: ValueId,
    dead: Vec<NodeId>,
    /// Constants the rewrite adds (bias as i32 or f32), appended before applying.
    new_bias: Option<(usize, Tensor)>,
}

/// Moves per-tensor `DequantizeLinear` below reshapes, transposes, slices and gathers
/// (`DQ(q) → Reshape = Reshape(q) → DQ`), through whole chains of them, so that a layer
/// reading a flattened dequantized tensor (QAT heads: `DQ → Flatten → Gemm`) still sees a DQ,
/// and a channel shuffle and split a QAT export runs in float move 8-bit data. The original
/// DQ stays for its other readers. A transpose, slice or gather whose sole reader quantizes
/// it back the same way is left to rule 2, which moves the 8-bit tensor under the `Q`'s name
/// (sinking would leave a `Q(DQ)` table step behind it); a reshape is sunk all the same, as it
/// is no step of its own and the table step keeps the `Q`'s tensor in per-layer comparisons.
fn sink_dequantize(g: &mut Graph) {
    let mut producers = g.producers();
    let consumers = g.consumers();
    for i in 0..g.nodes.len() {
        if !matches!(g.nodes[i].op, Op::Reshape(_) | Op::Transpose(_) | Op::Slice(_) | Op::Gather(_)) {
            continue;
        }
        let x = g.nodes[i].inputs[0];
        let Some(p) = producers[x.0] else { continue };
        let Op::DequantizeLinear(d) = g.nodes[p.0].op.clone() else { continue };
        let q = g.nodes[p.0].inputs[0];
        if d.params.scale.len() != 1 || g.value(q).is_const() {
            continue;
        }
        let out = g.nodes[i].outputs[0];
        let xq = ActQuant { scale: d.params.scale[0], zero_point: d.params.zero_point[0], dtype: g.value(q).dtype };
        let requantized_alike = !matches!(g.nodes[i].op, Op::Reshape(_))
            && !g.is_output(out)
            && matches!(consumers[out.0].as_slice(),
                [c] if matches!(&g.nodes[c.0].op, Op::QuantizeLinear(qn) if requantizes_alike(qn, xq)));
        if requantized_alike {
            continue;
        }
        let (dtype, shape) = (g.value(q).dtype, g.value(out).shape.clone());
        let moved = g.add_value(g.derived_name(&g.value(out).name), dtype, shape);
        g.nodes[i].inputs[0] = q;
        g.nodes[i].outputs[0] = moved;
        let name = format!("{}/dequantize", g.nodes[i].name);
        let dq = g.add_node(name, Op::DequantizeLinear(d), vec![moved], vec![out]);
        producers.resize(g.values.len(), None);
        producers[out.0] = Some(dq);
    }
}

/// Rewrites the graph; nodes named in `keep_float` are left in float.
pub fn run(g: &mut Graph, keep_float: &HashSet<String>) -> Result<QdqSummary> {
    sink_dequantize(g);
    g.sort()?;
    let mut summary = QdqSummary::default();
    let rewrites = {
        let ctx = Ctx { g, producers: g.producers(), consumers: g.consumers() };
        let mut claimed = vec![false; g.nodes.len()];
        let mut out = Vec::new();
        for (i, n) in g.nodes.iter().enumerate() {
            if claimed[i]
                || keep_float.contains(&n.name)
                || n.outputs.iter().any(|o| keep_float.contains(&g.value(*o).name))
            {
                continue;
            }
            let r = layer(&ctx, NodeId(i))
                .map(|r| (r, 0))
                .or_else(|| movement(&ctx, NodeId(i)).map(|r| (r, 1)))
                .or_else(|| emulated(&ctx, NodeId(i)).map(|r| (r, 2)))
                .or_else(|| requantize(&ctx, NodeId(i)).map(|r| (r, 1)));
            if let Some((r, kind)) = r {
                if r.dead.iter().any(|d| claimed[d.0]) {
                    continue;
                }
                for d in &r.dead {
                    claimed[d.0] = true;
                }
                claimed[i] = true;
                match kind {
                    0 => summary.int8_layers += 1,
                    1 => summary.int8_movement += 1,
                    _ => summary.emulated += 1,
                }
                out.push(r);
            }
        }
        out
    };
    let mut dead = vec![false; g.nodes.len()];
    for mut r in rewrites {
        if let Some((slot, t)) = r.new_bias.take() {
            let name = g.derived_name(&format!("{}/bias", g.nodes[r.node.0].name));
            let b = g.add_const(name, t);
            r.inputs[slot] = b;
        }
        let n = &mut g.nodes[r.node.0];
        n.op = r.op;
        n.inputs = r.inputs;
        n.outputs = vec![r.output];
        for d in r.dead {
            dead[d.0] = true;
        }
    }
    let mut d = dead.iter();
    g.nodes.retain(|_| !*d.next().unwrap_or(&false));
    g.prune();
    g.sort()?;
    Ok(summary)
}

/// Rule 1: convolutions and fully-connected layers.
fn layer(ctx: &Ctx, id: NodeId) -> Option<Rewrite> {
    let g = ctx.g;
    let n = &g.nodes[id.0];
    // Output channels and the weight axis that holds them.
    let (channels, w_axis) = match &n.op {
        Op::Conv(c) if c.clamp.is_none() => (g.value(n.inputs[1]).shape[0], 0),
        Op::Dense(d) if d.clamp.is_none() => (g.value(n.inputs[1]).shape[0], 0),
        Op::ConvTranspose(c) if c.clamp.is_none() && c.group == 1 => (g.value(n.inputs[1]).shape[1], 1),
        _ => return None,
    };
    let (x, xq) = ctx.dq_activation(n.inputs[0])?;
    let (w, wp) = ctx.dq_constant(n.inputs[1])?;
    if !g.value(w).dtype.is_quantized() {
        return None;
    }
    let wq = weight_quant(wp, channels, w_axis)?;
    let (dead, output, out) = match ctx.q_output(n.outputs[0]) {
        Some((dead, out, q, lo, hi)) => (dead, out, QOutput::Int8 { q, lo, hi }),
        None => (vec![], n.outputs[0], QOutput::Float { clamp: Clamp::NONE }),
    };
    let mut inputs = vec![x, w];
    let mut new_bias = None;
    if let Some(&b) = n.inputs.get(2) {
        if let Some(t) = g.const_of(b) {
            inputs.push(b);
            if t.dtype() != DType::F32 {
                new_bias = Some((2, t.cast(DType::F32)));
            }
        } else {
            let (bc, bp) = ctx.dq_constant(b)?;
            let t = g.const_of(bc)?;
            let exact = t.dtype() == DType::I32
                && bp.zero_point.iter().all(|&z| z == 0)
                && (0..channels).all(|c| bp.scale[if bp.scale.len() == 1 { 0 } else { c }] == xq.scale * wq.scale[c]);
            inputs.push(b);
            new_bias = Some((
                2,
                if exact {
                    t.clone()
                } else {
                    crate::ops::quantize::DequantizeLinear { params: bp.clone() }.eval(t).ok()?
                },
            ));
        }
    }
    let op = match &n.op {
        Op::Conv(c) => Op::QConv(QConv { conv: c.clone(), x: xq, w: wq, out }),
        Op::ConvTranspose(c) => Op::QConvTranspose(QConvTranspose { deconv: c.clone(), x: xq, w: wq, out }),
        _ => Op::QDense(QDense { x: xq, w: wq, out }),
    };
    Some(Rewrite { node: id, op, inputs, output, dead, new_bias })
}

/// Rule 2: data movement on 8-bit tensors when input and output quantization are equal.
fn movement(ctx: &Ctx, id: NodeId) -> Option<Rewrite> {
    let g = ctx.g;
    let n = &g.nodes[id.0];
    let movable = match &n.op {
        Op::Reshape(_)
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::Gather(_)
        | Op::Concat(_)
        | Op::Pad(_)
        | Op::DepthToSpace(_)
        | Op::Expand(_) => true,
        Op::Pool(p) => p.kind == PoolKind::Max,
        Op::GlobalPool(p) => p.kind == PoolKind::Max,
        Op::Resize(r) => matches!(r.mode, ResizeMode::Nearest(_)),
        _ => false,
    };
    if !movable || n.outputs.len() != 1 {
        return None;
    }
    let ins: Vec<(ValueId, ActQuant)> = n.inputs.iter().map(|&v| ctx.dq_activation(v)).collect::<Option<_>>()?;
    let q_node = ctx.sole_consumer(n.outputs[0])?;
    let Op::QuantizeLinear(q) = &g.nodes[q_node.0].op else { return None };
    let yq = quant_of(q)?;
    if !ins.iter().all(|(_, a)| requantizes_alike(q, *a)) {
        return None;
    }
    let op = match &n.op {
        Op::Pad(p) => Op::Pad(crate::ops::pad::Pad { pads: p.pads.clone(), value: yq.quantize(p.value) as f32 }),
        other => other.clone(),
    };
    Some(Rewrite {
        node: id,
        op,
        inputs: ins.iter().map(|(v, _)| *v).collect(),
        output: g.nodes[q_node.0].outputs[0],
        dead: vec![q_node],
        new_bias: None,
    })
}

/// Rule 3: any other single-output op between DQs and one Q.
fn emulated(ctx: &Ctx, id: NodeId) -> Option<Rewrite> {
    let g = ctx.g;
    let n = &g.nodes[id.0];
    let excluded = matches!(
        n.op,
        Op::QuantizeLinear(_)
            | Op::DequantizeLinear(_)
            | Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Dense(_)
            | Op::QConv(_)
            | Op::QDense(_)
            | Op::QEmulated(_)
    );
    if excluded || n.outputs.len() != 1 {
        return None;
    }
    let facts: Vec<_> = n.inputs.iter().map(|v| (g.value(*v).dtype, g.value(*v).shape.as_slice())).collect();
    let out_facts = [(g.value(n.outputs[0]).dtype, g.value(n.outputs[0]).shape.as_slice())];
    if n.op.scratch_bytes(&facts, &out_facts) > 0 {
        return None;
    }
    let mut inputs = Vec::new();
    let mut quants = Vec::new();
    for &v in &n.inputs {
        if g.value(v).is_const() {
            inputs.push(v);
            quants.push(None);
        } else {
            let (q, a) = ctx.dq_activation(v)?;
            inputs.push(q);
            quants.push(Some(a));
        }
    }
    if quants.iter().all(Option::is_none) {
        return None;
    }
    let q_node = ctx.sole_consumer(n.outputs[0])?;
    let Op::QuantizeLinear(q) = &g.nodes[q_node.0].op else { return None };
    let out = quant_of(q)?;
    let op = Op::QEmulated(QEmulated { op: Box::new(n.op.clone()), inputs: quants, out, lo: q.qmin, hi: q.qmax });
    Some(Rewrite { node: id, op, inputs, output: g.nodes[q_node.0].outputs[0], dead: vec![q_node], new_bias: None })
}

/// Rule 4: `Q(DQ(x))` of a run-time 8-bit tensor, per tensor: the exact DQ → Q as a 256-entry
/// table (the identity when both quantizations are equal). It stays a step of its own so that
/// the tensor keeps its ONNX name for per-layer comparisons.
fn requantize(ctx: &Ctx, id: NodeId) -> Option<Rewrite> {
    let g = ctx.g;
    let n = &g.nodes[id.0];
    let Op::QuantizeLinear(q) = &n.op else { return None };
    let out = quant_of(q)?;
    let (x, xq) = ctx.dq_activation(n.inputs[0])?;
    let identity = crate::ops::unary::UnaryOp::Clip { min: f32::NEG_INFINITY, max: f32::INFINITY };
    let op = Op::QEmulated(QEmulated {
        op: Box::new(Op::Unary(identity)),
        inputs: vec![Some(xq)],
        out,
        lo: q.qmin,
        hi: q.qmax,
    });
    Some(Rewrite { node: id, op, inputs: vec![x], output: n.outputs[0], dead: vec![], new_bias: None })
}
