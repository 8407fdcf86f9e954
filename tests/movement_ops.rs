//! Data movement as planned — ShuffleNet's channel shuffle (made one gather, on NCHW and on
//! NHWC data), slices and gathers of one axis, and the concatenation of 8-bit tensors with
//! different quantizations — against the ops' element-wise definitions (`eval`, what the
//! constant folder runs), on graphs built in memory.

use qpose::graph::{Graph, Op, ValueId};
use qpose::ops::concat::Concat;
use qpose::ops::quantize::{DequantizeLinear, QParams, QuantizeLinear};
use qpose::ops::reshape::Reshape;
use qpose::ops::slice::{AxisRange, Slice};
use qpose::ops::transpose::Transpose;
use qpose::runtime::{Model, ModelOptions};
use qpose::tensor::{DType, Tensor};

/// Runs `g`'s nodes in order with their `eval` (DequantizeLinear by its own).
fn reference(g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    let mut vals: Vec<Option<Tensor>> = vec![None; g.values.len()];
    for (v, t) in g.inputs.iter().zip(inputs) {
        vals[v.0] = Some(t.clone());
    }
    for n in &g.nodes {
        let ins: Vec<&Tensor> = n.inputs.iter().map(|v| vals[v.0].as_ref().expect("sorted graph")).collect();
        let out = match &n.op {
            Op::DequantizeLinear(d) => d.eval(ins[0]),
            op => op.eval(&ins).expect("an op with an eval"),
        };
        vals[n.outputs[0].0] = Some(out.unwrap());
    }
    g.outputs.iter().map(|v| vals[v.0].clone().unwrap()).collect()
}

/// Optimises, plans and runs `g`; every output, and the kernels of the planned steps.
fn planned(g: Graph, inputs: &[Tensor]) -> (Vec<Tensor>, Vec<String>) {
    let mut m = Model::from_graph(g, &ModelOptions::default()).unwrap();
    for (i, t) in inputs.iter().enumerate() {
        m.set_input_bytes(i, t.bytes()).unwrap();
    }
    m.run_steps();
    let outs = (0..m.outputs().len()).map(|i| m.output(i).to_tensor().unwrap()).collect();
    (outs, m.plan().steps.iter().map(|s| s.step.kernel()).collect())
}

fn same(a: &[Tensor], b: &[Tensor]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!((x.dtype(), x.shape()), (y.dtype(), y.shape()));
        assert_eq!(x.bytes(), y.bytes());
    }
}

/// `x → Reshape [N, g, C/g, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [N, C, H, W]`, then
/// the two halves of the channels as outputs (ShuffleNetV2's shuffle and split). With
/// `nhwc_input`, the graph input is NHWC and a transpose to NCHW leads in, as the layout pass
/// leaves it after a convolution.
fn shuffle_and_split(dtype: DType, [c, h, w]: [usize; 3], groups: usize, nhwc_input: bool) -> Graph {
    let mut g = Graph::default();
    let nchw = vec![1, c, h, w];
    let x = if nhwc_input {
        let x = g.add_value("x", dtype, vec![1, h, w, c]);
        g.inputs = vec![x];
        let t = g.add_value("x_nchw", dtype, nchw.clone());
        g.add_node("to_nchw", Op::Transpose(Transpose { perm: vec![0, 3, 1, 2] }), vec![x], vec![t]);
        t
    } else {
        let x = g.add_value("x", dtype, nchw.clone());
        g.inputs = vec![x];
        x
    };
    let split = vec![1, groups, c / groups, h, w];
    let r = g.add_value("r", dtype, split.clone());
    let t = g.add_value("t", dtype, vec![1, c / groups, groups, h, w]);
    let y = g.add_value("y", dtype, nchw);
    g.add_node("split", Op::Reshape(Reshape { shape: split }), vec![x], vec![r]);
    g.add_node("swap", Op::Transpose(Transpose { perm: vec![0, 2, 1, 3, 4] }), vec![r], vec![t]);
    g.add_node("merge", Op::Reshape(Reshape { shape: vec![1, c, h, w] }), vec![t], vec![y]);
    let half = |lo: usize| {
        let mut ranges = vec![AxisRange::full(1), AxisRange::full(c), AxisRange::full(h), AxisRange::full(w)];
        ranges[1] = AxisRange { start: lo, step: 1, len: c / 2 };
        Op::Slice(Slice { ranges })
    };
    let (a, b) = (g.add_value("a", dtype, vec![1, c / 2, h, w]), g.add_value("b", dtype, vec![1, c / 2, h, w]));
    g.add_node("first", half(0), vec![y], vec![a]);
    g.add_node("second", half(c / 2), vec![y], vec![b]);
    g.outputs = vec![a, b];
    if nhwc_input {
        // Back to NHWC, as the next convolutions would read them.
        for (i, name) in ["a_nhwc", "b_nhwc"].into_iter().enumerate() {
            let o = g.add_value(name, dtype, vec![1, h, w, c / 2]);
            g.add_node(name, Op::Transpose(Transpose { perm: vec![0, 2, 3, 1] }), vec![g.outputs[i]], vec![o]);
            g.outputs[i] = o;
        }
    }
    g
}

