//! Activation statistics: one float run of qpose per calibration crop, with every tensor the
//! calibration needs added as a graph output (so no fusion hides it), feeding
//!
//! * one observer per quantization group (see [`super::placement`]) and per observer kind
//!   asked for,
//! * per-channel means of every layer input (bias correction),
//! * im2col samples of every layer input at seeded random positions (LSQ+), or their
//!   second moments (GPTQ, [`super::gptq::InputMoments`]),
//! * the float model's outputs (reference for SQNR and keypoint displacement).

use super::dataset::Sample;
use super::gptq::{InputMoments, SAMPLE_BUDGET};
use super::net::{probe_proto, LayerKind, Net};
use super::placement::Placement;
use super::qerr;
use crate::tensor::Tensor;
use crate::{Error, Model, ModelOptions, Result};
use qpose_quant::prng::SplitMix64;
use qpose_quant::{
    EmaMinMaxObserver, EntropyObserver, MinMaxObserver, MseObserver, Observer, PercentileObserver, QuantScheme,
};
use std::collections::HashMap;

/// Activation observer choice (`--observer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ObserverKind {
    #[default]
    MinMax,
    Ema,
    Percentile,
    Mse,
    Entropy,
}

impl ObserverKind {
    pub const ALL: [ObserverKind; 5] =
        [ObserverKind::MinMax, ObserverKind::Ema, ObserverKind::Percentile, ObserverKind::Mse, ObserverKind::Entropy];

    pub fn name(self) -> &'static str {
        match self {
            ObserverKind::MinMax => "minmax",
            ObserverKind::Ema => "ema",
            ObserverKind::Percentile => "percentile",
            ObserverKind::Mse => "mse",
            ObserverKind::Entropy => "entropy",
        }
    }

    /// A fresh observer (`scheme` scores MSE candidates).
    pub fn make(self, scheme: QuantScheme) -> Box<dyn Observer + Send> {
        match self {
            ObserverKind::MinMax => Box::new(MinMaxObserver::new()),
            ObserverKind::Ema => Box::new(EmaMinMaxObserver::default()),
            ObserverKind::Percentile => Box::new(PercentileObserver::default()),
            ObserverKind::Mse => Box::new(MseObserver::new(scheme)),
            ObserverKind::Entropy => Box::new(EntropyObserver::default()),
        }
    }
}

impl std::str::FromStr for ObserverKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ObserverKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Config(format!("unknown observer '{s}' (minmax, ema, percentile, mse, entropy)")))
    }
}

/// im2col rows of one layer's input: `[G][N][K]` kept per group.
#[derive(Clone, Debug, Default)]
pub struct LayerSamples {
    pub per_group: Vec<Vec<f32>>,
    pub n: usize,
}

impl LayerSamples {
    /// `[G, N, K]` flattened.
    pub fn flat(&self) -> Vec<f32> {
        self.per_group.concat()
    }
}

/// What the calibration pass gathered.
pub struct Stats {
    /// Per observer kind of [`CollectOptions::observers`], per quantization group.
    pub observers: Vec<Vec<Box<dyn Observer + Send>>>,
    /// Per layer: mean of its input per channel.
    pub input_means: Vec<Vec<f32>>,
    /// Per layer: im2col samples (empty when LSQ+ is off).
    pub samples: Vec<LayerSamples>,
    /// The int8 layers' input moments (GPTQ rounding), when asked for.
    pub moments: Option<InputMoments>,
    /// Per calibration crop: the float model's outputs (name, tensor).
    pub outputs: Vec<Vec<(String, Tensor)>>,
}

/// A float qpose model of the net with extra tensors readable after each run.
pub struct Probe {
    model: Model,
    index: HashMap<String, usize>,
}

impl Probe {
    pub fn new(net: &Net, names: &[String]) -> Result<Probe> {
        let proto = probe_proto(&net.proto, names);
        let g = crate::onnx::from_proto(&proto, &Default::default(), None)?;
        let mut opts = ModelOptions::default();
        opts.passes.int8 = false;
        let model = Model::from_graph(g, &opts)?;
        let index = model.outputs().iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        Ok(Probe { model, index })
    }

    /// Runs one input; afterwards [`Probe::get`] reads the tensors.
    pub fn run(&mut self, input: &[f32]) -> Result<()> {
        self.model.run(&[input])
    }

    /// A tensor of the last run, as f32 data (ONNX layout).
    pub fn get(&self, name: &str) -> Result<&[f32]> {
        let i = *self.index.get(name).ok_or_else(|| Error::invalid(format!("probe has no tensor '{name}'")))?;
        self.model.output(i).as_f32()
    }

    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let i = *self.index.get(name).ok_or_else(|| Error::invalid(format!("probe has no tensor '{name}'")))?;
        self.model.output(i).to_tensor()
    }
}

/// Settings of the statistics pass.
pub struct CollectOptions {
    /// Observer kinds, each fed every group's statistics.
    pub observers: Vec<ObserverKind>,
    pub scheme: QuantScheme,
    /// Collect im2col samples for LSQ+.
    pub lsq_samples: bool,
    /// Floats of im2col samples kept per layer (upper bound).
    pub lsq_budget: usize,
    /// Sum the int8 layers' input moments (GPTQ).
    pub moments: bool,
    pub seed: u64,
}

