//! Post-training calibration: an fp32 ONNX export → a standard QDQ ONNX model that qpose runs
//! as int8 and that onnxruntime runs too.
//!
//! ```text
//! Net::load (BN folded) ─▶ [equalize] ─▶ placement ─▶ collect (float runs on real crops)
//!   ─▶ weights (per channel) + activations (observer) ─▶ [LSQ+] ─▶ [bias correction]
//!   ─▶ [observer choice per activation] ─▶ [auto-mixed: sensitivity, layers kept float]
//!   ─▶ writer ─▶ report
//! ```
//!
//! The writer patches the float model's own protobuf rather than exporting qpose's graph:
//! qpose's graph is rewritten for execution (NHWC, fused ops, folded shape sub-graphs), while
//! the protobuf keeps every op the calibrator does not touch exactly as the exporter wrote
//! it, so the QDQ file means the same thing to every ONNX runtime. The one rewrite qpose's
//! importer would have done and the QDQ file needs, folding `BatchNormalization` into the
//! preceding `Conv`, is done on the protobuf ([`net`]) so that the **folded** weights are the
//! ones quantized.

pub mod clip_ranges;
pub mod collect;
pub mod dataset;
pub mod equalize;
pub mod evaluate;
pub mod gptq;
pub mod lsq;
pub mod net;
pub mod observer_choice;
pub mod placement;
pub mod report;
pub mod sensitivity;
pub mod weights;
pub mod writer;

pub use collect::ObserverKind;
pub use dataset::{CalibrationSet, Source, Split};
pub use lsq::LsqOptions;
pub use net::Net;
pub use report::Report;
pub use sensitivity::Budget;
pub use weights::{WeightObserverKind, WeightRounding};

use crate::{Error, Result};
use qpose_quant::{LsqPlusConfig, PerChannelParams, QuantParams, QuantScheme};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tract_onnx::pb::ModelProto;

/// A quant-crate error as a qpose error.
pub(crate) fn qerr(e: qpose_quant::QuantError) -> Error {
    Error::invalid(format!("quantization: {e}"))
}

/// Activation integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ActivationType {
    /// uint8, affine `[0, 255]` (onnxruntime's u8s8 kernels).
    #[default]
    U8,
    /// int8, affine `[-128, 127]`.
    I8,
}

impl ActivationType {
    pub fn scheme(self) -> QuantScheme {
        match self {
            ActivationType::U8 => QuantScheme::U8_ASYMMETRIC,
            ActivationType::I8 => QuantScheme::I8_ASYMMETRIC,
        }
    }
}

impl std::str::FromStr for ActivationType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "u8" | "uint8" => Ok(ActivationType::U8),
            "s8" | "i8" | "int8" => Ok(ActivationType::I8),
            _ => Err(Error::Config(format!("unknown activation type '{s}' (u8, s8)"))),
        }
    }
}

/// Everything `qpose calibrate` can be asked.
#[derive(Clone, Debug)]
pub struct CalibrateOptions {
    pub observer: ObserverKind,
    /// Other activation observers tried per quantization group ([`observer_choice`]).
    pub try_observers: Vec<ObserverKind>,
    pub weight_observer: WeightObserverKind,
    pub weight_rounding: WeightRounding,
    pub activation_type: ActivationType,
    pub lsq: Option<LsqOptions>,
    pub equalize: bool,
    pub bias_correct: bool,
    /// Nodes (node or output tensor names) to keep in float.
    pub keep_float: Vec<String>,
    /// Keep the residual joins in float ([`placement::residual_outputs`]).
    pub float_residuals: bool,
    pub auto_mixed: Option<Budget>,
    /// Crops used by the sensitivity analysis and the report (evenly spaced subset).
    pub eval_samples: usize,
    pub seed: u64,
    /// Show progress bars on stderr.
    pub progress: bool,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            observer: ObserverKind::MinMax,
            try_observers: Vec::new(),
            weight_observer: WeightObserverKind::MinMax,
            weight_rounding: WeightRounding::Nearest,
            activation_type: ActivationType::U8,
            lsq: None,
            equalize: false,
            bias_correct: false,
            keep_float: Vec::new(),
            float_residuals: false,
            auto_mixed: None,
            eval_samples: 16,
            seed: 0,
            progress: false,
        }
    }
}

