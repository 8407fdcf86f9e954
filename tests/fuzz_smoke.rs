//! The fuzz smoke run CI can afford: a seeded mutational fuzzer on stable Rust, in plain
//! `cargo test` (libFuzzer needs nightly; `tests/scripts/fuzz_smoke.sh` runs the
//! coverage-guided fuzzers for longer). It mutates the seed models both as protobuf
//! structures (dims, attributes, initializer sizes and types, op types, wiring, scales) and
//! as bytes, then imports, plans and runs each mutant twice through the fuzz targets' own
//! harness (`fuzz/harness.rs`). Nothing may panic, and what runs must run deterministically.
//!
//! The same seeds compiled to planned models (`.qpose`) are damaged as bytes and loaded through
//! the planned-model harness.
//!
//! `QPOSE_FUZZ_CASES` (default 4000, per test) and `QPOSE_FUZZ_SEED` (default 1) change the
//! run; a panicking mutant is written to `$CARGO_TARGET_TMPDIR/fuzz_smoke/` and named in the
//! failure, to be minimised and added to `tests/data/fuzz_regressions/load_plan_run/`.

#[path = "../fuzz/harness.rs"]
mod harness;

use prost::Message;
use qpose::tensor::DType;
use std::path::{Path, PathBuf};
use tract_onnx::pb::{tensor_shape_proto::dimension, type_proto, AttributeProto, ModelProto, TensorProto};

/// A small deterministic generator (64-bit LCG, high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.next() as usize % n
        }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        (!v.is_empty()).then(|| &v[self.below(v.len())])
    }
}

/// Integers at the edges importers get wrong: zero, signs, off-by-one, overflow of 32-bit
/// and 64-bit sizes, dims whose product wraps.
const INTERESTING_I64: &[i64] =
    &[0, 1, -1, 2, 3, 7, 255, 256, -128, 65_535, 1 << 31, (1 << 31) - 1, 1 << 32, 1 << 40, i64::MAX, i64::MIN];

/// Floats that break scales and weights: zero, negative, subnormal, huge, non-finite.
const INTERESTING_F32: &[f32] =
    &[0.0, -0.0, -1.0, 1e-45, 1e-38, 1e38, f32::MAX, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];

/// ONNX element types, including some qpose does not support.
const ELEM_TYPES: &[i32] = &[0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 99];

fn interesting_i64(r: &mut Rng) -> i64 {
    if r.below(3) == 0 {
        r.below(9) as i64 - 1
    } else {
        INTERESTING_I64[r.below(INTERESTING_I64.len())]
    }
}

fn mutate_attribute(r: &mut Rng, a: &mut AttributeProto) {
    match r.below(4) {
        0 => a.i = interesting_i64(r),
        1 if !a.ints.is_empty() => {
            let i = r.below(a.ints.len());
            a.ints[i] = interesting_i64(r);
        }
        1 => a.ints.push(interesting_i64(r)),
        2 => a.f = INTERESTING_F32[r.below(INTERESTING_F32.len())],
        _ => {
            // Drop an element, or a type that does not match the payload.
            if a.ints.pop().is_none() {
                a.r#type = r.below(12) as i32;
            }
        }
    }
}