fn ramp(dtype: DType, shape: Vec<usize>) -> Tensor {
    let n: usize = shape.iter().product();
    match dtype {
        DType::U8 => Tensor::from_vec(shape, (0..n).map(|i| (i * 7 % 256) as u8).collect::<Vec<u8>>()),
        _ => Tensor::from_vec(shape, (0..n).map(|i| i as f32 * 0.5 - 3.0).collect::<Vec<f32>>()),
    }
    .unwrap()
}

#[test]
fn a_channel_shuffle_and_split_match_their_definition_on_nchw_and_nhwc_data() {
    for dtype in [DType::F32, DType::U8] {
        for (chw, groups) in [([116, 3, 5], 2), ([12, 2, 2], 3), ([8, 1, 1], 4)] {
            for nhwc in [false, true] {
                let g = shuffle_and_split(dtype, chw, groups, nhwc);
                let [c, h, w] = chw;
                let x = ramp(dtype, if nhwc { vec![1, h, w, c] } else { vec![1, c, h, w] });
                let want = reference(&g, std::slice::from_ref(&x));
                let (got, kernels) = planned(g, &[x]);
                same(&got, &want);
                // One strided copy for the shuffle, two slices: no index table per element,
                // no layout change.
                assert_eq!(kernels.iter().filter(|k| *k == "permute").count(), 1, "{kernels:?}");
                assert_eq!(kernels.len(), 3, "{kernels:?}");
            }
        }
    }
}

#[test]
fn a_concat_of_8_bit_tensors_requantizes_each_input_exactly() {
    // a: u8 (0.05, 10) and b: u8 (0.02, 128) into (0.04, 3); b's quantization equal to the
    // output's in the second case (copied, not re-quantized).
    for b_quant in [(0.02, 128), (0.04, 3)] {
        let mut g = Graph::default();
        let (a, b) = (g.add_value("a", DType::U8, vec![1, 3, 2, 5]), g.add_value("b", DType::U8, vec![1, 3, 2, 4]));
        g.inputs = vec![a, b];
        let dq = |g: &mut Graph, x: ValueId, (s, z): (f32, i32), name: &str| {
            let shape = g.value(x).shape.clone();
            let y = g.add_value(name, DType::F32, shape);
            g.add_node(
                name,
                Op::DequantizeLinear(DequantizeLinear { params: QParams::per_tensor(s, z) }),
                vec![x],
                vec![y],
            );
            y
        };
        let (fa, fb) = (dq(&mut g, a, (0.05, 10), "fa"), dq(&mut g, b, b_quant, "fb"));
        let cat = g.add_value("cat", DType::F32, vec![1, 3, 2, 9]);
        g.add_node("concat", Op::Concat(Concat { axis: 3 }), vec![fa, fb], vec![cat]);
        let y = g.add_value("y", DType::U8, vec![1, 3, 2, 9]);
        let q = QuantizeLinear { params: QParams::per_tensor(0.04, 3), dtype: DType::U8, qmin: 0, qmax: 255 };
        g.add_node("q", Op::QuantizeLinear(q), vec![cat], vec![y]);
        g.outputs = vec![y];
        let inputs = [ramp(DType::U8, vec![1, 3, 2, 5]), ramp(DType::U8, vec![1, 3, 2, 4])];
        let want = reference(&g, &inputs);
        let (got, kernels) = planned(g, &inputs);
        same(&got, &want);
        assert_eq!(kernels.len(), 1, "{kernels:?}");
        assert!(kernels[0].starts_with("concat.i8."), "{kernels:?}");
    }
}
