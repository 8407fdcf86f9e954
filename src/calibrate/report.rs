//! The per-layer report: weight scales, input scale and zero point, output range, SQNR of each
//! layer's output in the int8 model against the float model (errors accumulated through the
//! network, as deployed), LSQ+ reconstruction error, MACs and the share of MACs in int8, and
//! the head outputs' SQNR and keypoint displacement.

use super::collect::Probe;
use super::dataset::Sample;
use super::evaluate::{accumulate, agreement, load_model, sqnr_db, OutputAgreement};
use super::placement::Placement;
use super::sensitivity::Sensitivity;
use super::writer::quantized_name;
use super::{CalibrateOptions, Calibration, Net};
use crate::pipeline::ModelConfig;
use crate::tensor::Tensor;
use crate::Result;
use std::collections::HashMap;
use std::fmt::Write as _;
use tract_onnx::pb::ModelProto;

/// One layer's line.
#[derive(Clone, Debug)]
pub struct LayerRow {
    pub name: String,
    pub kind: String,
    pub int8: bool,
    pub macs: u64,
    /// Smallest and largest per-channel weight scale.
    pub weight_scale: (f32, f32),
    /// Input scale and zero point (int8 layers).
    pub input: Option<(f32, i32)>,
    /// Representable output range, when the output is quantized.
    pub output_range: Option<(f32, f32)>,
    /// SQNR (dB) of the layer's output, int8 model against float model.
    pub sqnr_db: f64,
    /// LSQ+: normalised reconstruction error before and after.
    pub lsq: Option<(f64, f64)>,
}

/// The whole report.
#[derive(Clone, Debug)]
pub struct Report {
    pub settings: String,
    pub layers: Vec<LayerRow>,
    pub int8_macs: u64,
    pub total_macs: u64,
    pub outputs: OutputAgreement,
    pub eval_crops: usize,
    pub sensitivity: Option<Sensitivity>,
    pub keep_float: Vec<String>,
}

impl Report {
    /// Share of MACs in int8 layers.
    pub fn int8_mac_share(&self) -> f64 {
        if self.total_macs == 0 {
            0.0
        } else {
            self.int8_macs as f64 / self.total_macs as f64
        }
    }

    /// Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# qpose calibrate report\n\n{}\n", self.settings);
        let _ = writeln!(
            s,
            "* int8 layers: {} of {}; MACs in int8: {:.1} % ({} of {})",
            self.layers.iter().filter(|l| l.int8).count(),
            self.layers.len(),
            100.0 * self.int8_mac_share(),
            self.int8_macs,
            self.total_macs
        );
        let _ = writeln!(
            s,
            "* head outputs vs float on {} crops: SQNR {:.2} dB, mean keypoint displacement {:.3} px (input crop)",
            self.eval_crops, self.outputs.sqnr_db, self.outputs.displacement_px
        );
        if !self.keep_float.is_empty() {
            let _ = writeln!(s, "* kept in float: {}", self.keep_float.join(", "));
        }
        if let Some(sens) = &self.sensitivity {
            let _ = writeln!(
                s,
                "* auto-mixed budget {}: {} (all int8: SQNR {:.2} dB, {:.3} px)",
                sens.budget,
                if sens.met { "met" } else { "NOT met" },
                sens.all_int8.sqnr_db,
                sens.all_int8.displacement_px
            );
            for (name, a) in &sens.steps {
                let why = sens.per_layer.iter().find(|p| &p.0 == name).map(|p| p.1).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  * float `{name}`: alone in int8 it gives SQNR {:.2} dB / {:.3} px; after moving it: SQNR {:.2} dB, {:.3} px",
                    why.sqnr_db, why.displacement_px, a.sqnr_db, a.displacement_px
                );
            }
            for (name, a) in &sens.returned {
                let _ = writeln!(
                    s,
                    "  * back to int8 `{name}`: the model still meets the budget (SQNR {:.2} dB, {:.3} px)",
                    a.sqnr_db, a.displacement_px
                );
            }
        }
        let _ = writeln!(
            s,
            "\n| # | layer | kind | int8 | MMACs | weight scale (min..max) | input scale / zp | output range | SQNR dB | LSQ+ err (init → final) |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for (i, l) in self.layers.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {i} | `{}` | {} | {} | {:.2} | {:.3e}..{:.3e} | {} | {} | {:.1} | {} |",
                short(&l.name),
                l.kind,
                if l.int8 { "yes" } else { "**float**" },
                l.macs as f64 / 1e6,
                l.weight_scale.0,
                l.weight_scale.1,
                l.input.map_or("-".into(), |(s, z)| format!("{s:.3e} / {z}")),
                l.output_range.map_or("float".into(), |(a, b)| format!("[{a:.3}, {b:.3}]")),
                l.sqnr_db,
                l.lsq.map_or("-".into(), |(a, b)| format!("{a:.2e} → {b:.2e}")),
            );
        }
        s
    }

    /// A compact text table for the terminal.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>3} {:<44} {:<7} {:>5} {:>8} {:>10} {:>8} {:>18}",
            "#", "layer", "kind", "int8", "MMACs", "in scale", "SQNR dB", "LSQ+ err"
        );
        for (i, l) in self.layers.iter().enumerate() {
            let _ = writeln!(
                s,
                "{i:>3} {:<44} {:<7} {:>5} {:>8.2} {:>10} {:>8.1} {:>18}",
                short(&l.name),
                l.kind,
                if l.int8 { "yes" } else { "float" },
                l.macs as f64 / 1e6,
                l.input.map_or("-".into(), |(s, _)| format!("{s:.3e}")),
                l.sqnr_db,
                l.lsq.map_or("-".into(), |(a, b)| format!("{a:.1e}→{b:.1e}")),
            );
        }
        let _ = writeln!(
            s,
            "int8 layers {} of {}, MACs in int8 {:.1} %; head outputs vs float ({} crops): SQNR {:.2} dB, keypoint displacement {:.3} px",
            self.layers.iter().filter(|l| l.int8).count(),
            self.layers.len(),
            100.0 * self.int8_mac_share(),
            self.eval_crops,
            self.outputs.sqnr_db,
            self.outputs.displacement_px
        );
        if !self.keep_float.is_empty() {
            let _ = writeln!(s, "kept in float: {}", self.keep_float.join(", "));
        }
        if let Some(sens) = &self.sensitivity {
            let _ = writeln!(s, "auto-mixed {}: {}", sens.budget, if sens.met { "met" } else { "NOT met" });
        }
        s
    }
}

