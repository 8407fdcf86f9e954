//! `--try-observers KIND,...`: an activation observer chosen per quantization group.
//!
//! Observers disagree most on heavy-tailed tensors (BlazePose's residual stream): a range that
//! clips the tail is finer everywhere else, and which one wins depends on what the layers
//! downstream do with the tail. So the choice is measured end to end: starting from the main
//! observer's parameters for every group, each group in turn (placement order, which follows
//! the network from input to heads) takes each other observer's parameters, the whole int8
//! model is measured on the evaluation crops, and the parameters with the least error stay
//! (ties keep the earlier). The error is the keypoint displacement when the model config
//! decodes the head, else the head noise-to-signal ratio (as `--auto-mixed int8:`).
//!
//! Cost: one model measurement per group and tried observer. Deterministic: no sampling.

use super::dataset::Sample;
use super::placement::Placement;
use super::sensitivity::{measure, Metric};
use super::{progress_bar, writer, Calibration, Net};
use crate::pipeline::ModelConfig;
use crate::tensor::Tensor;
use crate::Result;
use qpose_quant::QuantParams;
use std::collections::HashSet;

/// What a measurement runs on.
pub struct Measure<'a> {
    /// Layers the user keeps in float.
    pub user_float: &'a HashSet<String>,
    /// Evaluation crops and the float model's outputs on them.
    pub samples: &'a [&'a Sample],
    pub refs: &'a [&'a Vec<(String, Tensor)>],
    pub config: Option<&'a ModelConfig>,
}

/// Chooses per group of `p` between `base` (index 0) and `candidates[k]` (index `k + 1`), all
/// one entry per group; updates `cal.activations` and returns the chosen index per group.
pub fn choose(
    net: &Net,
    p: &Placement,
    cal: &mut Calibration,
    base: &[QuantParams],
    candidates: &[Vec<QuantParams>],
    m: &Measure,
    progress: bool,
) -> Result<Vec<usize>> {
    if candidates.iter().any(|c| c.len() != base.len()) || base.len() != p.groups.len() {
        return Err(crate::Error::invalid("observer choice: one parameter set per group expected"));
    }
    let metric = Metric::preferred(m.config.is_some());
    let mut params = base.to_vec();
    let mut chosen = vec![0; base.len()];
    cal.activations = writer::tensor_params(p, &params);
    let mut best = metric.of(&measure(net, cal, m.user_float, m.samples, m.refs, m.config)?);
    let bar = progress_bar(progress, params.len(), "observer per activation");
    for g in 0..params.len() {
        for (k, c) in candidates.iter().enumerate() {
            if c[g] == params[g] {
                continue;
            }
            let kept = params[g];
            params[g] = c[g];
            cal.activations = writer::tensor_params(p, &params);
            let e = metric.of(&measure(net, cal, m.user_float, m.samples, m.refs, m.config)?);
            if e < best {
                best = e;
                chosen[g] = k + 1;
            } else {
                params[g] = kept;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    cal.activations = writer::tensor_params(p, &params);
    Ok(chosen)
}
