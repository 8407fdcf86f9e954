//! LSQ+ per layer: each int8 `Conv` / `Gemm` / `MatMul` learns its per-channel weight step
//! sizes and its input's step size and offset ([`qpose_quant::LsqPlusLayer`]), initialised
//! from MSE observers and trained on the layer's calibration inputs (im2col rows sampled at
//! seeded positions, [`super::collect`]) against its float outputs `W x + b` (after its
//! `Relu` / `Clip`). Layers train independently, on two threads; each result depends only on
//! the layer's data and the seed, so the run is deterministic.
//!
//! A tensor read by several layers (or joined to others through data movement) has one set
//! of parameters in the QDQ model: among the candidates (each reader's learned parameters
//! and the observer's), the one with the smallest summed normalised reconstruction error
//! over the readers wins.

use super::collect::LayerSamples;
use super::net::Layer;
use super::qerr;
use crate::Result;
use qpose_quant::{LayerShape, LsqPlusConfig, LsqPlusLayer, LsqPlusResult, PerChannelParams, QuantParams};

/// LSQ+ settings (`--lsq`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsqOptions {
    pub iterations: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Floats of im2col rows kept per layer.
    pub budget: usize,
}

impl Default for LsqOptions {
    fn default() -> Self {
        LsqOptions { iterations: 300, batch_size: 256, learning_rate: 0.01, budget: 1 << 20 }
    }
}

/// A layer's training data: inputs `[G, N, K]` and float targets `[N, C_out]`.
pub struct LayerData {
    pub shape: LayerShape,
    pub inputs: Vec<f32>,
    pub targets: Vec<f32>,
}

/// Builds the training data of `l` from its samples (targets are the pre-activation outputs).
pub fn layer_data(l: &Layer, s: &LayerSamples) -> Option<LayerData> {
    if s.n == 0 {
        return None;
    }
    let shape = LayerShape { samples: s.n, groups: l.groups, k: l.k, out_channels: l.out_channels };
    let per_group = l.out_channels / l.groups;
    let mut targets = vec![0f32; s.n * l.out_channels];
    for (g, rows) in s.per_group.iter().enumerate() {
        for n in 0..s.n {
            let x = &rows[n * l.k..(n + 1) * l.k];
            for c in g * per_group..(g + 1) * per_group {
                let w = &l.weights[c * l.k..(c + 1) * l.k];
                let dot: f32 = x.iter().zip(w).map(|(&a, &b)| a * b).sum();
                targets[n * l.out_channels + c] = dot + l.bias.as_ref().map_or(0.0, |b| b[c]);
            }
        }
    }
    Some(LayerData { shape, inputs: s.flat(), targets })
}

fn lsq_layer<'a>(l: &'a Layer, d: &'a LayerData) -> Result<LsqPlusLayer<'a>> {
    let mut layer = LsqPlusLayer::new(d.shape, &d.inputs, &l.weights, &d.targets).map_err(qerr)?;
    if let Some(b) = &l.bias {
        layer = layer.with_bias(b).map_err(qerr)?;
    }
    layer.with_activation(l.act()).map_err(qerr)
}

/// Trains one layer.
pub fn train(l: &Layer, d: &LayerData, cfg: &LsqPlusConfig) -> Result<LsqPlusResult> {
    lsq_layer(l, d)?.train(cfg).map_err(qerr)
}

/// Reconstruction error of `l` with `weights` and input `activation`, normalised by the
/// mean squared target (so that layers of different scales add up).
pub fn normalised_error(l: &Layer, d: &LayerData, weights: &PerChannelParams, activation: &QuantParams) -> Result<f64> {
    let layer = lsq_layer(l, d)?;
    let mse = layer.reconstruction_mse(weights, activation).map_err(qerr)?;
    let act = l.act();
    let p: f64 = d.targets.iter().map(|&y| f64::from(act.apply(y)).powi(2)).sum::<f64>() / d.targets.len() as f64;
    Ok(if p > 0.0 { mse / p } else { mse })
}

/// Runs `f` over `items` on up to two threads, keeping the order of the results.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 2);
    if threads == 1 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> = items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    results.into_iter().filter_map(|m| m.into_inner().ok().flatten()).collect()
}
