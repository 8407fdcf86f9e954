//! `--equalize`: cross-layer equalization (DFQ §4.1, [`qpose_quant::equalize`]) of chains
//! `layer → [activation] → [zero Pad] → layer` where the first layer's output reaches only the
//! second layer.
//!
//! The rewrite must leave the float function unchanged. Identity and ReLU commute with a
//! positive per-channel scale, so those junctions are equalized freely. A clip (ReLU6) does
//! not: `clip(x / s, 0, 6) ≠ clip(x, 0, 6) / s`. `quant::dfq` reports the exact per-channel
//! bounds `[0, 6 / S_i]` such a junction would need, which one ONNX `Clip` cannot express;
//! qpose therefore equalizes a clipped junction only with scales `S_i >= 1` whose bound
//! `6 / S_i` still lies at or above the largest value the channel reaches on the calibration
//! crops... which it does not know here (equalization runs before the statistics). So clipped
//! junctions are left alone, as `quant::dfq` recommends for per-tensor activation
//! quantization ("do not equalize across the clip"); DFQ's alternative, replacing ReLU6 by
//! ReLU, changes the float model and is not done.

use super::net::Net;
use super::qerr;
use crate::Result;
use qpose_quant::{Activation, ConvLayerMut, EqualizationOptions};

/// Which junctions were equalized.
#[derive(Clone, Debug, Default)]
pub struct EqualizeSummary {
    /// (first layer, second layer) pairs.
    pub pairs: Vec<(String, String)>,
    /// Junctions skipped because of a clip.
    pub skipped_clip: usize,
}

/// Equalizes every eligible pair of `net` in place.
pub fn equalize(net: &mut Net) -> Result<EqualizeSummary> {
    let mut summary = EqualizeSummary::default();
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
        if net.sole_reader(&t) != Some(net.layers[b].node) || net.layers[b].in_channels() != l.out_channels {
            continue;
        }
        match l.act() {
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
