//! The fp32-vs-int8 report: per-layer SQNR of an int8 model's quantized tensors against the
//! matching tensors of a reference run, latency, and the markdown / PNG output of
//! `qpose compare` and `qpose demo`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use image::RgbImage;

use super::chart::render_bar_chart;
use super::coco::CocoStats;
use super::displacement::Displacement;
use super::draw::{draw_pose, PoseStyle, FP32_COLOR, INT8_COLOR};
use super::font::{draw_text, line_height, text_width};
use super::topdown::EvalSummary;
use crate::graph::QuantizedTensor;
use crate::heads::Keypoint;
use crate::tensor::{DType, Tensor};
use crate::{Model, Result};

/// Signal-to-quantization-noise ratio in dB: `10·log10(Σ ref² / Σ (ref − test)²)`; `+∞` when
/// the two are equal, `−∞` when the reference is all zero but the test is not.
pub fn sqnr_db(signal_energy: f64, noise_energy: f64) -> f64 {
    if noise_energy == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal_energy / noise_energy).log10()
    }
}

/// `(Σ ref², Σ (ref − test)²)` of two equally long slices.
pub fn energies(reference: &[f32], test: &[f32]) -> (f64, f64) {
    reference.iter().zip(test).fold((0.0, 0.0), |(s, n), (&r, &t)| {
        let (r, t) = (f64::from(r), f64::from(t));
        (s + r * r, n + (r - t) * (r - t))
    })
}

/// The float values of a tensor: f32 as is, int8/uint8 dequantized as `(q − zero_point)·scale`
/// when quantization parameters are given; `None` for other combinations.
pub fn dequantized(t: &Tensor, params: Option<(f32, i32)>) -> Option<Vec<f32>> {
    match (t.dtype(), params) {
        (DType::F32, _) => t.as_slice::<f32>().ok().map(<[f32]>::to_vec),
        (DType::I8, Some((s, z))) => {
            Some(t.as_slice::<i8>().ok()?.iter().map(|&q| (i32::from(q) - z) as f32 * s).collect())
        }
        (DType::U8, Some((s, z))) => {
            Some(t.as_slice::<u8>().ok()?.iter().map(|&q| (i32::from(q) - z) as f32 * s).collect())
        }
        _ => None,
    }
}

/// SQNR of one tensor of the tested model against its reference, accumulated over crops.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSqnr {
    /// The tensor of the tested (int8) model: a `QuantizeLinear` output, or a model output.
    pub tensor: String,
    /// The reference tensor it was compared with (the same name, or the float tensor the
    /// `QuantizeLinear` quantizes).
    pub reference: String,
    /// Elements compared per crop.
    pub elements: usize,
    pub signal_energy: f64,
    pub noise_energy: f64,
    /// Reference elements (over all crops) outside the real range the int8 tensor can hold,
    /// `[(qmin − zero_point)·scale, (qmax − zero_point)·scale]`: saturated, whether on
    /// purpose (a clip-aware residual range, lossless after its Clip) or by a too-narrow range.
    pub outside: usize,
    /// The noise energy against the reference clamped to that range: rounding noise only.
    pub in_range_noise_energy: f64,
}

impl LayerSqnr {
    /// A tensor's comparison before any crop is added.
    fn new(tensor: String, reference: String, elements: usize) -> LayerSqnr {
        LayerSqnr {
            tensor,
            reference,
            elements,
            signal_energy: 0.0,
            noise_energy: 0.0,
            outside: 0,
            in_range_noise_energy: 0.0,
        }
    }

    pub fn sqnr_db(&self) -> f64 {
        sqnr_db(self.signal_energy, self.noise_energy)
    }

    /// SQNR against the reference clamped to the int8 range: what rounding alone costs.
    pub fn in_range_sqnr_db(&self) -> f64 {
        sqnr_db(self.signal_energy, self.in_range_noise_energy)
    }

    /// Share of reference values outside the int8 range, over `crops` crops (0 to 1).
    pub fn outside_share(&self, crops: usize) -> f64 {
        self.outside as f64 / (self.elements * crops.max(1)).max(1) as f64
    }
}

/// Per-layer SQNR of an int8 model against a reference (see [`LayerComparer`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerComparison {
    /// Aligned quantized tensors, in the tested model's execution order.
    pub layers: Vec<LayerSqnr>,
    /// Quantized (int8/uint8) activation tensors the tested model produced.
    pub quantized: usize,
    /// Quantized tensors that could not be aligned, with the reason.
    pub unaligned: Vec<(String, String)>,
    /// The model outputs (same names in both models), compared the same way.
    pub outputs: Vec<LayerSqnr>,
    /// Crops the energies were accumulated over.
    pub crops: usize,
}

