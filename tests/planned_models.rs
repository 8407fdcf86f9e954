//! The lean runtime on the committed planned models (`tests/data/planned/`, written by
//! `tests/scripts/make_planned_fixtures.sh`): bit-identical to onnxruntime's exact int8
//! outputs. It needs no ONNX importer, so it also runs in the lean build
//! (`--no-default-features`), which is what `tests/scripts/cross_test.sh --lean` runs under
//! qemu-user on ARM — there it checks the NEON, SDOT and scalar int8 kernels end to end.

use qpose::kernels::isa::Isa;
use qpose::tensor::npy;
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
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
}

#[test]
fn planned_u8s8_models_are_bit_identical_to_onnxruntime_int8() {
    let text = std::fs::read_to_string(root().join("tests/data/reference/int8_manifest.json")).unwrap();
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    assert!(!manifest.models.is_empty());
    for e in &manifest.models {
        let rel = format!("tests/data/planned/{}.qpose", e.name);
        let mut model =
            Model::load(&root().join(&rel), &ModelOptions::default()).unwrap_or_else(|err| panic!("{rel}: {err}"));
        let q = model.quantized().clone();
        assert!(q.int8_layers > 40, "{rel}: only {} int8 layers", q.int8_layers);
        // The int8 layers run the kernels of the ISA this CPU offers (or QPOSE_ISA asks for).
        let isa = format!(".{}", Isa::best().name());
        let kernels: Vec<String> = model.plan().steps.iter().map(|s| s.step.kernel()).collect();
        assert!(
            kernels.iter().any(|k| k.contains(".i8.") && k.ends_with(&isa)),
            "{rel}: no int8 kernel ends with {isa}: {kernels:?}"
        );
        for case in &e.cases {
            let inputs: Vec<_> =
                model.inputs().iter().map(|p| npy::read(&root().join(&case.inputs[&p.name])).unwrap()).collect();
            let outs = model.run_tensors(&inputs).unwrap();
            for (port, out) in model.outputs().iter().zip(&outs) {
                let want = npy::read(&root().join(&case.outputs[&port.name])).unwrap();
                assert_eq!(out, &want, "{rel} output {}", port.name);
            }
        }
    }
}
