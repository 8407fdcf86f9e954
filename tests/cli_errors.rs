//! Bad input gets a clear error naming what is wrong — never a panic, never an attempt to
//! allocate a hostile size. Fixtures: tests/data/bad/make_bad_models.py.

use qpose::{Model, ModelOptions};
use std::path::PathBuf;
use std::process::Command;

fn bad(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad").join(name)
}

/// Loads through the library and returns the error message.
fn load_error(name: &str) -> String {
    match Model::load(&bad(name), &ModelOptions::default()) {
        Ok(_) => panic!("{name} loaded"),
        Err(e) => e.to_string(),
    }
}

/// Runs the binary; it must fail with exit code 1, print `error: ...` and not panic.
fn cli_error(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qpose")).args(args).output().expect("qpose runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: ") && !stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

#[test]
fn truncated_and_corrupt_files_are_named_errors() {
    for f in ["truncated.onnx", "corrupt.onnx"] {
        let e = load_error(f);
        assert!(e.contains(f) && e.contains("not a valid ONNX protobuf"), "{e}");
    }
    let e = load_error("does_not_exist.onnx");
    assert!(e.contains("does_not_exist.onnx") && e.contains("No such file"), "{e}");
}

#[test]
fn unsupported_op_names_op_node_and_opset() {
    let e = load_error("unsupported_op.onnx");
    assert!(e.contains("unsupported op 'Einsum'") && e.contains("einsum_node") && e.contains("opset 13"), "{e}");
}

#[test]
fn hostile_dimensions_are_refused_before_allocating() {
    let e = load_error("huge_input.onnx");
    assert!(e.contains("limit exceeded") && e.contains("input 'x'") && e.contains("[1, 3, 200000, 200000]"), "{e}");
    let e = load_error("lying_initializer.onnx");
    assert!(e.contains("limit exceeded") && e.contains("tensor 'w'"), "{e}");
}

#[test]
fn missing_initializer_cycle_and_inconsistent_shapes_are_named() {
    let e = load_error("missing_initializer.onnx");
    assert!(e.contains("'conv'") && e.contains("'w_missing'") && e.contains("not defined"), "{e}");
    let e = load_error("cycle.onnx");
    assert!(e.contains("cycle"), "{e}");
    let e = load_error("bad_conv_channels.onnx");
    assert!(e.contains("conv_bad_channels") && e.contains("[4, 5, 3, 3]") && e.contains("input has 3"), "{e}");
    let e = load_error("zero_scale.onnx");
    assert!(e.contains("q_zero_scale") && e.contains("scale 0"), "{e}");
}

#[test]
fn wrong_input_shape_is_an_input_error() {
    let mut m = Model::load(&bad("tiny_conv.onnx"), &ModelOptions::default()).unwrap();
    let e = m.run(&[&[0.0; 10]]).unwrap_err().to_string();
    assert!(e.contains("input 'x'") && e.contains("got 10 values, expected 192") && e.contains("[1, 3, 8, 8]"), "{e}");
    let t = qpose::tensor::Tensor::from_vec(vec![1, 3, 4, 4], vec![0f32; 48]).unwrap();
    let e = m.run_tensors(&[t]).unwrap_err().to_string();
    assert!(e.contains("input 'x'") && e.contains("[1, 3, 4, 4]"), "{e}");
}

#[test]
fn the_cli_reports_errors_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("qpose_cli_errors_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = cli_error(&["inspect", bad("truncated.onnx").to_str().unwrap()]);
    assert!(e.contains("truncated.onnx"), "{e}");
    // An input file of the wrong shape.
    let npy = dir.join("x.npy");
    qpose::tensor::npy::write(&npy, &qpose::tensor::Tensor::from_vec(vec![1, 3, 4, 4], vec![0f32; 48]).unwrap())
        .unwrap();
    let e = cli_error(&[
        "run",
        bad("tiny_conv.onnx").to_str().unwrap(),
        "-i",
        npy.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(e.contains("input 'x'") && e.contains("[1, 3, 4, 4]"), "{e}");
    // A corrupt .npy.
    std::fs::write(&npy, b"not numpy").unwrap();
    let e = cli_error(&[
        "run",
        bad("tiny_conv.onnx").to_str().unwrap(),
        "-i",
        npy.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(e.contains("x.npy") && e.contains(".npy"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `qpose compile` writes a planned model that `inspect` reads; precision flags at load are
/// refused with a message pointing at `compile`.
#[test]
fn compiled_models_work_through_the_cli() {
    let onnx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx");
    let planned = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_compiled.qpose");
    let qpose = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_qpose")).args(args).output().expect("qpose runs");
    let out = qpose(&["compile", onnx.to_str().unwrap(), "--out", planned.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("53 int8 layers"));
    let out = qpose(&["inspect", planned.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("planned ops: ") && stdout.contains("QConv 52"), "{stdout}");
    let e = cli_error(&["inspect", planned.to_str().unwrap(), "--float"]);
    assert!(e.contains("cli_compiled.qpose") && e.contains("give --float or --keep-float to `qpose compile`"), "{e}");
}
