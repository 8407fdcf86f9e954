//! The official ONNX backend node tests (vendored from the onnx 1.19.1 wheel by
//! `tests/onnx_node/vendor.py`) for every op qpose supports.
//!
//! `tests/onnx_node/manifest.txt` lists the tests that run, one per line, tract-style:
//! `test_name [tags]`. Tags:
//! - `input:NAME` (repeatable): only the named graph inputs stay run-time inputs; every other
//!   input becomes an initializer holding its test-data value. qpose plans static graphs
//!   with constant weights, shapes and axes, as tract's own suite does.
//! - `static`: every graph input becomes an initializer (the whole graph is constant).
//! - `rtol:X`, `atol:X`: float tolerance for this test (default [`RTOL`], [`ATOL`]).
//!
//! `tests/onnx_node/unsupported.txt` lists the node tests of the same op families that are
//! deliberately not run, each with its reason.
//!
//! Each test is imported with `qpose::onnx::from_proto`, planned with
//! `qpose::Model::from_graph`, fed `input_*.pb` and compared with `output_*.pb`: same type
//! and shape, integers and bools exactly, floats within `|a - b| <= atol + rtol * |b|`
//! (NaN only matches NaN, infinities only themselves; float16 data is widened to f32 on
//! both sides, as qpose stores it). Every failure is collected and reported at once; a
//! panic is caught only to be reported as a failure (and is a bug to fix).
//!
//! The suite also checks that every op in `qpose::onnx::supported_ops()` appears in a test
//! that runs, so a newly registered op needs its node tests here (or a reason below).

use qpose::onnx::{decode_tensor_proto, from_proto, Limits, LoadOptions};
use qpose::tensor::{Tensor, TensorData};
use qpose::{Model, ModelOptions};
use std::path::{Path, PathBuf};
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::Framework;

/// Default relative tolerance for float outputs (ONNX's own runner uses 1e-3).
const RTOL: f64 = 1e-5;
/// Default absolute tolerance for float outputs (ONNX's own runner uses 1e-7).
const ATOL: f64 = 1e-7;

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/onnx_node")
}

struct Entry {
    name: String,
    /// The manifest line, for messages.
    line: String,
    inputs: Option<Vec<String>>,
    rtol: f64,
    atol: f64,
}

/// `name [tags]` lines; `#` starts a comment.
fn parse_list(path: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            let mut words = l.split_whitespace().map(str::to_string);
            words.next().map(|n| (n, words.collect()))
        })
        .collect()
}

fn manifest() -> Result<Vec<Entry>, String> {
    parse_list(&suite_dir().join("manifest.txt"))
        .into_iter()
        .map(|(name, tags)| {
            let line = std::iter::once(name.clone()).chain(tags.iter().cloned()).collect::<Vec<_>>().join(" ");
            let mut e = Entry { name, line: line.clone(), inputs: None, rtol: RTOL, atol: ATOL };
            for tag in &tags {
                if tag == "static" {
                    e.inputs = Some(Vec::new());
                    continue;
                }
                let (key, value) =
                    tag.split_once(':').ok_or_else(|| format!("`{line}`: tag `{tag}` is not key:value"))?;
                let float = || value.parse::<f64>().map_err(|_| format!("`{line}`: `{tag}` is not a number"));
                match key {
                    "input" => e.inputs.get_or_insert_with(Vec::new).push(value.into()),
                    "rtol" => e.rtol = float()?,
                    "atol" => e.atol = float()?,
                    _ => return Err(format!("`{line}`: unknown tag `{tag}`")),
                }
            }
            Ok(e)
        })
        .collect()
}

fn read_pb(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The test's `prefix_<i>.pb` files, in order.
fn data_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..).map(|i| dir.join(format!("test_data_set_0/{prefix}_{i}.pb"))).take_while(|p| p.exists()).collect()
}

/// Ops qpose imports that have no ONNX node tests: MQBench's fake-quantization custom ops
/// (covered by the quantized reference models instead).
const NO_NODE_TESTS: &[&str] = &[
    "FakeQuantizeLearnablePerchannelAffine",
    "FixedPerChannelAffine",
    "FixedPerTensorAffine",
    "LearnablePerTensorAffine",
];

fn load_proto(e: &Entry) -> Result<ModelProto, String> {
    let path = suite_dir().join("data").join(&e.name).join("model.onnx");
    tract_onnx::onnx().proto_model_for_path(&path).map_err(|err| format!("{}: {err}", path.display()))
}

