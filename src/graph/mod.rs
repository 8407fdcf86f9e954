//! qpose's own graph: typed values with static shapes, named nodes, constants held inline.
//!
//! The importer builds it from ONNX with ONNX semantics (NCHW for spatial ops); passes rewrite
//! it (folding, fusion, int8 matching, the switch to NHWC); the planner lowers it to kernels.

mod op;

pub use op::{Fact, Op};

use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use std::collections::HashMap;

/// Index of a value in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ValueId(pub usize);

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct NodeId(pub usize);

/// A tensor flowing through the graph: its type, its static shape and, for constants, its data.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Value {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub constant: Option<Tensor>,
    /// The ONNX tensor this value holds, if any: `value = transpose(onnx_tensor, perm)`.
    pub origin: Option<Origin>,
}

/// Which tensor of the original model a value holds, and in which axis order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The tensor's name in the ONNX file.
    pub name: String,
    /// `value = transpose(onnx_tensor, perm)`.
    pub perm: Vec<usize>,
}

impl Origin {
    /// The origin of `transpose(value, perm)`.
    pub fn then(&self, perm: &[usize]) -> Origin {
        Origin { name: self.name.clone(), perm: perm.iter().map(|&p| self.perm[p]).collect() }
    }
}

impl Value {
    pub fn is_const(&self) -> bool {
        self.constant.is_some()
    }
}

/// One operation: what it computes, what it reads and what it writes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// A dataflow graph. Nodes are kept in a valid execution order by every pass
/// (see [`Graph::sort`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Graph {
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// The default-domain opset the model was exported with.
    pub opset: i64,
    /// For every tensor a `QuantizeLinear` produces (by ONNX name): the float tensor it
    /// quantizes and how. Lets per-layer comparisons align an int8 model with its fp32 twin.
    /// (Serialized by name order, so that a planned model's bytes do not depend on hashing.)
    #[serde(serialize_with = "serialize_sorted")]
    pub quantized_tensors: HashMap<String, QuantizedTensor>,
}

/// What a quantized tensor of the original model holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantizedTensor {
    /// ONNX name of the float tensor it quantizes.
    pub float_name: String,
    /// Per-tensor scale and zero point (`None` for per-axis quantization).
    pub scale_zero_point: Option<(f32, i32)>,
}

fn serialize_sorted<S: serde::Serializer>(
    map: &HashMap<String, QuantizedTensor>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(map.iter().collect::<std::collections::BTreeMap<_, _>>())
}

impl Graph {
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0]
    }

    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.0]
    }

    /// Adds a value and returns its id.
    pub fn add_value(&mut self, name: impl Into<String>, dtype: DType, shape: Vec<usize>) -> ValueId {
        self.values.push(Value { name: name.into(), dtype, shape, constant: None, origin: None });
        ValueId(self.values.len() - 1)
    }

    /// Adds a constant value and returns its id.
    pub fn add_const(&mut self, name: impl Into<String>, t: Tensor) -> ValueId {
        self.values.push(Value {
            name: name.into(),
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            constant: Some(t),
            origin: None,
        });
        ValueId(self.values.len() - 1)
    }

    /// The constant data of a value, if it is a constant.
    pub fn const_of(&self, id: ValueId) -> Option<&Tensor> {
        self.values[id.0].constant.as_ref()
    }

    /// Appends a node (callers keep the order valid or call [`Graph::sort`]).
    pub fn add_node(&mut self, name: impl Into<String>, op: Op, inputs: Vec<ValueId>, outputs: Vec<ValueId>) -> NodeId {
        self.nodes.push(Node { name: name.into(), op, inputs, outputs });
        NodeId(self.nodes.len() - 1)
    }

    /// For each value, the node that produces it (None for inputs and constants).
    pub fn producers(&self) -> Vec<Option<NodeId>> {
        let mut p = vec![None; self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for o in &n.outputs {
                p[o.0] = Some(NodeId(i));
            }
        }
        p
    }

    /// For each value, the nodes that read it (a node reading a value twice appears twice).
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut c = vec![Vec::new(); self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for v in &n.inputs {
                c[v.0].push(NodeId(i));
            }
        }
        c
    }

    /// Whether the value is one of the graph's outputs.
    pub fn is_output(&self, v: ValueId) -> bool {
        self.outputs.contains(&v)
    }

    /// Replaces every read of `from` (by nodes and graph outputs) with `to`.
    pub fn replace_uses(&mut self, from: ValueId, to: ValueId) {
        for n in &mut self.nodes {
            for i in &mut n.inputs {
                if *i == from {
                    *i = to;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == from {
                *o = to;
            }
        }
    }

    /// Reorders nodes topologically (Kahn's algorithm, iterative: no recursion, so chains of
    /// any length are safe) keeping the current order among independent nodes. Fails on a
    /// cycle or on a value read before anything produces it.
    pub fn sort(&mut self) -> Result<()> {
        let producers = self.producers();
        let n = self.nodes.len();
        let mut pending = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut is_input = vec![false; self.values.len()];
        for v in &self.inputs {
            is_input[v.0] = true;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            for v in &node.inputs {
                match producers[v.0] {
                    Some(p) => {
                        pending[i] += 1;
                        dependents[p.0].push(i);
                    }
                    None => {
                        let val = &self.values[v.0];
                        if !val.is_const() && !is_input[v.0] {
                            bail!(
                                "node '{}' reads '{}', which no node produces and is neither an input nor an initializer",
                                node.name,
                                val.name
                            );
                        }
                    }
                }
            }
        }
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &dependents[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() != n {
            let stuck = (0..n).find(|&i| pending[i] > 0).map(|i| self.nodes[i].name.clone());
            bail!("the graph has a cycle (through node '{}')", stuck.unwrap_or_default());
        }
        let mut old: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order.into_iter().filter_map(|i| old[i].take()).collect();
        Ok(())
    }

    /// Removes nodes whose outputs nobody reads and values nobody references, renumbering ids.
    pub fn prune(&mut self) {
        let mut live = vec![false; self.values.len()];
        for o in &self.outputs {
            live[o.0] = true;
        }
        let mut keep = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if node.outputs.iter().any(|o| live[o.0]) {
                keep[i] = true;
                for v in &node.inputs {
                    live[v.0] = true;
                }
            }
        }
        for v in &self.inputs {
            live[v.0] = true;
        }
        let mut k = keep.iter();
        self.nodes.retain(|_| *k.next().unwrap_or(&false));
        for n in &self.nodes {
            for o in &n.outputs {
                live[o.0] = true;
            }
        }
        let mut remap = vec![None; self.values.len()];
        let mut values = Vec::new();
        for (i, v) in std::mem::take(&mut self.values).into_iter().enumerate() {
            if live[i] {
                remap[i] = Some(ValueId(values.len()));
                values.push(v);
            }
        }
        self.values = values;
        let fix = |v: &mut ValueId| *v = remap[v.0].expect("live value");
        for n in &mut self.nodes {
            n.inputs.iter_mut().for_each(fix);
            n.outputs.iter_mut().for_each(fix);
        }
        self.inputs.iter_mut().for_each(fix);
        self.outputs.iter_mut().for_each(fix);
    }

    /// Index of values by name.
    pub fn value_names(&self) -> HashMap<&str, ValueId> {
        self.values.iter().enumerate().map(|(i, v)| (v.name.as_str(), ValueId(i))).collect()
    }

    /// A new value name derived from `base` for values that passes create (`base/qpose.N`).
    pub fn derived_name(&self, base: &str) -> String {
        format!("{base}/qpose.{}", self.values.len())
    }
}
