//! `qpose inspect MODEL`: inputs and outputs, op histogram, parameters, MACs per layer, the
//! kernel each step runs, and the arena size.

use super::ModelArgs;
use crate::{Model, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    model: PathBuf,
    /// Also list every step with its kernel and MACs.
    #[arg(long)]
    layers: bool,
    #[command(flatten)]
    model_args: ModelArgs,
}

pub fn run(a: Args) -> Result<()> {
    let imported = crate::onnx::load(&a.model, &a.model_args.options()?.load)?;
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &imported.nodes {
        *histogram.entry(n.op.name()).or_default() += 1;
    }
    let params: usize = imported.values.iter().filter_map(|v| v.constant.as_ref()).map(|t| t.len()).sum();
    let model = Model::load(&a.model, &a.model_args.options()?)?;
    println!("model: {}", a.model.display());
    println!("opset: {}", imported.opset);
    for p in model.inputs() {
        println!("input  {} {} {:?}", p.name, p.dtype, p.shape);
    }
    for p in model.outputs() {
        println!("output {} {} {:?}", p.name, p.dtype, p.shape);
    }
    println!("parameters: {params}");
    println!("imported ops: {}", histogram.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let total: u64 = model.plan().steps.iter().map(|s| s.macs).sum();
    println!("steps: {}, MACs: {} ({:.3} GMAC)", model.plan().steps.len(), total, total as f64 / 1e9);
    println!("arena: {} bytes, constants read at run time: {} bytes", model.arena_bytes(), model.plan().consts.len());
    if a.layers {
        println!("{:<4} {:<16} {:<40} {:<44} {:>12} {}", "#", "op", "node", "kernel", "MACs", "output");
        for (i, s) in model.plan().steps.iter().enumerate() {
            let tensor = s.origin.as_ref().map_or(s.node.as_str(), |o| o.name.as_str());
            println!(
                "{:<4} {:<16} {:<40} {:<44} {:>12} {} {:?}",
                i,
                s.op,
                truncate(tensor, 40),
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
