//! Int8 transposed convolutions (`DQ → ConvTranspose → Q`, per-channel weights on axis 1, as
//! the heatmap head exports them), run by their phases (by col2im where a phase has no kernel
//! taps), against the float reference path of
//! the same graph (`passes.int8 = false`: DQ, a float ConvTranspose, Q): the integer
//! accumulation is exact, so the two differ only where the float sum lands within rounding
//! of a quantization step's midpoint.

use qpose::graph::{Graph, Op};
use qpose::ops::conv_transpose::ConvTranspose;
use qpose::ops::quantize::{DequantizeLinear, QParams, QuantizeLinear};
use qpose::ops::{Clamp, Layout};
use qpose::runtime::{Model, ModelOptions};
use qpose::tensor::{DType, Tensor};

struct Case {
    cin: usize,
    cout: usize,
    hw: [usize; 2],
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
    output_padding: [usize; 2],
}

/// `x` (u8, NCHW) → DQ → ConvTranspose (DQ'd i8 weights, per output channel; f32 bias) → Q.
fn graph(c: &Case) -> (Graph, Tensor) {
    let d = ConvTranspose {
        kernel: c.kernel,
        strides: c.strides,
        dilations: [1, 1],
        pads: c.pads,
        output_padding: c.output_padding,
        group: 1,
        layout: Layout::Nchw,
        clamp: Clamp::NONE,
    };
    let [h, w] = c.hw;
    let wshape = vec![c.cin, c.cout, c.kernel[0], c.kernel[1]];
    let yshape = d.output_shape(&[1, c.cin, h, w], &wshape).unwrap();
    let mut g = Graph::default();
    let x = g.add_value("x", DType::U8, vec![1, c.cin, h, w]);
    g.inputs = vec![x];
    let xf = g.add_value("xf", DType::F32, vec![1, c.cin, h, w]);
    g.add_node(
        "dq_x",
        Op::DequantizeLinear(DequantizeLinear { params: QParams::per_tensor(0.05, 7) }),
        vec![x],
        vec![xf],
    );
    let n: usize = wshape.iter().product();
    let wq: Vec<i8> = (0..n).map(|i| ((i * 53 + 11) % 255) as i32 - 127).map(|v| v as i8).collect();
    let wv = g.add_const("w", Tensor::from_vec(wshape.clone(), wq).unwrap());
    let wf = g.add_value("wf", DType::F32, wshape);
    let scales = (0..c.cout).map(|o| 0.002 + 0.0005 * o as f32).collect();
    let wparams = QParams { scale: scales, zero_point: vec![0; c.cout], axis: Some(1) };
    g.add_node("dq_w", Op::DequantizeLinear(DequantizeLinear { params: wparams }), vec![wv], vec![wf]);
    let bias =
        g.add_const("b", Tensor::from_vec(vec![c.cout], (0..c.cout).map(|o| o as f32 * 0.1 - 0.3).collect()).unwrap());
    let yf = g.add_value("yf", DType::F32, yshape.clone());
    g.add_node("deconv", Op::ConvTranspose(d), vec![xf, wf, bias], vec![yf]);
    let y = g.add_value("y", DType::U8, yshape);
    let q = QuantizeLinear { params: QParams::per_tensor(0.03, 100), dtype: DType::U8, qmin: 0, qmax: 255 };
    g.add_node("q_y", Op::QuantizeLinear(q), vec![yf], vec![y]);
    g.outputs = vec![y];
    let xs: Vec<u8> = (0..c.cin * h * w).map(|i| (i * 29 % 256) as u8).collect();
    (g, Tensor::from_vec(vec![1, c.cin, h, w], xs).unwrap())
}

fn run(g: Graph, x: &Tensor, int8: bool) -> (Vec<u8>, Vec<String>) {
    let mut opts = ModelOptions::default();
    opts.passes.int8 = int8;
    let mut m = Model::from_graph(g, &opts).unwrap();
    m.set_input_bytes(0, x.bytes()).unwrap();
    m.run_steps();
    (m.output(0).bytes.to_vec(), m.plan().steps.iter().map(|s| s.step.kernel()).collect())
}

#[test]
fn int8_phases_match_the_float_path_within_one_step() {
    // (C_in, C_out, input, kernel, strides, pads, output padding, the step expected): the
    // heatmap head's 4x4 stride-2 deconv; unequal strides with cropping and output padding
    // and a stride past the kernel (a phase without taps: col2im); an odd C_in (window rows
    // padded to whole K pairs) on a 1x1 input; stride 1.
    type Shape = (usize, usize, [usize; 2], [usize; 2], [usize; 2], [usize; 4], [usize; 2], &'static str);
    let shapes: [Shape; 4] = [
        (16, 20, [3, 4], [4, 4], [2, 2], [1, 1, 1, 1], [0, 0], "phases2x2.i8"),
        (5, 3, [4, 3], [3, 2], [2, 3], [0, 1, 1, 0], [1, 2], "col2im.i8"),
        (7, 17, [1, 1], [3, 3], [2, 2], [0; 4], [0, 0], "phases2x2.i8"),
        (8, 8, [5, 5], [3, 3], [1, 1], [1, 1, 1, 1], [0, 0], "phases1x1.i8"),
    ];
    let cases = shapes.map(|(cin, cout, hw, kernel, strides, pads, output_padding, step)| {
        (Case { cin, cout, hw, kernel, strides, pads, output_padding }, step)
    });
    for (c, step) in &cases {
        let (g, x) = graph(c);
        let (int8, kernels) = run(g, &x, true);
        let (g, x) = graph(c);
        let (float, _) = run(g, &x, false);
        assert!(kernels.iter().any(|k| k.contains(step)), "{kernels:?} has no {step} step");
        assert_eq!(int8.len(), float.len());
        let off_by_one = int8.iter().zip(&float).filter(|(a, b)| a != b).count();
        assert!(int8.iter().zip(&float).all(|(a, b)| a.abs_diff(*b) <= 1), "{kernels:?}: more than one step apart");
        assert!(off_by_one * 100 <= int8.len(), "{kernels:?}: {off_by_one} of {} outputs differ", int8.len());
        // Outputs span the range: the case exercises the requantization, not one saturated value.
        assert!(int8.iter().min() < int8.iter().max(), "{kernels:?}: constant output");
    }
}
