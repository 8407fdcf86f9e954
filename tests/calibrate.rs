//! `qpose::calibrate` on the committed seed model (real COCO crops, few of them: the dev
//! profile builds qpose at opt-level 1).

use qpose::calibrate::{
    self, dataset, evaluate, Budget, CalibrateOptions, CalibrationSet, LsqOptions, Net, ObserverKind, Source, Split,
    WeightRounding,
};
use qpose::tensor::{npy, Tensor};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

mod proto_builder;

const RLE: &str = "models/zoo/mbv2_0.5x_rle_192x192_fp32.onnx";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn source() -> Source {
    Source::Coco {
        annotations: root().join("tests/data/coco-mini-dev/person_keypoints.json"),
        images: root().join("tests/data/coco-mini-dev/images"),
    }
}

fn crops(model: &str, n: usize) -> (Net, qpose::pipeline::ModelConfig, CalibrationSet) {
    let path = root().join(model);
    let net = Net::load(&path).unwrap();
    let input = net.graph_inputs[0].clone();
    let config = dataset::model_config(&path, (&input, &net.shapes[&input]), &calibrate::output_specs(&net)).unwrap();
    let set = dataset::load(&config, &source(), Split::All, Some(n), |_, _| {}).unwrap();
    (net, config, set)
}

/// One held-out crop (a reference input of the zoo, not among the calibration crops' sources).
fn reference_input() -> Tensor {
    npy::read(&root().join("tests/data/reference/input_192x192/input_0.npy")).unwrap()
}