/// The last 44 characters of a long name.
fn short(name: &str) -> String {
    let n = name.chars().count();
    if n <= 44 {
        name.to_string()
    } else {
        format!("…{}", name.chars().skip(n - 43).collect::<String>())
    }
}

/// Measures and assembles the report for the written model.
#[allow(clippy::too_many_arguments)]
pub fn build(
    net: &Net,
    cal: &Calibration,
    placement: &Placement,
    proto: &ModelProto,
    samples: &[&Sample],
    refs: &[&Vec<(String, Tensor)>],
    config: Option<&ModelConfig>,
    opts: &CalibrateOptions,
    sensitivity: Option<Sensitivity>,
) -> Result<Report> {
    let finals: Vec<String> = net.layers.iter().map(|l| l.final_output().to_string()).collect();
    let mut probe = Probe::new(net, &finals)?;
    let mut model = load_model(proto, true)?;
    let mut acc: Vec<(f64, f64)> = vec![(0.0, 0.0); net.layers.len()];
    for s in samples {
        probe.run(&s.input)?;
        let int8: HashMap<String, Tensor> = model
            .run_layers(&[Tensor::from_vec(net.shapes[&net.graph_inputs[0]].clone(), s.input.clone())?])?
            .into_iter()
            .collect();
        for (li, out) in finals.iter().enumerate() {
            let reference = probe.get(out)?;
            let got = if let (Some(t), Some(p)) = (int8.get(&quantized_name(out)), cal.activations.get(out)) {
                t.to_f32_vec().into_iter().map(|q| (q - p.zero_point() as f32) * p.scale()).collect::<Vec<f32>>()
            } else if let Some(t) = int8.get(out) {
                t.to_f32_vec()
            } else {
                continue;
            };
            if got.len() == reference.len() {
                accumulate(&mut acc[li], reference, &got);
            }
        }
    }
    let outputs = agreement(&mut model, samples, refs, config)?;
    let mut layers = Vec::new();
    let (mut int8_macs, mut total_macs) = (0, 0);
    for (li, l) in net.layers.iter().enumerate() {
        let int8 = placement.int8_layer[li];
        let scales = cal.weights[li].scales();
        let lo = scales.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = scales.iter().copied().fold(0f32, f32::max);
        let input = if int8 { cal.activations.get(&l.input).map(|p| (p.scale(), p.zero_point())) } else { None };
        let output_range =
            placement.group_of(l.final_output()).and_then(|_| cal.activations.get(l.final_output())).map(|p| {
                let s = p.scheme();
                ((s.qmin() - p.zero_point()) as f32 * p.scale(), (s.qmax() - p.zero_point()) as f32 * p.scale())
            });
        total_macs += l.macs;
        if int8 {
            int8_macs += l.macs;
        }
        layers.push(LayerRow {
            name: l.name.clone(),
            kind: l.label(),
            int8,
            macs: l.macs,
            weight_scale: (lo, hi),
            input,
            output_range,
            sqnr_db: sqnr_db(acc[li].0, acc[li].1),
            lsq: cal.lsq[li],
        });
    }
    let mut keep_float: Vec<String> =
        net.layers.iter().enumerate().filter(|(i, _)| !placement.int8_layer[*i]).map(|(_, l)| l.name.clone()).collect();
    keep_float.sort();
    let settings = format!(
        "observer {}, weights {:?} per channel (int8 symmetric [-127, 127], {:?} rounding), activations {:?}{}{}{}{}, seed {}",
        opts.observer.name(),
        opts.weight_observer,
        opts.weight_rounding,
        opts.activation_type,
        if opts.lsq.is_some() { ", LSQ+" } else { "" },
        if opts.equalize { ", cross-layer equalization" } else { "" },
        if opts.bias_correct { ", bias correction" } else { "" },
        if opts.float_residuals { ", residual joins in float" } else { "" },
        opts.seed
    );
    Ok(Report { settings, layers, int8_macs, total_macs, outputs, eval_crops: samples.len(), sensitivity, keep_float })
}
