//! Resource limits are decided before allocating, each refusal names its limit, and every
//! stage (import, passes, planning, running) is near-linear in the graph size: long
//! generated chains load, plan and run in bounded time, with no recursion to overflow.

mod proto_builder;

use proto_builder::*;
use qpose::onnx::{from_proto, load_bytes, Limits, LoadOptions};
use qpose::plan::PlanOptions;
use qpose::{Error, Model, ModelOptions};
use std::time::{Duration, Instant};
use tract_onnx::pb::{ModelProto, NodeProto};

/// Generous: the chains below take well under a second each in the dev profile; a pass
/// that is quadratic in the node count takes minutes.
const BOUND: Duration = Duration::from_secs(20);

fn limit_error(r: Result<impl Sized, Error>) -> String {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e @ Error::Limit(_)) => e.to_string(),
        Err(e) => panic!("not a limit error: {e}"),
    }
}

/// `x → op → op → … → y` (`n` nodes), `x` and `y` of `dims`.
fn chain(n: usize, dims: &[i64], mut step: impl FnMut(usize, &str, &str) -> Vec<NodeProto>) -> ModelProto {
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let from = if i == 0 { "x".to_string() } else { format!("v{}", i - 1) };
        let to = if i + 1 == n { "y".to_string() } else { format!("v{i}") };
        nodes.extend(step(i, &from, &to));
    }
    model(nodes, vec![value_info("x", FLOAT, dims)], vec![value_info("y", FLOAT, dims)], vec![])
}

/// Loads, plans and runs `proto` on `x`, within [`BOUND`]; returns the first output.
fn run_bounded(what: &str, proto: &ModelProto, x: &[f32]) -> Vec<f32> {
    let t0 = Instant::now();
    let g = from_proto(proto, &LoadOptions::default(), None).unwrap_or_else(|e| panic!("{what}: import: {e}"));
    let t_import = t0.elapsed();
    let mut m = Model::from_graph(g, &ModelOptions::default()).unwrap_or_else(|e| panic!("{what}: plan: {e}"));
    let t_plan = t0.elapsed();
    m.run(&[x]).unwrap();
    let elapsed = t0.elapsed();
    assert!(elapsed < BOUND, "{what}: {elapsed:?} (import {t_import:?}, passes and plan {:?})", t_plan - t_import);
    eprintln!("{what}: {elapsed:?} (import {t_import:?}, passes and plan {:?})", t_plan - t_import);
    m.output(0).as_f32().unwrap().to_vec()
}