fn sqnr_vs_fp32(proto: &tract_onnx::pb::ModelProto) -> f64 {
    let x = reference_input();
    let mut fp32 = qpose::Model::load(&root().join(RLE), &Default::default()).unwrap();
    let mut int8 = evaluate::load_model(proto, true).unwrap();
    let a = fp32.run_tensors(std::slice::from_ref(&x)).unwrap();
    let b = int8.run_tensors(std::slice::from_ref(&x)).unwrap();
    let mut acc = (0.0, 0.0);
    for (a, b) in a.iter().zip(&b) {
        evaluate::accumulate(&mut acc, a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    }
    evaluate::sqnr_db(acc.0, acc.1)
}

#[test]
fn writes_a_qdq_model_that_runs_all_layers_in_int8_close_to_fp32() {
    let (net, config, set) = crops(RLE, 4);
    let layers = net.layers.len();
    let out = calibrate::calibrate_net(net, Some(&config), &set, &CalibrateOptions::default()).unwrap();
    // Reload from the serialized bytes, as a user would.
    let g = qpose::onnx::load_bytes(&out.to_bytes(), &Default::default()).unwrap();
    let model = qpose::Model::from_graph(g, &Default::default()).unwrap();
    assert_eq!(model.quantized().int8_layers, layers, "every Conv/Gemm runs as an int8 layer");
    assert!(out.report.int8_mac_share() > 0.999);
    // Standard QDQ: per-axis int8 weights, int32 biases, opset 13.
    let g = out.proto.graph.as_ref().unwrap();
    assert!(g.node.iter().any(|n| n.op_type == "QuantizeLinear"));
    assert!(g.initializer.iter().any(|t| t.data_type == 3 && t.dims.len() == 4), "int8 conv weights");
    assert!(g.initializer.iter().any(|t| t.data_type == 6), "int32 biases");
    let s = sqnr_vs_fp32(&out.proto);
    assert!(s > 15.0, "output SQNR {s:.1} dB on a held-out crop");
}

#[test]
fn lsq_is_deterministic_with_a_seed() {
    let (net, config, set) = crops(RLE, 2);
    let net2 = Net::new(net.proto.clone()).unwrap();
    let opts = CalibrateOptions {
        lsq: Some(LsqOptions { iterations: 4, batch_size: 32, budget: 1 << 16, ..Default::default() }),
        keep_float: vec![], // all layers
        seed: 7,
        ..Default::default()
    };
    let a = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    let b = calibrate::calibrate_net(net2, Some(&config), &set, &opts).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert!(a.calibration.lsq.iter().any(Option::is_some));
}

#[test]
fn keep_float_is_honoured_and_unknown_names_are_errors() {
    let (net, config, set) = crops(RLE, 2);
    let first = net.layers[0].name.clone();
    let last = net.layers.last().unwrap().name.clone();
    let layers = net.layers.len();
    let opts = CalibrateOptions { keep_float: vec![first.clone(), last.clone()], ..Default::default() };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    let model = evaluate::load_model(&out.proto, true).unwrap();
    assert_eq!(model.quantized().int8_layers, layers - 2);
    assert!(!out.placement.int8_layer[0] && !out.placement.int8_layer[layers - 1]);
    // The kept layer reads float weights.
    let g = out.proto.graph.as_ref().unwrap();
    let node = g.node.iter().find(|n| n.name == first).unwrap();
    assert!(g.initializer.iter().any(|t| t.name == node.input[1] && t.data_type == 1));

    let (net, config, set) = crops(RLE, 1);
    let opts = CalibrateOptions { keep_float: vec!["no-such-layer".into()], ..Default::default() };
    let err = calibrate::calibrate_net(net, Some(&config), &set, &opts).err().unwrap().to_string();
    assert!(err.contains("no-such-layer"), "{err}");
}

#[test]
fn auto_mixed_meets_its_budget() {
    let (net, config, set) = crops(RLE, 3);
    let net2 = Net::new(net.proto.clone()).unwrap();
    // The analysis ranks the layers the user did not keep float: keep the first 40 float so
    // the test stays fast (13 layers to rank).
    let user: Vec<String> = net.layers[..40].iter().map(|l| l.name.clone()).collect();
    let base_opts = CalibrateOptions { eval_samples: 2, keep_float: user.clone(), ..Default::default() };
    let base = calibrate::calibrate_net(net, Some(&config), &set, &base_opts).unwrap();
    let budget = base.report.outputs.sqnr_db + 2.0;
    let opts = CalibrateOptions { auto_mixed: Some(Budget::Sqnr(budget)), ..base_opts };
    let out = calibrate::calibrate_net(net2, Some(&config), &set, &opts).unwrap();
    let sens = out.report.sensitivity.as_ref().unwrap();
    assert!(sens.met, "budget {budget:.1} dB not met");
    assert!(out.report.outputs.sqnr_db >= budget, "{} < {budget}", out.report.outputs.sqnr_db);
    assert!(out.keep_float.len() > user.len() && out.keep_float.len() < out.net.layers.len());
    assert_eq!(out.report.layers.iter().filter(|l| !l.int8).count(), out.keep_float.len());
}

#[test]
fn auto_mixed_int8_share_keeps_the_macs_and_lowers_the_error() {
    let (net, config, set) = crops(RLE, 3);
    // As above: rank only the last 13 layers.
    let user: Vec<String> = net.layers[..40].iter().map(|l| l.name.clone()).collect();
    let total: u64 = net.layers.iter().map(|l| l.macs).sum();
    let user_macs: u64 = net.layers[..40].iter().map(|l| l.macs).sum();
    // Room for about a third of the remaining MACs in float.
    let percent = 100.0 * (1.0 - (user_macs as f64 + (total - user_macs) as f64 / 3.0) / total as f64);
    let opts = CalibrateOptions {
        eval_samples: 2,
        keep_float: user.clone(),
        bias_correct: true,
        auto_mixed: Some(Budget::Int8Macs(percent)),
        ..Default::default()
    };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    let sens = out.report.sensitivity.as_ref().unwrap();
    assert!(sens.met);
    assert!(100.0 * out.report.int8_mac_share() >= percent - 1e-9, "{} < {percent}", out.report.int8_mac_share());
    // Moves are kept only when they lower the error (displacement: the config decodes).
    let mut last = sens.all_int8.displacement_px;
    for (name, a) in &sens.steps {
        assert!(a.displacement_px < last, "{name}: {} !< {last}", a.displacement_px);
        last = a.displacement_px;
    }
    assert!(out.report.outputs.displacement_px <= sens.all_int8.displacement_px);

    // No room at all: nothing moves, and the budget is not met when the user's float layers
    // already exceed it.
    let (net, config, set) = crops(RLE, 1);
    let opts = CalibrateOptions {
        eval_samples: 1,
        keep_float: user,
        auto_mixed: Some(Budget::Int8Macs(100.0)),
        ..Default::default()
    };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    let sens = out.report.sensitivity.as_ref().unwrap();
    assert!(!sens.met && sens.steps.is_empty());
}

#[test]
fn observer_choice_never_raises_the_measured_error() {
    let (net, config, set) = crops(RLE, 3);
    let net2 = Net::new(net.proto.clone()).unwrap();
    // Few groups to try: the first 40 layers stay float.
    let user: Vec<String> = net.layers[..40].iter().map(|l| l.name.clone()).collect();
    let base_opts = CalibrateOptions { eval_samples: 2, keep_float: user, ..Default::default() };
    let base = calibrate::calibrate_net(net, Some(&config), &set, &base_opts).unwrap();
    let opts = CalibrateOptions { try_observers: vec![ObserverKind::Mse, ObserverKind::Percentile], ..base_opts };
    let out = calibrate::calibrate_net(net2, Some(&config), &set, &opts).unwrap();
    let (a, b) = (base.report.outputs.displacement_px, out.report.outputs.displacement_px);
    assert!(b <= a, "{b} > {a}");
    assert!(out.report.settings.contains("observer per activation group"), "{}", out.report.settings);
}

#[test]
fn bias_correction_changes_only_int8_layers() {
    let (net, config, set) = crops(RLE, 2);
    let first = net.layers[0].clone();
    let opts = CalibrateOptions { keep_float: vec![first.name.clone()], bias_correct: true, ..Default::default() };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    // The float layer has no correction and keeps its float bias in the file.
    assert!(out.calibration.bias_corrections[0].is_none());
    let g = out.proto.graph.as_ref().unwrap();
    let node = g.node.iter().find(|n| n.name == first.name).unwrap();
    let bias = g.initializer.iter().find(|t| t.name == node.input[2]).unwrap();
    assert_eq!(Some(calibrate::net::decode(bias).unwrap().to_f32_vec()), first.bias);
    // An int8 layer is corrected.
    assert!(out.calibration.bias_corrections[1].as_ref().unwrap().iter().any(|&c| c != 0.0));
}

#[test]
fn gptq_rounding_stores_its_grid_weights_and_bias_and_is_deterministic() {
    let (net, config, set) = crops(RLE, 2);
    let net2 = Net::new(net.proto.clone()).unwrap();
    let layers = net.layers.len();
    let opts = CalibrateOptions { weight_rounding: WeightRounding::Gptq, ..Default::default() };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    let again = calibrate::calibrate_net(net2, Some(&config), &set, &opts).unwrap();
    assert_eq!(out.to_bytes(), again.to_bytes());
    let g = out.proto.graph.as_ref().unwrap();
    let mut moved = 0;
    for (li, l) in out.net.layers.iter().enumerate() {
        let rounded = out.calibration.rounded_weights[li].as_ref().expect("every int8 layer is rounded");
        let params = &out.calibration.weights[li];
        // On the grid, and what the file stores.
        let q = calibrate::weights::quantize_weights(rounded, params).unwrap();
        let scales = params.scales();
        for (c, row) in rounded.chunks_exact(l.k).enumerate() {
            for (&r, &qi) in row.iter().zip(&q[c * l.k..(c + 1) * l.k]) {
                assert_eq!(r, f32::from(qi) * scales[c], "layer {} channel {c}", l.name);
            }
        }
        let stored = g.initializer.iter().find(|t| t.name == format!("{}_weight_quantized", l.name)).unwrap();
        let mut stored = calibrate::net::decode(stored).unwrap().to_f32_vec();
        if stored.len() == q.len() && l.weight_shape.len() == 2 && l.weight_shape[0] != l.out_channels {
            // [K, N] weights are stored transposed.
            stored = (0..q.len()).map(|i| stored[(i % l.k) * l.out_channels + i / l.k]).collect();
        }
        assert_eq!(stored, q.iter().map(|&v| f32::from(v)).collect::<Vec<_>>(), "layer {}", l.name);
        assert!(out.calibration.bias_corrections[li].is_some());
        let nearest = calibrate::weights::quantize_weights(&l.weights, params).unwrap();
        moved += q.iter().zip(&nearest).filter(|(a, b)| a != b).count();
    }
    assert!(moved > 0, "GPTQ rounded every weight of {layers} layers to nearest");
    let s = sqnr_vs_fp32(&out.proto);
    assert!(s > 15.0, "output SQNR {s:.1} dB on a held-out crop");
}

/// A grouped convolution whose input moments would take 4 GiB (64 groups of K = 4000) is
/// refused before anything is allocated, with the limit named.
#[test]
fn gptq_refuses_moments_beyond_its_memory_limit() {
    use proto_builder::*;
    let (groups, per_group) = (64usize, 4000usize);
    let c = groups * per_group;
    let proto = model(
        vec![node("Conv", &["x", "w"], &["y"], vec![int("group", groups as i64)])],
        vec![value_info("x", FLOAT, &[1, c as i64, 1, 1])],
        vec![value_info("y", FLOAT, &[1, groups as i64, 1, 1])],
        vec![f32_tensor("w", &[groups as i64, per_group as i64, 1, 1], &vec![0.01; c])],
    );
    let set = synthetic_set(vec![uniform(c, 1, -1.0, 1.0)]);
    let opts = CalibrateOptions { weight_rounding: WeightRounding::Gptq, ..Default::default() };
    let err = calibrate::calibrate_net(Net::new(proto).unwrap(), None, &set, &opts).err().unwrap().to_string();
    assert!(err.contains("gptq") && err.contains("MiB"), "{err}");
}

#[test]
fn float_residuals_leave_the_residual_stream_unquantized_and_every_mac_in_int8() {
    let (net, config, set) = crops(RLE, 2);
    let layers = net.layers.len();
    let joins = calibrate::placement::residual_outputs(&net);
    let adds: Vec<String> = net
        .nodes()
        .iter()
        .filter(|n| n.op_type == "Add" && n.input.iter().filter(|x| net.is_activation(x)).count() == 2)
        .map(|n| n.output[0].clone())
        .collect();
    assert!(!adds.is_empty() && adds.iter().all(|a| joins.contains(a)), "{adds:?} vs {joins:?}");
    let opts = CalibrateOptions { float_residuals: true, ..Default::default() };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts).unwrap();
    // No layer moved to float.
    assert!(out.report.int8_mac_share() > 0.999);
    assert_eq!(evaluate::load_model(&out.proto, true).unwrap().quantized().int8_layers, layers);
    // The joins run in float, and a join reading another join's output reads it unquantized
    // (a block output that a layer also reads is still quantized once, for that layer).
    let index: std::collections::HashMap<&str, usize> =
        out.net.nodes().iter().enumerate().map(|(i, n)| (n.output[0].as_str(), i)).collect();
    assert!(adds.iter().all(|a| !out.placement.node_is_int8(index[a.as_str()])));
    let g = out.proto.graph.as_ref().unwrap();
    let mut chained = 0;
    for n in g.node.iter().filter(|n| n.op_type == "Add" && adds.contains(&n.output[0])) {
        let original = &out.net.nodes()[index[n.output[0].as_str()]];
        for (x, orig) in n.input.iter().zip(&original.input) {
            if adds.contains(orig) {
                assert_eq!(x, orig, "{} reads {x}", n.output[0]);
                chained += 1;
            }
        }
    }
    assert!(chained > 0, "the model has no join feeding a join");
    let s = sqnr_vs_fp32(&out.proto);
    assert!(s > 15.0, "output SQNR {s:.1} dB on a held-out crop");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let err = Net::load(Path::new("no/such/model.onnx")).err().unwrap().to_string();
    assert!(err.contains("no/such/model.onnx"), "{err}");
    let err = Net::load(&root().join("models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx")).err().unwrap().to_string();
    assert!(err.contains("already quantized"), "{err}");
    let path = root().join(RLE);
    let net = Net::load(&path).unwrap();
    let input = net.graph_inputs[0].clone();
    let config = dataset::model_config(&path, (&input, &net.shapes[&input]), &calibrate::output_specs(&net)).unwrap();
    assert!(dataset::load(&config, &source(), Split::All, Some(0), |_, _| {}).is_err());
    let missing = Source::Images { dir: root().join("no/such/dir") };
    assert!(dataset::load(&config, &missing, Split::All, None, |_, _| {}).is_err());
    assert!("sqnr:abc".parse::<Budget>().is_err() && "px:-1".parse::<Budget>().is_err());
    assert_eq!("px:2.5".parse::<Budget>().unwrap(), Budget::Px(2.5));
    assert_eq!("int8:90".parse::<Budget>().unwrap(), Budget::Int8Macs(90.0));
    assert!("int8:101".parse::<Budget>().is_err() && "int8:-5".parse::<Budget>().is_err());
    assert!("median".parse::<ObserverKind>().is_err());
    let _: HashSet<String> = HashSet::new();
}

