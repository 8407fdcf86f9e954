//! Zero padding as its own node — TensorFlow exports' `ZeroPadding2D` before strided
//! convolutions, as in BlazePose — folded into the float convolution that reads it: a constant
//! `Pad` of value +0.0 on the height and width axes only becomes part of the `Conv`'s own
//! padding, which its kernels apply implicitly, without the padded copy. The `Pad` node goes
//! once nothing else reads it.

use crate::graph::{Graph, Op};
use crate::Result;

pub fn run(g: &mut Graph) -> Result<()> {
    let producers = g.producers();
    'nodes: for i in 0..g.nodes.len() {
        let Op::Conv(conv) = &g.nodes[i].op else {
            continue;
        };
        let x = g.nodes[i].inputs[0];
        let Some(p) = producers[x.0] else {
            continue;
        };
        let Op::Pad(pad) = &g.nodes[p.0].op else {
            continue;
        };
        let (_, h, w) = conv.layout.chw_axes();
        let spatial_only =
            pad.pads.len() == 4 && pad.pads.iter().enumerate().all(|(a, &p)| a == h || a == w || p == (0, 0));
        // +0.0 exactly: a -0.0 border could change the sign of an all-zero sum.
        if !spatial_only || pad.value.to_bits() != 0 {
            continue;
        }
        let extra = [pad.pads[h].0, pad.pads[w].0, pad.pads[h].1, pad.pads[w].1];
        let mut pads = [0; 4];
        for ((new, &old), add) in pads.iter_mut().zip(&conv.pads).zip(extra) {
            // Hostile sizes: an overflow leaves the graph as it is (the limits check it later).
            let Some(sum) = old.checked_add(add) else {
                continue 'nodes;
            };
            *new = sum;
        }
        let src = g.nodes[p.0].inputs[0];
        if let Op::Conv(conv) = &mut g.nodes[i].op {
            conv.pads = pads;
        }
        g.nodes[i].inputs[0] = src;
    }
    g.prune();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::Conv;
    use crate::ops::pad::Pad;
    use crate::ops::{Clamp, Layout};
    use crate::tensor::{DType, Tensor};
    use crate::{Model, ModelOptions};

    /// NHWC `x [1, 9, 8, 6]` → Pad (top 0, bottom 1, left 1, right 2) → a 3×3 stride-2 Conv
    /// with `group` groups and its own padding of 1 on top.
    fn graph(group: usize, value: f32) -> Graph {
        let mut g = Graph { opset: 13, ..Graph::default() };
        let x = g.add_value("x", DType::F32, vec![1, 9, 8, 6]);
        let p = g.add_value("p", DType::F32, vec![1, 10, 11, 6]);
        let cout = 6;
        let w: Vec<f32> = (0..cout * 6 / group * 9).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
        let w = g.add_const("w", Tensor::from_vec(vec![cout, 6 / group, 3, 3], w).unwrap());
        let b = g.add_const("b", Tensor::from_vec(vec![cout], vec![0.5f32, -0.25, 1.0, 2.0, -1.5, 0.75]).unwrap());
        let y = g.add_value("y", DType::F32, vec![1, 5, 5, cout]);
        let pad = Pad { pads: vec![(0, 0), (0, 1), (1, 2), (0, 0)], value };
        g.add_node("pad", Op::Pad(pad), vec![x], vec![p]);
        let conv = Conv {
            kernel: [3, 3],
            strides: [2, 2],
            dilations: [1, 1],
            pads: [1, 0, 0, 0],
            group,
            layout: Layout::Nhwc,
            clamp: Clamp::NONE,
        };
        g.add_node("conv", Op::Conv(conv), vec![p, w, b], vec![y]);
        g.inputs.push(x);
        g.outputs.push(y);
        g
    }

    /// Plans `g` as it is (a planned model skips the passes) and runs it on a fixed input.
    fn infer(g: &Graph) -> Vec<f32> {
        let bytes = crate::planned::to_bytes(g, &Default::default()).unwrap();
        let mut m = Model::from_planned_bytes(&bytes, &ModelOptions::default()).unwrap();
        let x: Vec<f32> = (0..9 * 8 * 6).map(|i| ((i * 7919 % 251) as f32 - 125.0) / 50.0).collect();
        m.run(&[&x]).unwrap();
        m.output(0).as_f32().unwrap().to_vec()
    }

    #[test]
    fn zero_pads_become_the_convolutions_padding() {
        for group in [1, 6] {
            let g0 = graph(group, 0.0);
            let mut g = g0.clone();
            run(&mut g).unwrap();
            assert!(!g.nodes.iter().any(|n| matches!(n.op, Op::Pad(_))), "group {group}: the Pad is still there");
            let Some(Op::Conv(conv)) = g.nodes.iter().map(|n| &n.op).find(|op| matches!(op, Op::Conv(_))) else {
                panic!("no Conv");
            };
            assert_eq!(conv.pads, [1, 1, 1, 2], "top, left, bottom, right");
            let (want, got) = (infer(&g0), infer(&g));
            assert_eq!(want.len(), 5 * 5 * 6);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "group {group} element {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn other_pads_stay() {
        for value in [1.0, -0.0] {
            let mut g = graph(1, value);
            run(&mut g).unwrap();
            assert!(g.nodes.iter().any(|n| matches!(n.op, Op::Pad(_))), "a Pad of {value} was folded");
        }
        // Padding the channel axis is not the convolution's padding.
        let mut g = graph(1, 0.0);
        if let Op::Pad(p) = &mut g.nodes[0].op {
            p.pads[3] = (0, 1);
        }
        run(&mut g).unwrap();
        assert!(g.nodes.iter().any(|n| matches!(n.op, Op::Pad(_))), "a channel Pad was folded");
    }
}