impl LayerComparison {
    /// The tensor of lowest SQNR, and the median SQNR (dB); `None` without aligned layers.
    pub fn summary(&self) -> Option<(&LayerSqnr, f64)> {
        let worst = self.layers.iter().min_by(|a, b| a.sqnr_db().total_cmp(&b.sqnr_db()))?;
        let mut v: Vec<f64> = self.layers.iter().map(LayerSqnr::sqnr_db).collect();
        v.sort_by(f64::total_cmp);
        Some((worst, v[v.len() / 2]))
    }

    /// How the lowest-SQNR tensor's saturation reads in a report: empty when none of its
    /// reference values fall outside its int8 range, else their share and the SQNR within it.
    pub fn saturation_note(&self, l: &LayerSqnr) -> String {
        if l.outside == 0 {
            return String::new();
        }
        format!(
            "; {:.2} % of its reference values lie outside its int8 range (saturated: on purpose for a clip-aware \
             residual range, else a too-narrow range), {} dB within the range",
            100.0 * l.outside_share(self.crops),
            fmt_db(l.in_range_sqnr_db())
        )
    }
}

/// One step output of a run that holds a tensor of the original model, in the layout the
/// plan chose: `tensor = transpose(onnx_tensor, perm)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTensor {
    /// The tensor's ONNX name.
    pub name: String,
    pub perm: Vec<usize>,
    pub tensor: Tensor,
}

impl LayerTensor {
    /// The tensor in the ONNX model's own layout.
    pub fn in_model_layout(&self) -> Result<Tensor> {
        crate::ops::transpose::Transpose { perm: self.perm.clone() }.inverse().eval(&self.tensor)
    }
}