/// Pseudo-random values in `[lo, hi)` (a fixed LCG: the test needs no statistics, only data
/// that reaches every branch of the clips).
/// Calibration crops that are just these network inputs (no image behind them).
fn synthetic_set(inputs: Vec<Vec<f32>>) -> CalibrationSet {
    let sample = |(i, input): (usize, Vec<f32>)| calibrate::dataset::Sample {
        image_id: i as u64,
        file: PathBuf::new(),
        bbox: qpose::pipeline::bbox::BBox::new(0.0, 0.0, 1.0, 1.0, 1.0),
        crop: qpose::pipeline::bbox::CropBox { center: [0.5, 0.5], scale: [1.0, 1.0] },
        input,
    };
    CalibrationSet { samples: inputs.into_iter().enumerate().map(sample).collect(), coco: None }
}

fn uniform(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((x >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// `r = clip(x, 0, 6)`, `p = W r` with gains of ~30 (linear, observed range about ±150),
/// `y = V clip(r + p, 0, 6)`: only `p` in `[-6, 6]` can change `y`. The calibrator must quantize
/// `p` on that interval (step at most 12/255 instead of ~1.2), and doing so must be lossless:
/// the int8 model still agrees with fp32 on held-out inputs, through both sides of the clip.
#[test]
fn residual_inputs_of_a_clip_are_quantized_on_the_interval_that_matters() {
    use proto_builder::*;
    let clip = |x: &str, y: &str| node("Clip", &[x, "lo", "hi"], &[y], vec![]);
    let proto = model(
        vec![
            clip("x", "r"),
            node("Conv", &["r", "w", "b"], &["p"], vec![]),
            node("Add", &["r", "p"], &["s"], vec![]),
            clip("s", "z"),
            node("Conv", &["z", "v"], &["y"], vec![]),
        ],
        vec![value_info("x", FLOAT, &[1, 2, 4, 4])],
        vec![value_info("y", FLOAT, &[1, 1, 4, 4])],
        vec![
            f32_tensor("lo", &[], &[0.0]),
            f32_tensor("hi", &[], &[6.0]),
            f32_tensor("w", &[2, 2, 1, 1], &[30.0, -25.0, -20.0, 35.0]),
            f32_tensor("b", &[2], &[-3.0, 2.0]),
            f32_tensor("v", &[1, 2, 1, 1], &[1.0, 0.5]),
        ],
    );
    let set = synthetic_set((0..8).map(|seed| uniform(32, seed, -1.0, 7.0)).collect());
    let out = calibrate::calibrate_net(Net::new(proto.clone()).unwrap(), None, &set, &Default::default()).unwrap();
    let p = out.calibration.activations["p"];
    assert!(p.scale() <= 12.0 / 255.0 * 1.001, "p quantized with step {}", p.scale());
    let mut fp32 = evaluate::load_model(&proto, false).unwrap();
    let mut int8 = evaluate::load_model(&out.proto, true).unwrap();
    assert_eq!(int8.quantized().int8_layers, 2);
    let mut acc = (0.0, 0.0);
    for seed in 100..116 {
        let x = Tensor::from_vec(vec![1, 2, 4, 4], uniform(32, seed, -1.0, 7.0)).unwrap();
        let a = fp32.run_tensors(std::slice::from_ref(&x)).unwrap();
        let b = int8.run_tensors(std::slice::from_ref(&x)).unwrap();
        evaluate::accumulate(&mut acc, a[0].as_slice::<f32>().unwrap(), b[0].as_slice::<f32>().unwrap());
    }
    let sqnr = evaluate::sqnr_db(acc.0, acc.1);
    assert!(sqnr > 30.0, "held-out SQNR {sqnr:.1} dB");
}