/// Runs one node test; `Err` says why it fails.
fn run_one(e: &Entry) -> Result<(), String> {
    let dir = suite_dir().join("data").join(&e.name);
    let mut proto = load_proto(e)?;
    let graph = proto.graph.as_mut().ok_or("model has no graph")?;
    let inits: Vec<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let input_names: Vec<String> = graph.input.iter().map(|i| i.name.clone()).filter(|n| !inits.contains(n)).collect();
    let input_files = data_files(&dir, "input");
    if input_files.len() != input_names.len() {
        return Err(format!("{} input files for graph inputs {input_names:?}", input_files.len()));
    }
    if let Some(keep) = &e.inputs {
        if let Some(k) = keep.iter().find(|k| !input_names.contains(k)) {
            return Err(format!("tag input:{k} names no graph input ({input_names:?})"));
        }
    }
    // Inputs not kept become initializers holding their test value.
    let mut runtime = Vec::new();
    for (name, file) in input_names.iter().zip(&input_files) {
        let bytes = read_pb(file)?;
        if e.inputs.as_ref().is_none_or(|k| k.contains(name)) {
            let t =
                decode_tensor_proto(&bytes, &Limits::default()).map_err(|err| format!("{}: {err}", file.display()))?;
            runtime.push(t);
        } else {
            let mut t = tract_onnx::tensor::proto_from_reader(std::io::Cursor::new(bytes))
                .map_err(|err| format!("{}: {err}", file.display()))?;
            t.name = name.clone();
            graph.initializer.push(t);
            graph.input.retain(|i| &i.name != name);
        }
    }
    let expected: Vec<Tensor> = data_files(&dir, "output")
        .iter()
        .map(|f| decode_tensor_proto(&read_pb(f)?, &Limits::default()).map_err(|err| format!("{}: {err}", f.display())))
        .collect::<Result<_, _>>()?;
    let output_names: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    if expected.len() != output_names.len() {
        return Err(format!("{} output files for graph outputs {output_names:?}", expected.len()));
    }

    let g = from_proto(&proto, &LoadOptions::default(), Some(&dir)).map_err(|err| format!("import: {err}"))?;
    let mut model = Model::from_graph(g, &ModelOptions::default()).map_err(|err| format!("plan: {err}"))?;
    let got = model.run_tensors(&runtime).map_err(|err| format!("run: {err}"))?;
    if got.len() != expected.len() {
        return Err(format!("{} outputs, expected {}", got.len(), expected.len()));
    }
    for ((name, g), x) in output_names.iter().zip(&got).zip(&expected) {
        compare(g, x, e.rtol, e.atol).map_err(|m| format!("output '{name}': {m}"))?;
    }
    Ok(())
}

/// Compares one output with its reference; `Err` describes the first mismatches.
fn compare(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!("got {} {:?}, expected {} {:?}", got.dtype(), got.shape(), want.dtype(), want.shape()));
    }
    let bad: Vec<(usize, String, String)> = match (got.data(), want.data()) {
        (TensorData::F32(a), TensorData::F32(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .filter(|(_, (&x, &y))| !close(x as f64, y as f64, rtol, atol))
            .map(|(i, (x, y))| (i, format!("{x:e}"), format!("{y:e}")))
            .collect(),
        _ => {
            let (a, b) = (got.to_i64_vec(), want.to_i64_vec());
            a.iter()
                .zip(&b)
                .enumerate()
                .filter(|(_, (x, y))| x != y)
                .map(|(i, (x, y))| (i, x.to_string(), y.to_string()))
                .collect()
        }
    };
    if bad.is_empty() {
        return Ok(());
    }
    let first: Vec<String> = bad.iter().take(4).map(|(i, a, b)| format!("[{i}] {a} vs {b}")).collect();
    Err(format!("{} of {} values differ (rtol {rtol:e}, atol {atol:e}): {}", bad.len(), got.len(), first.join(", ")))
}

fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= atol + rtol * b.abs()
}

/// Runs `f`, turning a panic into an error that says where it happened.
fn catching(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = PANIC_AT.with(|p| p.take()).unwrap_or_default();
            Err(format!("PANIC at {at}: {msg}"))
        }
    }
}

thread_local! {
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn onnx_node_tests() {
    let start = std::time::Instant::now();
    let entries = manifest().unwrap_or_else(|e| panic!("manifest.txt: {e}"));
    let unsupported = parse_list(&suite_dir().join("unsupported.txt"));
    for (name, _) in &unsupported {
        assert!(!entries.iter().any(|e| &e.name == name), "{name} is both run and listed as unsupported");
    }

    // Every op qpose imports is exercised by at least one test that runs.
    let mut tested = std::collections::BTreeSet::new();
    for e in &entries {
        // A model that does not load is reported with the failures below.
        if let Ok(proto) = load_proto(e) {
            for n in proto.graph.iter().flat_map(|g| &g.node) {
                tested.insert(n.op_type.clone());
            }
        }
    }
    let untested: Vec<String> = qpose::onnx::supported_ops()
        .into_iter()
        .filter(|op| !tested.contains(op) && !NO_NODE_TESTS.contains(&op.as_str()))
        .collect();
    assert!(untested.is_empty(), "supported ops with no node test in tests/onnx_node/manifest.txt: {untested:?}");

    // Report panics through the result, not on stderr (one line per failing test below).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
    }));
    let results: Vec<(&Entry, Result<(), String>)> = entries.iter().map(|e| (e, catching(|| run_one(e)))).collect();
    std::panic::set_hook(hook);

    let failures: Vec<String> =
        results.iter().filter_map(|(e, r)| r.as_ref().err().map(|m| format!("  {}: {m}", e.line))).collect();
    println!(
        "ONNX node tests: {} run, {} passed, {} failed, {} listed unsupported ({:.2?})",
        entries.len(),
        entries.len() - failures.len(),
        failures.len(),
        unsupported.len(),
        start.elapsed()
    );
    assert!(!entries.is_empty(), "the manifest lists no tests");
    assert!(
        failures.is_empty(),
        "{} of {} ONNX node tests failed:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
