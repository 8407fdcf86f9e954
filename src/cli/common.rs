//! Pieces shared by `qpose eval`, `qpose compare` and `qpose demo`: the data-set options,
//! loading a model with its pose config, and the progress bar.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::eval::dataset::CocoDataset;
use crate::eval::topdown::{read_detections, EvalSet};
use crate::pipeline::{config_for_model, ModelConfig};
use crate::{Error, Model, ModelOptions, Result};

/// Where the evaluation data is.
#[derive(clap::Args, Clone, Debug)]
pub struct DataArgs {
    /// COCO person-keypoint annotation file (ground truth).
    #[arg(long, value_name = "ANN.json")]
    pub coco: PathBuf,
    /// Directory holding the images the annotation file names.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    /// Person boxes from a detector (COCO detection results: [{image_id, bbox, score,
    /// category_id}]) instead of the ground-truth boxes.
    #[arg(long, value_name = "DETS.json")]
    pub boxes: Option<PathBuf>,
    /// With --boxes: ignore detections scoring below this.
    #[arg(long, value_name = "SCORE", default_value_t = 0.0, requires = "boxes")]
    pub min_box_score: f64,
    /// Use ground-truth boxes as annotated instead of clipping them to the image (mmpose clips;
    /// BlazePose's reference protocol does not).
    #[arg(long, conflicts_with = "boxes")]
    pub unclipped: bool,
    /// Only the first N images that have people (quick runs).
    #[arg(long, value_name = "N")]
    pub max_images: Option<usize>,
}

impl DataArgs {
    /// The people to evaluate, checked: files exist, the set is not empty.
    pub fn eval_set(&self) -> Result<EvalSet> {
        eval_set(&self.coco, &self.images, self.boxes.as_deref(), self.min_box_score, !self.unclipped, self.max_images)
    }
}

/// See [`DataArgs::eval_set`].
pub fn eval_set(
    coco: &Path,
    images: &Path,
    boxes: Option<&Path>,
    min_box_score: f64,
    clip: bool,
    max_images: Option<usize>,
) -> Result<EvalSet> {
    if !coco.is_file() {
        return Err(Error::invalid(format!("annotation file {} does not exist", coco.display())));
    }
    let gt = CocoDataset::load(coco)?;
    let set = match boxes {
        None => EvalSet::ground_truth(gt, images, clip),
        Some(path) => {
            if !path.is_file() {
                return Err(Error::invalid(format!("detections file {} does not exist", path.display())));
            }
            let dets = read_detections(path)?;
            EvalSet::detections(gt, images, &dets, min_box_score)
        }
    }
    .map_err(|e| Error::Context { context: coco.display().to_string(), source: Box::new(e) })?;
    match max_images {
        Some(0) => Err(Error::Config("--max-images must be at least 1".into())),
        Some(n) => set.first_images(n),
        None => Ok(set),
    }
}

/// Loads and plans a model file, with a clear error when it does not exist.
pub fn load_model(path: &Path, opts: &ModelOptions) -> Result<Model> {
    if !path.is_file() {
        return Err(Error::invalid(format!("model file {} does not exist", path.display())));
    }
    Model::load(path, opts)
}

/// A model and its pose config (explicit file, sidecar, the float model's sidecar, or
/// detection), checked against each other.
pub fn load_pose_model(
    path: &Path,
    opts: &ModelOptions,
    config: Option<&Path>,
    fallback_config_of: Option<&Path>,
) -> Result<(Model, ModelConfig)> {
    if let Some(c) = config {
        if !c.is_file() {
            return Err(Error::invalid(format!("config file {} does not exist", c.display())));
        }
    }
    let model = load_model(path, opts)?;
    let cfg = config_for_model(&model, path, config, fallback_config_of)?;
    Ok((model, cfg))
}

/// A progress bar on stderr over `total` people; hidden when stderr is not a terminal.
pub fn progress_bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} people {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// The command line as typed (for reports).
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 { "qpose".to_string() } else { a };
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect();
    args.join(" ")
}