/// Runs `model` on one f32 input and keeps the input, every step output that holds a tensor
/// of the original model (first occurrence per name) and the graph outputs, without
/// transposing them back: SQNR does not
/// depend on the element order, so two runs planned alike compare as they are (cheaper than
/// [`Model::run_layers`]). The model's outputs stay readable afterwards.
pub fn capture_layers(model: &mut Model, input: &[f32]) -> Result<Vec<LayerTensor>> {
    let port = match model.inputs() {
        [p] => p.clone(),
        ports => return Err(crate::Error::invalid(format!("expected a model with one input, it has {}", ports.len()))),
    };
    if port.dtype != DType::F32 || input.len() * 4 != port.slot.bytes {
        return Err(crate::Error::Input {
            name: port.name.clone(),
            msg: format!("got {} f32 values, the input is {} {:?}", input.len(), port.dtype, port.shape),
        });
    }
    model.set_input_bytes(0, bytemuck::cast_slice(input))?;
    // The input itself, which no step produces (what a quantized input is compared with).
    let mut out = vec![LayerTensor {
        name: port.name.clone(),
        perm: (0..port.shape.len()).collect(),
        tensor: Tensor::from_vec(port.shape.clone(), input.to_vec())?,
    }];
    let mut seen: std::collections::HashSet<String> = [port.name.clone()].into_iter().collect();
    let mut failure = None;
    model.run_steps_visiting(|s, view| {
        let Some(origin) = &s.origin else { return };
        if !seen.insert(origin.name.clone()) {
            return;
        }
        match view.to_tensor() {
            Ok(tensor) => out.push(LayerTensor { name: origin.name.clone(), perm: origin.perm.clone(), tensor }),
            Err(e) => failure = Some(e),
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    // Graph outputs that no step's origin names (e.g. a Reshape planned as an alias).
    for i in 0..model.outputs().len() {
        let view = model.output(i);
        if seen.insert(view.name.to_string()) {
            let tensor = view.to_tensor()?;
            out.push(LayerTensor { name: view.name.to_string(), perm: (0..tensor.rank()).collect(), tensor });
        }
    }
    Ok(out)
}

/// Aligns the int8 tensors of a tested model with a reference model's tensors and
/// accumulates SQNR crop by crop.
///
/// A tested tensor is compared when it is an int8/uint8 activation that a `QuantizeLinear`
/// produced with per-tensor parameters (`Graph::quantized_tensors`); it is dequantized and
/// compared with the reference's tensor of the same name if there is one (dequantized with
/// the reference's own parameters: a QDQ model's float path), else with the float tensor the
/// `QuantizeLinear` quantizes (an fp32 model; onnxruntime's `X_QuantizeLinear_Input` renaming
/// of graph outputs is undone). Shapes must match in the ONNX layout.
#[derive(Debug, Default)]
pub struct LayerComparer {
    layers: Vec<LayerSqnr>,
    index: HashMap<String, usize>,
    outputs: Vec<LayerSqnr>,
    unaligned: Vec<(String, String)>,
    quantized: usize,
    crops: usize,
}

impl LayerComparer {
    pub fn new() -> LayerComparer {
        LayerComparer::default()
    }

    /// Adds one crop: both models' [`capture_layers`] on the same input, and their
    /// `quantized_tensors`.
    pub fn add(
        &mut self,
        reference: &[LayerTensor],
        reference_quant: &HashMap<String, QuantizedTensor>,
        tested: &[LayerTensor],
        tested_quant: &HashMap<String, QuantizedTensor>,
    ) {
        let by_name: HashMap<&str, &LayerTensor> = reference.iter().map(|l| (l.name.as_str(), l)).collect();
        let first_crop = self.crops == 0;
        let mut quantized = 0;
        for t in tested {
            if !matches!(t.tensor.dtype(), DType::I8 | DType::U8) {
                continue;
            }
            quantized += 1;
            match align(t, &by_name, reference_quant, tested_quant) {
                Ok(Aligned { reference_name, reference: r, tested: q, range: (lo, hi) }) => {
                    let (s, n) = energies(&r, &q);
                    let clamped: Vec<f32> = r.iter().map(|v| v.clamp(lo, hi)).collect();
                    let (_, in_range) = energies(&clamped, &q);
                    let i = *self.index.entry(t.name.clone()).or_insert_with(|| {
                        self.layers.push(LayerSqnr::new(t.name.clone(), reference_name, r.len()));
                        self.layers.len() - 1
                    });
                    let l = &mut self.layers[i];
                    l.signal_energy += s;
                    l.noise_energy += n;
                    l.in_range_noise_energy += in_range;
                    l.outside += r.iter().filter(|&&v| v < lo || v > hi).count();
                }
                Err(reason) => {
                    if first_crop {
                        self.unaligned.push((t.name.clone(), reason));
                    }
                }
            }
        }
        if first_crop {
            self.quantized = quantized;
        }
        self.crops += 1;
    }

    /// Adds one crop's model outputs (float; compared by name).
    pub fn add_outputs(&mut self, reference: &[(String, Vec<f32>)], tested: &[(String, Vec<f32>)]) {
        for (name, q) in tested {
            let Some((_, r)) = reference.iter().find(|(n, _)| n == name) else { continue };
            if r.len() != q.len() {
                continue;
            }
            let (s, n) = energies(r, q);
            match self.outputs.iter_mut().find(|o| &o.tensor == name) {
                Some(o) => {
                    o.signal_energy += s;
                    o.noise_energy += n;
                }
                None => self.outputs.push(LayerSqnr {
                    signal_energy: s,
                    noise_energy: n,
                    in_range_noise_energy: n,
                    ..LayerSqnr::new(name.clone(), name.clone(), r.len())
                }),
            }
        }
    }

    pub fn finish(self) -> LayerComparison {
        LayerComparison {
            layers: self.layers,
            quantized: self.quantized,
            unaligned: self.unaligned,
            outputs: self.outputs,
            crops: self.crops,
        }
    }
}

/// A tested int8 tensor and its reference, both as float values in the same element order.
struct Aligned {
    reference_name: String,
    reference: Vec<f32>,
    tested: Vec<f32>,
    /// The real range the tested tensor can hold (its type's bounds, dequantized).
    range: (f32, f32),
}

/// Aligns `t` with its reference tensor, or says why they cannot be compared.
fn align(
    t: &LayerTensor,
    reference: &HashMap<&str, &LayerTensor>,
    reference_quant: &HashMap<String, QuantizedTensor>,
    tested_quant: &HashMap<String, QuantizedTensor>,
) -> std::result::Result<Aligned, String> {
    let name = t.name.as_str();
    let Some(qt) = tested_quant.get(name) else {
        return Err("no QuantizeLinear produced it".into());
    };
    let Some(params) = qt.scale_zero_point else {
        return Err("per-axis quantization".into());
    };
    // onnxruntime's quantizer renames a graph output `X` of the float model to
    // `X_QuantizeLinear_Input` in the QDQ model (the final DequantizeLinear produces `X`).
    let renamed_output = qt.float_name.strip_suffix("_QuantizeLinear_Input");
    let found = reference
        .get(name)
        .or_else(|| reference.get(qt.float_name.as_str()))
        .or_else(|| renamed_output.and_then(|n| reference.get(n)));
    let r = match found {
        Some(r) => *r,
        None => return Err(format!("neither '{name}' nor '{}' is a tensor of the reference run", qt.float_name)),
    };
    // Same layout: compare as stored; otherwise both in the ONNX layout.
    let (tt, rt) = if r.perm == t.perm {
        (t.tensor.clone(), r.tensor.clone())
    } else {
        let layout = |l: &LayerTensor| l.in_model_layout().map_err(|e| e.to_string());
        (layout(t)?, layout(r)?)
    };
    if rt.shape() != tt.shape() {
        return Err(format!("shape {:?} vs reference '{}' {:?}", tt.shape(), r.name, rt.shape()));
    }
    let q = dequantized(&tt, Some(params)).ok_or("cannot dequantize")?;
    let ref_params = reference_quant.get(&r.name).and_then(|q| q.scale_zero_point);
    let rv = dequantized(&rt, ref_params).ok_or_else(|| format!("reference '{}' is {}", r.name, rt.dtype()))?;
    let (qmin, qmax) = if tt.dtype() == DType::I8 { (-128, 127) } else { (0, 255) };
    let (scale, zero_point) = params;
    let range = ((qmin - zero_point) as f32 * scale, (qmax - zero_point) as f32 * scale);
    Ok(Aligned { reference_name: r.name.clone(), reference: rv, tested: q, range })
}

/// Wall-clock time of `Model::run` on one input (indicative: one machine, one thread, batch 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub median_ms: f64,
    pub min_ms: f64,
    pub runs: usize,
}

/// Times `runs` calls (at least one) of `model.run(&[input])` with `Instant`. Call it on a
/// model that has already run (weights and arena paged in), as `compare` does.
pub fn measure_latency(model: &mut Model, input: &[f32], runs: usize) -> Result<Latency> {
    let runs = runs.max(1);
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        model.run(&[input])?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let median = if runs % 2 == 1 { ms[runs / 2] } else { 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]) };
    Ok(Latency { median_ms: median, min_ms: ms[0], runs })
}