/// The parameters of one calibration, for any subset of int8 layers.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Per quantized tensor (under the widest placement).
    pub activations: HashMap<String, QuantParams>,
    /// Per layer: weight parameters.
    pub weights: Vec<PerChannelParams>,
    /// Per layer: what LSQ+ did (initial, final normalised reconstruction error).
    pub lsq: Vec<Option<(f64, f64)>>,
    /// Per layer: the weights an int8 layer stores when a rounding other than nearest chose
    /// them (`--weight-rounding gptq`), dequantized, so on the grid of `weights`; `None`:
    /// the float weights rounded to nearest. Float layers keep their float weights.
    pub rounded_weights: Vec<Option<Vec<f32>>>,
    /// Per layer: bias correction (`--bias-correct`, or the bias change GPTQ rounding makes;
    /// one value per output channel, in output units), added to the float bias only when the
    /// layer runs in int8: it compensates that layer's weight quantization error, which a
    /// float layer does not have.
    pub bias_corrections: Vec<Option<Vec<f32>>>,
}

/// A calibrated model.
pub struct Calibrated {
    pub net: Net,
    pub calibration: Calibration,
    /// Layers (names) kept in float in the written model.
    pub keep_float: Vec<String>,
    pub placement: placement::Placement,
    pub proto: ModelProto,
    pub report: Report,
}

impl Calibrated {
    /// The QDQ model as protobuf bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.proto)
    }

    /// Writes the QDQ model.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()).map_err(|e| Error::io(path, e))
    }
}

