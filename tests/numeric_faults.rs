//! Numeric faults: bad quantization parameters are load errors; NaN and infinities in inputs
//! and weights have a defined, tested behaviour (documented here):
//!
//! - scales must be finite and positive, zero points within their type (load error);
//! - an int8 layer whose requantization is not finite (a NaN/inf float bias, scales whose
//!   product overflows) is a load error;
//! - quantizing NaN gives the zero point, ±inf saturate;
//! - float ops propagate NaN (IEEE) — convolutions (GEMM and depthwise, on every
//!   instruction set) and dense layers too, with or without a fused activation — except a
//!   standalone ReLU or Clip, which maps NaN to its lower bound (0 for ReLU).

mod proto_builder;

use proto_builder::*;
use qpose::onnx::{from_proto, LoadOptions};
use qpose::{Model, ModelOptions};
use tract_onnx::pb::{ModelProto, TensorProto};

fn build(p: &ModelProto) -> Result<Model, String> {
    let g = from_proto(p, &LoadOptions::default(), None).map_err(|e| e.to_string())?;
    Model::from_graph(g, &ModelOptions::default()).map_err(|e| e.to_string())
}

fn run(p: &ModelProto, x: &[f32]) -> Vec<f32> {
    let mut m = build(p).unwrap();
    m.run(&[x]).unwrap();
    m.output(0).as_f32().unwrap().to_vec()
}

/// `y = DQ(Q(x))`, uint8, per tensor.
fn qdq(scale: f32, zero_point: TensorProto) -> ModelProto {
    model(
        vec![
            node("QuantizeLinear", &["x", "s", "z"], &["q"], vec![]),
            node("DequantizeLinear", &["q", "s", "z"], &["y"], vec![]),
        ],
        vec![value_info("x", FLOAT, &[1, 4])],
        vec![value_info("y", FLOAT, &[1, 4])],
        vec![f32_tensor("s", &[], &[scale]), zero_point],
    )
}

fn zp_u8(v: i32) -> TensorProto {
    int_tensor("z", UINT8, &[], &[v])
}

#[test]
fn zero_negative_and_non_finite_scales_are_load_errors() {
    for s in [0.0, -0.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = build(&qdq(s, zp_u8(128))).err().unwrap_or_else(|| panic!("scale {s} accepted"));
        assert!(e.contains("scale") && e.contains("finite and positive"), "scale {s}: {e}");
    }
}

#[test]
fn zero_points_outside_their_type_are_load_errors() {
    let e = build(&qdq(0.1, zp_u8(300))).err().expect("zero point 300 accepted");
    assert!(e.contains("300") && e.contains("uint8 range"), "{e}");
    let e = build(&qdq(0.1, int_tensor("z", INT8, &[], &[-129]))).err().expect("zero point -129 accepted");
    assert!(e.contains("-129") && e.contains("int8 range"), "{e}");
}

#[test]
fn quantizing_nan_gives_the_zero_point_and_infinities_saturate() {
    let y = run(&qdq(0.1, zp_u8(128)), &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0]);
    assert_eq!(y, vec![0.0, 127.0 * 0.1, -128.0 * 0.1, 1.0]);
}