/// One model's side of the comparison.
#[derive(Clone, Debug)]
pub struct ModelReport {
    /// "fp32", "int8", ...
    pub label: String,
    /// The file (and precision path) as the user named it.
    pub model: String,
    /// What runs: float, or how many layers are int8.
    pub precision: String,
    pub summary: EvalSummary,
    pub latency: Latency,
    /// Multiply-accumulates of one run.
    pub macs: u64,
}

/// A PNG written beside the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File name inside the output directory.
    pub file: String,
    pub caption: String,
}

/// Everything `qpose compare` reports.
#[derive(Clone, Debug)]
pub struct CompareReport {
    pub title: String,
    /// The command that produced it.
    pub command: String,
    /// The data set, its size and the box protocol.
    pub dataset: String,
    pub a: ModelReport,
    pub b: ModelReport,
    pub keypoint_names: Vec<String>,
    /// B against A, per keypoint, on the results before NMS.
    pub displacement: Displacement,
    pub layers: LayerComparison,
    pub figures: Vec<Figure>,
    /// Free-form remarks (where the int8 model came from, build profile...).
    pub notes: Vec<String>,
}

fn fmt_stat(v: f64) -> String {
    if v < 0.0 {
        "n/a".into()
    } else {
        format!("{v:.3}")
    }
}

fn fmt_db(v: f64) -> String {
    if v.is_infinite() && v > 0.0 {
        "inf (identical)".into()
    } else {
        format!("{v:.1}")
    }
}

fn pck_of(m: &ModelReport) -> String {
    m.summary.pck.as_ref().map_or("n/a".into(), |p| format!("{:.3}", p.mean))
}

