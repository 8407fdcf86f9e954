//! ONNX frontend: reads the protobuf through tract-onnx and builds qpose's [`Graph`].
//!
//! Every node is imported by a small function registered per op family (`ops/`). Shapes are
//! static: inputs must declare concrete dimensions (a symbolic leading batch dimension is
//! taken as 1, other symbolic dimensions need [`LoadOptions::input_shapes`]). Nodes whose
//! inputs are all constant are evaluated on the spot, so shape sub-graphs
//! (`Shape → Gather → Concat → Reshape`) fold away during import.

mod attrs;
mod initializer;
mod ops;

pub use crate::limits::{Limits, LoadOptions};
pub use attrs::Attrs;
pub use ops::supported_ops;

use crate::graph::{Graph, Op, ValueId};
use crate::tensor::{extent, numel, DType, Tensor};
use crate::{bail, Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tract_onnx::pb::{type_proto, ModelProto, NodeProto, ValueInfoProto};
use tract_onnx::prelude::Framework;

/// Loads an ONNX file into a graph (ONNX semantics, not yet optimised).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Graph> {
    crate::limits::check_model_file(path, &opts.limits)?;
    let file = path.display().to_string();
    let proto = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| Error::Model { file: file.clone(), msg: format!("not a valid ONNX protobuf ({e})") })?;
    from_proto(&proto, opts, path.parent()).map_err(|e| match e {
        Error::Model { .. } | Error::Io { .. } => e,
        other => Error::Context { context: file, source: Box::new(other) },
    })
}

/// Loads an ONNX model from bytes (external data is not available then).
pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Graph> {
    crate::limits::check_file_size(bytes.len() as u64, &opts.limits)?;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut std::io::Cursor::new(bytes))
        .map_err(|e| Error::Model { file: "<bytes>".into(), msg: format!("not a valid ONNX protobuf ({e})") })?;
    from_proto(&proto, opts, None)
}

/// Decodes a serialized `TensorProto` (the `.pb` files of ONNX test data sets).
pub fn decode_tensor_proto(bytes: &[u8], limits: &Limits) -> Result<Tensor> {
    let t = tract_onnx::tensor::proto_from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| Error::invalid(format!("not a TensorProto ({e})")))?;
    initializer::decode(&t, limits.max_tensor_bytes, None)
}

/// Builds a graph from a decoded model.
pub fn from_proto(model: &ModelProto, opts: &LoadOptions, dir: Option<&Path>) -> Result<Graph> {
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(if model.opset_import.is_empty() { 9 } else { 1 });
    // Opsets 23 and 24 (onnx 1.18, 1.19) only add element types and a few attributes to the
    // ops qpose imports; the importers reject the new attributes' non-default values.
    if !(7..=24).contains(&opset) {
        return Err(Error::Model {
            file: "<model>".into(),
            msg: format!("default-domain opset {opset} is not supported (7..=24 are)"),
        });
    }
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Model { file: "<model>".into(), msg: "model has no graph".into() })?;
    if g.node.len() > opts.limits.max_nodes {
        return Err(Error::Limit(format!(
            "{} nodes, more than the limit of {} (max_nodes)",
            g.node.len(),
            opts.limits.max_nodes
        )));
    }
    let mut imp = Importer {
        graph: Graph { opset, ..Graph::default() },
        names: HashMap::new(),
        opset,
        limits: &opts.limits,
        dir: dir.map(Path::to_path_buf),
        const_bytes: 0,
        tensor_bytes: 0,
        producer_of: HashMap::new(),
    };
    for init in &g.initializer {
        let t = imp.decode_tensor(init)?;
        let id = imp.graph.add_const(init.name.clone(), t);
        imp.names.insert(init.name.clone(), id);
    }
    for input in &g.input {
        if imp.names.contains_key(&input.name) {
            continue; // an initializer listed as an input (IR < 4): the initializer wins
        }
        let (dtype, shape) = imp.input_fact(input, opts)?;
        imp.account_tensor(numel(&shape)?.saturating_mul(dtype.size()))?;
        let rank = shape.len();
        let id = imp.graph.add_value(input.name.clone(), dtype, shape);
        imp.graph.value_mut(id).origin =
            Some(crate::graph::Origin { name: input.name.clone(), perm: (0..rank).collect() });
        imp.graph.inputs.push(id);
        imp.names.insert(input.name.clone(), id);
    }
    let registry = ops::registry();
    for node in sorted_nodes(&g.node, &imp.names)? {
        let domain = if node.domain == "ai.onnx" { "" } else { node.domain.as_str() };
        let import = registry.get(&(domain, node.op_type.as_str())).ok_or_else(|| Error::Unsupported {
            op: node.op_type.clone(),
            domain: node.domain.clone(),
            node: node.name.clone(),
            opset,
            detail: String::new(),
        })?;
        if node.output.is_empty() {
            return Err(Error::Node {
                node: node_label(node),
                op: node.op_type.clone(),
                opset,
                msg: "the node has no outputs".into(),
            });
        }
        import(&mut imp, node).map_err(|e| match e {
            Error::Unsupported { .. } | Error::Limit(_) => e,
            other => Error::Node { node: node_label(node), op: node.op_type.clone(), opset, msg: other.to_string() },
        })?;
    }
    for out in &g.output {
        let id = *imp.names.get(&out.name).ok_or_else(|| Error::Model {
            file: "<model>".into(),
            msg: format!("graph output '{}' is produced by no node", out.name),
        })?;
        if imp.graph.inputs.contains(&id) || imp.graph.value(id).is_const() {
            // Outputs must be produced by a node: materialise with an identity reshape.
            let v = imp.graph.value(id).clone();
            let out_id = imp.graph.add_value(out.name.clone(), v.dtype, v.shape.clone());
            imp.graph.add_node(
                out.name.clone(),
                Op::Reshape(crate::ops::reshape::Reshape { shape: v.shape }),
                vec![id],
                vec![out_id],
            );
            imp.graph.outputs.push(out_id);
        } else {
            imp.graph.value_mut(id).name = out.name.clone();
            imp.graph.outputs.push(id);
        }
    }
    if imp.graph.outputs.is_empty() {
        bail!("the graph has no outputs");
    }
    imp.graph.prune();
    imp.graph.sort()?;
    Ok(imp.graph)
}

