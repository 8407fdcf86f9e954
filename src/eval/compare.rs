//! Two models on the same people: AP/AR of both, keypoint displacement, per-layer SQNR,
//! latency, and the report with its figures (`qpose compare`, `qpose demo`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::displacement::keypoint_displacement;
use super::report::{
    capture_layers, draw_comparison, measure_latency, sqnr_chart, CompareReport, Figure, LayerComparer, ModelReport,
};
use super::topdown::{estimate_set, summarize, EstimatedPerson, EvalSet};
use crate::heads::Keypoint;
use crate::pipeline::{load_rgb, preprocess, save_png, ModelConfig, TopDownPipeline};
use crate::{Error, Model, Result};

/// One side of a comparison.
pub struct Contender<'a> {
    /// Short label: "fp32", "int8".
    pub label: String,
    /// How the model is named in the report (its path, and the precision path).
    pub name: String,
    pub model: &'a mut Model,
    pub config: ModelConfig,
}

/// What else a comparison measures.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// People (crops) the per-layer SQNR is accumulated over.
    pub sqnr_crops: usize,
    /// Timed runs per model (after the evaluation, so the models are warm).
    pub latency_runs: usize,
    /// Images drawn with both models' keypoints.
    pub figure_images: usize,
    pub title: String,
    /// The command line, quoted in the report.
    pub command: String,
    pub notes: Vec<String>,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            sqnr_crops: 4,
            latency_runs: 20,
            figure_images: 4,
            title: "qpose: fp32 vs int8".into(),
            command: "qpose compare".into(),
            notes: Vec::new(),
        }
    }
}

/// A finished comparison: the report and every person's pose from both models.
pub struct Comparison {
    pub report: CompareReport,
    pub a_people: Vec<EstimatedPerson>,
    pub b_people: Vec<EstimatedPerson>,
    skeleton: Vec<[usize; 2]>,
}

/// What runs in `model`: "float", or how many layers run in int8.
pub fn precision_of(model: &Model) -> String {
    let mut int8: BTreeMap<&str, usize> = BTreeMap::new();
    let mut float = 0;
    for s in &model.plan().steps {
        match s.op {
            "QConv" | "QDense" | "QEmulated" => *int8.entry(s.op).or_default() += 1,
            "Conv" | "Dense" | "ConvTranspose" | "MatMul" => float += 1,
            _ => {}
        }
    }
    if int8.is_empty() {
        return "float".into();
    }
    let list: Vec<String> = int8.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("int8 ({}; {float} conv/dense layers in float)", list.join(", "))
}

/// The first `n` people's crops, preprocessed with `config`.
fn crops(set: &EvalSet, config: &ModelConfig, n: usize) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::new();
    'images: for t in &set.tasks {
        let image = load_rgb(&set.image_path(t))?;
        for p in &t.people {
            if out.len() == n {
                break 'images;
            }
            let mut buf = vec![0f32; config.input.len()];
            preprocess(config, &image, &p.bbox, &mut buf)?;
            out.push(buf);
        }
    }
    Ok(out)
}

/// Float copies of a model's outputs after a run.
fn outputs_of(model: &Model) -> Vec<(String, Vec<f32>)> {
    (0..model.outputs().len())
        .filter_map(|i| {
            let o = model.output(i);
            o.as_f32().ok().map(|v| (o.name.to_string(), v.to_vec()))
        })
        .collect()
}

