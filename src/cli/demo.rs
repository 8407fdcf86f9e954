//! `qpose demo [--out DIR]`: the bundled BlazePose-full on the bundled COCO-mini-dev images,
//! fp32 against int8 — the comparison table on the console, the report and annotated images
//! in `DIR`. Nothing to download.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::common::{command_line, eval_set};
use super::compare::{run_comparison, Side, Sides};
use crate::eval::compare::CompareOptions;
use crate::{Error, ModelOptions, Result};

/// The bundled files, relative to the repository root.
const FP32_MODEL: &str = "models/blazepose/pose_landmark_full.onnx";
const ORT_INT8_MODEL: &str = "models/blazepose/pose_landmark_full.int8.onnx";
const ANNOTATIONS: &str = "tests/data/coco-mini-dev/person_keypoints.json";
const IMAGES: &str = "tests/data/coco-mini-dev/images";

/// Where the demo's int8 model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Int8Source {
    /// qpose calibrates the fp32 model itself (`qpose calibrate --bias-correct` on the
    /// even-numbered images: MinMax ranges, clip-aware residual ranges, DFQ bias correction).
    Calibrated,
    /// `pose_landmark_full.int8.onnx`: onnxruntime's `quantize_static` export (MinMax PTQ),
    /// bundled with the model.
    Onnxruntime,
}

#[derive(clap::Args)]
pub struct Args {
    /// Directory for report.md and the figures.
    #[arg(long, value_name = "DIR", default_value = "qpose-demo")]
    out: PathBuf,
    /// The qpose repository (where models/ and tests/data/ are); default: the current
    /// directory if it has them, else the source tree qpose was built from.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Only the first N images (default: all 80).
    #[arg(long, value_name = "N")]
    max_images: Option<usize>,
    /// The int8 model: calibrated by qpose, or onnxruntime's bundled QDQ export.
    #[arg(long, value_enum, default_value = "calibrated")]
    int8: Int8Source,
    /// Timed runs per model for the latency (median).
    #[arg(long, value_name = "N", default_value_t = 20)]
    runs: usize,
}

/// The repository root holding the bundled model and images.
fn find_root(explicit: Option<&Path>) -> Result<PathBuf> {
    let has_files = |r: &Path| r.join(FP32_MODEL).is_file() && r.join(ANNOTATIONS).is_file();
    if let Some(r) = explicit {
        return if has_files(r) {
            Ok(r.to_path_buf())
        } else {
            Err(Error::invalid(format!("--root {}: no {FP32_MODEL} and {ANNOTATIONS} there", r.display())))
        };
    }
    let candidates = [PathBuf::from("."), PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    candidates.into_iter().find(|r| has_files(r)).ok_or_else(|| {
        Error::invalid(format!(
            "cannot find the bundled model ({FP32_MODEL}) and images ({ANNOTATIONS}): run from the qpose repository \
             or pass --root"
        ))
    })
}

/// The int8 model for `source`, and a sentence saying where it came from.
pub fn int8_model(source: Int8Source, root: &Path, fp32: &Path, out: &Path) -> Result<(PathBuf, String)> {
    match source {
        Int8Source::Onnxruntime => Ok((
            root.join(ORT_INT8_MODEL),
            format!(
                "int8 model: {ORT_INT8_MODEL}, onnxruntime's quantize_static export (MinMax post-training \
                 quantization), bundled. Plain MinMax PTQ is known to collapse on this model \
                 (models/blazepose/README.md); `qpose demo` without --int8 calibrates with qpose instead."
            ),
        )),
        Int8Source::Calibrated => {
            use crate::calibrate::{calibrate_net, load_for_calibration, CalibrateOptions, Source, Split};
            let start = Instant::now();
            let source = Source::Coco { annotations: root.join(ANNOTATIONS), images: root.join(IMAGES) };
            let (net, config, set) = load_for_calibration(fp32, &source, Split::Even, None, |_, _| {})?;
            println!(
                "calibrating the fp32 model on {} person crops of the even-numbered images ...",
                set.samples.len()
            );
            let opts = CalibrateOptions { bias_correct: true, progress: false, ..CalibrateOptions::default() };
            let calibrated = calibrate_net(net, Some(&config), &set, &opts)?;
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
            let path = out.join("pose_landmark_full.qpose-int8.onnx");
            calibrated.write(&path)?;
            Ok((
                path,
                format!(
                    "int8 model: calibrated by qpose in {:.1} s (`qpose calibrate --bias-correct --split even`: MinMax \
                     ranges, clip-aware residual ranges, DFQ bias correction; 100 % of MACs in int8) on the {} crops \
                     of the even-numbered images; the evaluation covers all images, so half of them were seen in \
                     calibration (`qpose calibrate --eval` reports the held-out half).",
                    start.elapsed().as_secs_f64(),
                    set.samples.len()
                ),
            ))
        }
    }
}

pub fn run(a: Args) -> Result<()> {
    let start = Instant::now();
    let root = find_root(a.root.as_deref())?;
    let fp32 = root.join(FP32_MODEL);
    println!("qpose demo: BlazePose-full landmark model, fp32 vs int8, on COCO-mini-dev (ground-truth boxes)");
    let set = eval_set(&root.join(ANNOTATIONS), &root.join(IMAGES), None, 0.0, true, a.max_images)?;
    let (int8, provenance) = int8_model(a.int8, &root, &fp32, &a.out)?;
    let mut notes = vec![provenance];
    if cfg!(debug_assertions) {
        notes.push("debug build: latency numbers are not representative (use --release)".into());
    }
    let opts = CompareOptions {
        title: "qpose demo: BlazePose-full fp32 vs int8 on COCO-mini-dev".into(),
        command: command_line(),
        latency_runs: a.runs,
        notes,
        ..CompareOptions::default()
    };
    let sides = Sides {
        a: Side { label: "fp32", path: &fp32, opts: ModelOptions::default(), name_suffix: "" },
        b: Side { label: "int8", path: &int8, opts: ModelOptions::default(), name_suffix: "" },
    };
    run_comparison(&set, &sides, None, false, &opts, &a.out)?;
    println!("demo done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
