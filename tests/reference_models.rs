//! Every committed model against onnxruntime's outputs on real person crops
//! (`tests/data/reference/manifest.json`, produced by `models/zoo.py`).
//!
//! The lean build (`--no-default-features`, no ONNX importer) checks the models that have a
//! committed planned model (`tests/data/planned/<name>.qpose`) with it instead — what CI runs
//! under qemu-user on ARM (`tests/scripts/cross_test.sh --lean`).

use qpose::tensor::npy;
use qpose::{Model, ModelOptions};
use std::path::{Path, PathBuf};

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
    kind: String,
    cases: Vec<Case>,
    /// onnxruntime's own output spread between its optimisation levels, per output.
    /// (Some settings record why ORT could not run instead of a map.)
    #[serde(default)]
    ort_enable_all_vs_disable_all: serde_json::Value,
}

impl Entry {
    /// The largest difference onnxruntime itself shows on `output` between
    /// `ORT_DISABLE_ALL` (the reference) and `ORT_ENABLE_ALL` with default options: the
    /// float-reordering noise floor of that output.
    fn ort_spread(&self, output: &str) -> f32 {
        self.ort_enable_all_vs_disable_all["default"][output]["max_abs"].as_f64().unwrap_or(0.0) as f32
    }
}

#[derive(serde::Deserialize)]
struct Case {
    inputs: std::collections::BTreeMap<String, String>,
    outputs: std::collections::BTreeMap<String, String>,
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(root().join("tests/data/reference/manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest parses")
}

/// Largest |a - b| over the largest |b|.
fn relative_max_error(a: &[f32], b: &[f32]) -> (f32, f32) {
    let max_ref = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let max_err = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    (max_err, max_ref)
}

/// The model file of `entry` this build checks: its ONNX file, or in the lean build its
/// planned model (`None` when it has none).
fn model_file(entry: &Entry) -> Option<PathBuf> {
    if cfg!(feature = "onnx") {
        return Some(root().join(&entry.model));
    }
    Some(root().join(format!("tests/data/planned/{}.qpose", entry.name))).filter(|p| p.exists())
}

fn check(entry: &Entry, file: &Path, tolerance: f32) {
    let mut model = Model::load(file, &ModelOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
    for case in &entry.cases {
        let inputs: Vec<_> =
            model.inputs().iter().map(|p| npy::read(&root().join(&case.inputs[&p.name])).expect("input npy")).collect();
        let outs = model.run_tensors(&inputs).unwrap();
        for (port, out) in model.outputs().iter().zip(&outs) {
            let Some(file) = case.outputs.get(&port.name) else {
                continue;
            };
            let want = npy::read(&root().join(file)).unwrap();
            assert_eq!(out.shape(), want.shape(), "{} {}", entry.name, port.name);
            let (err, max_ref) = relative_max_error(out.as_slice::<f32>().unwrap(), want.as_slice::<f32>().unwrap());
            let bound = (tolerance * max_ref).max(entry.ort_spread(&port.name));
            eprintln!("{} {}: max err {err:.3e}, max |ref| {max_ref:.3e}, bound {bound:.3e}", entry.name, port.name);
            assert!(
                err <= bound,
                "{} output {}: max abs error {err} > {bound} (max |ref| {max_ref})",
                entry.name,
                port.name
            );
        }
    }
}

/// fp32 models: max |error| <= 1e-4 x max |reference|, or onnxruntime's own spread between its
/// optimisation levels where that is larger (BlazePose's segmentation logits, |x| up to 1680).
#[test]
fn fp32_models_match_onnxruntime() {
    let mut checked = 0;
    for e in manifest().models.iter().filter(|e| e.kind == "fp32") {
        if let Some(file) = model_file(e) {
            check(e, &file, 1e-4);
            checked += 1;
        }
    }
    assert!(checked > 0, "no fp32 model to check");
}

#[test]
fn manifest_paths_exist() {
    for e in manifest().models {
        assert!(Path::new(&root().join(&e.model)).exists(), "{}", e.model);
    }
}
