//! `qpose compare` / `qpose demo`: the library path on a few COCO-mini-dev images with the
//! bundled BlazePose (fp32 against itself, then against the onnxruntime int8 export), the
//! report files, and the commands' errors.

use std::path::PathBuf;
use std::process::Command;

use qpose::eval::compare::{compare, write_report, CompareOptions, Contender};
use qpose::eval::topdown::EvalSet;
use qpose::eval::CocoDataset;
use qpose::pipeline::config_for_model;
use qpose::{Model, ModelOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ANN: &str = "tests/data/coco-mini-dev/person_keypoints.json";
const IMAGES: &str = "tests/data/coco-mini-dev/images";
const FP32: &str = "models/blazepose/pose_landmark_full.onnx";
const INT8: &str = "models/blazepose/pose_landmark_full.int8.onnx";

fn subset(n: usize) -> EvalSet {
    let gt = CocoDataset::load(&root().join(ANN)).unwrap();
    EvalSet::ground_truth(gt, &root().join(IMAGES), true).unwrap().first_images(n).unwrap()
}

fn load(rel: &str) -> (Model, qpose::pipeline::ModelConfig) {
    let path = root().join(rel);
    let model = Model::load(&path, &ModelOptions::default()).unwrap();
    let config = config_for_model(&model, &path, None, Some(&root().join(FP32))).unwrap();
    (model, config)
}

fn options() -> CompareOptions {
    CompareOptions { sqnr_crops: 1, latency_runs: 1, figure_images: 1, ..CompareOptions::default() }
}

/// A model against itself: no displacement, identical stats, identical outputs.
#[test]
fn fp32_against_itself_is_exact() {
    let set = subset(1);
    let (mut a, ca) = load(FP32);
    let (mut b, cb) = load(FP32);
    let c = compare(
        &set,
        Contender { label: "fp32".into(), name: FP32.into(), model: &mut a, config: ca },
        Contender { label: "again".into(), name: FP32.into(), model: &mut b, config: cb },
        &options(),
        &mut |_, _| {},
    )
    .unwrap();
    let r = &c.report;
    assert_eq!(r.displacement.people, 1);
    assert_eq!((r.displacement.mean, r.displacement.max), (0.0, 0.0));
    assert_eq!(r.a.summary.stats, r.b.summary.stats);
    assert_eq!(r.layers.quantized, 0);
    assert_eq!(r.layers.outputs.len(), 5);
    assert!(r.layers.outputs.iter().all(|o| o.sqnr_db() == f64::INFINITY), "{:?}", r.layers.outputs);
    assert_eq!(r.b.precision, "float");
}

/// The onnxruntime int8 export against fp32: most quantized tensors align, every SQNR is
/// finite, keypoints move, and the report and figures are written.
#[test]
fn int8_against_fp32_report() {
    let set = subset(1);
    let (mut a, ca) = load(FP32);
    let (mut b, cb) = load(INT8);
    let mut c = compare(
        &set,
        Contender { label: "fp32".into(), name: FP32.into(), model: &mut a, config: ca },
        Contender { label: "int8".into(), name: INT8.into(), model: &mut b, config: cb },
        &options(),
        &mut |_, _| {},
    )
    .unwrap();
    let l = c.report.layers.clone();
    assert!(l.quantized >= 100, "{} quantized tensors", l.quantized);
    assert!(
        l.layers.len() * 10 >= l.quantized * 9,
        "only {} of {} aligned: {:?}",
        l.layers.len(),
        l.quantized,
        l.unaligned
    );
    assert!(l.layers.iter().all(|x| x.sqnr_db().is_finite()), "{:?}", l.layers);
    // The first quantized tensor, the quantized input, is close to the float input.
    assert_eq!(l.layers[0].reference, "input_1");
    assert!(l.layers[0].sqnr_db() > 30.0, "{:?}", l.layers[0]);
    // onnxruntime renamed the float outputs (Identity → Identity_QuantizeLinear_Input).
    assert!(l.layers.iter().any(|x| x.reference == "Identity"));
    assert!(l.outputs.iter().any(|o| o.tensor == "Identity" && o.sqnr_db().is_finite()));
    assert!(c.report.displacement.mean > 0.0);
    assert!(c.report.b.precision.starts_with("int8 (QConv"), "{}", c.report.b.precision);

    let out = std::env::temp_dir().join(format!("qpose-cli-compare-{}", std::process::id()));
    let files = write_report(&mut c, &set, &out, 1).unwrap();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "report.md");
    assert!(names.contains(&"sqnr.png".to_string()));
    let md = std::fs::read_to_string(&files[0]).unwrap();
    let aligned = format!("{} of {} quantized tensors aligned", l.layers.len(), l.quantized);
    for s in [aligned.as_str(), "## Accuracy", "| int8 − fp32 |", "## Latency (indicative)", "left_wrist", "(sqnr.png)"]
    {
        assert!(md.contains(s), "{s} missing from the report");
    }
    let table = c.report.table();
    assert!(table.contains("int8 - fp32") && table.contains("per-layer SQNR on 1 crops"), "{table}");
    std::fs::remove_dir_all(&out).unwrap();
}

fn qpose(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qpose")).args(args).current_dir(root()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn compare_and_demo_errors_are_clear() {
    let data = ["--coco", ANN, "--images", IMAGES];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["compare", FP32], "give two models"),
        (vec!["compare", FP32, INT8, "--int8-vs-float"], "give one model, not two"),
        (vec!["compare", FP32, FP32], "runs no layer in int8"),
        (vec!["compare", FP32, "missing.int8.onnx"], "missing.int8.onnx does not exist"),
        (vec!["compare", FP32, "--int8-vs-float"], "runs no layer in int8"),
        (vec!["demo", "--root", "/nonexistent"], "/nonexistent"),
        (vec!["demo", "--max-images", "0"], "--max-images must be at least 1"),
    ];
    for (args, want) in cases {
        let mut all = args.clone();
        if args[0] == "compare" {
            all.extend(data);
        }
        let (ok, _, stderr) = qpose(&all);
        assert!(!ok, "{all:?} succeeded");
        assert!(stderr.starts_with("error: ") && stderr.contains(want), "{all:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
