//! Replays the fuzz corpus and every crash the fuzzers found through the fuzz targets' own
//! harness functions (`fuzz/harness.rs`), in a plain `cargo test` (no nightly, no
//! libFuzzer): the seeds, the minimised corpus (`fuzz/corpus_min/`), the crash regressions
//! (`tests/data/fuzz_regressions/`), the ONNX node-test models and the bad-input fixtures.
//! Nothing may panic; seeds must import, plan and run twice with identical outputs.

#[path = "../fuzz/harness.rs"]
mod harness;
mod proto_builder;

use harness::Outcome;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files directly in `dir` (sorted; none if it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.retain(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')));
    v.sort();
    v
}

/// Runs `harness` on every file, catching panics; returns the outcomes, or fails naming
/// every file that panicked.
fn replay(paths: &[PathBuf], harness: fn(&[u8]) -> Outcome) -> Vec<(PathBuf, Outcome)> {
    let mut panicked = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        match std::panic::catch_unwind(|| harness(&bytes)) {
            Ok(o) => out.push((p.clone(), o)),
            Err(e) => {
                let msg = harness::panic_message(e.as_ref());
                panicked.push(format!("{}: {msg}", p.display()));
            }
        }
    }
    assert!(panicked.is_empty(), "{} of {} inputs panicked:\n{}", panicked.len(), paths.len(), panicked.join("\n"));
    out
}

fn ran(outcomes: &[(PathBuf, Outcome)]) -> usize {
    outcomes.iter().filter(|(_, o)| *o == Outcome::Ran).count()
}

#[test]
fn model_seeds_import_plan_and_run_deterministically() {
    let seeds = files(&root().join("fuzz/seeds/load_plan_run"));
    assert!(seeds.len() >= 8, "seeds missing: {seeds:?}");
    for (p, o) in replay(&seeds, harness::load_plan_run) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        match KNOWN_REFUSED.iter().find(|(f, _)| *f == name) {
            Some((_, why)) => assert!(matches!(&o, Outcome::Refused(e) if e.contains(why)), "{name}: {o:?}"),
            None => assert_eq!(o, Outcome::Ran, "{name}"),
        }
    }
}

/// The planned-model seeds are the loadable `load_plan_run` seeds compiled with
/// `qpose compile fuzz/seeds/load_plan_run/NAME.onnx --out fuzz/seeds/load_planned_run/NAME.qpose`
/// (again whenever the format version changes, which this test reports).
#[test]
fn planned_seeds_and_regressions_load_plan_and_run_deterministically() {
    let seeds = files(&root().join("fuzz/seeds/load_planned_run"));
    assert!(seeds.len() >= 6, "seeds missing: {seeds:?}");
    for (p, o) in replay(&seeds, harness::load_planned_run) {
        assert_eq!(o, Outcome::Ran, "{}", p.display());
    }
    let regressions = files(&root().join("tests/data/fuzz_regressions/load_planned_run"));
    assert!(!regressions.is_empty(), "no planned-model regression files");
    for (p, o) in replay(&regressions, harness::load_planned_run) {
        // clamp_min_above_max_*: a quantize or requantize clamp whose low bound exceeds its
        // high bound (f32::clamp panicked in the scalar kernels).
        assert!(matches!(&o, Outcome::Refused(e) if e.contains("is not a range of")), "{}: {o:?}", p.display());
    }
}

/// Seeds qpose refuses today, with the reason (limitations, not crashes): onnxruntime
/// quantizes the nearest Resize, which the int8 movement rule accepts but no 8-bit resize
/// step implements; its QOperator export uses com.microsoft's QGemm.
const KNOWN_REFUSED: &[(&str, &str)] = &[
    ("composite_qdq_s8s8.onnx", "resize runs on NHWC f32 here"),
    ("composite_qdq_u8s8.onnx", "resize runs on NHWC f32 here"),
    ("composite_qoperator_u8s8.onnx", "unsupported op 'QGemm'"),
];