fn node_label(node: &NodeProto) -> String {
    if node.name.is_empty() {
        node.output.first().map(|o| format!("<output {o}>")).unwrap_or_else(|| "<unnamed>".into())
    } else {
        node.name.clone()
    }
}

/// Orders nodes so that every input is produced before it is read (ONNX requires it, but
/// not every exporter complies). Iterative; fails on cycles and on undefined inputs.
fn sorted_nodes<'a>(nodes: &'a [NodeProto], known: &HashMap<String, ValueId>) -> Result<Vec<&'a NodeProto>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o.as_str(), i).is_some() || known.contains_key(o) {
                bail!("value '{o}' is produced more than once (node '{}')", node_label(n));
            }
        }
    }
    let mut pending = vec![0usize; nodes.len()];
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            match producer.get(inp.as_str()) {
                Some(&p) => {
                    pending[i] += 1;
                    dependents[p].push(i);
                }
                None if known.contains_key(inp) => {}
                None => bail!("node '{}' ({}) reads '{inp}', which is not defined", node_label(n), n.op_type),
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..nodes.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(&nodes[i]);
        for &d in &dependents[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() != nodes.len() {
        let stuck = (0..nodes.len()).find(|&i| pending[i] > 0).map(|i| node_label(&nodes[i])).unwrap_or_default();
        bail!("the graph has a cycle (through node '{stuck}')");
    }
    Ok(order)
}

/// Import state shared by the op importers.
pub struct Importer<'a> {
    graph: Graph,
    names: HashMap<String, ValueId>,
    opset: i64,
    limits: &'a Limits,
    dir: Option<PathBuf>,
    const_bytes: usize,
    /// Bytes of every tensor declared so far (see [`Limits::max_total_tensor_bytes`]).
    tensor_bytes: usize,
    /// The node producing each value (nodes are only appended while importing).
    producer_of: HashMap<ValueId, usize>,
}

