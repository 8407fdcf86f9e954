//! Planning: a sorted, optimised graph becomes a list of [`Step`]s with packed weights, one
//! activation arena sized by liveness, and a constant area. Done once per model.

mod memory;

use crate::exec::{AlignedBuf, LowerCtx, Slot, Step, ValInfo};
use crate::graph::Graph;
use crate::kernels::isa::Isa;
use crate::tensor::DType;
use crate::{Error, Result};

/// A model input or output: where the caller's data goes or comes from.
#[derive(Clone, Debug)]
pub struct Port {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub slot: Slot,
}

/// One step with what `qpose inspect` shows about it.
pub struct PlannedStep {
    /// The graph node it runs.
    pub node: String,
    /// The op (`Conv`, `Dense`, ...).
    pub op: &'static str,
    pub step: Box<dyn Step>,
    pub macs: u64,
    /// Work of one run for the `max_macs` limit ([`crate::graph::Op::work`]).
    pub work: u64,
    /// Type and shape of the node's first output.
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Where that output lives (for per-layer dumps).
    pub slot: Slot,
    /// The model tensor that output holds, if any.
    pub origin: Option<crate::graph::Origin>,
    /// The run-time inputs the step reads (for isolated per-layer runs).
    pub inputs: Vec<StepInput>,
}

/// A run-time input of a step.
#[derive(Clone, Debug)]
pub struct StepInput {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub slot: Slot,
    pub origin: Option<crate::graph::Origin>,
}

/// A planned model.
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub arena_bytes: usize,
    pub consts: AlignedBuf,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

/// Planning options.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub isa: Isa,
    /// Largest activation arena accepted, bytes.
    pub max_arena_bytes: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { isa: Isa::best(), max_arena_bytes: 1 << 30 }
    }
}

/// Plans `g` (already optimised, sorted and pruned).
pub fn plan(g: &Graph, opts: &PlanOptions) -> Result<Plan> {
    let facts = |ids: &[crate::graph::ValueId]| -> Vec<(DType, Vec<usize>)> {
        ids.iter().map(|v| (g.value(*v).dtype, g.value(*v).shape.clone())).collect()
    };
    let scratch: Vec<usize> = g
        .nodes
        .iter()
        .map(|n| {
            let (i, o) = (facts(&n.inputs), facts(&n.outputs));
            let ir: Vec<_> = i.iter().map(|(d, s)| (*d, s.as_slice())).collect();
            let or: Vec<_> = o.iter().map(|(d, s)| (*d, s.as_slice())).collect();
            n.op.scratch_bytes(&ir, &or)
        })
        .collect();
    let place = memory::place(g, &scratch, opts.max_arena_bytes)?;
    let mut consts = AlignedBuf::zeroed(place.const_bytes);
    for &(v, offset) in &place.consts {
        let t = g.const_of(v).ok_or_else(|| Error::invalid("constant without data"))?;
        consts.as_bytes_mut()[offset..offset + t.bytes().len()].copy_from_slice(t.bytes());
    }
    let info = |v: crate::graph::ValueId| {
        let val = g.value(v);
        ValInfo {
            name: &val.name,
            dtype: val.dtype,
            shape: &val.shape,
            constant: val.constant.as_ref(),
            slot: place.values[v.0],
        }
    };
    let mut steps = Vec::new();
    for (t, n) in g.nodes.iter().enumerate() {
        if n.op.is_alias() && !g.value(n.inputs[0]).is_const() {
            continue;
        }
        let ctx = LowerCtx {
            node_name: &n.name,
            inputs: n.inputs.iter().map(|&v| info(v)).collect(),
            outputs: n.outputs.iter().map(|&v| info(v)).collect(),
            isa: opts.isa,
            scratch: place.scratch[t],
        };
        let step = n.op.lower(&ctx).map_err(|e| Error::Node {
            node: n.name.clone(),
            op: n.op.name().to_string(),
            opset: g.opset,
            msg: format!("cannot plan: {e}"),
        })?;
        let (i, o) = (facts(&n.inputs), facts(&n.outputs));
        let ir: Vec<_> = i.iter().map(|(d, s)| (*d, s.as_slice())).collect();
        let or: Vec<_> = o.iter().map(|(d, s)| (*d, s.as_slice())).collect();
        let out = g.value(n.outputs[0]);
        steps.push(PlannedStep {
            node: n.name.clone(),
            op: n.op.name(),
            step,
            macs: n.op.macs(&ir, &or),
            work: n.op.work(&ir, &or),
            dtype: out.dtype,
            shape: out.shape.clone(),
            slot: place.values[n.outputs[0].0].ok_or_else(|| Error::invalid("output without a buffer"))?,
            origin: out.origin.clone(),
            inputs: n
                .inputs
                .iter()
                .filter(|v| !g.value(**v).is_const())
                .filter_map(|&v| {
                    let val = g.value(v);
                    Some(StepInput {
                        dtype: val.dtype,
                        shape: val.shape.clone(),
                        slot: place.values[v.0]?,
                        origin: val.origin.clone(),
                    })
                })
                .collect(),
        });
    }
    let port = |v: crate::graph::ValueId| -> Result<Port> {
        let val = g.value(v);
        Ok(Port {
            name: val.name.clone(),
            dtype: val.dtype,
            shape: val.shape.clone(),
            slot: place.values[v.0].ok_or_else(|| Error::invalid(format!("'{}' has no buffer", val.name)))?,
        })
    };
    Ok(Plan {
        steps,
        arena_bytes: place.arena_bytes,
        consts,
        inputs: g.inputs.iter().map(|&v| port(v)).collect::<Result<_>>()?,
        outputs: g.outputs.iter().map(|&v| port(v)).collect::<Result<_>>()?,
    })
}