fn mutate_tensor(r: &mut Rng, t: &mut TensorProto) {
    match r.below(6) {
        0 if !t.dims.is_empty() => {
            let i = r.below(t.dims.len());
            t.dims[i] = interesting_i64(r);
        }
        0 | 1 => {
            if r.below(2) == 0 {
                t.dims.push(interesting_i64(r));
            } else {
                t.dims.pop();
            }
        }
        2 => t.data_type = ELEM_TYPES[r.below(ELEM_TYPES.len())],
        3 => {
            let keep = r.below(t.raw_data.len() + 1);
            t.raw_data.truncate(keep);
            t.float_data.truncate(r.below(t.float_data.len() + 1));
        }
        4 if t.raw_data.len() >= 4 => {
            // One float of the payload becomes a hostile value (a scale of zero, a NaN weight).
            let at = r.below(t.raw_data.len() / 4) * 4;
            let v = INTERESTING_F32[r.below(INTERESTING_F32.len())];
            t.raw_data[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        4 if !t.float_data.is_empty() => {
            let i = r.below(t.float_data.len());
            t.float_data[i] = INTERESTING_F32[r.below(INTERESTING_F32.len())];
        }
        _ => {
            // An int zero point or int64 constant (shapes, axes) out of its range.
            if t.int64_data.is_empty() && t.int32_data.is_empty() {
                t.int64_data.push(interesting_i64(r));
            } else if !t.int64_data.is_empty() {
                let i = r.below(t.int64_data.len());
                t.int64_data[i] = interesting_i64(r);
            } else {
                let i = r.below(t.int32_data.len());
                t.int32_data[i] = interesting_i64(r) as i32;
            }
        }
    }
}

/// One structural mutation of the model.
fn mutate_model(r: &mut Rng, m: &mut ModelProto, ops: &[String]) {
    let Some(g) = m.graph.as_mut() else { return };
    let names: Vec<String> = g
        .node
        .iter()
        .flat_map(|n| n.output.iter().cloned())
        .chain(g.input.iter().map(|v| v.name.clone()))
        .chain(g.initializer.iter().map(|t| t.name.clone()))
        .collect();
    match r.below(9) {
        0 => {
            // A declared input or output dim: zero, negative, huge, symbolic.
            let vis: Vec<usize> = (0..g.input.len() + g.output.len()).collect();
            let Some(&i) = r.pick(&vis) else { return };
            let vi = if i < g.input.len() { &mut g.input[i] } else { &mut g.output[i - g.input.len()] };
            if let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
                if r.below(4) == 0 {
                    t.elem_type = ELEM_TYPES[r.below(ELEM_TYPES.len())];
                } else if let Some(s) = t.shape.as_mut() {
                    if s.dim.is_empty() || r.below(5) == 0 {
                        s.dim.pop();
                    } else {
                        let d = r.below(s.dim.len());
                        s.dim[d].value = Some(if r.below(5) == 0 {
                            dimension::Value::DimParam("n".into())
                        } else {
                            dimension::Value::DimValue(interesting_i64(r))
                        });
                    }
                }
            }
        }
        1 | 2 => {
            let n = r.below(g.node.len());
            if let Some(node) = g.node.get_mut(n) {
                if node.attribute.is_empty() {
                    return;
                }
                let a = r.below(node.attribute.len());
                mutate_attribute(r, &mut node.attribute[a]);
            }
        }
        3 | 4 => {
            let t = r.below(g.initializer.len());
            if let Some(t) = g.initializer.get_mut(t) {
                mutate_tensor(r, t);
            }
        }
        5 => {
            let n = r.below(g.node.len());
            if let (Some(node), Some(op)) = (g.node.get_mut(n), r.pick(ops)) {
                node.op_type = op.clone();
            }
        }
        6 => {
            // Rewire: an input becomes any other value (possibly a later node's output: a
            // cycle), is dropped, or is duplicated.
            let n = r.below(g.node.len());
            let choice = r.below(3);
            let other = r.pick(&names).cloned().unwrap_or_default();
            if let Some(node) = g.node.get_mut(n) {
                match choice {
                    0 if !node.input.is_empty() => {
                        let i = r.below(node.input.len());
                        node.input[i] = other;
                    }
                    1 => {
                        node.input.pop();
                    }
                    _ => node.input.push(other),
                }
            }
        }
        7 => {
            // Node order: a duplicate (two producers of one name) or a swap.
            if g.node.is_empty() {
                return;
            }
            let (a, b) = (r.below(g.node.len()), r.below(g.node.len()));
            if r.below(2) == 0 {
                let copy = g.node[a].clone();
                g.node.insert(b, copy);
            } else {
                g.node.swap(a, b);
            }
        }
        _ => {
            if let Some(o) = m.opset_import.first_mut() {
                o.version = interesting_i64(r);
            }
        }
    }
}

/// Byte-level damage on the encoded model (what a truncated download or a flipped bit does).
fn mutate_bytes(r: &mut Rng, b: &mut Vec<u8>) {
    if b.is_empty() {
        return;
    }
    match r.below(4) {
        0 => {
            let i = r.below(b.len());
            b[i] ^= 1 << r.below(8);
        }
        1 => {
            let keep = r.below(b.len());
            b.truncate(keep);
        }
        2 => {
            let i = r.below(b.len());
            b[i] = [0x00, 0xff, 0x7f, 0x80][r.below(4)];
        }
        _ => {
            let (i, len) = (r.below(b.len()), 1 + r.below(16));
            let chunk: Vec<u8> = b[i..(i + len).min(b.len())].to_vec();
            let at = r.below(b.len());
            b.splice(at..at, chunk);
        }
    }
}

fn seeds(root: &Path) -> Vec<(PathBuf, ModelProto)> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in ["fuzz/seeds/load_plan_run", "tests/data/fuzz_regressions/load_plan_run"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
            paths.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "onnx")),
            );
        }
    }
    if let Ok(rd) = std::fs::read_dir(root.join("tests/onnx_node/data")) {
        paths.extend(rd.filter_map(|e| Some(e.ok()?.path().join("model.onnx"))).filter(|p| p.is_file()));
    }
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let m = ModelProto::decode(bytes.as_slice()).ok()?;
            Some((p, m))
        })
        .collect()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A mutant that takes longer than this to import, plan and run twice is a hang (they take
/// milliseconds; the limits bound the work to about a second. Wall time: generous, so that
/// a loaded machine does not report a slow case as a hang).
const HANG_SECONDS: u64 = 60;

/// The case being run: number, start, bytes.
type Current = std::sync::Arc<std::sync::Mutex<Option<(u64, std::time::Instant, Vec<u8>)>>>;

/// Starts a thread that writes the current mutant to `out_dir` (as `hang_caseN.EXT`) and ends
/// the process when one case runs longer than [`HANG_SECONDS`] (a hang cannot be caught like
/// a panic).
fn hang_watchdog(out_dir: PathBuf, ext: &'static str) -> Current {
    let current: Current = Default::default();
    let watched = current.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let guard = watched.lock().unwrap();
        if let Some((case, start, bytes)) = guard.as_ref() {
            if start.elapsed().as_secs() > HANG_SECONDS {
                std::fs::create_dir_all(&out_dir).unwrap();
                let file = out_dir.join(format!("hang_case{case}.{ext}"));
                std::fs::write(&file, bytes).unwrap();
                eprintln!("fuzz smoke: mutant {case} ran for over {HANG_SECONDS} s (a hang): {}", file.display());
                std::process::exit(101);
            }
        }
    });
    current
}