impl Importer<'_> {
    /// The default-domain opset of the model.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    fn decode_tensor(&mut self, t: &tract_onnx::pb::TensorProto) -> Result<Tensor> {
        let tensor = initializer::decode(t, self.limits.max_tensor_bytes, self.dir.as_deref())?;
        self.account_const(&tensor)?;
        Ok(tensor)
    }

    fn account_const(&mut self, t: &Tensor) -> Result<()> {
        if t.rank() > self.limits.max_rank {
            return Err(Error::Limit(format!("tensor of rank {} (max_rank {})", t.rank(), self.limits.max_rank)));
        }
        self.const_bytes += t.bytes().len();
        if self.const_bytes > self.limits.max_total_const_bytes {
            return Err(Error::Limit(format!(
                "constants exceed {} bytes in total (max_total_const_bytes)",
                self.limits.max_total_const_bytes
            )));
        }
        self.account_tensor(t.bytes().len())
    }

    /// Counts a declared tensor against [`Limits::max_total_tensor_bytes`].
    fn account_tensor(&mut self, bytes: usize) -> Result<()> {
        self.tensor_bytes = self.tensor_bytes.saturating_add(bytes);
        if self.tensor_bytes > self.limits.max_total_tensor_bytes {
            return Err(Error::Limit(format!(
                "the graph declares more than {} bytes of tensors in total (max_total_tensor_bytes)",
                self.limits.max_total_tensor_bytes
            )));
        }
        Ok(())
    }

    /// Decodes a tensor attribute or `Constant` value.
    pub fn tensor_attr(&mut self, t: &tract_onnx::pb::TensorProto) -> Result<Tensor> {
        self.decode_tensor(t)
    }

    fn input_fact(&self, input: &ValueInfoProto, opts: &LoadOptions) -> Result<(DType, Vec<usize>)> {
        let name = &input.name;
        let err = |msg: String| Error::Input { name: name.clone(), msg };
        let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => t,
            _ => return Err(err("is not a tensor".into())),
        };
        let dtype = DType::from_onnx_code(tensor.elem_type).map_err(|e| err(e.to_string()))?;
        let declared = tensor.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
        let shape = if let Some(s) = opts.input_shapes.get(name) {
            if s.len() != declared.len() && !declared.is_empty() {
                return Err(err(format!(
                    "given shape {s:?} has rank {}, the model declares rank {}",
                    s.len(),
                    declared.len()
                )));
            }
            s.clone()
        } else {
            use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
            declared
                .iter()
                .enumerate()
                .map(|(i, d)| match &d.value {
                    Some(Dim::DimValue(v)) if *v >= 0 => crate::tensor::dim(*v),
                    Some(Dim::DimValue(v)) => Err(err(format!("dimension {i} is negative ({v})"))),
                    _ if i == 0 => Ok(1),
                    Some(Dim::DimParam(p)) => {
                        Err(err(format!("dimension {i} is symbolic ('{p}'): give a concrete input shape")))
                    }
                    None => Err(err(format!("dimension {i} is unknown: give a concrete input shape"))),
                })
                .collect::<Result<Vec<_>>>()?
        };
        if shape.len() > self.limits.max_rank {
            return Err(Error::Limit(format!(
                "input '{name}' has rank {} (max_rank {})",
                shape.len(),
                self.limits.max_rank
            )));
        }
        crate::limits::check_tensor_bytes(
            &format!("input '{name}' of shape {shape:?} (zero dims counted as one)"),
            extent(&shape)?,
            dtype.size(),
            self.limits.max_tensor_bytes,
        )?;
        Ok((dtype, shape))
    }

    /// The value bound to input `i` of `node`, if present (empty names are absent inputs).
    pub fn opt_input(&self, node: &NodeProto, i: usize) -> Result<Option<ValueId>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self
                .names
                .get(name)
                .copied()
                .map(Some)
                .ok_or_else(|| Error::invalid(format!("input '{name}' is not defined"))),
        }
    }

    /// The value bound to required input `i` of `node`.
    pub fn input(&self, node: &NodeProto, i: usize) -> Result<ValueId> {
        self.opt_input(node, i)?.ok_or_else(|| Error::invalid(format!("required input {i} is missing")))
    }

    /// The constant data of input `i`, which must be a constant (`what` names it in errors).
    pub fn const_input(&self, node: &NodeProto, i: usize, what: &str) -> Result<Option<&Tensor>> {
        match self.opt_input(node, i)? {
            None => Ok(None),
            Some(v) => match self.graph.const_of(v) {
                Some(t) => Ok(Some(t)),
                None => bail!("{what} (input {i}, '{}') must be a constant: qpose plans static graphs", node.input[i]),
            },
        }
    }

    pub fn shape(&self, v: ValueId) -> &[usize] {
        &self.graph.value(v).shape
    }

    pub fn dtype(&self, v: ValueId) -> DType {
        self.graph.value(v).dtype
    }

    pub fn const_of(&self, v: ValueId) -> Option<&Tensor> {
        self.graph.const_of(v)
    }

    /// The node producing `v`, if a node does.
    pub fn producer(&self, v: ValueId) -> Option<&crate::graph::Node> {
        self.producer_of.get(&v).map(|&i| &self.graph.nodes[i])
    }

    /// The quantized constant and its parameters when `v` is `DequantizeLinear(constant)`,
    /// the form QDQ exports give weights and biases.
    pub fn dequantized_const(&self, v: ValueId) -> Option<(&Tensor, &crate::ops::quantize::QParams)> {
        let n = self.producer(v)?;
        match &n.op {
            Op::DequantizeLinear(d) => self.graph.const_of(n.inputs[0]).map(|t| (t, &d.params)),
            _ => None,
        }
    }

    /// Whether `v` is known before run time: a constant, or a dequantized constant.
    pub fn is_weight(&self, v: ValueId) -> bool {
        self.graph.value(v).is_const() || self.dequantized_const(v).is_some()
    }

    /// Refuses a constant the importer is about to build (ConstantOfShape, Range) when its
    /// `elems` elements of `elem_bytes` each would exceed `max_tensor_bytes` — before
    /// allocating it.
    pub fn check_new_const(&self, what: &str, elems: usize, elem_bytes: usize) -> Result<()> {
        crate::limits::check_tensor_bytes(what, elems, elem_bytes, self.limits.max_tensor_bytes)
    }

    /// Adds a constant value.
    pub fn constant(&mut self, name: &str, t: Tensor) -> Result<ValueId> {
        self.account_const(&t)?;
        Ok(self.graph.add_const(name.to_string(), t))
    }

    /// Adds `op` on `inputs`, inferring its outputs; evaluates it instead when every input is
    /// constant and the op can be folded. Returns the output values. The node and its first
    /// output are both called `name`.
    pub fn emit(&mut self, name: &str, op: Op, inputs: Vec<ValueId>) -> Result<Vec<ValueId>> {
        self.emit_as(name, name, op, inputs)
    }

    /// [`Importer::emit`] with distinct node and value names.
    pub fn emit_as(&mut self, node_name: &str, name: &str, op: Op, inputs: Vec<ValueId>) -> Result<Vec<ValueId>> {
        let facts: Vec<(DType, Vec<usize>)> = inputs.iter().map(|&v| (self.dtype(v), self.shape(v).to_vec())).collect();
        let fact_refs: Vec<_> = facts.iter().map(|(d, s)| (*d, s.as_slice())).collect();
        let outs = op.infer(&fact_refs)?;
        for (_, shape) in &outs {
            if shape.len() > self.limits.max_rank {
                return Err(Error::Limit(format!(
                    "result of rank {} (max_rank {})",
                    shape.len(),
                    self.limits.max_rank
                )));
            }
            let bytes = extent(shape)?.saturating_mul(8);
            if bytes > self.limits.max_tensor_bytes.saturating_mul(2) {
                return Err(Error::Limit(format!(
                    "result of shape {shape:?} is over the tensor limit (max_tensor_bytes)"
                )));
            }
        }
        if !inputs.is_empty() && inputs.iter().all(|&v| self.graph.value(v).is_const()) {
            let consts: Vec<&Tensor> = inputs.iter().filter_map(|&v| self.graph.const_of(v)).collect();
            if let Some(folded) = op.eval(&consts) {
                let t = folded?;
                return Ok(vec![self.constant(name, t)?]);
            }
        }
        for (dt, shape) in &outs {
            self.account_tensor(numel(shape)?.saturating_mul(dt.size()))?;
        }
        let ids: Vec<ValueId> = outs
            .into_iter()
            .enumerate()
            .map(|(i, (dt, shape))| {
                let n = if i == 0 { name.to_string() } else { format!("{name}:{i}") };
                self.graph.add_value(n, dt, shape)
            })
            .collect();
        if self.graph.nodes.len() >= self.limits.max_nodes {
            return Err(Error::Limit(format!("more than {} nodes after import (max_nodes)", self.limits.max_nodes)));
        }
        let node = self.graph.add_node(node_name, op, inputs, ids.clone());
        for &v in &ids {
            self.producer_of.insert(v, node.0);
        }
        Ok(ids)
    }

    /// Binds ONNX output `i` of `node` to value `v`.
    pub fn bind(&mut self, node: &NodeProto, i: usize, v: ValueId) {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            self.names.insert(name.clone(), v);
            let val = self.graph.value_mut(v);
            if val.origin.is_none() {
                val.origin = Some(crate::graph::Origin { name: name.clone(), perm: (0..val.shape.len()).collect() });
            }
        }
    }

    /// Emits `op` and binds its single output to the node's first output.
    pub fn emit_node(&mut self, node: &NodeProto, op: Op, inputs: Vec<ValueId>) -> Result<ValueId> {
        let name = node.output.first().cloned().unwrap_or_else(|| node_label(node));
        let node_name = if node.name.is_empty() { name.clone() } else { node.name.clone() };
        let v = self.emit_as(&node_name, &name, op, inputs)?[0];
        self.bind(node, 0, v);
        Ok(v)
    }

    /// A name for an intermediate value created while importing `node`.
    pub fn derived(&self, node: &NodeProto, what: &str) -> String {
        format!("{}/{what}", node.output.first().map(String::as_str).unwrap_or(node.name.as_str()))
    }
}

/// The signature of one op's importer.
pub type ImportFn = fn(&mut Importer, &NodeProto) -> Result<()>;
