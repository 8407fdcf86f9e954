//! `--auto-mixed BUDGET`: keep the fewest layers in float that bring the int8 model within a
//! budget of the float model.
//!
//! Budgets: `sqnr:DB` (SQNR of the head outputs against the float model, in dB, at least
//! `DB`) or `px:PIXELS` (mean keypoint displacement against the float model, in pixels of the
//! network input crop, at most `PIXELS`; needs the model config to decode the head).
//!
//! 1. Sensitivity: for each int8 layer, the model with **only that layer in int8** (with its
//!    input and output quantization) is measured on the evaluation crops. Its error is the
//!    noise that layer alone adds at the output.
//! 2. Greedy, cost-aware: layers are ranked by their error **per multiply-accumulate** (the
//!    error of step 1 divided by the layer's MACs), so that cheap sensitive layers (heads,
//!    depthwise convs, few-channel layers) go to float before large pointwise convs. Starting
//!    from all layers in int8, the first-ranked layer is moved to float, then the next,
//!    measuring the real mixed model each time, until the budget is met. Measured, not
//!    predicted: errors of layers do not add up exactly.
//! 3. Return pass: the float layers are tried back in int8, largest MACs first; a layer
//!    stays int8 if the measured model still meets the budget.
//!
//! The error of a model is additive-ish in both budgets: the keypoint displacement in pixels
//! for `px:`, the noise-to-signal power ratio `10^(-SQNR/10)` for `sqnr:`.

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
}

impl Budget {
    pub fn met(&self, a: &OutputAgreement) -> bool {
        match *self {
            Budget::Sqnr(db) => a.sqnr_db >= db,
            Budget::Px(px) => a.displacement_px <= px,
        }
    }

    /// The model's error (larger is worse, 0 for the float model): input pixels for `px:`,
    /// noise-to-signal power ratio for `sqnr:`.
    fn error(&self, a: &OutputAgreement) -> f64 {
        match self {
            Budget::Sqnr(_) => 10f64.powf(-a.sqnr_db / 10.0),
            Budget::Px(_) => a.displacement_px,
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Sqnr(v) => write!(f, "sqnr:{v}"),
            Budget::Px(v) => write!(f, "px:{v}"),
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad =
            || Error::Config(format!("--auto-mixed '{s}': expected sqnr:DB (e.g. sqnr:30) or px:PIXELS (e.g. px:2.0)"));
        let (kind, v) = s.split_once(':').ok_or_else(bad)?;
        let v: f64 = v.trim().parse().map_err(|_| bad())?;
        if !v.is_finite() {
            return Err(bad());
        }
        match kind.trim() {
            "sqnr" => Ok(Budget::Sqnr(v)),
            "px" if v >= 0.0 => Ok(Budget::Px(v)),
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

fn measure(
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
    let macs: Vec<f64> = int8_layers.iter().map(|&li| net.layers[li].macs.max(1) as f64).collect();
    let mut ranked: Vec<usize> = (0..per_layer.len()).collect();
    ranked.sort_by(|&a, &b| {
        let per_mac = |i: usize| budget.error(&per_layer[i].1) / macs[i];
        per_mac(b).partial_cmp(&per_mac(a)).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut keep = user_float.clone();
    let all_int8 = measure(net, cal, &keep, samples, refs, config)?;
    let mut steps = Vec::new();
    let mut met = budget.met(&all_int8);
    let bar = progress_bar(progress, ranked.len(), "mixed precision");
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
    bar.finish_and_clear();
    let mut returned = Vec::new();
    if met {
        moved.sort_by(|&a, &b| macs[b].partial_cmp(&macs[a]).unwrap_or(std::cmp::Ordering::Equal));
        let bar = progress_bar(progress, moved.len(), "return to int8");
        for &r in &moved {
            let name = &per_layer[r].0;
            keep.remove(name);
            let a = measure(net, cal, &keep, samples, refs, config)?;
            if budget.met(&a) {
                returned.push((name.clone(), a));
            } else {
                keep.insert(name.clone());
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    let mut keep_float: Vec<String> = keep.difference(user_float).cloned().collect();
    keep_float.sort();
    Ok(Sensitivity { budget: *budget, per_layer, all_int8, steps, returned, keep_float, met })
}