/// A progress bar (hidden unless `show`).
pub fn progress_bar(show: bool, len: usize, what: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// The QDQ model for `keep_float` (names of nodes kept in float) with `cal`'s parameters.
pub fn build(net: &Net, cal: &Calibration, keep_float: &HashSet<String>) -> Result<(placement::Placement, ModelProto)> {
    let p = placement::place(net, keep_float)?;
    let weights: Vec<Option<PerChannelParams>> =
        cal.weights.iter().enumerate().map(|(i, w)| p.int8_layer[i].then(|| w.clone())).collect();
    let proto = writer::write(
        net,
        &p,
        &writer::Quantization {
            activations: &cal.activations,
            weights: &weights,
            rounded_weights: &cal.rounded_weights,
            bias_corrections: &cal.bias_corrections,
        },
    )?;
    Ok((p, proto))
}

/// Calibrates the model at `path` on `set` (prepared with [`dataset::load`]).
pub fn calibrate(path: &Path, set: &CalibrationSet, opts: &CalibrateOptions) -> Result<Calibrated> {
    let mut net = Net::load(path)?;
    if opts.equalize {
        equalize_with_data(&mut net, set)?;
    }
    let config = model_input(&net).and_then(|input| dataset::model_config(path, input, &output_specs(&net))).ok();
    calibrate_net(net, config.as_ref(), set, opts)
}

/// Cross-layer equalization: identity/ReLU junctions data-free, ReLU6 junctions with the
/// calibration crops' per-channel maxima ([`equalize`]).
pub fn equalize_with_data(net: &mut Net, set: &CalibrationSet) -> Result<equalize::EqualizeSummary> {
    let mut summary = equalize::equalize(net)?;
    let tensors = equalize::clipped_junctions(net);
    let inputs: Vec<&[f32]> = set.samples.iter().map(|s| s.input.as_slice()).collect();
    let maxima = equalize::channel_maxima(net, &tensors, &inputs)?;
    summary.clipped = equalize::equalize_clipped(net, &maxima);
    Ok(summary)
}

/// Calibrates an already loaded (and possibly equalized) net; `config` (the model config)
/// lets the report and `--auto-mixed px:` decode keypoints.
pub fn calibrate_net(
    net: Net,
    config: Option<&crate::pipeline::ModelConfig>,
    set: &CalibrationSet,
    opts: &CalibrateOptions,
) -> Result<Calibrated> {
    if set.samples.is_empty() {
        return Err(Error::invalid("no calibration crops"));
    }
    let mut user_float: HashSet<String> = opts.keep_float.iter().cloned().collect();
    if opts.float_residuals {
        user_float.extend(placement::residual_outputs(&net));
    }
    let full = placement::place(&net, &user_float)?;
    let scheme = opts.activation_type.scheme();
    // The main observer first, then the ones `--try-observers` compares with it.
    let observer_kinds: Vec<ObserverKind> =
        std::iter::once(opts.observer).chain(opts.try_observers.iter().copied()).collect();
    let bar = progress_bar(opts.progress, set.samples.len(), "activation statistics");
    let stats = collect::collect(
        &net,
        &full,
        &set.samples,
        &collect::CollectOptions {
            observers: observer_kinds.clone(),
            scheme,
            lsq_samples: opts.lsq.is_some(),
            lsq_budget: opts.lsq.map_or(0, |l| l.budget),
            moments: opts.weight_rounding == WeightRounding::Gptq,
            seed: opts.seed,
        },
        |i, _| bar.set_position(i as u64),
    )?;
    bar.finish_and_clear();
    // Observers → ranges (narrowed where a clip makes it lossless) → parameters per group.
    let params_of = |observers: &[Box<dyn qpose_quant::Observer + Send>]| -> Result<Vec<QuantParams>> {
        let mut ranges: Vec<qpose_quant::RealRange> = observers
            .iter()
            .zip(&full.groups)
            .map(|(o, g)| o.range().map_err(|e| Error::invalid(format!("tensor '{}': {e}", g.rep))))
            .collect::<Result<_>>()?;
        clip_ranges::narrow(&net, &full, scheme, &mut ranges)?;
        ranges.iter().map(|&r| QuantParams::from_range(r, scheme).map_err(qerr)).collect()
    };
    let mut group_params = params_of(&stats.observers[0])?;
    let mut weights: Vec<PerChannelParams> = net
        .layers
        .iter()
        .map(|l| weights::weight_params(&l.weights, l.out_channels, opts.weight_observer))
        .collect::<Result<_>>()?;
    let mut lsq_report: Vec<Option<(f64, f64)>> = vec![None; net.layers.len()];
    if let Some(lo) = opts.lsq {
        let cfg = LsqPlusConfig {
            weight_scheme: weights::WEIGHT_SCHEME,
            activation_scheme: scheme,
            iterations: lo.iterations,
            batch_size: lo.batch_size,
            learning_rate: lo.learning_rate,
            seed: opts.seed,
        };
        let todo: Vec<usize> = (0..net.layers.len()).filter(|&i| full.int8_layer[i]).collect();
        let bar = progress_bar(opts.progress, todo.len(), "LSQ+ layers");
        let results = lsq::parallel_map(&todo, |&li| {
            let l = &net.layers[li];
            let r = match lsq::layer_data(l, &stats.samples[li]) {
                Some(d) => lsq::train(l, &d, &cfg).map(|r| Some((r, d))),
                None => Ok(None),
            };
            bar.inc(1);
            r
        });
        bar.finish_and_clear();
        let mut trained: HashMap<usize, (qpose_quant::LsqPlusResult, lsq::LayerData)> = HashMap::new();
        for (&li, r) in todo.iter().zip(results) {
            if let Some((res, d)) = r? {
                weights[li] = res.weights.clone();
                trained.insert(li, (res, d));
            }
        }
        // One activation per group: the candidate with the least summed error over its readers.
        for (gi, g) in full.groups.iter().enumerate() {
            let readers: Vec<usize> = todo
                .iter()
                .copied()
                .filter(|&li| g.members.contains(&net.layers[li].input) && trained.contains_key(&li))
                .collect();
            if readers.is_empty() {
                continue;
            }
            let mut candidates: Vec<QuantParams> = readers.iter().map(|li| trained[li].0.activation).collect();
            candidates.push(group_params[gi]);
            let mut best = (f64::INFINITY, group_params[gi]);
            for c in candidates {
                let mut total = 0.0;
                for li in &readers {
                    let (res, d) = &trained[li];
                    total += lsq::normalised_error(&net.layers[*li], d, &res.weights, &c)?;
                }
                if total < best.0 {
                    best = (total, c);
                }
            }
            group_params[gi] = best.1;
        }
        for (li, (res, d)) in &trained {
            let l = &net.layers[*li];
            let x = group_params[full.group_of(&l.input).unwrap_or(0)];
            let init = lsq::normalised_error(l, d, &res.initial_weights, &res.initial_activation)?;
            let fin = lsq::normalised_error(l, d, &weights[*li], &x)?;
            lsq_report[*li] = Some((init, fin));
        }
    }
    let mut bias_corrections: Vec<Option<Vec<f32>>> = vec![None; net.layers.len()];
    if opts.bias_correct && opts.weight_rounding == WeightRounding::Nearest {
        for (li, l) in net.layers.iter().enumerate() {
            if !full.int8_layer[li] {
                continue;
            }
            let fq = weights::fake_quantize_weights(&l.weights, &weights[li])?;
            let corr =
                qpose_quant::bias_correction(&l.conv_shape(), &l.weights, &fq, &stats.input_means[li]).map_err(qerr)?;
            bias_corrections[li] = Some(corr);
        }
    }
    let mut cal = Calibration {
        activations: writer::tensor_params(&full, &group_params),
        weights,
        lsq: lsq_report,
        rounded_weights: vec![None; net.layers.len()],
        bias_corrections,
    };
    if let Some(moments) = &stats.moments {
        gptq::round_layers(&net, &full, &mut cal, moments, opts.progress)?;
    }
    let mut keep: HashSet<String> = user_float.clone();
    let mut sensitivity = None;
    let evals = set.subset(opts.eval_samples.max(1));
    let eval_idx: Vec<usize> = {
        let len = set.samples.len();
        let n = opts.eval_samples.max(1).min(len);
        (0..n).map(|i| i * len / n).collect()
    };
    let refs: Vec<&Vec<(String, crate::tensor::Tensor)>> = eval_idx.iter().map(|&i| &stats.outputs[i]).collect();
    let mut chosen = None;
    if !opts.try_observers.is_empty() {
        let candidates: Vec<Vec<QuantParams>> =
            stats.observers[1..].iter().map(|o| params_of(o)).collect::<Result<_>>()?;
        let c = observer_choice::choose(
            &net,
            &full,
            &mut cal,
            &group_params,
            &candidates,
            &observer_choice::Measure { user_float: &user_float, samples: &evals, refs: &refs, config },
            opts.progress,
        )?;
        chosen = Some(c);
    }
    if let Some(budget) = &opts.auto_mixed {
        let s = sensitivity::auto_mixed(&net, &cal, &user_float, budget, &evals, &refs, config, opts.progress)?;
        keep.extend(s.keep_float.iter().cloned());
        sensitivity = Some(s);
    }
    let (placement, proto) = build(&net, &cal, &keep)?;
    let mut report = report::build(&net, &cal, &placement, &proto, &evals, &refs, config, opts, sensitivity)?;
    if let Some(c) = chosen {
        let tally: Vec<String> = observer_kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| format!("{} {}", kind.name(), c.iter().filter(|&&x| x == k).count()))
            .collect();
        report.settings.push_str(&format!("; observer per activation group (groups each): {}", tally.join(", ")));
    }
    let mut keep_float: Vec<String> = keep.into_iter().collect();
    keep_float.sort();
    Ok(Calibrated { net, calibration: cal, keep_float, placement, proto, report })
}