impl CompareReport {
    /// The console table: accuracy of both, the delta, displacement, SQNR summary, latency.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let (a, b) = (&self.a, &self.b);
        let delta = format!("{} - {}", b.label, a.label);
        let w = a.label.len().max(b.label.len()).max(delta.len());
        let _ = writeln!(s, "{}", self.dataset);
        let _ = writeln!(
            s,
            "{:<w$} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
            "", "AP", "AP .5", "AP .75", "AR", "AR .5", "AR .75", "PCK@0.05"
        );
        for m in [a, b] {
            let st = &m.summary.stats;
            let _ = writeln!(
                s,
                "{:<w$} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
                m.label,
                fmt_stat(st.ap),
                fmt_stat(st.ap50),
                fmt_stat(st.ap75),
                fmt_stat(st.ar),
                fmt_stat(st.ar50),
                fmt_stat(st.ar75),
                pck_of(m)
            );
        }
        let d = |f: fn(&CocoStats) -> f64| format!("{:+.3}", f(&b.summary.stats) - f(&a.summary.stats));
        let dp = match (&a.summary.pck, &b.summary.pck) {
            (Some(x), Some(y)) => format!("{:+.3}", y.mean - x.mean),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "{:<w$} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9}",
            delta,
            d(|s| s.ap),
            d(|s| s.ap50),
            d(|s| s.ap75),
            d(|s| s.ar),
            d(|s| s.ar50),
            d(|s| s.ar75),
            dp
        );
        let _ = writeln!(
            s,
            "keypoint displacement {} vs {}: mean {:.2} px, max {:.1} px over {} people (before NMS)",
            b.label, a.label, self.displacement.mean, self.displacement.max, self.displacement.people
        );
        let l = &self.layers;
        match l.summary() {
            Some((worst, med)) => {
                let _ = writeln!(
                    s,
                    "per-layer SQNR on {} crops: {} of {} quantized tensors aligned; median {} dB, min {} dB ({}{})",
                    l.crops,
                    l.layers.len(),
                    l.quantized,
                    fmt_db(med),
                    fmt_db(worst.sqnr_db()),
                    short_name(&worst.tensor),
                    l.saturation_note(worst)
                );
            }
            None => {
                let _ = writeln!(s, "per-layer SQNR: none of {} quantized tensors aligned", l.quantized);
            }
        }
        for o in &l.outputs {
            let _ = writeln!(s, "output {} SQNR: {} dB", o.tensor, fmt_db(o.sqnr_db()));
        }
        let _ = writeln!(
            s,
            "latency (indicative, median of {} runs, batch 1, one thread): {} {:.2} ms, {} {:.2} ms",
            a.latency.runs, a.label, a.latency.median_ms, b.label, b.latency.median_ms
        );
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }

    /// The markdown report (figures referenced by file name, relative to the report).
    pub fn markdown(&self) -> String {
        let (a, b) = (&self.a, &self.b);
        let mut s = String::new();
        let _ = writeln!(s, "# {}\n", self.title);
        let _ = writeln!(s, "Produced by `{}`.\n", self.command);
        let _ = writeln!(s, "Data: {}.\n", self.dataset);
        let _ = writeln!(s, "| | model | precision |\n|---|---|---|");
        for m in [a, b] {
            let _ = writeln!(s, "| **{}** | `{}` | {} |", m.label, m.model, m.precision);
        }
        for n in &self.notes {
            let _ = writeln!(s, "\n> {n}");
        }

        let _ = writeln!(s, "\n## Accuracy\n");
        let _ = writeln!(
            s,
            "COCO keypoint AP/AR (pycocotools' algorithm) after mmpose's OKS-NMS; PCK@0.05 normalised by the \
             longer box side.\n"
        );
        let mut header = String::from("| |");
        let mut rule = String::from("|---|");
        for n in CocoStats::NAMES {
            let _ = write!(header, " {n} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{header} PCK@0.05 |\n{rule}---:|");
        for m in [a, b] {
            let cells: Vec<String> = m.summary.stats.to_array().iter().map(|&v| fmt_stat(v)).collect();
            let _ = writeln!(s, "| {} | {} | {} |", m.label, cells.join(" | "), pck_of(m));
        }
        let deltas: Vec<String> = a
            .summary
            .stats
            .to_array()
            .iter()
            .zip(b.summary.stats.to_array())
            .map(|(x, y)| if *x < 0.0 || y < 0.0 { "n/a".into() } else { format!("{:+.3}", y - x) })
            .collect();
        let dp = match (&a.summary.pck, &b.summary.pck) {
            (Some(x), Some(y)) => format!("{:+.3}", y.mean - x.mean),
            _ => "n/a".into(),
        };
        let _ = writeln!(s, "| {} − {} | {} | {dp} |", b.label, a.label, deltas.join(" | "));
        let _ = writeln!(
            s,
            "\n{} people estimated; {} ({}) and {} ({}) results kept after OKS-NMS.",
            a.summary.people,
            a.summary.results.len(),
            a.label,
            b.summary.results.len(),
            b.label
        );

        let d = &self.displacement;
        let _ = writeln!(s, "\n## Keypoint displacement\n");
        let _ = writeln!(
            s,
            "Distance between {}'s and {}'s keypoints for the same person, image pixels, on the results before NMS \
             ({} people). Mean {:.2} px, largest {:.1} px.\n",
            b.label, a.label, d.people, d.mean, d.max
        );
        let _ = writeln!(s, "| keypoint | mean displacement (px) |\n|---|---:|");
        for (i, v) in d.per_keypoint.iter().enumerate() {
            let name = self.keypoint_names.get(i).map_or_else(|| format!("#{i}"), Clone::clone);
            let _ = writeln!(s, "| {name} | {v:.2} |");
        }

        let l = &self.layers;
        let _ = writeln!(s, "\n## Per-layer SQNR\n");
        let _ = writeln!(
            s,
            "SQNR = 10·log10(Σ ref² / Σ (ref − int8)²) over {} crops, for every int8 activation of {} that a \
             QuantizeLinear produced (dequantized with its scale and zero point), against the tensor of the same \
             name in {} or else the float tensor that QuantizeLinear quantizes. **{} of {} quantized tensors \
             aligned.**",
            l.crops,
            b.label,
            a.label,
            l.layers.len(),
            l.quantized
        );
        if let Some((worst, med)) = l.summary() {
            let (lo, note) = (fmt_db(worst.sqnr_db()), l.saturation_note(worst));
            let _ = writeln!(s, "\nMedian {} dB; lowest {lo} dB at `{}`{note}.", fmt_db(med), worst.tensor);
        }
        if !l.outputs.is_empty() {
            let _ = writeln!(s, "\n| model output | SQNR (dB) |\n|---|---:|");
            for o in &l.outputs {
                let _ = writeln!(s, "| `{}` | {} |", o.tensor, fmt_db(o.sqnr_db()));
            }
        }
        for f in self.figures.iter().filter(|f| f.file.contains("sqnr")) {
            let _ = writeln!(s, "\n![{}]({})", f.caption, f.file);
        }
        if !l.layers.is_empty() {
            let _ = writeln!(
                s,
                "\n| # | int8 tensor | reference tensor | elements | SQNR (dB) | outside int8 range | SQNR within range (dB) |\n\
                 |---:|---|---|---:|---:|---:|---:|"
            );
            for (i, x) in l.layers.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "| {i} | `{}` | `{}` | {} | {} | {:.2} % | {} |",
                    x.tensor,
                    x.reference,
                    x.elements,
                    fmt_db(x.sqnr_db()),
                    100.0 * x.outside_share(l.crops),
                    fmt_db(x.in_range_sqnr_db())
                );
            }
        }
        if !l.unaligned.is_empty() {
            let _ = writeln!(s, "\nNot aligned:\n");
            for (t, why) in &l.unaligned {
                let _ = writeln!(s, "- `{t}`: {why}");
            }
        }

        let _ = writeln!(s, "\n## Latency (indicative)\n");
        let _ = writeln!(
            s,
            "`Model::run` on one crop, batch 1, one thread, timed with `Instant` (after the evaluation runs); {} build, \
             kernels for {}. One machine, one moment: indicative only, not a benchmark.\n",
            if cfg!(debug_assertions) { "**debug** (not representative)" } else { "release" },
            crate::kernels::isa::Isa::best().name()
        );
        let _ = writeln!(s, "| model | median (ms) | min (ms) | runs | MACs |\n|---|---:|---:|---:|---:|");
        for m in [a, b] {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.2} | {} | {:.1} M |",
                m.label,
                m.latency.median_ms,
                m.latency.min_ms,
                m.latency.runs,
                m.macs as f64 / 1e6
            );
        }

        let poses: Vec<&Figure> = self.figures.iter().filter(|f| !f.file.contains("sqnr")).collect();
        if !poses.is_empty() {
            let _ = writeln!(s, "\n## Keypoints\n");
            let _ = writeln!(s, "{} in green, {} in magenta.\n", a.label, b.label);
            for f in poses {
                let _ = writeln!(s, "![{}]({})\n", f.caption, f.file);
            }
        }
        s
    }
}