/// Runs `cases` mutants from `mutant` (which returns the seed's name and the bytes) through
/// `harness`, failing on any panic (each panicking mutant is written to
/// `$CARGO_TARGET_TMPDIR/fuzz_smoke/caseN.EXT`). Returns how many ran.
fn fuzz_cases(
    ext: &'static str,
    cases: u64,
    mut mutant: impl FnMut(&mut Rng) -> (String, Vec<u8>),
    harness: fn(&[u8]) -> harness::Outcome,
) -> usize {
    let mut r = Rng(env_u64("QPOSE_FUZZ_SEED", 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz_smoke");
    let (mut ran, mut refused, mut panicked) = (0usize, 0usize, Vec::new());
    let current = hang_watchdog(out_dir.clone(), ext);
    for case in 0..cases {
        let (seed, bytes) = mutant(&mut r);
        *current.lock().unwrap() = Some((case, std::time::Instant::now(), bytes.clone()));
        match std::panic::catch_unwind(|| harness(&bytes)) {
            Ok(harness::Outcome::Ran) => ran += 1,
            Ok(harness::Outcome::Refused(_)) => refused += 1,
            Err(e) => {
                let msg = harness::panic_message(e.as_ref());
                std::fs::create_dir_all(&out_dir).unwrap();
                let file = out_dir.join(format!("case{case}.{ext}"));
                std::fs::write(&file, &bytes).unwrap();
                panicked.push(format!("{} (mutant of {seed}): {msg}", file.display()));
            }
        }
    }
    *current.lock().unwrap() = None;
    eprintln!("fuzz smoke ({ext}): {cases} mutants: {ran} ran, {refused} refused");
    assert!(panicked.is_empty(), "{} mutants panicked:\n{}", panicked.len(), panicked.join("\n"));
    ran
}

#[test]
fn mutated_models_never_panic_and_run_deterministically() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seeds = seeds(&root);
    assert!(seeds.len() >= 50, "only {} seed models found", seeds.len());
    let ops = qpose::onnx::supported_ops();
    let cases = env_u64("QPOSE_FUZZ_CASES", 4000);
    let mutant = |r: &mut Rng| {
        let (path, seed) = &seeds[r.below(seeds.len())];
        let mut m = seed.clone();
        for _ in 0..1 + r.below(3) {
            mutate_model(r, &mut m, &ops);
        }
        let mut bytes = m.encode_to_vec();
        if r.below(4) == 0 {
            mutate_bytes(r, &mut bytes);
        }
        (path.display().to_string(), bytes)
    };
    let ran = fuzz_cases("onnx", cases, mutant, harness::load_plan_run);
    // The mutator must still reach the planner and kernels, not only the protobuf decoder.
    assert!(ran * 10 >= cases as usize, "only {ran} of {cases} mutants ran: the mutations are too destructive");
}

/// One mutation of a planned model's graph, aimed at what only loading checks: an op's
/// parameters (its postcard encoding damaged as bytes and decoded again), a value's shape or
/// type, or a node's wiring.
fn mutate_graph(r: &mut Rng, g: &mut qpose::graph::Graph) {
    use qpose::graph::ValueId;
    let nv = g.values.len();
    match r.below(4) {
        0 | 1 => {
            let n = r.below(g.nodes.len());
            let Some(node) = g.nodes.get_mut(n) else { return };
            let mut bytes = postcard::to_allocvec(&node.op).unwrap();
            mutate_bytes(r, &mut bytes);
            if let Ok(op) = postcard::from_bytes(&bytes) {
                node.op = op;
            }
        }
        2 => {
            let Some(v) = g.values.get_mut(r.below(nv)) else { return };
            if v.shape.is_empty() || r.below(4) == 0 {
                v.dtype = *r.pick(&[DType::F32, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool]).unwrap();
            } else {
                let d = r.below(v.shape.len());
                v.shape[d] = (interesting_i64(r) as usize).min(1 << 40);
            }
        }
        _ => {
            let n = r.below(g.nodes.len());
            let Some(node) = g.nodes.get_mut(n) else { return };
            let ids = if r.below(2) == 0 { &mut node.inputs } else { &mut node.outputs };
            match r.below(3) {
                0 if !ids.is_empty() => {
                    let i = r.below(ids.len());
                    ids[i] = ValueId(r.below(nv));
                }
                1 => {
                    ids.pop();
                }
                _ => ids.push(ValueId(r.below(nv))),
            }
        }
    }
}

/// Planned models (`.qpose`) compiled from every seed that plans, mutated as graphs (see
/// [`mutate_graph`]) or damaged as bytes, and loaded through the planned-model harness:
/// nothing may panic, and what runs runs deterministically.
#[test]
fn mutated_planned_models_never_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = harness::fuzz_options();
    let seeds: Vec<(String, Vec<u8>)> = seeds(&root)
        .into_iter()
        .filter_map(|(path, m)| {
            let g = qpose::onnx::load_bytes(&m.encode_to_vec(), &opts.load).ok()?;
            let bytes = qpose::Model::from_graph(g, &opts).ok()?.to_planned_bytes().ok()?;
            Some((path.display().to_string(), bytes))
        })
        .collect();
    assert!(seeds.len() >= 50, "only {} seed models compiled", seeds.len());
    let graphs: Vec<_> = seeds
        .iter()
        .map(|(path, bytes)| {
            assert_eq!(harness::load_planned_run(bytes), harness::Outcome::Ran, "{path} compiled but does not load");
            qpose::planned::from_bytes(bytes, &opts.load.limits).unwrap()
        })
        .collect();
    let cases = env_u64("QPOSE_FUZZ_CASES", 4000);
    let mutant = |r: &mut Rng| {
        let i = r.below(seeds.len());
        let bytes = if r.below(4) == 0 {
            let mut bytes = seeds[i].1.clone();
            mutate_bytes(r, &mut bytes);
            bytes
        } else {
            let (mut g, summary) = graphs[i].clone();
            for _ in 0..1 + r.below(2) {
                mutate_graph(r, &mut g);
            }
            qpose::planned::to_bytes(&g, &summary).unwrap()
        };
        (seeds[i].0.clone(), bytes)
    };
    let ran = fuzz_cases("qpose", cases, mutant, harness::load_planned_run);
    // Damage to weights and to parameters that stay valid loads: the checks must not refuse
    // everything either.
    assert!(ran * 10 >= cases as usize, "only {ran} of {cases} planned mutants ran");
}