/// The network's (first) input and its static shape; a named error when it has none.
fn model_input(net: &Net) -> Result<(&str, &[usize])> {
    let input = net.graph_inputs.first().ok_or_else(|| Error::invalid("the model has no input"))?;
    let shape = net.shapes.get(input).ok_or_else(|| Error::invalid(format!("input {input} has no static shape")))?;
    Ok((input, shape))
}

/// Loads an fp32 model for calibration: the network, the pose config its crops are prepared
/// with (sidecar or detection), and the calibration crops of `source` (`progress(i, n)` per
/// image).
pub fn load_for_calibration(
    model: &Path,
    source: &Source,
    split: Split,
    samples: Option<usize>,
    progress: impl FnMut(usize, usize),
) -> Result<(Net, crate::pipeline::ModelConfig, CalibrationSet)> {
    let net = Net::load(model)?;
    let config = dataset::model_config(model, model_input(&net)?, &output_specs(&net))?;
    let set = dataset::load(&config, source, split, samples, progress)?;
    Ok((net, config, set))
}

/// (name, shape) of every graph output.
pub fn output_specs(net: &Net) -> Vec<(String, Vec<usize>)> {
    net.proto
        .graph
        .as_ref()
        .map(|g| {
            g.output.iter().map(|o| (o.name.clone(), net.shapes.get(&o.name).cloned().unwrap_or_default())).collect()
        })
        .unwrap_or_default()
}
