//! `qpose eval MODEL --coco ANN.json --images DIR [--boxes DETS.json] [--json OUT]`: top-down
//! pose estimation over every annotated person (or detected box), COCO AP/AR and PCK.

use std::path::PathBuf;
use std::time::Instant;

use super::common::{load_pose_model, progress_bar, DataArgs};
use super::{ModelArgs, PrecisionArgs};
use crate::eval::coco::CocoStats;
use crate::eval::compare::precision_of;
use crate::eval::topdown::{estimate_set, summarize, EvalSummary, PCK_THRESHOLD};
use crate::eval::write_results;
use crate::pipeline::TopDownPipeline;
use crate::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX pose model.
    model: PathBuf,
    /// Pose config (TOML); default: the sidecar beside the model, else detection.
    #[arg(long, value_name = "CONFIG.toml")]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
    /// Write the COCO keypoint results (after OKS-NMS, what AP is computed on) here.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
    /// Flip test: run every crop mirrored too and merge (mmpose's flip_test).
    #[arg(long)]
    flip: bool,
    #[command(flatten)]
    precision: PrecisionArgs,
    #[command(flatten)]
    model_args: ModelArgs,
}

pub fn run(a: Args) -> Result<()> {
    let set = a.data.eval_set()?;
    let mut opts = a.model_args.options()?;
    a.precision.apply(&mut opts);
    let (mut model, mut config) = load_pose_model(&a.model, &opts, a.config.as_deref(), None)?;
    config.flip_test |= a.flip;
    println!("model: {} ({})", a.model.display(), precision_of(&model));
    println!("data: {}: {}", a.data.coco.display(), set.describe());
    let mut pipeline = TopDownPipeline::new(config.clone())?;
    let bar = progress_bar(set.people(), "eval");
    let start = Instant::now();
    let people = estimate_set(&set, &mut pipeline, &mut model, &mut |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let summary = summarize(&set.gt, &people, &config.keypoints.sigmas)?;
    print!("{}", format_summary(&summary));
    println!(
        "{} people in {seconds:.1} s ({:.1} ms per person, image decoding included{})",
        people.len(),
        1e3 * seconds / people.len().max(1) as f64,
        if config.flip_test { ", flip test" } else { "" }
    );
    if let Some(path) = &a.json {
        write_results(path, &summary.results)?;
        println!("{} results -> {}", summary.results.len(), path.display());
    }
    Ok(())
}

/// The ten COCO stats, PCK and the NMS count, one per line.
pub fn format_summary(s: &EvalSummary) -> String {
    let mut out = String::new();
    for (name, v) in CocoStats::NAMES.iter().zip(s.stats.to_array()) {
        out.push_str(&format!("{name:<10} {v:.4}\n"));
    }
    match &s.pck {
        Some(p) => out.push_str(&format!("{:<10} {:.4} (bbox-normalised)\n", format!("PCK@{PCK_THRESHOLD}"), p.mean)),
        None => out.push_str(&format!("{:<10} n/a (needs ground-truth boxes)\n", format!("PCK@{PCK_THRESHOLD}"))),
    }
    out.push_str(&format!("{} of {} people kept after OKS-NMS\n", s.results.len(), s.people));
    out
}
