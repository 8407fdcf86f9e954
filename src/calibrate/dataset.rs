//! Calibration inputs: real person crops prepared exactly as inference prepares them
//! ([`crate::pipeline::preprocess`] with the model's config: size, layout, normalisation,
//! crop protocol).
//!
//! * COCO annotations (`--coco ANN --images DIR`): every non-crowd person with at least one
//!   labelled keypoint, images in annotation order, ground-truth boxes clipped to the image
//!   as mmpose clips them.
//! * A folder of images (`--images DIR` alone): each `.jpg` / `.jpeg` / `.png` file in name
//!   order, the **whole image** as the person box (no detector is involved, so nothing is
//!   guessed: crops of single-person photos are what this suits).

use crate::eval::CocoDataset;
use crate::pipeline::{load_rgb, preprocess, BBox, CropBox, ModelConfig};
use crate::{bail, Error, Result};
use std::path::{Path, PathBuf};

/// Where calibration images come from.
#[derive(Clone, Debug)]
pub enum Source {
    Coco { annotations: PathBuf, images: PathBuf },
    Images { dir: PathBuf },
}

/// Which people of the source to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    #[default]
    All,
    /// The people of images 0, 2, 4, … (in source order).
    Even,
    /// The people of images 1, 3, 5, …
    Odd,
}

/// One prepared crop.
#[derive(Clone, Debug)]
pub struct Sample {
    /// COCO image id (the file's index for `--images`).
    pub image_id: u64,
    pub file: PathBuf,
    pub bbox: BBox,
    pub crop: CropBox,
    /// The network input, `config.input.len()` floats.
    pub input: Vec<f32>,
}

/// The prepared crops.
#[derive(Clone, Debug, Default)]
pub struct CalibrationSet {
    pub samples: Vec<Sample>,
    /// The COCO annotations when the source has them (for evaluation).
    pub coco: Option<CocoDataset>,
}

/// One person to crop.
struct Person {
    /// Index of the image in the source (splits are by image, so that a held-out split
    /// never shares an image with the calibration split).
    image_index: usize,
    image_id: u64,
    file: PathBuf,
    bbox: Option<BBox>,
}

fn people(source: &Source) -> Result<(Vec<Person>, Option<CocoDataset>)> {
    match source {
        Source::Coco { annotations, images } => {
            let ds = CocoDataset::load(annotations)?;
            let mut out = Vec::new();
            for (ii, img) in ds.images.iter().enumerate() {
                for a in ds.people_with_keypoints(img.id) {
                    let b = a.person_box().clipped_to_image(img.width, img.height);
                    out.push(Person {
                        image_index: ii,
                        image_id: img.id,
                        file: images.join(&img.file_name),
                        bbox: Some(b),
                    });
                }
            }
            if out.is_empty() {
                bail!("{}: no person with labelled keypoints", annotations.display());
            }
            Ok((out, Some(ds)))
        }
        Source::Images { dir } => {
            let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("{}: no .jpg, .jpeg or .png image", dir.display());
            }
            Ok((
                files
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| Person { image_index: i, image_id: i as u64, file: f, bbox: None })
                    .collect(),
                None,
            ))
        }
    }
}

/// Loads and prepares up to `max` people of `split` (evenly spaced over the source when
/// `max` is smaller than what there is; deterministic). `progress` is told after each crop.
pub fn load(
    config: &ModelConfig,
    source: &Source,
    split: Split,
    max: Option<usize>,
    mut progress: impl FnMut(usize, usize),
) -> Result<CalibrationSet> {
    let (all, coco) = people(source)?;
    let chosen: Vec<&Person> = all
        .iter()
        .filter(|p| match split {
            Split::All => true,
            Split::Even => p.image_index % 2 == 0,
            Split::Odd => p.image_index % 2 == 1,
        })
        .collect();
    let n = max.map_or(chosen.len(), |m| m.min(chosen.len()));
    if n == 0 {
        bail!("no calibration sample selected (--samples 0, or an empty split)");
    }
    let picks: Vec<&Person> = (0..n).map(|i| chosen[i * chosen.len() / n]).collect();
    let mut samples = Vec::with_capacity(n);
    let mut cache: Option<(PathBuf, image::RgbImage)> = None;
    for (i, p) in picks.iter().enumerate() {
        if cache.as_ref().map(|c| &c.0) != Some(&p.file) {
            cache = Some((p.file.clone(), load_rgb(&p.file)?));
        }
        let img = &cache.as_ref().expect("image").1;
        let bbox = p.bbox.unwrap_or_else(|| BBox::new(0.0, 0.0, img.width() as f32, img.height() as f32, 1.0));
        let mut input = vec![0f32; config.input.len()];
        let crop = preprocess(config, img, &bbox, &mut input)?;
        samples.push(Sample { image_id: p.image_id, file: p.file.clone(), bbox, crop, input });
        progress(i + 1, n);
    }
    Ok(CalibrationSet { samples, coco })
}

impl CalibrationSet {
    /// Evenly spaced subset of at most `n` samples (deterministic).
    pub fn subset(&self, n: usize) -> Vec<&Sample> {
        let len = self.samples.len();
        let n = n.min(len);
        (0..n).map(|i| &self.samples[i * len / n.max(1)]).collect()
    }
}

/// The model config (sidecar TOML beside the model, or detection) for a model at `path`
/// whose input and outputs have these shapes.
pub fn model_config(path: &Path, input: (&str, &[usize]), outputs: &[(String, Vec<usize>)]) -> Result<ModelConfig> {
    let spec = crate::heads::TensorSpec::new(input.0, input.1);
    let outs: Vec<crate::heads::TensorSpec> =
        outputs.iter().map(|(n, s)| crate::heads::TensorSpec::new(n, s)).collect();
    ModelConfig::for_model(path, &spec, &outs)
}
