//! Measuring a calibrated model against the float one: SQNR of outputs, keypoint
//! displacement in input-crop pixels, and COCO keypoint AP with ground-truth boxes.

use super::dataset::Sample;
use crate::eval::{evaluate_keypoints, CocoDataset, CocoEvalParams, CocoStats, KeypointResult};
use crate::heads::{build_decoder, HeadDecoder, Keypoint, OutputTensor};
use crate::pipeline::{load_rgb, ModelConfig, PoseBackend, TopDownPipeline};
use crate::tensor::Tensor;
use crate::{Model, ModelOptions, Result};
use tract_onnx::pb::ModelProto;

/// `10·log10(Σ r² / Σ (r − t)²)` (infinite when equal).
pub fn sqnr_db(signal: f64, noise: f64) -> f64 {
    if noise <= 0.0 {
        f64::INFINITY
    } else if signal <= 0.0 {
        f64::NEG_INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// Adds `Σ r²` and `Σ (r − t)²` of two slices to `acc`.
pub fn accumulate(acc: &mut (f64, f64), reference: &[f32], test: &[f32]) {
    for (&r, &t) in reference.iter().zip(test) {
        acc.0 += f64::from(r) * f64::from(r);
        acc.1 += (f64::from(r) - f64::from(t)).powi(2);
    }
}

/// Loads a QDQ model from its protobuf, int8 (`int8 = true`) or through the float path.
pub fn load_model(proto: &ModelProto, int8: bool) -> Result<Model> {
    let g = crate::onnx::from_proto(proto, &Default::default(), None)?;
    let mut o = ModelOptions::default();
    o.passes.int8 = int8;
    Model::from_graph(g, &o)
}

/// Runs `model` on one crop and returns its outputs.
pub fn run_outputs(model: &mut Model, input: &[f32]) -> Result<Vec<(String, Tensor)>> {
    model.run(&[input])?;
    (0..model.outputs().len()).map(|i| Ok((model.outputs()[i].name.clone(), model.output(i).to_tensor()?))).collect()
}

/// The outputs that decide the keypoints (head outputs and the score flag), or all.
pub fn head_outputs(config: Option<&ModelConfig>, all: &[(String, Tensor)]) -> Vec<String> {
    match config {
        Some(c) => {
            let mut v: Vec<String> = c.head.output_names().into_iter().map(String::from).collect();
            v.extend(c.score.flag_output.clone());
            v
        }
        None => all.iter().map(|(n, _)| n.clone()).collect(),
    }
}

/// Keypoints in input-crop pixels decoded from one run's outputs.
pub fn decode(decoder: &mut dyn HeadDecoder, outputs: &[(String, Tensor)]) -> Result<Vec<Keypoint>> {
    let views: Vec<OutputTensor> = outputs
        .iter()
        .filter_map(|(n, t)| t.as_slice::<f32>().ok().map(|d| OutputTensor { name: n, shape: t.shape(), data: d }))
        .collect();
    let mut kps = Vec::new();
    decoder.decode(&views, &mut kps)?;
    Ok(kps)
}

/// A decoder for the model's head.
pub fn decoder(config: &ModelConfig) -> Result<Box<dyn HeadDecoder>> {
    build_decoder(&config.head, config.input.size(), config.selection())
}

/// Mean Euclidean distance between keypoint lists.
pub fn mean_distance(a: &[Keypoint], b: &[Keypoint]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).map(|(p, q)| f64::from(p.x - q.x).hypot(f64::from(p.y - q.y))).sum::<f64>() / a.len() as f64
}

/// How a model's outputs compare with the float references on some crops.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OutputAgreement {
    /// SQNR of the head outputs (dB), over all crops.
    pub sqnr_db: f64,
    /// Mean keypoint displacement in input-crop pixels (NaN without a model config).
    pub displacement_px: f64,
}

/// Runs `model` on `samples` and compares with `references` (float outputs per sample).
pub fn agreement(
    model: &mut Model,
    samples: &[&Sample],
    references: &[&Vec<(String, Tensor)>],
    config: Option<&ModelConfig>,
) -> Result<OutputAgreement> {
    let mut acc = (0.0, 0.0);
    let mut dec = config.map(decoder).transpose()?;
    let mut disp = 0.0;
    for (s, r) in samples.iter().zip(references) {
        let out = run_outputs(model, &s.input)?;
        let heads = head_outputs(config, r);
        for name in &heads {
            if let (Some(a), Some(b)) = (r.iter().find(|x| &x.0 == name), out.iter().find(|x| &x.0 == name)) {
                if let (Ok(a), Ok(b)) = (a.1.as_slice::<f32>(), b.1.as_slice::<f32>()) {
                    accumulate(&mut acc, a, b);
                }
            }
        }
        if let Some(d) = dec.as_mut() {
            let ka = decode(d.as_mut(), r)?;
            let kb = decode(d.as_mut(), &out)?;
            disp += mean_distance(&ka, &kb);
        }
    }
    Ok(OutputAgreement {
        sqnr_db: sqnr_db(acc.0, acc.1),
        displacement_px: if dec.is_some() { disp / samples.len().max(1) as f64 } else { f64::NAN },
    })
}

/// COCO keypoint AP of `backend` on `samples` (ground-truth boxes), as the top-down pipeline
/// runs inference. The ground truth is restricted to the images of `samples`.
pub fn coco_ap(
    backend: &mut dyn PoseBackend,
    config: &ModelConfig,
    samples: &[&Sample],
    coco: &CocoDataset,
) -> Result<(CocoStats, Vec<KeypointResult>)> {
    let mut pipeline = TopDownPipeline::new(config.clone())?;
    let mut results = Vec::new();
    let mut cache: Option<(std::path::PathBuf, image::RgbImage)> = None;
    for s in samples {
        if cache.as_ref().map(|c| &c.0) != Some(&s.file) {
            cache = Some((s.file.clone(), load_rgb(&s.file)?));
        }
        let img = &cache.as_ref().expect("loaded").1;
        let pose = pipeline.estimate_one(backend, img, &s.bbox)?;
        results.push(KeypointResult::from_pose(s.image_id, &pose));
    }
    let ids: std::collections::HashSet<u64> = samples.iter().map(|s| s.image_id).collect();
    let mut gt = coco.clone();
    gt.images.retain(|i| ids.contains(&i.id));
    gt.annotations.retain(|a| ids.contains(&a.image_id));
    let params = CocoEvalParams { sigmas: config.keypoints.sigmas.clone(), ..Default::default() };
    Ok((evaluate_keypoints(&gt, &results, &params)?, results))
}
