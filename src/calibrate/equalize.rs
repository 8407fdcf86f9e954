//! `--equalize`: cross-layer equalization (DFQ §4.1, [`qpose_quant::equalize`]) of chains
//! `layer → [activation] → [zero Pad] → layer` where the first layer's output reaches only the
//! second layer.
//!
//! The rewrite must leave the float function unchanged. Identity and ReLU commute with a
//! positive per-channel scale, so those junctions use [`qpose_quant::equalize`] as is. A clip
//! (ReLU6) does not: dividing channel `i` by `S_i` needs the bound `6 / S_i`, which one ONNX
//! `Clip` cannot express (`quant::dfq` reports these per-channel bounds). DFQ replaces ReLU6 by
//! ReLU, which changes the float model; qpose instead keeps `Clip(0, 6)` and only chooses
//! scales under which the shared bound is still exact on the calibration crops:
//!
//! * a channel that reaches the clip's upper bound on some crop keeps `S_i = 1`;
//! * any other channel, whose largest value on the crops is `m_i < 6`, takes the DFQ scale
//!   `sqrt(r1_i / r2_i)` clamped to `S_i >= MARGIN · m_i / 6`, so that its scaled values stay
//!   below 6 up to `MARGIN` times the largest value seen (`MARGIN = 2`).
//!
//! On inputs beyond that margin the equalized model clips earlier than the original: a
//! data-dependent approximation, stated here and in the report.

use super::net::Net;
use super::qerr;
use crate::Result;
use qpose_quant::{Activation, ConvLayerMut, EqualizationOptions};

/// Which junctions were equalized.
#[derive(Clone, Debug, Default)]
pub struct EqualizeSummary {
    /// (first layer, second layer) pairs.
    pub pairs: Vec<(String, String)>,
    /// Junctions through a clip (handled by [`equalize_clipped`]).
    pub skipped_clip: usize,
    /// Clipped junctions rewritten by [`equalize_clipped`].
    pub clipped: usize,
}

/// Headroom above the largest calibration value a clipped channel keeps after scaling.
pub const MARGIN: f32 = 2.0;

/// The tensors whose per-channel maxima [`equalize`] needs (outputs of clipped junctions).
pub fn clipped_junctions(net: &Net) -> Vec<String> {
    junctions(net)
        .into_iter()
        .filter(|&(a, _)| matches!(net.layers[a].act(), Activation::Clip { .. }))
        .map(|(a, _)| net.layers[a].final_output().to_string())
        .collect()
}

/// Per-channel maxima of `tensors` over the crops (NCHW tensors: channel axis 1).
pub fn channel_maxima(
    net: &Net,
    tensors: &[String],
    inputs: &[&[f32]],
) -> Result<std::collections::HashMap<String, Vec<f32>>> {
    let mut out: std::collections::HashMap<String, Vec<f32>> = std::collections::HashMap::new();
    if tensors.is_empty() {
        return Ok(out);
    }
    let mut probe = super::collect::Probe::new(net, tensors)?;
    for x in inputs {
        probe.run(x)?;
        for t in tensors {
            let shape = &net.shapes[t];
            let c = if shape.len() >= 2 { shape[1] } else { 1 };
            let v = probe.get(t)?;
            let plane = v.len() / c.max(1);
            let m = out.entry(t.clone()).or_insert_with(|| vec![f32::NEG_INFINITY; c]);
            for (ch, chunk) in v.chunks_exact(plane.max(1)).enumerate() {
                let mx = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                m[ch % c] = m[ch % c].max(mx);
            }
        }
    }
    Ok(out)
}

fn junctions(net: &Net) -> Vec<(usize, usize)> {
    let by_input: std::collections::HashMap<String, usize> =
        net.layers.iter().enumerate().map(|(i, l)| (l.input.clone(), i)).collect();
    let mut pairs = Vec::new();
    for (a, l) in net.layers.iter().enumerate() {
        let mut t = l.final_output().to_string();
        // Through a zero-constant Pad (TF "SAME" padding exported as a separate node).
        if let Some(r) = net.sole_reader(&t) {
            let n = &net.nodes()[r];
            if n.op_type == "Pad" && n.output.len() == 1 && is_zero_pad(net, n) {
                t = n.output[0].clone();
            }
        }
        let Some(&b) = by_input.get(&t) else { continue };
        if net.sole_reader(&t) == Some(net.layers[b].node) && net.layers[b].in_channels() == l.out_channels && a != b {
            pairs.push((a, b));
        }
    }
    pairs
}

/// Largest `|w|` of each output channel and of the weights reading each input channel.
fn ranges(l: &super::net::Layer) -> (Vec<f32>, Vec<f32>) {
    let s = l.conv_shape();
    let ipg = s.in_channels / s.groups;
    let opg = s.out_channels / s.groups;
    let ks = s.kernel_size;
    let mut out = vec![0f32; s.out_channels];
    let mut inp = vec![0f32; s.in_channels];
    for o in 0..s.out_channels {
        let row = &l.weights[o * l.k..(o + 1) * l.k];
        for (j, kern) in row.chunks_exact(ks).enumerate() {
            let m = kern.iter().fold(0f32, |a, &w| a.max(w.abs()));
            out[o] = out[o].max(m);
            let ic = (o / opg) * ipg + j;
            inp[ic] = inp[ic].max(m);
        }
    }
    (out, inp)
}

