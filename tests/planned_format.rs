//! Planned models (`.qpose`): every committed model compiled and loaded again runs the same
//! plan and gives bit-identical outputs to the ONNX file loaded directly; damaged and hostile
//! files are refused with errors that say what is wrong (never a panic, never an allocation
//! sized by a length prefix the file does not back with bytes).

use qpose::graph::{Graph, Op, ValueId};
use qpose::ops::unary::UnaryOp;
use qpose::tensor::{DType, Tensor};
use qpose::{Model, ModelOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("planned_format");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every model the other tests use: fp32, onnxruntime QDQ u8s8 and s8s8, torch QAT, BlazePose
/// fp32 and int8.
const MODELS: &[&str] = &[
    "models/zoo/mbv2_0.5x_rle_192x192_fp32.onnx",
    "models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx",
    "models/zoo/mbv2_0.5x_rle_192x192_ort_s8s8.onnx",
    "models/zoo/mbv2_0.5x_rle_192x192_qat.onnx",
    "models/zoo/mbv2_0.75x_simcc_192x192_fp32.onnx",
    "models/zoo/mbv2_0.75x_simcc_192x192_ort_u8s8.onnx",
    "models/zoo/mbv2_0.75x_simcc_192x192_ort_s8s8.onnx",
    "models/zoo/mbv2_0.75x_simcc_192x192_qat.onnx",
    "models/blazepose/pose_landmark_full.onnx",
    "models/blazepose/pose_landmark_full.int8.onnx",
];

/// Runs `m` on a fixed input in [0, 1] and returns every output's bytes.
fn outputs(m: &mut Model) -> Vec<Vec<u8>> {
    let inputs: Vec<Vec<f32>> = m
        .inputs()
        .iter()
        .map(|p| (0..p.shape.iter().product::<usize>()).map(|i| (i * 7919 % 256) as f32 / 255.0).collect())
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    m.run(&refs).unwrap();
    (0..m.outputs().len()).map(|i| m.output(i).bytes.to_vec()).collect()
}

/// What the plan runs: per step, its node, op and kernel; and the arena.
fn plan_summary(m: &Model) -> (Vec<(String, &'static str, String)>, usize) {
    let steps = m.plan().steps.iter().map(|s| (s.node.clone(), s.op, s.step.kernel())).collect();
    (steps, m.arena_bytes())
}

/// Compiles `rel` with `opts` into a planned file, loads it, and checks it against the ONNX
/// model loaded directly: same ports, plan and int8 summary, bit-identical outputs, and the
/// same bytes when saved again. Returns the planned file's bytes.
fn check_round_trip(rel: &str, opts: &ModelOptions, file: &str) -> Vec<u8> {
    let mut direct = Model::load(&root().join(rel), opts).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let path = tmp(file);
    direct.save_planned(&path).unwrap();
    let mut planned = Model::load(&path, &ModelOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(plan_summary(&planned), plan_summary(&direct), "{rel}: plans differ");
    assert_eq!(planned.quantized(), direct.quantized(), "{rel}");
    for (a, b) in planned.inputs().iter().zip(direct.inputs()).chain(planned.outputs().iter().zip(direct.outputs())) {
        assert_eq!((&a.name, a.dtype, &a.shape), (&b.name, b.dtype, &b.shape), "{rel}");
    }
    assert!(outputs(&mut planned) == outputs(&mut direct), "{rel}: outputs differ");
    let bytes = std::fs::read(&path).unwrap();
    assert!(planned.to_planned_bytes().unwrap() == bytes, "{rel}: not a fixed point");
    bytes
}

/// Also: the committed planned models the lean build tests (int8_models, reference_models,
/// no_allocation) are exactly what `qpose compile` writes today from the committed ONNX files.
#[test]
fn compiled_models_run_bit_identically() {
    let fixtures = root().join("tests/data/planned");
    let mut current = 0;
    for rel in MODELS {
        let name = Path::new(rel).file_stem().unwrap().to_str().unwrap();
        let bytes = check_round_trip(rel, &ModelOptions::default(), &format!("{name}.qpose"));
        let fixture = fixtures.join(format!("{name}.qpose"));
        if fixture.exists() {
            assert!(
                bytes == std::fs::read(&fixture).unwrap(),
                "{} is not what `qpose compile {rel}` writes now: run tests/scripts/make_planned_fixtures.sh",
                fixture.display()
            );
            current += 1;
        }
    }
    let committed = std::fs::read_dir(&fixtures).unwrap().count();
    assert_eq!(current, committed, "a planned model in {} has no ONNX model in MODELS", fixtures.display());
    assert_eq!(current, 3, "expected the three committed planned models in {}", fixtures.display());
}

/// The precision options apply when compiling: a QDQ model's float path, and a layer kept in
/// float, are what the planned file holds.
#[test]
fn precision_options_are_compiled_in() {
    let rel = "models/zoo/mbv2_0.75x_simcc_192x192_ort_u8s8.onnx";
    let mut float = ModelOptions::default();
    float.passes.int8 = false;
    check_round_trip(rel, &float, "simcc_float.qpose");
    let int8 = Model::load(&root().join(rel), &ModelOptions::default()).unwrap();
    let last = int8.graph().nodes.iter().rev().find(|n| matches!(n.op, Op::QDense(_) | Op::QConv(_))).unwrap();
    let mut keep = ModelOptions::default();
    keep.passes.keep_float.insert(last.name.clone());
    let kept = Model::load(&root().join(rel), &keep).unwrap();
    assert_eq!(kept.quantized().int8_layers + 1, int8.quantized().int8_layers, "{} not kept in float", last.name);
    check_round_trip(rel, &keep, "simcc_keep_float.qpose");

    // Loading cannot change what was compiled in: those options are refused, not ignored.
    let planned = tmp("simcc_float.qpose");
    let err = Model::load(&planned, &float).err().expect("--float on a planned model").to_string();
    assert!(err.contains("qpose compile") && err.contains("simcc_float.qpose"), "{err}");
}

/// A small valid graph: `y = relu(x + c)`, x f32 [1, 2], c a constant [2].
fn tiny_graph() -> Graph {
    let mut g = Graph { opset: 13, ..Graph::default() };
    let x = g.add_value("x", DType::F32, vec![1, 2]);
    let c = g.add_const("c", Tensor::from_vec(vec![2], vec![1.5f32, -2.5]).unwrap());
    let s = g.add_value("s", DType::F32, vec![1, 2]);
    let y = g.add_value("y", DType::F32, vec![1, 2]);
    g.add_node("add", Op::Binary(qpose::ops::binary::BinaryOp::Add), vec![x, c], vec![s]);
    g.add_node("relu", Op::Unary(UnaryOp::Relu), vec![s], vec![y]);
    g.inputs.push(x);
    g.outputs.push(y);
    g
}

fn encode(g: &Graph) -> Vec<u8> {
    qpose::planned::to_bytes(g, &Default::default()).unwrap()
}

/// The error loading `bytes` gives; it must be one.
fn refusal(bytes: &[u8]) -> String {
    match Model::from_planned_bytes(bytes, &ModelOptions::default()) {
        Ok(_) => panic!("loaded a damaged planned model"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_tiny_graph_runs() {
    let mut m = Model::from_planned_bytes(&encode(&tiny_graph()), &ModelOptions::default()).unwrap();
    m.run(&[&[1.0, 1.0]]).unwrap();
    assert_eq!(m.output(0).as_f32().unwrap(), &[2.5, 0.0]);
}

#[test]
fn damaged_headers_and_truncations_are_refused() {
    let good = encode(&tiny_graph());
    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(refusal(&magic).contains("not a planned qpose model"));
    let mut version = good.clone();
    version[8] = 99;
    let err = refusal(&version);
    assert!(err.contains("version 99") && err.contains("qpose compile"), "{err}");
    for cut in [0, 4, 8, 11, 12, 13, good.len() / 3, good.len() / 2, good.len() - 1] {
        let err = refusal(&good[..cut]);
        assert!(err.contains("truncated") || err.contains("not a planned"), "cut at {cut}: {err}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0, 0]);
    assert!(refusal(&longer).contains("2 unexpected bytes"));
}

/// postcard's length prefixes are LEB128 varints; a claim of 2^62 elements backed by a few
/// bytes must fail on the missing bytes, not allocate (an eager allocation of that size would
/// abort this test process).
#[test]
fn huge_length_prefixes_are_refused() {
    let good = encode(&tiny_graph());
    // The body starts with the int8 summary (three zero varints), then the number of values.
    let at = 12 + 3;
    assert_eq!(good[at], 4, "the value count of the tiny graph");
    let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
    let bytes: Vec<u8> = good[..at].iter().chain(&huge).chain(&good[at + 1..]).copied().collect();
    let err = refusal(&bytes);
    assert!(err.contains("corrupt or truncated"), "{err}");
    // The same claim for a tensor's bytes: the constant's payload length.
    let data: Vec<u8> = [1.5f32, -2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    let pos = good.windows(8).position(|w| w == data.as_slice()).unwrap();
    assert_eq!(good[pos - 1], 8, "the payload length");
    let bytes: Vec<u8> = good[..pos - 1].iter().chain(&huge).chain(&good[pos..]).copied().collect();
    assert!(refusal(&bytes).contains("corrupt or truncated"));
}

#[test]
fn inconsistent_graphs_are_refused() {
    // An op reading a value that does not exist.
    let mut g = tiny_graph();
    g.nodes[1].inputs[0] = ValueId(99);
    let err = refusal(&encode(&g));
    assert!(err.contains("value index 99 is out of range"), "{err}");

    // A tensor whose bytes do not match its shape: the constant [2] claims shape [3].
    let good = encode(&tiny_graph());
    let data: Vec<u8> = [1.5f32, -2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    let pos = good.windows(8).position(|w| w == data.as_slice()).unwrap();
    // Before the payload: shape (rank 1, dim 2), dtype (F32 = 0), payload length 8.
    assert_eq!(&good[pos - 4..pos], &[1, 2, 0, 8]);
    let mut bytes = good.clone();
    bytes[pos - 3] = 3;
    let err = refusal(&bytes);
    assert!(err.contains("needs 3 elements of 4 bytes, the file holds 8 bytes"), "{err}");

    // A constant whose data disagrees with the value's declared shape.
    let mut g = tiny_graph();
    g.values[1].shape = vec![1, 2];
    assert!(refusal(&encode(&g)).contains("constant 'c' holds f32 [2] but is declared f32 [1, 2]"));

    // A node whose declared output is not what its op computes.
    let mut g = tiny_graph();
    g.values[3].shape = vec![2, 1];
    let err = refusal(&encode(&g));
    assert!(err.contains("node 'relu'") && err.contains("the op computes"), "{err}");

    // A cycle: add reads relu's output.
    let mut g = tiny_graph();
    g.nodes[0].inputs[0] = ValueId(3);
    g.inputs.clear();
    assert!(refusal(&encode(&g)).contains("cycle"));

    // Two producers of one value.
    let mut g = tiny_graph();
    g.nodes[1].outputs[0] = ValueId(2);
    assert!(refusal(&encode(&g)).contains("written by node"));

    // Over the limits of the importer: here a single tensor.
    let mut g = tiny_graph();
    g.values[2].shape = vec![1 << 20, 1 << 20];
    let err = refusal(&encode(&g));
    assert!(err.contains("value 's'") && err.contains("(max_tensor_bytes)"), "{err}");
}

/// An emulated int8 op nested in another (which nothing produces) is refused while decoding:
/// a hostile file could otherwise nest it deep enough to overflow the stack.
#[test]
fn nested_emulated_ops_are_refused() {
    use qpose::ops::qconv::ActQuant;
    use qpose::ops::qemulated::QEmulated;
    let q = ActQuant { scale: 0.1, zero_point: 0, dtype: DType::U8 };
    let emulated = |op: Op| QEmulated { op: Box::new(op), inputs: vec![Some(q)], out: q, lo: 0, hi: 255 };
    let mut g = tiny_graph();
    g.nodes[1].op = Op::QEmulated(emulated(Op::QEmulated(emulated(Op::Unary(UnaryOp::Relu)))));
    let err = refusal(&encode(&g));
    assert!(err.contains("nested"), "{err}");
}

/// Files are recognised by their header, not their name; the error for a file that is
/// neither names it.
#[test]
fn loading_dispatches_on_the_header() {
    let path = tmp("renamed.onnx");
    std::fs::write(&path, encode(&tiny_graph())).unwrap();
    assert!(Model::load(&path, &ModelOptions::default()).is_ok());
    let junk = tmp("junk.qpose");
    std::fs::write(&junk, b"QPOSEPL").unwrap();
    let err = Model::load(&junk, &ModelOptions::default()).err().unwrap().to_string();
    assert!(err.contains("junk.qpose"), "{err}");
}