#[test]
fn model_crash_regressions_and_minimised_corpus_do_not_panic() {
    let regressions = files(&root().join("tests/data/fuzz_regressions/load_plan_run"));
    assert!(!regressions.is_empty(), "no regression files");
    let outcomes = replay(&regressions, harness::load_plan_run);
    assert_eq!(outcomes.len(), regressions.len());
    let corpus = files(&root().join("fuzz/corpus_min/load_plan_run"));
    let outcomes = replay(&corpus, harness::load_plan_run);
    eprintln!("minimised corpus: {} inputs, {} ran", corpus.len(), ran(&outcomes));
}

#[test]
fn node_test_models_and_bad_inputs_do_not_panic_in_the_fuzz_harness() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("tests/onnx_node/data"))
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path().join("model.onnx")))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let nodes = paths.len();
    let outcomes = replay(&paths, harness::load_plan_run);
    // Most node tests run as they are (the others need a concrete input shape, or feed a
    // graph input where qpose wants a constant).
    assert!(ran(&outcomes) * 2 > nodes, "only {} of {nodes} node-test models ran", ran(&outcomes));
    let bad: Vec<PathBuf> = files(&root().join("tests/data/bad"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    let outcomes = replay(&bad, harness::load_plan_run);
    assert!(outcomes.iter().any(|(_, o)| matches!(o, Outcome::Refused(e) if e.contains("limit exceeded"))));
}

#[test]
fn npy_seeds_regressions_and_corpus_do_not_panic() {
    let seeds = files(&root().join("fuzz/seeds/npy"));
    assert!(seeds.len() >= 10, "seeds missing: {seeds:?}");
    for (p, o) in replay(&seeds, harness::npy) {
        assert_eq!(o, Outcome::Ran, "{}", p.display());
    }
    let mut more = files(&root().join("tests/data/fuzz_regressions/npy"));
    more.extend(files(&root().join("fuzz/corpus_min/npy")));
    replay(&more, harness::npy);
}

#[test]
fn hand_made_regressions_give_their_named_errors() {
    let dir = root().join("tests/data/fuzz_regressions/load_plan_run");
    let run = |name: &str| harness::load_plan_run(&std::fs::read(dir.join(name)).unwrap());
    for (file, want) in [
        ("requant_scale_overflows_to_inf.onnx", "not finite"),
        ("int8_conv_nan_float_bias.onnx", "not finite"),
        ("uint8_zero_point_300_in_int32_data.onnx", "outside the uint8 range"),
    ] {
        match run(file) {
            Outcome::Refused(e) => assert!(e.contains(want), "{file}: {e}"),
            Outcome::Ran => panic!("{file} ran"),
        }
    }
    assert_eq!(run("relu_chain_3000.onnx"), Outcome::Ran);
    assert_eq!(run("global_average_pool_of_0_channels.onnx"), Outcome::Ran);
    // Found by the fuzzer (libFuzzer, 2026-11-21): a node-test Split whose input lost its dims.
    match run("split_of_a_rank0_input.onnx") {
        Outcome::Refused(e) => assert!(e.contains("Split of a rank-0 tensor"), "{e}"),
        Outcome::Ran => panic!("rank-0 Split ran"),
    }
    // Found by the stable mutational fuzzer (tests/fuzz_smoke.rs, 2026-11-21): each was a
    // panic (capacity overflow, index, slice range, multiply overflow, slice copy length)
    // before its fix.
    for (file, want) in [
        ("split_num_outputs_minus_1.onnx", "num_outputs -1 differs"),
        ("range_with_an_empty_start.onnx", "must have one element"),
        ("maxpool_of_a_bool_input.onnx", "pooling of Bool is not supported"),
        ("depth_to_space_blocksize_2pow40.onnx", "does not divide 8 channels"),
        ("conv_transpose_bias_of_8_for_4_channels.onnx", "does not have one value per output channel (4)"),
        ("matmul_node_without_outputs.onnx", "the node has no outputs"),
        ("reduce_min_of_0_by_2pow63_by_5.onnx", "more elements than can be addressed"),
        ("conv_transpose_stride_2pow63.onnx", "is empty or overflows"),
        // Not a panic but a 2^31-row loop over an empty tensor (a hang in the campaign).
        ("log_softmax_of_2pow31_by_0.onnx", "zero dims counted as one"),
    ] {
        match run(file) {
            Outcome::Refused(e) => assert!(e.contains(want), "{file}: {e}"),
            Outcome::Ran => panic!("{file} ran"),
        }
    }
}

/// Also found by the mutational fuzzer: a max pool whose huge kernel is cancelled by huge
/// pads has a 1x1 output yet ran for minutes (the window search walked every tap). The taps
/// now count against `max_macs`, and the window bounds are computed, not searched.
#[test]
fn a_pool_with_a_huge_kernel_and_pads_is_refused_by_the_work_limit() {
    use proto_builder::*;
    let k = 1i64 << 20;
    let p = model(
        vec![node("MaxPool", &["x"], &["y"], vec![ints("kernel_shape", &[k, k]), ints("pads", &[k / 2 - 1; 4])])],
        vec![value_info("x", FLOAT, &[1, 3, 2, 2])],
        vec![value_info("y", FLOAT, &[])],
        vec![],
    );
    let mut bytes = Vec::new();
    prost::Message::encode(&p, &mut bytes).unwrap();
    match harness::load_plan_run(&bytes) {
        Outcome::Refused(e) => assert!(e.contains("max_macs"), "{e}"),
        Outcome::Ran => panic!("a 2^40-tap pool ran"),
    }
    // A window span that overflows usize is a named error, not an arithmetic panic.
    let p = model(
        vec![node("MaxPool", &["x"], &["y"], vec![ints("kernel_shape", &[i64::MAX, 1]), ints("dilations", &[4, 1])])],
        vec![value_info("x", FLOAT, &[1, 3, 2, 2])],
        vec![value_info("y", FLOAT, &[])],
        vec![],
    );
    let bytes = prost::Message::encode_to_vec(&p);
    match std::panic::catch_unwind(|| harness::load_plan_run(&bytes)) {
        Ok(Outcome::Refused(e)) => assert!(e.contains("overflows"), "{e}"),
        other => panic!("an overflowing pool window: {other:?}"),
    }
}

/// The fuzzer's rank-0 Split, and the ops that index the input's shape with the axis the
/// same way (Concat, Slice, Gather): a scalar input is a named error, not an index panic.
#[test]
fn ops_indexing_an_axis_refuse_a_rank0_input() {
    use proto_builder::*;
    use qpose::onnx::from_proto;
    let scalar = || value_info("x", FLOAT, &[]);
    let cases = [
        ("Split", vec![node("Split", &["x"], &["a", "b"], vec![int("axis", 0)])], vec![]),
        ("Concat", vec![node("Concat", &["x", "x"], &["a"], vec![int("axis", 0)])], vec![]),
        ("Gather", vec![node("Gather", &["x", "i"], &["a"], vec![])], vec![i64_tensor("i", &[1], &[0])]),
        (
            "Slice",
            vec![node("Slice", &["x", "s", "e", "ax"], &["a"], vec![])],
            vec![i64_tensor("s", &[1], &[0]), i64_tensor("e", &[1], &[1]), i64_tensor("ax", &[1], &[0])],
        ),
    ];
    for (op, nodes, inits) in cases {
        let p = model(nodes, vec![scalar()], vec![value_info("a", FLOAT, &[])], inits);
        let opts = harness::fuzz_options();
        let r = std::panic::catch_unwind(|| {
            from_proto(&p, &opts.load, None).and_then(|g| qpose::Model::from_graph(g, &opts)).map(|_| ())
        });
        match r {
            Ok(Err(e)) => assert!(e.to_string().contains(&format!("{op} of a rank-0 tensor")), "{op}: {e}"),
            Ok(Ok(())) => panic!("{op} of a scalar was accepted"),
            Err(_) => panic!("{op} of a scalar panicked"),
        }
    }
}