/// Scales output channel `i` of `first` by `1 / s[i]` and input channel `i` of `second` by `s[i]`.
fn apply(first: &mut super::net::Layer, second: &mut super::net::Layer, s: &[f32]) {
    let k1 = first.k;
    for (i, row) in first.weights.chunks_exact_mut(k1).enumerate() {
        row.iter_mut().for_each(|w| *w /= s[i]);
    }
    if let Some(b) = first.bias.as_mut() {
        b.iter_mut().zip(s).for_each(|(b, s)| *b /= s);
    }
    let sh = second.conv_shape();
    let (ipg, opg, ks) = (sh.in_channels / sh.groups, sh.out_channels / sh.groups, sh.kernel_size);
    let k2 = second.k;
    for o in 0..sh.out_channels {
        for j in 0..ipg {
            let ic = (o / opg) * ipg + j;
            for w in &mut second.weights[o * k2 + j * ks..o * k2 + (j + 1) * ks] {
                *w *= s[ic];
            }
        }
    }
}

/// Equalizes clipped junctions with the data-aware rule of the module docs, given the
/// per-channel maxima of each junction tensor (from [`channel_maxima`]). Returns the number of
/// junctions rewritten. One pass in layer order: a junction's scales change neither the
/// values of the tensors later junctions measured nor their meaning.
pub fn equalize_clipped(net: &mut Net, maxima: &std::collections::HashMap<String, Vec<f32>>) -> usize {
    let pairs: Vec<(usize, usize)> =
        junctions(net).into_iter().filter(|&(a, _)| matches!(net.layers[a].act(), Activation::Clip { .. })).collect();
    let mut done = std::collections::HashSet::new();
    {
        for &(a, b) in &pairs {
            let Activation::Clip { min, max } = net.layers[a].act() else { continue };
            let t = net.layers[a].final_output().to_string();
            let Some(m) = maxima.get(&t) else { continue };
            if min != 0.0 || !(max.is_finite() && max > 0.0) {
                continue;
            }
            let (r1, _) = ranges(&net.layers[a]);
            let (_, r2) = ranges(&net.layers[b]);
            let s: Vec<f32> = (0..r1.len())
                .map(|i| {
                    if m[i] >= max * 0.999 || r1[i] == 0.0 || r2[i] == 0.0 {
                        1.0
                    } else {
                        (r1[i] / r2[i]).sqrt().max(MARGIN * m[i].max(0.0) / max).max(1e-6)
                    }
                })
                .collect();
            if s.iter().all(|&v| (v - 1.0).abs() < 1e-4) {
                continue;
            }
            let (first, second) = if a < b {
                let (x, y) = net.layers.split_at_mut(b);
                (&mut x[a], &mut y[0])
            } else {
                let (x, y) = net.layers.split_at_mut(a);
                (&mut y[0], &mut x[b])
            };
            apply(first, second, &s);
            done.insert((a, b));
        }
    }
    done.len()
}

/// Equalizes every eligible pair of `net` in place.
pub fn equalize(net: &mut Net) -> Result<EqualizeSummary> {
    let mut summary = EqualizeSummary::default();
    let mut pairs = Vec::new();
    for (a, b) in junctions(net) {
        match net.layers[a].act() {
            Activation::Identity | Activation::Relu => pairs.push((a, b)),
            Activation::Clip { .. } => summary.skipped_clip += 1,
        }
    }
    for (a, b) in pairs {
        let (first, second) = if a < b {
            let (x, y) = net.layers.split_at_mut(b);
            (&mut x[a], &mut y[0])
        } else {
            let (x, y) = net.layers.split_at_mut(a);
            (&mut y[0], &mut x[b])
        };
        let act = first.act();
        let (s1, s2) = (first.conv_shape(), second.conv_shape());
        let mut layers = [
            ConvLayerMut::new(s1, &mut first.weights, first.bias.as_deref_mut()).map_err(qerr)?,
            ConvLayerMut::new(s2, &mut second.weights, second.bias.as_deref_mut()).map_err(qerr)?,
        ];
        qpose_quant::equalize(&mut layers, &[act], &EqualizationOptions::default()).map_err(qerr)?;
        summary.pairs.push((first.name.clone(), second.name.clone()));
    }
    Ok(summary)
}

fn is_zero_pad(net: &Net, n: &tract_onnx::pb::NodeProto) -> bool {
    let a = crate::onnx::Attrs::new(n);
    if a.string_or("mode", "constant").ok() != Some("constant") {
        return false;
    }
    match n.input.get(2).map(String::as_str) {
        None | Some("") => true,
        Some(v) => net.consts.get(v).is_some_and(|t| t.to_f32_vec().iter().all(|&x| x == 0.0)),
    }
}