/// The per-layer SQNR bar chart (one bar per aligned tensor, execution order; identical
/// tensors, at +∞, get no bar).
pub fn sqnr_chart(title: &str, layers: &[LayerSqnr]) -> RgbImage {
    let labels: Vec<String> =
        layers.iter().enumerate().map(|(i, l)| format!("{i} {}", short_name(&l.tensor))).collect();
    let bars: Vec<(&str, f64)> = labels.iter().zip(layers).map(|(n, l)| (n.as_str(), l.sqnr_db())).collect();
    render_bar_chart(title, &bars)
}

/// A tensor name short enough for a chart label: without onnxruntime's
/// `_QuantizeLinear_Output` suffix, its last 26 characters (the distinctive end of TF-style
/// paths).
fn short_name(name: &str) -> String {
    let name = name.strip_suffix("_QuantizeLinear_Output").unwrap_or(name);
    let n = name.chars().count();
    if n <= 26 {
        name.to_string()
    } else {
        format!("..{}", name.chars().skip(n - 24).collect::<String>())
    }
}

/// `image` with every person of both result sets drawn over it (`a` in the fp32 colour, `b`
/// in the int8 colour) and a legend naming them.
pub fn draw_comparison(
    image: &RgbImage,
    a: (&str, &[Vec<Keypoint>]),
    b: (&str, &[Vec<Keypoint>]),
    skeleton: &[[usize; 2]],
) -> RgbImage {
    let mut img = image.clone();
    let scale = (img.width().max(img.height()) as f32 / 640.0).max(0.5);
    for (people, color) in [(a.1, FP32_COLOR), (b.1, INT8_COLOR)] {
        let style = PoseStyle { radius: 3.0 * scale, line_width: 2.0 * scale, ..PoseStyle::new(color) };
        for p in people {
            draw_pose(&mut img, p, skeleton, &style);
        }
    }
    let ts = 2u32;
    let pad = 4i64;
    let mut y = pad;
    for (label, color) in [(a.0, FP32_COLOR), (b.0, INT8_COLOR)] {
        let w = i64::from(text_width(label, ts));
        let h = i64::from(line_height(ts));
        for yy in (y - 2).max(0)..(y + h + 2).min(i64::from(img.height())) {
            for xx in (pad - 2).max(0)..(pad + w + 2).min(i64::from(img.width())) {
                img.put_pixel(xx as u32, yy as u32, image::Rgb([0, 0, 0]));
            }
        }
        draw_text(&mut img, pad, y, label, ts, color);
        y += h + 6;
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: Vec<f32>) -> Tensor {
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    }

    fn q(shape: &[usize], v: Vec<i8>) -> Tensor {
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    }

    #[test]
    fn sqnr_by_hand() {
        // ref (3, 4): energy 25; test (3, 3): noise 1 → 10·log10(25) ≈ 13.98 dB.
        let (s, n) = energies(&[3.0, 4.0], &[3.0, 3.0]);
        assert_eq!((s, n), (25.0, 1.0));
        assert!((sqnr_db(s, n) - 13.979_400_086_720_377).abs() < 1e-12);
        assert_eq!(sqnr_db(4.0, 0.0), f64::INFINITY);
        assert_eq!(sqnr_db(0.0, 1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn dequantizes_int8_and_uint8() {
        assert_eq!(dequantized(&q(&[3], vec![-2, 0, 5]), Some((0.5, 1))), Some(vec![-1.5, -0.5, 2.0]));
        let u = Tensor::from_vec(vec![2], vec![130u8, 128]).unwrap();
        assert_eq!(dequantized(&u, Some((0.25, 128))), Some(vec![0.5, 0.0]));
        assert_eq!(dequantized(&q(&[1], vec![1]), None), None);
        assert_eq!(dequantized(&t(&[1], vec![2.0]), None), Some(vec![2.0]));
    }

    fn layer(name: &str, tensor: Tensor) -> LayerTensor {
        let perm = (0..tensor.rank()).collect();
        LayerTensor { name: name.into(), perm, tensor }
    }

    #[test]
    fn aligns_by_name_then_by_float_name() {
        let qmap = |pairs: &[(&str, &str)]| -> HashMap<String, QuantizedTensor> {
            pairs
                .iter()
                .map(|(q, f)| {
                    (q.to_string(), QuantizedTensor { float_name: f.to_string(), scale_zero_point: Some((0.5, 0)) })
                })
                .collect()
        };
        let tested_quant = qmap(&[("x_q", "x"), ("y_q", "y"), ("z_q", "z")]);
        // fp32 reference: has x (exact after dequantization) and y (off by 0.5 in one element),
        // not z; w_q has no QuantizeLinear.
        let reference = vec![layer("x", t(&[2], vec![1.0, -1.0])), layer("y", t(&[2], vec![2.0, 0.0]))];
        let tested = vec![
            layer("x_q", q(&[2], vec![2, -2])),
            layer("y_q", q(&[2], vec![4, 1])),
            layer("z_q", q(&[2], vec![0, 0])),
            layer("w_q", q(&[2], vec![0, 0])),
            layer("f", t(&[2], vec![0.0, 0.0])),
        ];
        let mut c = LayerComparer::new();
        c.add(&reference, &HashMap::new(), &tested, &tested_quant);
        c.add(&reference, &HashMap::new(), &tested, &tested_quant);
        c.add_outputs(&[("out".into(), vec![1.0, 2.0])], &[("out".into(), vec![1.0, 2.0])]);
        let r = c.finish();
        assert_eq!(r.quantized, 4);
        assert_eq!(r.crops, 2);
        assert_eq!(r.layers.len(), 2);
        assert_eq!((r.layers[0].tensor.as_str(), r.layers[0].reference.as_str()), ("x_q", "x"));
        assert_eq!(r.layers[0].sqnr_db(), f64::INFINITY);
        // y: signal 4 per crop, noise 0.25 per crop → 10·log10(16).
        assert!((r.layers[1].sqnr_db() - 10.0 * 16f64.log10()).abs() < 1e-12);
        assert_eq!(r.unaligned.len(), 2);
        assert!(r.unaligned[0].1.contains("neither 'z_q' nor 'z'"), "{:?}", r.unaligned);
        assert_eq!(r.outputs[0].sqnr_db(), f64::INFINITY);
        let (worst, median) = r.summary().unwrap();
        assert_eq!(worst.tensor, "y_q");
        assert_eq!(median, f64::INFINITY);
        assert_eq!((worst.outside, r.saturation_note(worst)), (0, String::new()));

        // A QDQ float path as reference: same names, int8, dequantized with its own params.
        let mut c = LayerComparer::new();
        c.add(&tested[..1], &tested_quant, &tested[..1], &tested_quant);
        let r = c.finish();
        assert_eq!(r.layers[0].reference, "x_q");
        assert_eq!(r.layers[0].sqnr_db(), f64::INFINITY);

        // onnxruntime's renamed graph outputs align with the float model's output.
        let renamed = qmap(&[("out_QuantizeLinear_Output", "out_QuantizeLinear_Input")]);
        let mut c = LayerComparer::new();
        c.add(
            &[layer("out", t(&[1], vec![1.0]))],
            &HashMap::new(),
            &[layer("out_QuantizeLinear_Output", q(&[1], vec![2]))],
            &renamed,
        );
        assert_eq!(c.finish().layers[0].reference, "out");

        // Shape mismatches are reported, not compared.
        let mut c = LayerComparer::new();
        c.add(&[layer("x", t(&[1, 2], vec![1.0, -1.0]))], &HashMap::new(), &tested[..1], &tested_quant);
        assert!(c.finish().unaligned[0].1.contains("shape"));

        // Different planned layouts are compared in the ONNX layout: x = [[1, 2], [3, 4]]
        // stored transposed in the reference.
        let x_q = LayerTensor { name: "x_q".into(), perm: vec![0, 1], tensor: q(&[2, 2], vec![2, 4, 6, 8]) };
        let x_t = LayerTensor { name: "x".into(), perm: vec![1, 0], tensor: t(&[2, 2], vec![1.0, 3.0, 2.0, 4.0]) };
        let mut c = LayerComparer::new();
        c.add(&[x_t], &HashMap::new(), &[x_q], &tested_quant);
        assert_eq!(c.finish().layers[0].sqnr_db(), f64::INFINITY);
    }

    #[test]
    fn saturation_is_counted_and_separated_from_rounding_noise() {
        // u8 with scale 0.5 and zero point 0 holds [0, 127.5]: the reference 200 saturates to
        // 127.5 (noise 72.5²), the other values are exact.
        let quant = HashMap::from([(
            "a_q".to_string(),
            QuantizedTensor { float_name: "a".into(), scale_zero_point: Some((0.5, 0)) },
        )]);
        let u = Tensor::from_vec(vec![4], vec![255u8, 2, 0, 10]).unwrap();
        let mut c = LayerComparer::new();
        c.add(&[layer("a", t(&[4], vec![200.0, 1.0, 0.0, 5.0]))], &HashMap::new(), &[layer("a_q", u)], &quant);
        let r = c.finish();
        let l = &r.layers[0];
        assert_eq!(l.outside, 1);
        assert_eq!(l.outside_share(r.crops), 0.25);
        assert_eq!(l.in_range_sqnr_db(), f64::INFINITY);
        assert!((l.sqnr_db() - 10.0 * (40026.0f64 / (72.5 * 72.5)).log10()).abs() < 1e-9);
        let note = r.saturation_note(l);
        assert!(note.contains("25.00 % of its reference values lie outside its int8 range"), "{note}");
    }

    #[test]
    fn legend_and_poses_are_drawn() {
        let img = RgbImage::new(100, 80);
        let kp = vec![vec![Keypoint { x: 50.0, y: 50.0, score: 1.0 }, Keypoint { x: 80.0, y: 60.0, score: 1.0 }]];
        let out = draw_comparison(&img, ("fp32", &kp), ("int8", &kp), &[[0, 1]]);
        assert_eq!(out.get_pixel(50, 50).0, INT8_COLOR);
        assert!(out.pixels().any(|p| p.0 == FP32_COLOR));
        let chart = sqnr_chart("SQNR", &[]);
        assert!(chart.width() > 0);
    }
}
