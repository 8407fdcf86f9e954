//! Where the QDQ model quantizes: which layers and which other nodes run in int8, which
//! tensors get a `QuantizeLinear → DequantizeLinear` pair, and which tensors must share
//! quantization parameters.
//!
//! Rules (the shapes qpose's int8 matching and onnxruntime's QDQ fusions recognise):
//!
//! * every `Conv` / `Gemm` / `MatMul` layer with constant weights runs in int8 unless kept
//!   float; its `Relu` / `Clip` belongs to it (`Conv → Clip → Q`);
//! * another node (residual `Add`, `Concat`, pooling, `Pad`, `Resize`, reshapes, a standalone
//!   `Clip`) runs in int8 when it is not kept float, its output is not a graph output, and at
//!   least one reader of its output runs in int8 (decided in reverse topological order);
//! * a tensor is quantized when a reader runs in int8; an int8 layer whose output no int8
//!   node reads keeps a float output (graph outputs stay float: heads are decoded in float);
//! * data-movement nodes (reshapes, transposes, `Pad`, max/average pooling, `Resize`,
//!   `Slice`) keep their input's parameters, so they run on 8-bit data directly; a tensor
//!   whose only reader is an int8 `Relu` / `Clip` is quantized with that activation's output
//!   parameters (the clip then costs nothing: the quantizer saturates at the same bounds).

use super::net::{node_name, Net};
use crate::{bail, Result};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Ops whose output shares the input's quantization.
const SHARE: [&str; 10] =
    ["Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "MaxPool", "AveragePool", "Pad", "Slice", "Resize"];
/// Other ops that may run in int8 with their own output quantization.
const OWN: [&str; 7] = ["Add", "Sub", "Mul", "Concat", "GlobalAveragePool", "Clip", "Relu"];

/// A set of tensors quantized with the same parameters.
#[derive(Clone, Debug)]
pub struct Group {
    /// The tensor whose statistics calibrate the group.
    pub rep: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// Per layer (index in `Net::layers`): runs in int8.
    pub int8_layer: Vec<bool>,
    /// Non-layer nodes (index in the graph) that run in int8.
    pub int8_nodes: HashSet<usize>,
    /// Quantized tensor → index in `groups`.
    pub quantized: BTreeMap<String, usize>,
    pub groups: Vec<Group>,
    /// Graph node index → layer index.
    pub layer_of_node: HashMap<usize, usize>,
    /// Activation node index → layer index (the `Clip` / `Relu` a layer absorbs).
    pub act_of_node: HashMap<usize, usize>,
}

impl Placement {
    /// Whether graph node `i` runs in int8 (a layer, its activation, or another node).
    pub fn node_is_int8(&self, i: usize) -> bool {
        if let Some(&l) = self.layer_of_node.get(&i).or_else(|| self.act_of_node.get(&i)) {
            return self.int8_layer[l];
        }
        self.int8_nodes.contains(&i)
    }

    /// The group of a quantized tensor.
    pub fn group_of(&self, t: &str) -> Option<usize> {
        self.quantized.get(t).copied()
    }

    /// Number of int8 layers.
    pub fn int8_count(&self) -> usize {
        self.int8_layer.iter().filter(|&&b| b).count()
    }
}

/// Whether `keep_float` names node `i` (by node name or one of its output names).
fn kept(net: &Net, i: usize, keep_float: &HashSet<String>) -> bool {
    let n = &net.nodes()[i];
    keep_float.contains(&node_name(n)) || n.output.iter().any(|o| keep_float.contains(o))
}

/// `--float-residuals`: the outputs of the residual joins, each `Add` of two computed tensors
/// and a `Relu` / `Clip` that is the sole reader of one. Kept in float, they leave the
/// residual stream unquantized between blocks: an int8 layer that feeds a join writes float,
/// and the stream is quantized only where a layer reads it. They hold no
/// multiply-accumulates, so the share of MACs in int8 does not change.
pub fn residual_outputs(net: &Net) -> Vec<String> {
    let nodes = net.nodes();
    let mut out = Vec::new();
    for n in nodes {
        let computed = n.input.iter().filter(|x| net.is_activation(x)).count();
        if n.op_type != "Add" || !n.domain.is_empty() || computed != 2 || n.output.len() != 1 {
            continue;
        }
        out.push(n.output[0].clone());
        if let Some(r) = net.sole_reader(&n.output[0]) {
            if net.activation_of(&nodes[r]).is_some() && nodes[r].output.len() == 1 {
                out.push(nodes[r].output[0].clone());
            }
        }
    }
    out
}

/// Checks that every `keep_float` name is a node or a node output of the model.
pub fn check_names(net: &Net, keep_float: &HashSet<String>) -> Result<()> {
    let mut known: HashSet<String> = HashSet::new();
    for n in net.nodes() {
        known.insert(node_name(n));
        known.extend(n.output.iter().cloned());
    }
    let mut unknown: Vec<&String> = keep_float.iter().filter(|k| !known.contains(*k)).collect();
    unknown.sort();
    if !unknown.is_empty() {
        let layers: Vec<&str> = net.layers.iter().take(5).map(|l| l.name.as_str()).collect();
        bail!(
            "--keep-float: no node or tensor is called {} (layer names look like: {})",
            unknown.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", "),
            layers.join(", ")
        );
    }
    Ok(())
}

