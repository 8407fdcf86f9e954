//! `qpose bench MODEL [--runs N] [--warmup N] [--json] [--profile]`: latency percentiles of
//! `Model::run`, and with `--profile` the time, MACs and GMAC/s of every step.
//!
//! Single-threaded like every qpose run; pin it (`taskset -c 1`) for stable numbers. Only the
//! run itself is timed: the timer reads and the sample store (preallocated) sit outside it, and
//! `Model::run` does not allocate. Absolute times depend on the machine and its load: compare
//! runtimes in one run on one machine (`benches/compare_peers.py`).

use super::ModelArgs;
use crate::tensor::npy;
use crate::{Error, Model, Result};
use std::path::PathBuf;
use std::time::Instant;

/// Latency percentiles of a model's run (--profile: time, MACs and GMAC/s per step).
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    model: PathBuf,
    /// Timed runs.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, default_value_t = 30)]
    warmup: usize,
    /// An input as .npy, optionally named: `[NAME=]FILE.npy` (in model order when unnamed).
    /// Inputs not given are filled with a fixed pseudo-random pattern in [-2, 2).
    #[arg(long = "input", short = 'i')]
    inputs: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also time every step (another `--runs` runs, after the latency runs): median time,
    /// MACs, GMAC/s and kernel per step.
    #[arg(long)]
    profile: bool,
    #[command(flatten)]
    model_args: ModelArgs,
}

/// Latency summary of a set of runs, in milliseconds.
struct Stats {
    min: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Stats {
    /// Nearest-rank percentiles of `samples` (sorted in place). `samples` is not empty.
    fn of(samples: &mut [f64]) -> Stats {
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let rank = |p: f64| samples[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        Stats {
            min: samples[0],
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: samples[n - 1],
            mean: samples.iter().sum::<f64>() / n as f64,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "min": self.min, "p50": self.p50, "p90": self.p90, "p99": self.p99,
            "max": self.max, "mean": self.mean,
        })
    }
}

/// One step's profile.
struct StepProfile {
    index: usize,
    op: &'static str,
    node: String,
    kernel: String,
    macs: u64,
    shape: Vec<usize>,
    /// Median time over the profiled runs, ms.
    ms: f64,
}

impl StepProfile {
    fn gmacs(&self) -> f64 {
        if self.ms > 0.0 {
            self.macs as f64 / (self.ms * 1e-3) / 1e9
        } else {
            0.0
        }
    }
}

pub fn run(a: Args) -> Result<()> {
    if a.runs == 0 {
        return Err(Error::Config("--runs must be at least 1".into()));
    }
    let opts = a.model_args.options()?;
    let isa = opts.plan.isa.name();
    let mut model = Model::load(&a.model, &opts)?;
    let (inputs, sources) = load_inputs(&model, &a.inputs)?;
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();

    for _ in 0..a.warmup {
        model.run(&refs)?;
    }
    let mut samples = Vec::with_capacity(a.runs);
    for _ in 0..a.runs {
        let t = Instant::now();
        model.run(&refs)?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let raw = samples.clone();
    let stats = Stats::of(&mut samples);
    let macs: u64 = model.plan().steps.iter().map(|s| s.macs).sum();

    let profile = if a.profile { Some(profile(&mut model, &inputs, a.runs)) } else { None };

    if a.json {
        let mut j = serde_json::json!({
            "model": a.model.display().to_string(),
            "inputs": sources,
            "isa": isa,
            "runs": a.runs,
            "warmup": a.warmup,
            "steps": model.plan().steps.len(),
            "macs": macs,
            "ms": stats.json(),
            "gmacs_per_s_p50": macs as f64 / (stats.p50 * 1e-3) / 1e9,
            "samples_ms": raw,
        });
        if let Some(p) = &profile {
            j["profile"] = p
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "index": s.index, "op": s.op, "node": s.node, "kernel": s.kernel,
                        "macs": s.macs, "shape": s.shape, "ms_p50": s.ms, "gmacs_per_s": s.gmacs(),
                    })
                })
                .collect();
        }
        println!("{}", serde_json::to_string(&j).unwrap_or_default());
        return Ok(());
    }

    println!("model: {}", a.model.display());
    for s in &sources {
        println!("input: {s}");
    }
    println!("isa: {isa}, steps: {}, MACs: {} ({:.3} GMAC)", model.plan().steps.len(), macs, macs as f64 / 1e9);
    println!("runs: {} timed after {} warm-up", a.runs, a.warmup);
    println!(
        "latency ms: min {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
        stats.min, stats.p50, stats.p90, stats.p99, stats.max, stats.mean
    );
    println!("throughput at p50: {:.2} GMAC/s", macs as f64 / (stats.p50 * 1e-3) / 1e9);
    if let Some(p) = &profile {
        print_profile(p);
    }
    Ok(())
}

