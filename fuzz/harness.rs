//! The fuzz harnesses, shared by the libFuzzer targets (`fuzz/fuzz_targets/`) and by the
//! plain `cargo test` that replays the corpus and every crash found
//! (`tests/fuzz_regressions.rs`). A harness must never panic, whatever the bytes: a panic
//! is a bug in qpose (or a tracked one in a dependency, wrapped into an error).

#![allow(dead_code)]

use qpose::onnx::{Limits, LoadOptions};
use qpose::plan::PlanOptions;
use qpose::tensor::DType;
use qpose::{Model, ModelOptions};

/// What became of one input, for the replay test's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Refused while importing, optimising or planning (with the error's text).
    Refused(String),
    /// Ran twice with bit-identical outputs.
    Ran,
}

/// Limits small enough for thousands of executions a second, yet large enough for the
/// seed corpus (ONNX node tests, tiny convolution models) to import and run.
pub fn fuzz_options() -> ModelOptions {
    let mut o = ModelOptions::default();
    o.load = LoadOptions {
        limits: Limits {
            max_file_bytes: 8 << 20,
            max_tensor_bytes: 4 << 20,
            max_total_const_bytes: 16 << 20,
            max_total_tensor_bytes: 64 << 20,
            max_nodes: 4096,
            max_rank: 8,
            max_macs: 50_000_000,
        },
        ..LoadOptions::default()
    };
    o.plan = PlanOptions { max_arena_bytes: 32 << 20, ..PlanOptions::default() };
    o
}

/// Deterministic input bytes for a port: a mix of signs, magnitudes and integer values
/// (never NaN: NaN handling has its own tests).
fn input_bytes(dtype: DType, n: usize) -> Vec<u8> {
    let f = |i: usize| ((i * 7919) % 23) as f32 * 0.25 - 2.5;
    match dtype {
        DType::F32 => (0..n).flat_map(|i| f(i).to_ne_bytes()).collect(),
        DType::I8 | DType::U8 => (0..n).map(|i| (i * 37 % 256) as u8).collect(),
        DType::Bool => (0..n).map(|i| (i % 3 == 0) as u8).collect(),
        DType::I32 => (0..n).flat_map(|i| ((i % 5) as i32).to_ne_bytes()).collect(),
        DType::I64 => (0..n).flat_map(|i| ((i % 5) as i64).to_ne_bytes()).collect(),
    }
}

fn run_once(m: &mut Model) -> Vec<Vec<u8>> {
    for i in 0..m.inputs().len() {
        let p = &m.inputs()[i];
        let bytes = input_bytes(p.dtype, p.shape.iter().product());
        m.set_input_bytes(i, &bytes).expect("input sized from its own port");
    }
    m.run_steps();
    (0..m.outputs().len()).map(|i| m.output(i).bytes.to_vec()).collect()
}

/// Import, optimise, plan, and run twice (see [`run_twice`]).
pub fn load_plan_run(data: &[u8]) -> Outcome {
    load_plan_run_with(data, &fuzz_options())
}

/// [`load_plan_run`] with other options.
pub fn load_plan_run_with(data: &[u8], opts: &ModelOptions) -> Outcome {
    run_twice(qpose::onnx::load_bytes(data, &opts.load).and_then(|g| Model::from_graph(g, opts)))
}

/// A planned model (`.qpose` bytes) → checks → plan → run twice, as [`load_plan_run`].
pub fn load_planned_run(data: &[u8]) -> Outcome {
    run_twice(Model::from_planned_bytes(data, &fuzz_options()))
}

/// Runs a model that loaded twice; the two runs must agree bit for bit (a kernel reading
/// memory it did not write would see the first run's leftovers in the second).
fn run_twice(model: qpose::Result<Model>) -> Outcome {
    let mut m = match model {
        Ok(m) => m,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let first = run_once(&mut m);
    let second = run_once(&mut m);
    assert!(first == second, "two runs of the same model on the same input differ");
    Outcome::Ran
}

/// The text of a caught panic (`String` or `&str` payloads), for the replay tests' reports.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// `.npy` parsing; what parses must serialise and parse back to the same bytes.
pub fn npy(data: &[u8]) -> Outcome {
    use qpose::tensor::npy;
    match npy::parse(data) {
        Ok(t) => {
            let bytes = npy::to_bytes(&t);
            let back = npy::parse(&bytes).expect("qpose's own .npy output parses");
            assert!(npy::to_bytes(&back) == bytes, ".npy round trip changed the data");
            Outcome::Ran
        }
        Err(e) => Outcome::Refused(e.to_string()),
    }
}
