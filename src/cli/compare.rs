//! `qpose compare FP32 INT8 --coco ANN.json --images DIR [--out DIR]`, or
//! `qpose compare QDQ --int8-vs-float ...`: accuracy of both, keypoint displacement,
//! per-layer SQNR, latency, and a markdown report with figures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::common::{command_line, load_pose_model, progress_bar, DataArgs};
use super::ModelArgs;
use crate::eval::compare::{compare, write_report, CompareOptions, Comparison, Contender};
use crate::eval::topdown::EvalSet;
use crate::{Error, Model, ModelOptions, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The reference model (fp32), or with --int8-vs-float the one QDQ model.
    a: PathBuf,
    /// The int8 model (QDQ ONNX).
    b: Option<PathBuf>,
    /// Compare one QDQ model's float reference path (A) with its int8 path.
    #[arg(long, visible_alias = "int8")]
    int8_vs_float: bool,
    #[command(flatten)]
    data: DataArgs,
    /// Pose config (TOML) for both models; default: each model's sidecar (the int8 model
    /// falls back to the fp32 model's), else detection.
    #[arg(long, value_name = "CONFIG.toml")]
    config: Option<PathBuf>,
    /// Directory for report.md and the figures.
    #[arg(long, value_name = "DIR", default_value = "qpose-compare")]
    out: PathBuf,
    /// Timed runs per model for the latency (median).
    #[arg(long, value_name = "N", default_value_t = 20)]
    runs: usize,
    /// Crops the per-layer SQNR is measured on.
    #[arg(long, value_name = "N", default_value_t = 4)]
    sqnr_crops: usize,
    /// Images drawn with both models' keypoints.
    #[arg(long, value_name = "N", default_value_t = 4)]
    figures: usize,
    /// Flip test for both models.
    #[arg(long)]
    flip: bool,
    /// Keep these nodes of the int8 model in float (node or output tensor names).
    #[arg(long = "keep-float", value_delimiter = ',', value_name = "NODE,...")]
    keep_float: Vec<String>,
    #[command(flatten)]
    model_args: ModelArgs,
}

pub fn run(a: Args) -> Result<()> {
    let set = a.data.eval_set()?;
    let base = a.model_args.options()?;
    let (a_path, b_path, a_label, b_label) = match (&a.b, a.int8_vs_float) {
        (Some(b), false) => (a.a.clone(), b.clone(), "fp32", "int8"),
        (None, true) => (a.a.clone(), a.a.clone(), "float path", "int8"),
        (Some(_), true) => {
            return Err(Error::Config("--int8-vs-float compares one model with itself: give one model, not two".into()))
        }
        (None, false) => {
            return Err(Error::Config("give two models (fp32 and int8), or one QDQ model with --int8-vs-float".into()))
        }
    };
    let mut a_opts = base.clone();
    a_opts.passes.int8 = !a.int8_vs_float;
    let mut b_opts = base;
    b_opts.passes.keep_float.extend(a.keep_float.iter().cloned());
    let opts = CompareOptions {
        sqnr_crops: a.sqnr_crops,
        latency_runs: a.runs,
        figure_images: a.figures,
        title: format!("qpose compare: {a_label} vs {b_label}"),
        command: command_line(),
        notes: Vec::new(),
    };
    let sides = Sides {
        a: Side {
            label: a_label,
            path: &a_path,
            opts: a_opts,
            name_suffix: if a.int8_vs_float { " (--float)" } else { "" },
        },
        b: Side { label: b_label, path: &b_path, opts: b_opts, name_suffix: "" },
    };
    run_comparison(&set, &sides, a.config.as_deref(), a.flip, &opts, &a.out)?;
    Ok(())
}

/// One model to load for a comparison.
pub struct Side<'a> {
    pub label: &'a str,
    pub path: &'a Path,
    pub opts: ModelOptions,
    /// Appended to the path in the report (e.g. " (--float)").
    pub name_suffix: &'a str,
}

pub struct Sides<'a> {
    pub a: Side<'a>,
    pub b: Side<'a>,
}

/// Loads both models, compares them on `set`, prints the table and writes the report into
/// `out`. Shared with `qpose demo`.
pub fn run_comparison(
    set: &EvalSet,
    sides: &Sides<'_>,
    config: Option<&Path>,
    flip: bool,
    opts: &CompareOptions,
    out: &Path,
) -> Result<Comparison> {
    let start = Instant::now();
    let (mut model_a, mut config_a) = load_pose_model(sides.a.path, &sides.a.opts, config, None)?;
    let (mut model_b, mut config_b) = load_pose_model(sides.b.path, &sides.b.opts, config, Some(sides.a.path))?;
    config_a.flip_test |= flip;
    config_b.flip_test |= flip;
    check_int8(&model_b, sides.b.path)?;
    let contender = |s: &Side<'_>, model, config| Contender {
        label: s.label.to_string(),
        name: format!("{}{}", s.path.display(), s.name_suffix),
        model,
        config,
    };
    let a = contender(&sides.a, &mut model_a, config_a);
    let b = contender(&sides.b, &mut model_b, config_b);
    let bar = progress_bar(2 * set.people(), "compare");
    let mut comparison = compare(set, a, b, opts, &mut |n, _| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    let files = write_report(&mut comparison, set, out, opts.figure_images)?;
    print!("{}", comparison.report.table());
    println!(
        "report: {} (+ {} figures) in {:.1} s",
        files[0].display(),
        files.len() - 1,
        start.elapsed().as_secs_f64()
    );
    Ok(comparison)
}

/// The int8 side must run some layers in int8, or the comparison means nothing.
fn check_int8(model: &Model, path: &Path) -> Result<()> {
    let int8 = model.plan().steps.iter().filter(|s| matches!(s.op, "QConv" | "QDense" | "QEmulated")).count();
    if int8 == 0 {
        return Err(Error::Config(format!(
            "{} runs no layer in int8 (not a QDQ model, or every layer kept in float): nothing to compare",
            path.display()
        )));
    }
    Ok(())
}
