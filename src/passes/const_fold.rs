//! Evaluates nodes whose inputs are all constant. The importer already folds shape
//! arithmetic; this pass also folds `DequantizeLinear` of constants (quantized weights) when
//! they are to be used in float.

use crate::graph::{Graph, Op};
use crate::Result;

/// Folds every foldable node with constant inputs; `qdq` also folds `DequantizeLinear`.
pub fn run(g: &mut Graph, qdq: bool) -> Result<()> {
    loop {
        let mut folded = vec![false; g.nodes.len()];
        let mut results = Vec::new();
        for (i, node) in g.nodes.iter().enumerate() {
            let out = node.outputs[0];
            if node.outputs.len() != 1 || !node.inputs.iter().all(|&v| g.value(v).is_const()) || g.is_output(out) {
                continue;
            }
            let inputs: Vec<_> = node.inputs.iter().filter_map(|&v| g.const_of(v)).collect();
            let t = match &node.op {
                Op::DequantizeLinear(d) if qdq => Some(d.eval(inputs[0])),
                op => op.eval(&inputs),
            };
            if let Some(t) = t {
                folded[i] = true;
                results.push((out, t?));
            }
        }
        for (out, t) in results {
            g.value_mut(out).constant = Some(t);
        }
        if !folded.contains(&true) {
            return Ok(());
        }
        let mut f = folded.iter();
        g.nodes.retain(|_| !*f.next().unwrap_or(&false));
    }
}