/// Times every step over `runs` runs and returns each step's median.
fn profile(model: &mut Model, inputs: &[Vec<f32>], runs: usize) -> Vec<StepProfile> {
    let n_steps = model.plan().steps.len();
    // times[step * runs + run], preallocated: nothing is allocated between the timer reads.
    let mut times = vec![0f64; n_steps * runs];
    for r in 0..runs {
        for (i, x) in inputs.iter().enumerate() {
            model.set_input_bytes(i, bytemuck::cast_slice(x)).expect("inputs were checked against the model");
        }
        let mut step = 0;
        let mut t = Instant::now();
        model.run_steps_visiting(|_, _| {
            let now = Instant::now();
            times[step * runs + r] = (now - t).as_secs_f64() * 1e3;
            step += 1;
            t = Instant::now();
        });
    }
    model
        .plan()
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut v = times[i * runs..(i + 1) * runs].to_vec();
            StepProfile {
                index: i,
                op: s.op,
                node: s.node.clone(),
                kernel: s.step.kernel(),
                macs: s.macs,
                shape: s.shape.clone(),
                ms: Stats::of(&mut v).p50,
            }
        })
        .collect()
}

fn print_profile(p: &[StepProfile]) {
    let total: f64 = p.iter().map(|s| s.ms).sum();
    println!();
    println!("per step (median over the profiled runs; sum of medians {total:.3} ms):");
    println!(
        "{:<4} {:<18} {:<44} {:>9} {:>6} {:>12} {:>8}  {:<28} output",
        "#", "op", "kernel", "ms", "%", "MACs", "GMAC/s", "node"
    );
    for s in p {
        println!(
            "{:<4} {:<18} {:<44} {:>9.4} {:>6.2} {:>12} {:>8.2}  {:<28} {:?}",
            s.index,
            s.op,
            s.kernel,
            s.ms,
            100.0 * s.ms / total.max(f64::MIN_POSITIVE),
            s.macs,
            s.gmacs(),
            tail(&s.node, 28),
            s.shape
        );
    }
    // Totals per op, largest first.
    let mut ops: Vec<(&str, usize, f64, u64)> = Vec::new();
    for s in p {
        match ops.iter_mut().find(|o| o.0 == s.op) {
            Some(o) => {
                o.1 += 1;
                o.2 += s.ms;
                o.3 += s.macs;
            }
            None => ops.push((s.op, 1, s.ms, s.macs)),
        }
    }
    ops.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!();
    println!("per op:");
    println!("{:<18} {:>6} {:>9} {:>6} {:>12} {:>8}", "op", "steps", "ms", "%", "MACs", "GMAC/s");
    for (op, n, ms, macs) in ops {
        println!(
            "{:<18} {:>6} {:>9.4} {:>6.2} {:>12} {:>8.2}",
            op,
            n,
            ms,
            100.0 * ms / total.max(f64::MIN_POSITIVE),
            macs,
            if ms > 0.0 { macs as f64 / (ms * 1e-3) / 1e9 } else { 0.0 }
        );
    }
}

fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_string()
    } else {
        let t: String = s.chars().skip(count - (n - 1)).collect();
        format!("…{t}")
    }
}

/// The f32 data of every model input, and where each came from.
fn load_inputs(model: &Model, specs: &[String]) -> Result<(Vec<Vec<f32>>, Vec<String>)> {
    let ports = model.inputs();
    let mut data: Vec<Option<(Vec<f32>, String)>> = vec![None; ports.len()];
    for (k, spec) in specs.iter().enumerate() {
        let (slot, file) = match spec.split_once('=') {
            Some((name, file)) => {
                let i = ports.iter().position(|p| p.name == name).ok_or_else(|| Error::Input {
                    name: name.to_string(),
                    msg: "the model has no such input".into(),
                })?;
                (i, file)
            }
            None => (k, spec.as_str()),
        };
        let port = ports
            .get(slot)
            .ok_or_else(|| Error::invalid(format!("{} inputs given, the model has {}", specs.len(), ports.len())))?;
        let t = npy::read(file.as_ref())?;
        if t.dtype() != crate::tensor::DType::F32 || t.shape() != port.shape.as_slice() {
            return Err(Error::Input {
                name: port.name.clone(),
                msg: format!("{file} is {} {:?}, expected f32 {:?}", t.dtype(), t.shape(), port.shape),
            });
        }
        data[slot] = Some((t.to_f32_vec(), format!("{} = {file}", port.name)));
    }
    let mut inputs = Vec::new();
    let mut sources = Vec::new();
    for (d, p) in data.into_iter().zip(ports) {
        if p.dtype != crate::tensor::DType::F32 {
            return Err(Error::Input {
                name: p.name.clone(),
                msg: format!("qpose bench feeds f32 inputs, this one is {}", p.dtype),
            });
        }
        let (x, src) = d.unwrap_or_else(|| {
            (pattern(p.shape.iter().product()), format!("{} = pseudo-random pattern in [-2, 2)", p.name))
        });
        inputs.push(x);
        sources.push(src);
    }
    Ok((inputs, sources))
}

/// A fixed pseudo-random pattern in [-2, 2) (xorshift), so runs without an input file are
/// reproducible and free of the denormals or zeros a constant input could give.
fn pattern(n: usize) -> Vec<f32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}