#[test]
fn a_100k_node_relu_chain_loads_plans_and_runs_in_bounded_time() {
    let proto = chain(100_000, &[1, 8], |_, a, b| vec![node("Relu", &[a], &[b], vec![])]);
    let x: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
    let y = run_bounded("relu chain", &proto, &x);
    assert_eq!(y, x.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
}

#[test]
fn a_100k_node_relu_chain_is_refused_by_max_nodes_when_lower() {
    let proto = chain(100_000, &[1, 8], |_, a, b| vec![node("Relu", &[a], &[b], vec![])]);
    let opts = LoadOptions { limits: Limits { max_nodes: 50_000, ..Limits::default() }, ..LoadOptions::default() };
    let e = limit_error(from_proto(&proto, &opts, None));
    assert!(e.contains("100000 nodes") && e.contains("max_nodes"), "{e}");
}

#[test]
fn long_chains_of_every_rewritten_pattern_stay_near_linear() {
    // Transposes back and forth (composed and cancelled by the simplifier and the sinker).
    let proto =
        chain(40_000, &[1, 4, 4], |_, a, b| vec![node("Transpose", &[a], &[b], vec![ints("perm", &[0, 2, 1])])]);
    let x: Vec<f32> = (0..16).map(|i| i as f32).collect();
    assert_eq!(run_bounded("transpose chain", &proto, &x), x);

    // Reshapes (merged pairwise) alternating with clips (merged into each other).
    let shape = i64_tensor("s", &[2], &[4, 2]);
    let back = i64_tensor("b", &[2], &[1, 8]);
    let mut p = chain(40_000, &[1, 8], |i, a, b| {
        if i % 2 == 0 {
            vec![node("Reshape", &[a, "s"], &[b], vec![])]
        } else {
            vec![node("Reshape", &[a, "b"], &[b], vec![])]
        }
    });
    p.graph.as_mut().unwrap().initializer = vec![shape, back];
    let x: Vec<f32> = (0..8).map(|i| i as f32).collect();
    assert_eq!(run_bounded("reshape chain", &p, &x), x);

    // 1x1 convolutions each followed by a per-channel multiply (folded into the
    // convolution) and a ReLU (fused into it): 3 x 15k nodes.
    let n = 15_000;
    let mut nodes = Vec::new();
    let mut prev = "x".to_string();
    for i in 0..n {
        let (c, m, r) = (format!("c{i}"), format!("m{i}"), if i + 1 == n { "y".into() } else { format!("r{i}") });
        nodes.push(node("Conv", &[&prev, "w", "bias"], &[&c], vec![]));
        nodes.push(node("Mul", &[&c, "k"], &[&m], vec![]));
        nodes.push(node("Relu", &[&m], &[&r], vec![]));
        prev = r;
    }
    let inits = vec![
        f32_tensor("w", &[2, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0]),
        f32_tensor("bias", &[2], &[0.0, 0.0]),
        f32_tensor("k", &[1, 2, 1, 1], &[1.0, 1.0]),
    ];
    let p =
        model(nodes, vec![value_info("x", FLOAT, &[1, 2, 1, 1])], vec![value_info("y", FLOAT, &[1, 2, 1, 1])], inits);
    assert_eq!(run_bounded("conv-mul-relu chain", &p, &[-1.0, 2.0]), vec![0.0, 2.0]);

    // Many readers of one value (the importer's producer look-ups, the arena placement).
    let p = fan_out(20_000, true);
    assert_eq!(run_bounded("fan-out", &p, &[0.5]), vec![0.25 * 20_000.0]);
}

/// `p_i = x·x` for `i < n`, summed by a chain of adds; `interleave` lists each add right
/// after its product (few values alive at once), otherwise all products come first (all
/// alive at once, the worst case of the arena placement).
fn fan_out(n: usize, interleave: bool) -> ModelProto {
    let mut nodes = Vec::new();
    let mut adds = Vec::new();
    let mut acc = "p0".to_string();
    for i in 0..n {
        nodes.push(node("MatMul", &["x", "x"], &[&format!("p{i}")], vec![]));
        if i > 0 {
            let out = if i + 1 == n { "y".to_string() } else { format!("s{i}") };
            let add = node("Add", &[&acc, &format!("p{i}")], &[&out], vec![]);
            if interleave {
                nodes.push(add);
            } else {
                adds.push(add);
            }
            acc = out;
        }
    }
    nodes.extend(adds);
    model(nodes, vec![value_info("x", FLOAT, &[1, 1])], vec![value_info("y", FLOAT, &[1, 1])], vec![])
}

#[test]
fn tens_of_thousands_of_tensors_alive_at_once_plan_in_bounded_time() {
    let p = fan_out(20_000, false);
    assert_eq!(run_bounded("wide liveness", &p, &[0.5]), vec![0.25 * 20_000.0]);
}

#[test]
fn cycles_are_detected_iteratively_even_when_long() {
    // y reads the chain's end, the chain's start reads y: a 100k-node cycle.
    let mut proto = chain(100_000, &[1, 8], |_, a, b| vec![node("Relu", &[a], &[b], vec![])]);
    let g = proto.graph.as_mut().unwrap();
    g.node[0].input[0] = "y".into();
    let e = from_proto(&proto, &LoadOptions::default(), None).unwrap_err().to_string();
    assert!(e.contains("cycle"), "{e}");
}

fn tiny_relu() -> ModelProto {
    chain(1, &[1, 3, 8, 8], |_, a, b| vec![node("Relu", &[a], &[b], vec![])])
}

fn with_limits(limits: Limits) -> LoadOptions {
    LoadOptions { limits, ..LoadOptions::default() }
}

#[test]
fn file_size_is_checked_before_reading() {
    let e = limit_error(load_bytes(&[0u8; 4096], &with_limits(Limits { max_file_bytes: 1024, ..Limits::default() })));
    assert!(e.contains("4096 bytes") && e.contains("max_file_bytes"), "{e}");
}

#[test]
fn single_tensor_total_constant_and_total_declared_bytes_are_limited() {
    let x = value_info("x", FLOAT, &[1, 256]);
    let y = value_info("y", FLOAT, &[1, 256]);
    // One 1 KiB initializer.
    let one = |name: &str| f32_tensor(name, &[1, 256], &[0.5; 256]);
    let p = model(vec![node("Add", &["x", "a"], &["y"], vec![])], vec![x.clone()], vec![y.clone()], vec![one("a")]);
    let e = limit_error(from_proto(&p, &with_limits(Limits { max_tensor_bytes: 1000, ..Limits::default() }), None));
    assert!(e.contains("max_tensor_bytes"), "{e}");

    let nodes = vec![node("Add", &["x", "a"], &["t"], vec![]), node("Add", &["t", "b"], &["y"], vec![])];
    let p = model(nodes, vec![x.clone()], vec![y.clone()], vec![one("a"), one("b")]);
    let e =
        limit_error(from_proto(&p, &with_limits(Limits { max_total_const_bytes: 1500, ..Limits::default() }), None));
    assert!(e.contains("max_total_const_bytes"), "{e}");

    // x, a, b, t, y: 5 KiB declared; 4 KiB allowed.
    let e =
        limit_error(from_proto(&p, &with_limits(Limits { max_total_tensor_bytes: 4096, ..Limits::default() }), None));
    assert!(e.contains("max_total_tensor_bytes"), "{e}");
    assert!(from_proto(&p, &with_limits(Limits { max_total_tensor_bytes: 5120, ..Limits::default() }), None).is_ok());
}

#[test]
fn a_long_chain_of_large_activations_is_refused_by_the_total_declared_bytes() {
    // 10k ReLUs on a 1x3x192x192 image: 15 GB declared, refused at import by the default.
    let proto = chain(10_000, &[1, 3, 192, 192], |_, a, b| vec![node("Relu", &[a], &[b], vec![])]);
    let t0 = Instant::now();
    let e = limit_error(from_proto(&proto, &LoadOptions::default(), None));
    assert!(e.contains("max_total_tensor_bytes"), "{e}");
    assert!(t0.elapsed() < BOUND);
}

#[test]
fn rank_is_limited() {
    let p = chain(1, &[1; 9], |_, a, b| vec![node("Relu", &[a], &[b], vec![])]);
    let e = limit_error(from_proto(&p, &LoadOptions::default(), None));
    assert!(e.contains("max_rank"), "{e}");
}

#[test]
fn work_per_run_is_limited_before_the_arena_is_allocated() {
    // A 64x64 by 64x64 matrix product: 262144 multiply-accumulates.
    let p = model(
        vec![node("MatMul", &["x", "x"], &["y"], vec![])],
        vec![value_info("x", FLOAT, &[64, 64])],
        vec![value_info("y", FLOAT, &[64, 64])],
        vec![],
    );
    let g = from_proto(&p, &LoadOptions::default(), None).unwrap();
    let mut opts = ModelOptions::default();
    opts.load.limits.max_macs = 100_000;
    let e = limit_error(Model::from_graph(g.clone(), &opts));
    assert!(e.contains("262144") && e.contains("max_macs"), "{e}");
    opts.load.limits.max_macs = 262_144;
    assert!(Model::from_graph(g, &opts).is_ok());
}

#[test]
fn the_activation_arena_is_limited() {
    let g = from_proto(&tiny_relu(), &LoadOptions::default(), None).unwrap();
    let opts =
        ModelOptions { plan: PlanOptions { max_arena_bytes: 1024, ..PlanOptions::default() }, ..Default::default() };
    let e = limit_error(Model::from_graph(g, &opts));
    assert!(e.contains("arena") && e.contains("1024"), "{e}");
}

#[test]
fn initializers_are_checked_against_their_declared_dims() {
    let x = value_info("x", FLOAT, &[1, 4]);
    let y = value_info("y", FLOAT, &[1, 4]);
    let add = || vec![node("Add", &["x", "a"], &["y"], vec![])];
    // Too few float values for the dims.
    let short = f32_tensor("a", &[1, 4], &[1.0, 2.0]);
    let e = from_proto(&model(add(), vec![x.clone()], vec![y.clone()], vec![short]), &LoadOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tensor 'a'") && e.contains("2 values"), "{e}");
    // Raw bytes longer than the dims.
    let mut long = f32_tensor("a", &[1, 4], &[]);
    long.raw_data = vec![0u8; 20];
    let e = from_proto(&model(add(), vec![x.clone()], vec![y.clone()], vec![long]), &LoadOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tensor 'a'") && e.contains("20 bytes of raw data"), "{e}");
    // Dims whose product overflows: refused before anything is allocated.
    let huge = f32_tensor("a", &[1 << 40, 1 << 40], &[]);
    let e =
        from_proto(&model(add(), vec![x], vec![y], vec![huge]), &LoadOptions::default(), None).unwrap_err().to_string();
    assert!(e.contains("tensor 'a'") && e.contains("limit"), "{e}");
}