/// Decides the placement for the layers not kept float.
pub fn place(net: &Net, keep_float: &HashSet<String>) -> Result<Placement> {
    check_names(net, keep_float)?;
    let nodes = net.nodes();
    let mut p = Placement { int8_layer: vec![false; net.layers.len()], ..Default::default() };
    for (li, l) in net.layers.iter().enumerate() {
        p.layer_of_node.insert(l.node, li);
        if let Some((a, _, _)) = &l.activation {
            p.act_of_node.insert(*a, li);
        }
        let act_kept = l.activation.as_ref().is_some_and(|(a, _, _)| kept(net, *a, keep_float));
        p.int8_layer[li] = !kept(net, l.node, keep_float) && !act_kept;
    }
    // Non-layer nodes, readers before producers.
    let order = topological(net)?;
    for &i in order.iter().rev() {
        if p.layer_of_node.contains_key(&i) || p.act_of_node.contains_key(&i) {
            continue;
        }
        let n = &nodes[i];
        let op = n.op_type.as_str();
        if !n.domain.is_empty() || !(SHARE.contains(&op) || OWN.contains(&op)) || kept(net, i, keep_float) {
            continue;
        }
        if n.output.len() != 1 || !net.is_activation(&n.output[0]) || net.graph_outputs.contains(&n.output[0]) {
            continue;
        }
        if op == "Pad" && !pad_is_zero(net, n) {
            continue;
        }
        let acts: Vec<&String> = n.input.iter().filter(|x| net.is_activation(x)).collect();
        if acts.is_empty() || (SHARE.contains(&op) && n.input.iter().skip(1).any(|x| net.is_activation(x))) {
            continue;
        }
        if net.readers(&n.output[0]).iter().any(|&r| reads_int8(net, &p, r, &n.output[0])) {
            p.int8_nodes.insert(i);
        }
    }
    // Quantized tensors.
    let mut quantized: Vec<String> = Vec::new();
    for (li, l) in net.layers.iter().enumerate() {
        if !p.int8_layer[li] {
            continue;
        }
        quantized.push(l.input.clone());
        let out = l.final_output();
        if net.readers(out).iter().any(|&r| reads_int8(net, &p, r, out)) {
            quantized.push(out.to_string());
        }
    }
    for &i in &p.int8_nodes {
        let n = &nodes[i];
        quantized.extend(n.input.iter().filter(|x| net.is_activation(x)).cloned());
        quantized.push(n.output[0].clone());
    }
    // Groups: union-find with a designated representative per root.
    let mut uf = UnionFind::default();
    for t in &quantized {
        uf.add(t);
    }
    for &i in &order {
        if !p.int8_nodes.contains(&i) {
            continue;
        }
        let n = &nodes[i];
        let op = n.op_type.as_str();
        if SHARE.contains(&op) {
            uf.union_keep(&n.input[0], &n.output[0]);
        } else if matches!(op, "Clip" | "Relu") {
            // The input, if only this activation reads it and an int8 non-layer node made it,
            // is quantized with the activation's output parameters.
            let x = &n.input[0];
            let made_by_int8_node = net.producer.get(x).is_some_and(|pr| p.int8_nodes.contains(pr));
            if net.sole_reader(x) == Some(i) && made_by_int8_node && (op == "Relu" || clip_min_is_zero(net, n)) {
                uf.union_keep(&n.output[0], x);
            }
        }
    }
    let mut root_group: HashMap<String, usize> = HashMap::new();
    for t in &quantized {
        if p.quantized.contains_key(t) {
            continue;
        }
        let root = uf.find(t);
        let g = *root_group.entry(root.clone()).or_insert_with(|| {
            p.groups.push(Group { rep: uf.rep[&root].clone(), members: Vec::new() });
            p.groups.len() - 1
        });
        p.groups[g].members.push(t.clone());
        p.quantized.insert(t.clone(), g);
    }
    Ok(p)
}

