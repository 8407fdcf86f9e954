//! Recognises ShuffleNet's channel shuffle — `Reshape [N, C, H, W] → [N, g, C/g, H, W]`,
//! `Transpose [0, 2, 1, 3, 4]`, `Reshape → [N, C, H, W]` — and replaces the three nodes with
//! one `Gather` of the channel axis. The reshapes to rank 5 would stop the NHWC switch (a
//! transpose cannot sink through them), leaving a layout change on either side of every
//! shuffle; a `Gather` of one axis sinks like any axis-wise op, runs on NHWC data and lowers
//! to a strided copy.
//!
//! Output channel `c = b·g + a` reads input channel `a·(C/g) + b`. Runs first, on the
//! imported graph: a QDQ export puts a `QuantizeLinear → DequantizeLinear` round trip after
//! each of the first two nodes, with the parameters of the `DequantizeLinear` that feeds the
//! shuffle; on data already on that grid they change nothing and go with the nodes.

use crate::graph::{Graph, NodeId, Op, ValueId};
use crate::ops::gather::Gather;
use crate::ops::quantize::QParams;
use crate::Result;

pub fn run(g: &mut Graph) -> Result<()> {
    let producers = g.producers();
    let consumers = g.consumers();
    let m = Matcher { g, producers, consumers };
    let shuffles: Vec<_> = (0..g.nodes.len()).filter_map(|i| m.shuffle(NodeId(i))).collect();
    for (i, x, groups, c) in shuffles {
        g.nodes[i].op = Op::Gather(Gather::shuffle(1, c, groups));
        g.nodes[i].inputs = vec![x];
    }
    g.prune();
    g.sort()
}

struct Matcher<'a> {
    g: &'a Graph,
    producers: Vec<Option<NodeId>>,
    consumers: Vec<Vec<NodeId>>,
}