/// Runs the float model over `samples`.
pub fn collect(
    net: &Net,
    placement: &Placement,
    samples: &[Sample],
    opts: &CollectOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Stats> {
    let mut names: Vec<String> = placement.groups.iter().map(|g| g.rep.clone()).collect();
    names.extend(net.layers.iter().map(|l| l.input.clone()));
    let outputs: Vec<String> =
        net.proto.graph.as_ref().map(|g| g.output.iter().map(|o| o.name.clone()).collect()).unwrap_or_default();
    names.extend(outputs.iter().cloned());
    names.sort();
    names.dedup();
    let mut probe = Probe::new(net, &names)?;
    let mut stats = Stats {
        observers: opts
            .observers
            .iter()
            .map(|k| placement.groups.iter().map(|_| k.make(opts.scheme)).collect())
            .collect(),
        input_means: net.layers.iter().map(|l| vec![0.0; l.in_channels()]).collect(),
        samples: net.layers.iter().map(empty_samples).collect(),
        moments: if opts.moments { Some(InputMoments::new(net, placement)?) } else { None },
        outputs: Vec::new(),
    };
    let mut sums: Vec<Vec<f64>> = net.layers.iter().map(|l| vec![0.0; l.in_channels()]).collect();
    for (si, s) in samples.iter().enumerate() {
        probe.run(&s.input)?;
        for (gi, g) in placement.groups.iter().enumerate() {
            let x = probe.get(&g.rep)?;
            for kind in stats.observers.iter_mut() {
                kind[gi].observe(x).map_err(|e| Error::invalid(format!("tensor '{}' on crop {si}: {e}", g.rep)))?;
            }
        }
        for (li, l) in net.layers.iter().enumerate() {
            let x = probe.get(&l.input)?;
            let shape = &net.shapes[&l.input];
            let c = l.in_channels();
            let sum = &mut sums[li];
            match &l.kind {
                LayerKind::Conv(_) => {
                    let hw = x.len() / c.max(1);
                    for (ch, plane) in x.chunks_exact(hw).enumerate() {
                        sum[ch % c] += plane.iter().map(|&v| f64::from(v)).sum::<f64>() / hw as f64;
                    }
                }
                LayerKind::Dense { .. } => {
                    let rows = x.len() / c.max(1);
                    for row in x.chunks_exact(c) {
                        for (a, &v) in sum.iter_mut().zip(row) {
                            *a += f64::from(v) / rows as f64;
                        }
                    }
                }
            }
            if opts.lsq_samples {
                let at =
                    SamplePlace { crops: samples.len(), crop: si, layer: li, seed: opts.seed, budget: opts.lsq_budget };
                sample_rows(l, x, shape, &at, &mut stats.samples[li]);
            }
            if let Some(m) = stats.moments.as_mut() {
                let at =
                    SamplePlace { crops: samples.len(), crop: si, layer: li, seed: opts.seed, budget: SAMPLE_BUDGET };
                m.add(li, l, x, shape, &at)?;
            }
        }
        stats.outputs.push(outputs.iter().map(|n| Ok((n.clone(), probe.tensor(n)?))).collect::<Result<_>>()?);
        progress(si + 1, samples.len());
    }
    let n = samples.len().max(1) as f64;
    stats.input_means = sums.into_iter().map(|s| s.into_iter().map(|v| (v / n) as f32).collect()).collect();
    let _ = qerr; // (errors of observers are reported with the tensor name above)
    Ok(stats)
}

/// No rows yet, one list per group of `l`.
pub(super) fn empty_samples(l: &super::net::Layer) -> LayerSamples {
    LayerSamples { per_group: vec![Vec::new(); l.groups], n: 0 }
}

/// Which crop's share of a layer's im2col rows to draw (LSQ+'s samples, GPTQ's moments): the
/// positions are seeded by these alone.
pub(super) struct SamplePlace {
    pub crops: usize,
    pub crop: usize,
    pub layer: usize,
    pub seed: u64,
    /// Floats of rows drawn per layer over all crops (upper bound).
    pub budget: usize,
}

/// Appends this crop's share of im2col rows of layer `l` (input `x` in ONNX layout).
pub(super) fn sample_rows(l: &super::net::Layer, x: &[f32], shape: &[usize], at: &SamplePlace, out: &mut LayerSamples) {
    let per_sample = l.groups * l.k;
    let total = (at.budget / per_sample.max(1)).clamp(64, 8192);
    let positions = match &l.kind {
        LayerKind::Conv(g) => g.output[0] * g.output[1],
        LayerKind::Dense { .. } => x.len() / l.k.max(1),
    };
    let per_crop = total.div_ceil(at.crops).min(positions).max(1);
    let mut rng =
        SplitMix64::new(at.seed ^ ((at.layer as u64) << 32) ^ (at.crop as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..per_crop {
        let pos = rng.next_below(positions as u64) as usize;
        match &l.kind {
            LayerKind::Conv(g) => {
                let (c, h, w) = (shape[1], shape[2], shape[3]);
                let cg = c / g.groups;
                let (oy, ox) = (pos / g.output[1], pos % g.output[1]);
                for (gi, rows) in out.per_group.iter_mut().enumerate() {
                    for ci in 0..cg {
                        let plane = &x[(gi * cg + ci) * h * w..][..h * w];
                        for ky in 0..g.kernel[0] {
                            let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize - g.pads[0] as isize;
                            for kx in 0..g.kernel[1] {
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize - g.pads[1] as isize;
                                let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                                rows.push(if inside { plane[iy as usize * w + ix as usize] } else { 0.0 });
                            }
                        }
                    }
                }
            }
            LayerKind::Dense { .. } => out.per_group[0].extend_from_slice(&x[pos * l.k..(pos + 1) * l.k]),
        }
        out.n += 1;
    }
}