/// Whether node `r` reads tensor `t` as an int8 node.
fn reads_int8(net: &Net, p: &Placement, r: usize, t: &str) -> bool {
    if let Some(&l) = p.layer_of_node.get(&r) {
        return p.int8_layer[l] && net.layers[l].input == t;
    }
    if p.act_of_node.contains_key(&r) {
        return false;
    }
    p.int8_nodes.contains(&r)
}

fn pad_is_zero(net: &Net, n: &tract_onnx::pb::NodeProto) -> bool {
    let a = crate::onnx::Attrs::new(n);
    if a.string_or("mode", "constant").ok() != Some("constant") {
        return false;
    }
    match n.input.get(2).map(String::as_str) {
        None | Some("") => a.float_or("value", 0.0).ok() == Some(0.0),
        Some(v) => net.consts.get(v).is_some_and(|t| t.to_f32_vec().iter().all(|&x| x == 0.0)),
    }
}

fn clip_min_is_zero(net: &Net, n: &tract_onnx::pb::NodeProto) -> bool {
    matches!(net.activation_of(n), Some(qpose_quant::Activation::Clip { min, .. }) if min == 0.0)
}

/// Node indices in a topological order (Kahn, ties by index).
pub fn topological(net: &Net) -> Result<Vec<usize>> {
    let nodes = net.nodes();
    let mut pending = vec![0usize; nodes.len()];
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for x in n.input.iter().filter(|x| !x.is_empty()) {
            if let Some(&p) = net.producer.get(x) {
                pending[i] += 1;
                deps[p].push(i);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..nodes.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &deps[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() != nodes.len() {
        bail!("the graph has a cycle");
    }
    Ok(order)
}

#[derive(Default)]
struct UnionFind {
    parent: HashMap<String, String>,
    rep: HashMap<String, String>,
}

impl UnionFind {
    fn add(&mut self, t: &str) {
        self.parent.entry(t.to_string()).or_insert_with(|| t.to_string());
        self.rep.entry(t.to_string()).or_insert_with(|| t.to_string());
    }

    fn find(&mut self, t: &str) -> String {
        let mut x = t.to_string();
        while self.parent[&x] != x {
            x = self.parent[&x].clone();
        }
        x
    }

    /// Merges `other`'s set into `keep`'s; the result keeps `keep`'s representative.
    fn union_keep(&mut self, keep: &str, other: &str) {
        if !self.parent.contains_key(keep) || !self.parent.contains_key(other) {
            return;
        }
        let (a, b) = (self.find(keep), self.find(other));
        if a != b {
            self.parent.insert(b, a);
        }
    }
}
