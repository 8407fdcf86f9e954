//! `qpose inspect MODEL`: inputs and outputs, op histogram, parameters, MACs per layer, the
//! kernel each step runs, and the arena size.

use super::ModelArgs;
use crate::{Model, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The model (ONNX, or planned .qpose).
    model: PathBuf,
    /// Also list every step with its kernel and MACs.
    #[arg(long)]
    layers: bool,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    precision: super::PrecisionArgs,
}

/// Whether a step computes in int8 (8-bit inputs and integer or emulated-exact kernels).
fn is_int8(op: &str) -> bool {
    matches!(op, "QConv" | "QConvTranspose" | "QDense" | "QEmulated")
}

pub fn run(a: Args) -> Result<()> {
    let mut opts = a.model_args.options()?;
    a.precision.apply(&mut opts);
    let model = Model::load(&a.model, &opts)?;
    // An ONNX model's ops and parameters as imported; a planned model's as it was planned.
    let (what, imported) = if crate::planned::is_planned(&a.model)? {
        ("planned", None)
    } else {
        ("imported", Some(crate::onnx::load(&a.model, &opts.load)?))
    };
    let imported = imported.as_ref().unwrap_or(model.graph());
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &imported.nodes {
        *histogram.entry(n.op.name()).or_default() += 1;
    }
    let params: usize = imported.values.iter().filter_map(|v| v.constant.as_ref()).map(|t| t.len()).sum();
    println!("model: {}", a.model.display());
    println!("opset: {}", imported.opset);
    for p in model.inputs() {
        println!("input  {} {} {:?}", p.name, p.dtype, p.shape);
    }
    for p in model.outputs() {
        println!("output {} {} {:?}", p.name, p.dtype, p.shape);
    }
    println!("parameters: {params}");
    println!("{what} ops: {}", histogram.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let steps = &model.plan().steps;
    let total: u64 = steps.iter().map(|s| s.macs).sum();
    let int8_macs: u64 = steps.iter().filter(|s| is_int8(s.op)).map(|s| s.macs).sum();
    println!("steps: {}, MACs: {} ({:.3} GMAC)", steps.len(), total, total as f64 / 1e9);
    println!(
        "int8: {} of {} steps, {:.1}% of MACs ({} float layers with MACs)",
        steps.iter().filter(|s| is_int8(s.op)).count(),
        steps.len(),
        if total > 0 { 100.0 * int8_macs as f64 / total as f64 } else { 0.0 },
        steps.iter().filter(|s| s.macs > 0 && !is_int8(s.op)).count()
    );
    let available: Vec<_> = crate::kernels::isa::Isa::available().iter().map(|i| i.name()).collect();
    // Each layer's kernel (`--layers`) names the variant it runs: a layer the chosen ISA's
    // kernel cannot take (say, weights beyond s8 for neondot) runs a lesser one.
    println!("kernel ISA: {} (this CPU: {})", opts.plan.isa.name(), available.join(", "));
    println!("arena: {} bytes, constants read at run time: {} bytes", model.arena_bytes(), model.plan().consts.len());
    if a.layers {
        println!(
            "{:<4} {:<5} {:<16} {:<40} {:<44} {:>12} {}",
            "#", "prec", "op", "node (for --keep-float)", "kernel", "MACs", "output"
        );
        for (i, s) in model.plan().steps.iter().enumerate() {
            println!(
                "{:<4} {:<5} {:<16} {:<40} {:<44} {:>12} {} {:?}",
                i,
                if is_int8(s.op) { "int8" } else { "float" },
                s.op,
                truncate(&s.node, 40),
                s.step.kernel(),
                s.macs,
                s.dtype,
                s.shape
            );
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let tail: String = s.chars().rev().take(n - 1).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{tail}")
    }
}
