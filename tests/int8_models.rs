//! The int8 path on committed QDQ models: bit-identical to onnxruntime's own exact int8
//! execution, consistent across activation signedness, and mixed precision on request.
//! (Per-layer equality with the ONNX reference is checked by tests/scripts/compare_layers.py;
//! see the README.)
//!
//! The lean build (`--no-default-features`, no ONNX importer) runs the bit-identity test on
//! the committed planned models instead (`tests/data/planned/`, written by
//! `tests/scripts/make_planned_fixtures.sh`); that is what CI runs under qemu-user on ARM
//! (`tests/scripts/cross_test.sh --lean`), with each kernel set.

use qpose::kernels::isa::Isa;
use qpose::tensor::{npy, Tensor};
use qpose::{Model, ModelOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(serde::Deserialize)]
struct Manifest {
    models: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    name: String,
    model: String,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
}

/// The model of `e` this build can load: its ONNX file, or in the lean build its planned model.
fn model_file(e: &Entry) -> String {
    if cfg!(feature = "onnx") {
        e.model.clone()
    } else {
        format!("tests/data/planned/{}.qpose", e.name)
    }
}

fn load(rel: &str, opts: &ModelOptions) -> Model {
    Model::load(&root().join(rel), opts).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn inputs(model: &Model, case: &Case) -> Vec<Tensor> {
    model.inputs().iter().map(|p| npy::read(&root().join(&case.inputs[&p.name])).unwrap()).collect()
}

/// onnxruntime with exact int8 kernels (tests/scripts/make_int8_references.py) and qpose
/// agree on every output bit.
#[test]
fn u8s8_models_are_bit_identical_to_onnxruntime_int8() {
    let text = std::fs::read_to_string(root().join("tests/data/reference/int8_manifest.json")).unwrap();
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    assert!(!manifest.models.is_empty());
    for e in &manifest.models {
        let mut model = load(&model_file(e), &ModelOptions::default());
        let q = model.quantized().clone();
        assert!(q.int8_layers > 40, "{}: only {} int8 layers", e.name, q.int8_layers);
        // The int8 layers run the kernels of the best ISA this CPU has (or QPOSE_ISA asks for).
        let isa = format!(".{}", Isa::best().name());
        let kernels: Vec<String> = model.plan().steps.iter().map(|s| s.step.kernel()).collect();
        assert!(
            kernels.iter().any(|k| k.contains(".i8.") && k.ends_with(&isa)),
            "{}: no int8 kernel ends with {isa}: {kernels:?}",
            e.name
        );
        for case in &e.cases {
            let outs = model.run_tensors(&inputs(&model, case)).unwrap();
            for (port, out) in model.outputs().iter().zip(&outs) {
                let want = npy::read(&root().join(&case.outputs[&port.name])).unwrap();
                assert_eq!(out, &want, "{} output {}", e.name, port.name);
            }
        }
    }
}

/// The u8s8 and s8s8 exports are the same arithmetic (zero points shifted by 128): qpose's
/// outputs must be equal too.
#[cfg(feature = "onnx")]
#[test]
fn signed_and_unsigned_activations_give_identical_outputs() {
    let input = npy::read(&root().join("tests/data/reference/input_192x192/input_0.npy")).unwrap();
    for stem in ["models/zoo/mbv2_0.5x_rle_192x192", "models/zoo/mbv2_0.75x_simcc_192x192"] {
        let mut u = load(&format!("{stem}_ort_u8s8.onnx"), &ModelOptions::default());
        let mut s = load(&format!("{stem}_ort_s8s8.onnx"), &ModelOptions::default());
        assert_eq!(u.run_tensors(&[input.clone()]).unwrap(), s.run_tensors(&[input.clone()]).unwrap(), "{stem}");
    }
}

/// Every convolution and fully-connected layer of every committed QDQ model runs as int8,
/// and keeping nodes in float moves exactly those nodes to float.
#[cfg(feature = "onnx")]
#[test]
fn qdq_models_run_int8_and_keep_float_moves_named_nodes() {
    for model in [
        "models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx",
        "models/zoo/mbv2_0.5x_rle_192x192_qat.onnx",
        "models/zoo/mbv2_0.75x_simcc_192x192_ort_s8s8.onnx",
        "models/zoo/mbv2_0.75x_simcc_192x192_qat.onnx",
        "models/blazepose/pose_landmark_full.int8.onnx",
    ] {
        let m = load(model, &ModelOptions::default());
        let float_layers = m.plan().steps.iter().filter(|s| matches!(s.op, "Conv" | "Dense" | "ConvTranspose")).count();
        assert_eq!(float_layers, 0, "{model}: {float_layers} layers left in float");
    }
    // SimCC's two last FC layers in float, as targets without int8 FC support need.
    let model = "models/zoo/mbv2_0.75x_simcc_192x192_ort_u8s8.onnx";
    let all_int8 = load(model, &ModelOptions::default());
    let fcs: Vec<String> = all_int8.plan().steps.iter().filter(|s| s.op == "QDense").map(|s| s.node.clone()).collect();
    assert_eq!(fcs.len(), 2, "{fcs:?}");
    let mut opts = ModelOptions::default();
    opts.passes.keep_float = fcs.iter().cloned().collect();
    let mixed = load(model, &opts);
    let ops: Vec<&str> = mixed.plan().steps.iter().map(|s| s.op).collect();
    assert_eq!(ops.iter().filter(|o| **o == "QDense").count(), 0);
    assert_eq!(ops.iter().filter(|o| **o == "Dense").count(), 2);
    assert_eq!(
        ops.iter().filter(|o| **o == "QConv").count(),
        all_int8.plan().steps.iter().filter(|s| s.op == "QConv").count()
    );
}

/// The float reference path (`--float`) computes Q/DQ in float and stays within a few
/// quantization steps of onnxruntime's node-by-node reference.
#[cfg(feature = "onnx")]
#[test]
fn float_path_of_qdq_models_runs() {
    let mut opts = ModelOptions::default();
    opts.passes.int8 = false;
    let mut m = load("models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx", &opts);
    assert_eq!(m.quantized().int8_layers, 0);
    let input = npy::read(&root().join("tests/data/reference/input_192x192/input_0.npy")).unwrap();
    let out = m.run_tensors(&[input]).unwrap();
    let want = npy::read(&root().join("tests/data/reference/mbv2_0.5x_rle_192x192/ort_u8s8/coords_0.npy")).unwrap();
    let step = 0.019905;
    let err = out[0]
        .as_slice::<f32>()
        .unwrap()
        .iter()
        .zip(want.as_slice::<f32>().unwrap())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    // Outputs are whole quantization steps apart (up to f32 rounding of the dequantization):
    // float summation order differs from onnxruntime's, which flips a rounding now and then.
    assert!((err / step).round() <= 2.0, "coords differ by {err} ({} steps)", err / step);
}