/// Runs both models on every person of `set` and measures everything the report shows.
/// `progress(done, total)` counts people over both models.
pub fn compare(
    set: &EvalSet,
    a: Contender<'_>,
    b: Contender<'_>,
    opts: &CompareOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Comparison> {
    let total = 2 * set.people();
    let mut sides = [a, b];
    let mut people = Vec::new();
    let mut summaries = Vec::new();
    for (k, c) in sides.iter_mut().enumerate() {
        let context = |e: Error| Error::Context { context: format!("{} ({})", c.label, c.name), source: Box::new(e) };
        let mut pipeline = TopDownPipeline::new(c.config.clone()).map_err(context)?;
        let done = k * set.people();
        let p = estimate_set(set, &mut pipeline, &mut *c.model, &mut |n| progress(done + n, total)).map_err(context)?;
        summaries.push(summarize(&set.gt, &p, &c.config.keypoints.sigmas).map_err(context)?);
        people.push(p);
    }
    let [a, b] = sides;
    let [sa, sb]: [_; 2] = summaries.try_into().map_err(|_| Error::invalid("two summaries expected"))?;
    let [pa, pb]: [_; 2] = people.try_into().map_err(|_| Error::invalid("two result sets expected"))?;
    let displacement = keypoint_displacement(&sa.raw, &sb.raw)?;

    // Per-layer SQNR on the first few crops, then latency on the first crop.
    let crops_a = crops(set, &a.config, opts.sqnr_crops.max(1))?;
    let crops_b = crops(set, &b.config, opts.sqnr_crops.max(1))?;
    let mut comparer = LayerComparer::new();
    for (xa, xb) in crops_a.iter().zip(&crops_b) {
        let la = capture_layers(a.model, xa)?;
        let oa = outputs_of(a.model);
        let lb = capture_layers(b.model, xb)?;
        let ob = outputs_of(b.model);
        comparer.add(&la, &a.model.graph().quantized_tensors, &lb, &b.model.graph().quantized_tensors);
        comparer.add_outputs(&oa, &ob);
    }
    let layers = comparer.finish();
    let latency_a = measure_latency(a.model, &crops_a[0], opts.latency_runs)?;
    let latency_b = measure_latency(b.model, &crops_b[0], opts.latency_runs)?;

    let side = |c: &Contender<'_>, summary, latency| ModelReport {
        label: c.label.clone(),
        model: c.name.clone(),
        precision: precision_of(c.model),
        summary,
        latency,
        macs: c.model.plan().steps.iter().map(|s| s.macs).sum(),
    };
    let report = CompareReport {
        title: opts.title.clone(),
        command: opts.command.clone(),
        dataset: set.describe(),
        keypoint_names: a.config.keypoints.names.clone(),
        a: side(&a, sa, latency_a),
        b: side(&b, sb, latency_b),
        displacement,
        layers,
        figures: Vec::new(),
        notes: opts.notes.clone(),
    };
    Ok(Comparison { report, a_people: pa, b_people: pb, skeleton: a.config.keypoints.skeleton.clone() })
}

/// Writes `report.md`, the SQNR chart and the keypoint figures into `out` (created if
/// missing); returns the files written.
pub fn write_report(c: &mut Comparison, set: &EvalSet, out: &Path, figure_images: usize) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut written = Vec::new();
    let mut figures = Vec::new();
    if !c.report.layers.layers.is_empty() {
        let chart = sqnr_chart(
            &format!("per-layer SQNR (dB) of {} against {}", c.report.b.label, c.report.a.label),
            &c.report.layers.layers,
        );
        let path = out.join("sqnr.png");
        save_png(&chart, &path)?;
        written.push(path);
        figures.push(Figure { file: "sqnr.png".into(), caption: "per-layer SQNR".into() });
    }
    let mut a_by_image: BTreeMap<u64, Vec<Vec<Keypoint>>> = BTreeMap::new();
    let mut b_by_image: BTreeMap<u64, Vec<Vec<Keypoint>>> = BTreeMap::new();
    for (src, dst) in [(&c.a_people, &mut a_by_image), (&c.b_people, &mut b_by_image)] {
        for p in src {
            dst.entry(p.image_id).or_default().push(p.pose.keypoints.clone());
        }
    }
    for t in set.tasks.iter().take(figure_images) {
        let im = &set.gt.images[t.image];
        let image = load_rgb(&set.image_path(t))?;
        let none = Vec::new();
        let drawn = draw_comparison(
            &image,
            (&c.report.a.label, a_by_image.get(&im.id).unwrap_or(&none)),
            (&c.report.b.label, b_by_image.get(&im.id).unwrap_or(&none)),
            &c.skeleton,
        );
        let file = format!("pose_{}.png", im.id);
        let path = out.join(&file);
        save_png(&drawn, &path)?;
        written.push(path);
        figures.push(Figure { file, caption: format!("image {} ({} people)", im.id, t.people.len()) });
    }
    c.report.figures = figures;
    let md = out.join("report.md");
    std::fs::write(&md, c.report.markdown()).map_err(|e| Error::io(&md, e))?;
    written.insert(0, md);
    Ok(written)
}
