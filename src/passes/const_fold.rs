//! Evaluates nodes whose inputs are all constant. The importer already folds shape
//! arithmetic; this pass also folds `DequantizeLinear` of constants (quantized weights) when
//! they are to be used in float.

use crate::graph::{Graph, Op};
use crate::Result;

/// Folds every foldable node with constant inputs; `qdq` also folds `DequantizeLinear`.
/// One sweep in execution order: a folded result is a constant for the nodes after it, so
/// chains fold in the same sweep (linear in the graph size).
pub fn run(g: &mut Graph, qdq: bool) -> Result<()> {
    let mut folded = vec![false; g.nodes.len()];
    for i in 0..g.nodes.len() {
        let node = &g.nodes[i];
        let Some(&out) = node.outputs.first() else { continue };
        if node.outputs.len() != 1 || !node.inputs.iter().all(|&v| g.value(v).is_const()) || g.is_output(out) {
            continue;
        }
        let inputs: Vec<_> = node.inputs.iter().filter_map(|&v| g.const_of(v)).collect();
        let t = match &node.op {
            Op::DequantizeLinear(d) if qdq => Some(d.eval(inputs[0])),
            op => op.eval(&inputs),
        };
        if let Some(t) = t {
            let t = t?;
            g.value_mut(out).constant = Some(t);
            folded[i] = true;
        }
    }
    let mut f = folded.iter();
    g.nodes.retain(|_| !*f.next().unwrap_or(&false));
    Ok(())
}
