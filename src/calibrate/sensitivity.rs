//! `--auto-mixed BUDGET`: keep layers in float to bring the int8 model close to the float
//! model.
//!
//! Budgets: `sqnr:DB` (SQNR of the head outputs against the float model, in dB, at least
//! `DB`), `px:PIXELS` (mean keypoint displacement against the float model, in pixels of the
//! network input crop, at most `PIXELS`; needs the model config to decode the head), both
//! met with the fewest float layers; or `int8:PERCENT` (at least `PERCENT` % of the model's
//! multiply-accumulates stay in int8), met with the least error: the keypoint displacement
//! when the model config decodes the head, else the noise-to-signal ratio of the head outputs.
//!
//! 1. Sensitivity: for each int8 layer, the model with **only that layer in int8** (with its
//!    input and output quantization) is measured on the evaluation crops. Its error is the
//!    noise that layer alone adds at the output.
//! 2. Ranking, cost-aware: layers are ranked by their error **per multiply-accumulate** (the
//!    error of step 1 divided by the layer's MACs), so that cheap sensitive layers (heads,
//!    depthwise convs, few-channel layers) go to float before large pointwise convs.
//! 3. Error budgets (`sqnr:`, `px:`): starting from all layers in int8, the first-ranked
//!    layer is moved to float, then the next, measuring the real mixed model each time, until
//!    the budget is met. Measured, not predicted: errors of layers do not add up exactly. Then
//!    a return pass tries the float layers back in int8, largest MACs first; a layer stays
//!    int8 if the measured model still meets the budget.
//! 4. MAC budget (`int8:`): in ranked order, each layer whose MACs still fit in the float
//!    share is moved to float and the mixed model measured; the move is kept only if the
//!    error went down.
//!
//! The error of a model is additive-ish in both metrics: the keypoint displacement in pixels,
//! the noise-to-signal power ratio `10^(-SQNR/10)`.

use super::dataset::Sample;
use super::evaluate::{agreement, load_model, OutputAgreement};
use super::{build, progress_bar, Calibration, Net};
use crate::pipeline::ModelConfig;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::collections::HashSet;

/// What `--auto-mixed` must reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Head-output SQNR at least this many dB.
    Sqnr(f64),
    /// Mean keypoint displacement at most this many input pixels.
    Px(f64),
    /// At least this percentage (0 to 100) of the model's MACs in int8, with the least error.
    Int8Macs(f64),
}

/// How far a mixed model is from the float model (larger is worse, 0 for the float model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metric {
    /// Mean keypoint displacement, input pixels.
    Displacement,
    /// Head-output noise-to-signal power ratio `10^(-SQNR/10)`.
    NoiseRatio,
}

impl Metric {
    /// The keypoint displacement when the model config decodes the head (`decodes`), else the
    /// head noise ratio.
    pub(super) fn preferred(decodes: bool) -> Metric {
        if decodes {
            Metric::Displacement
        } else {
            Metric::NoiseRatio
        }
    }

    pub(super) fn of(self, a: &OutputAgreement) -> f64 {
        match self {
            Metric::NoiseRatio => 10f64.powf(-a.sqnr_db / 10.0),
            Metric::Displacement => a.displacement_px,
        }
    }
}

impl Budget {
    /// Whether an error budget is met (a MAC budget is met by construction).
    pub fn met(&self, a: &OutputAgreement) -> bool {
        match *self {
            Budget::Sqnr(db) => a.sqnr_db >= db,
            Budget::Px(px) => a.displacement_px <= px,
            Budget::Int8Macs(_) => true,
        }
    }

    /// The error the analysis ranks and minimises (`decodes`: the model config decodes the
    /// head into keypoints).
    fn metric(&self, decodes: bool) -> Metric {
        match self {
            Budget::Sqnr(_) => Metric::NoiseRatio,
            Budget::Px(_) => Metric::Displacement,
            Budget::Int8Macs(_) => Metric::preferred(decodes),
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Sqnr(v) => write!(f, "sqnr:{v}"),
            Budget::Px(v) => write!(f, "px:{v}"),
            Budget::Int8Macs(v) => write!(f, "int8:{v}"),
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "--auto-mixed '{s}': expected sqnr:DB (e.g. sqnr:30), px:PIXELS (e.g. px:2.0) or int8:PERCENT of the MACs (e.g. int8:90)"
            ))
        };
        let (kind, v) = s.split_once(':').ok_or_else(bad)?;
        let v: f64 = v.trim().parse().map_err(|_| bad())?;
        if !v.is_finite() {
            return Err(bad());
        }
        match kind.trim() {
            "sqnr" => Ok(Budget::Sqnr(v)),
            "px" if v >= 0.0 => Ok(Budget::Px(v)),
            "int8" if (0.0..=100.0).contains(&v) => Ok(Budget::Int8Macs(v)),
            _ => Err(bad()),
        }
    }
}