#[test]
fn float_ops_propagate_nan_and_standalone_clamps_map_it_to_their_lower_bound() {
    let add = model(
        vec![node("Add", &["x", "one"], &["y"], vec![])],
        vec![value_info("x", FLOAT, &[1, 4])],
        vec![value_info("y", FLOAT, &[1, 4])],
        vec![f32_tensor("one", &[1], &[1.0])],
    );
    let y = run(&add, &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0]);
    assert!(y[0].is_nan() && y[1] == f32::INFINITY && y[2] == f32::NEG_INFINITY && y[3] == 2.0, "{y:?}");

    let relu = model(
        vec![node("Relu", &["x"], &["y"], vec![])],
        vec![value_info("x", FLOAT, &[1, 4])],
        vec![value_info("y", FLOAT, &[1, 4])],
        vec![],
    );
    let y = run(&relu, &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0]);
    assert_eq!(y, vec![0.0, f32::INFINITY, 0.0, 0.0]);

    // 1x1 convolution (GEMM) and depthwise convolution, 2 channels, a 2x2 map; with and
    // without a fused ReLU; NaN in the input and in the weights: NaN stays NaN.
    let nan = f32::NAN;
    for (depthwise, fused, nan_weight) in
        [(false, false, false), (false, true, false), (false, false, true), (true, false, false), (true, true, false)]
    {
        let (w, dims, group) = match (depthwise, nan_weight) {
            (false, false) => (vec![1.0, 0.0, 0.0, 1.0], [2, 2, 1, 1], 1),
            (false, true) => (vec![1.0, nan, 0.0, 1.0], [2, 2, 1, 1], 1),
            (true, _) => (vec![1.0, 1.0], [2, 1, 1, 1], 2),
        };
        let attrs = vec![int("group", group)];
        let mut nodes = vec![node("Conv", &["x", "w"], &[if fused { "c" } else { "y" }], attrs)];
        if fused {
            nodes.push(node("Relu", &["c"], &["y"], vec![]));
        }
        let conv = model(
            nodes,
            vec![value_info("x", FLOAT, &[1, 2, 2, 2])],
            vec![value_info("y", FLOAT, &[1, 2, 2, 2])],
            vec![f32_tensor("w", &dims, &w)],
        );
        let x = [nan, 1.0, -2.0, 3.0, 1.0, 1.0, 1.0, 1.0];
        let y = run(&conv, &x);
        let mut want = match (fused, nan_weight) {
            (false, false) => [nan, 1.0, -2.0, 3.0, 1.0, 1.0, 1.0, 1.0],
            (true, false) => [nan, 1.0, 0.0, 3.0, 1.0, 1.0, 1.0, 1.0],
            (_, true) => [nan, nan, nan, nan, 1.0, 1.0, 1.0, 1.0],
        };
        if !depthwise {
            want[4] = nan; // channel 1 reads channel 0 with weight 0, and NaN · 0 is NaN
        }
        let same = y.iter().zip(&want).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same, "depthwise {depthwise} fused {fused} nan weight {nan_weight}: {y:?}");
    }
}

/// `x → Q → DQ → Conv(DQ(w), bias) → Q → DQ → y`: an int8 convolution with a float bias.
fn qdq_conv(x_scale: f32, w_scale: f32, bias: f32) -> ModelProto {
    let nodes = vec![
        node("QuantizeLinear", &["x", "xs", "xz"], &["xq"], vec![]),
        node("DequantizeLinear", &["xq", "xs", "xz"], &["xd"], vec![]),
        node("DequantizeLinear", &["wq", "ws", "wz"], &["wd"], vec![]),
        node("Conv", &["xd", "wd", "b"], &["c"], vec![]),
        node("QuantizeLinear", &["c", "ys", "yz"], &["yq"], vec![]),
        node("DequantizeLinear", &["yq", "ys", "yz"], &["y"], vec![]),
    ];
    let inits = vec![
        f32_tensor("xs", &[], &[x_scale]),
        int_tensor("xz", UINT8, &[], &[128]),
        int_tensor("wq", INT8, &[2, 2, 1, 1], &[10, 0, 0, 10]),
        f32_tensor("ws", &[], &[w_scale]),
        int_tensor("wz", INT8, &[], &[0]),
        f32_tensor("b", &[2], &[bias, 0.0]),
        f32_tensor("ys", &[], &[0.1]),
        int_tensor("yz", UINT8, &[], &[128]),
    ];
    model(nodes, vec![value_info("x", FLOAT, &[1, 2, 2, 2])], vec![value_info("y", FLOAT, &[1, 2, 2, 2])], inits)
}

#[test]
fn int8_layers_with_non_finite_requantization_are_load_errors() {
    // Sanity: the well-formed model runs as int8.
    let m = build(&qdq_conv(0.1, 0.01, 0.5)).unwrap();
    assert!(m.quantized().int8_layers == 1, "{:?}", m.quantized());
    for (xs, ws, b) in [(0.1, 0.01, f32::NAN), (0.1, 0.01, f32::INFINITY), (1e30, 1e30, 0.0)] {
        let e = build(&qdq_conv(xs, ws, b)).err().unwrap_or_else(|| panic!("{xs} {ws} {b} accepted"));
        assert!(e.contains("not finite"), "{xs} {ws} {b}: {e}");
    }
}

#[test]
fn nan_inputs_of_an_int8_model_quantize_to_the_zero_point() {
    // x = NaN everywhere: quantized to the zero point (real 0), so y = requant(bias).
    let p = qdq_conv(0.1, 0.01, 0.5);
    let y = run(&p, &[f32::NAN; 8]);
    let zero = run(&p, &[0.0; 8]);
    assert_eq!(y, zero);
}