impl Matcher<'_> {
    /// The node producing `v`, when `v` is read only by the next node of the pattern.
    fn sole_producer(&self, v: ValueId) -> Option<&crate::graph::Node> {
        let sole = self.consumers[v.0].len() == 1 && !self.g.is_output(v);
        sole.then(|| self.producers[v.0].map(|p| &self.g.nodes[p.0])).flatten()
    }

    /// If node `id` ends a shuffle: (its index, the shuffled input, groups, channels).
    fn shuffle(&self, id: NodeId) -> Option<(usize, ValueId, usize, usize)> {
        let g = self.g;
        let merge = &g.nodes[id.0];
        let Op::Reshape(_) = merge.op else { return None };
        // The grid of the shuffled data, when it comes dequantized.
        let mut grid = None;
        let (t_out, t_grid) = self.through_round_trip(merge.inputs[0]);
        let t = self.sole_producer(t_out)?;
        let Op::Transpose(tr) = &t.op else { return None };
        let (r_out, r_grid) = self.through_round_trip(t.inputs[0]);
        let r = self.sole_producer(r_out)?;
        let Op::Reshape(_) = r.op else { return None };
        let x = r.inputs[0];
        if let Some(p) = self.producers[x.0] {
            if let Op::DequantizeLinear(d) = &g.nodes[p.0].op {
                grid = Some(&d.params);
            }
        }
        // A round trip is exact only on data already on its grid.
        if [t_grid, r_grid].into_iter().flatten().any(|p| Some(p) != grid) {
            return None;
        }
        let (xs, split, out) = (&g.value(x).shape, &g.value(r_out).shape, &g.value(merge.outputs[0]).shape);
        let [batch, c, h, w] = xs[..] else { return None };
        let is_shuffle = tr.perm == [0, 2, 1, 3, 4]
            && split.len() == 5
            && split[0] == batch
            && split[1] * split[2] == c
            && split[3..] == [h, w]
            && out == xs;
        is_shuffle.then_some((id.0, x, split[1], c))
    }

    /// `v = DequantizeLinear(QuantizeLinear(u))` with the same per-tensor parameters, full
    /// range, every value read once: `(u, the parameters)`; else `(v, None)`.
    fn through_round_trip(&self, v: ValueId) -> (ValueId, Option<&QParams>) {
        let round_trip = || {
            let dq = self.sole_producer(v)?;
            let Op::DequantizeLinear(d) = &dq.op else { return None };
            let q = self.sole_producer(dq.inputs[0])?;
            let Op::QuantizeLinear(qn) = &q.op else { return None };
            let exact = super::qdq::full_range(qn) && d.params.scale.len() == 1 && qn.params == d.params;
            exact.then_some((q.inputs[0], Some(&d.params)))
        };
        round_trip().unwrap_or((v, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reshape::Reshape;
    use crate::ops::transpose::Transpose;
    use crate::tensor::{DType, Tensor};

    /// `x [1, 6, 1, 2]` through the three-node shuffle with `groups` groups.
    fn shuffle_graph(groups: usize) -> Graph {
        let mut g = Graph::default();
        let x = g.add_value("x", DType::F32, vec![1, 6, 1, 2]);
        let split = vec![1, groups, 6 / groups, 1, 2];
        let r = g.add_value("r", DType::F32, split.clone());
        let t = g.add_value("t", DType::F32, vec![1, 6 / groups, groups, 1, 2]);
        let y = g.add_value("y", DType::F32, vec![1, 6, 1, 2]);
        g.add_node("split", Op::Reshape(Reshape { shape: split }), vec![x], vec![r]);
        g.add_node("swap", Op::Transpose(Transpose { perm: vec![0, 2, 1, 3, 4] }), vec![r], vec![t]);
        g.add_node("merge", Op::Reshape(Reshape { shape: vec![1, 6, 1, 2] }), vec![t], vec![y]);
        g.inputs = vec![x];
        g.outputs = vec![y];
        g
    }

    /// Runs every node of `g` on `x` in order (the graph is sorted).
    fn eval(g: &Graph, x: &Tensor) -> Tensor {
        let mut vals: Vec<Option<Tensor>> = vec![None; g.values.len()];
        vals[g.inputs[0].0] = Some(x.clone());
        for n in &g.nodes {
            let ins: Vec<&Tensor> = n.inputs.iter().map(|v| vals[v.0].as_ref().unwrap()).collect();
            vals[n.outputs[0].0] = Some(n.op.eval(&ins).unwrap().unwrap());
        }
        vals[g.outputs[0].0].clone().unwrap()
    }

    #[test]
    fn the_three_node_shuffle_becomes_one_gather_with_the_same_result() {
        let x = Tensor::from_vec(vec![1, 6, 1, 2], (0..12).map(|v| v as f32).collect::<Vec<f32>>()).unwrap();
        for groups in [2, 3] {
            let mut g = shuffle_graph(groups);
            let want = eval(&g, &x);
            run(&mut g).unwrap();
            assert_eq!(g.nodes.len(), 1);
            assert!(matches!(g.nodes[0].op, Op::Gather(_)), "{:?}", g.nodes[0].op);
            assert_eq!(eval(&g, &x).to_f32_vec(), want.to_f32_vec(), "groups {groups}");
        }
        // Two groups of three channels: 0 3 1 4 2 5.
        let mut g = shuffle_graph(2);
        run(&mut g).unwrap();
        let Op::Gather(gather) = &g.nodes[0].op else { unreachable!() };
        assert_eq!(gather.indices, [0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn another_transpose_or_a_shared_intermediate_is_left_alone() {
        let mut g = shuffle_graph(2);
        g.nodes[1].op = Op::Transpose(Transpose { perm: vec![0, 1, 2, 4, 3] });
        let t = g.nodes[1].outputs[0];
        g.values[t.0].shape = vec![1, 2, 3, 2, 1];
        g.nodes[2].op = Op::Reshape(Reshape { shape: vec![1, 6, 1, 2] });
        run(&mut g).unwrap();
        assert_eq!(g.nodes.len(), 3);

        let mut g = shuffle_graph(2);
        let r = g.nodes[0].outputs[0];
        g.outputs.push(r);
        run(&mut g).unwrap();
        assert_eq!(g.nodes.len(), 3);
    }
}