/// The result of the analysis.
#[derive(Clone, Debug)]
pub struct Sensitivity {
    pub budget: Budget,
    /// Per int8 layer: (layer name, agreement with only that layer in int8).
    pub per_layer: Vec<(String, OutputAgreement)>,
    /// The model with every (non-user-float) layer in int8.
    pub all_int8: OutputAgreement,
    /// Layers moved to float, in order, with the agreement measured after each move.
    pub steps: Vec<(String, OutputAgreement)>,
    /// Layers of `steps` returned to int8 by the return pass, with the agreement after each.
    pub returned: Vec<(String, OutputAgreement)>,
    /// Layers the analysis keeps in float.
    pub keep_float: Vec<String>,
    /// Whether the budget was met.
    pub met: bool,
}

/// The agreement with the float model of the QDQ model keeping `keep` in float.
pub(super) fn measure(
    net: &Net,
    cal: &Calibration,
    keep: &HashSet<String>,
    samples: &[&Sample],
    refs: &[&Vec<(String, Tensor)>],
    config: Option<&ModelConfig>,
) -> Result<OutputAgreement> {
    let (_, proto) = build(net, cal, keep)?;
    let mut model = load_model(&proto, true)?;
    agreement(&mut model, samples, refs, config)
}

/// Runs the analysis (see the module docs).
#[allow(clippy::too_many_arguments)]
pub fn auto_mixed(
    net: &Net,
    cal: &Calibration,
    user_float: &HashSet<String>,
    budget: &Budget,
    samples: &[&Sample],
    refs: &[&Vec<(String, Tensor)>],
    config: Option<&ModelConfig>,
    progress: bool,
) -> Result<Sensitivity> {
    if matches!(budget, Budget::Px(_)) && config.is_none() {
        return Err(Error::Config(
            "--auto-mixed px:… needs the model config (a sidecar .toml or a detectable head) to decode keypoints"
                .into(),
        ));
    }
    let int8_layers: Vec<usize> = {
        let p = super::placement::place(net, user_float)?;
        (0..net.layers.len()).filter(|&i| p.int8_layer[i]).collect()
    };
    let all_names: HashSet<String> = net.layers.iter().map(|l| l.name.clone()).collect();
    let bar = progress_bar(progress, int8_layers.len(), "layer sensitivity");
    let mut per_layer = Vec::new();
    for &li in &int8_layers {
        let mut keep: HashSet<String> = all_names.clone();
        keep.remove(&net.layers[li].name);
        keep.extend(user_float.iter().cloned());
        per_layer.push((net.layers[li].name.clone(), measure(net, cal, &keep, samples, refs, config)?));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let metric = budget.metric(config.is_some());
    let macs: Vec<f64> = int8_layers.iter().map(|&li| net.layers[li].macs.max(1) as f64).collect();
    let mut ranked: Vec<usize> = (0..per_layer.len()).collect();
    ranked.sort_by(|&a, &b| {
        let per_mac = |i: usize| metric.of(&per_layer[i].1) / macs[i];
        per_mac(b).partial_cmp(&per_mac(a)).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut keep = user_float.clone();
    let all_int8 = measure(net, cal, &keep, samples, refs, config)?;
    let mut steps = Vec::new();
    let mut returned = Vec::new();
    let bar = progress_bar(progress, ranked.len(), "mixed precision");
    let met = if let Budget::Int8Macs(percent) = *budget {
        // Float MACs left to spend: the float share minus the layers the user keeps float.
        let total: u64 = net.layers.iter().map(|l| l.macs).sum();
        let int8: u64 = int8_layers.iter().map(|&li| net.layers[li].macs).sum();
        let mut spare = int8 as f64 - total as f64 * percent / 100.0;
        let mut best = metric.of(&all_int8);
        for &r in &ranked {
            let li = int8_layers[r];
            bar.inc(1);
            if net.layers[li].macs as f64 > spare {
                continue;
            }
            let name = per_layer[r].0.clone();
            keep.insert(name.clone());
            let a = measure(net, cal, &keep, samples, refs, config)?;
            if metric.of(&a) < best {
                best = metric.of(&a);
                spare -= net.layers[li].macs as f64;
                steps.push((name, a));
            } else {
                keep.remove(&name);
            }
        }
        spare >= 0.0
    } else {
        let mut met = budget.met(&all_int8);
        let mut moved = Vec::new();
        for &r in &ranked {
            if met {
                break;
            }
            let name = per_layer[r].0.clone();
            keep.insert(name.clone());
            let a = measure(net, cal, &keep, samples, refs, config)?;
            met = budget.met(&a);
            steps.push((name, a));
            moved.push(r);
            bar.inc(1);
        }
        if met {
            moved.sort_by(|&a, &b| macs[b].partial_cmp(&macs[a]).unwrap_or(std::cmp::Ordering::Equal));
            for &r in &moved {
                let name = &per_layer[r].0;
                keep.remove(name);
                let a = measure(net, cal, &keep, samples, refs, config)?;
                if budget.met(&a) {
                    returned.push((name.clone(), a));
                } else {
                    keep.insert(name.clone());
                }
            }
        }
        met
    };
    bar.finish_and_clear();
    let mut keep_float: Vec<String> = keep.difference(user_float).cloned().collect();
    keep_float.sort();
    Ok(Sensitivity { budget: *budget, per_layer, all_int8, steps, returned, keep_float, met })
}
