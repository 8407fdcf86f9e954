//! `--weight-rounding gptq`: every int8 layer's weights rounded by GPTQ
//! ([`qpose_quant::gptq`]) against the second moment of its float input on the calibration
//! crops, with its bias as an unrounded column against a constant 1 (so the bias absorbs the
//! mean of the error the weights leave, which `--bias-correct` would otherwise do).
//!
//! The moments are summed during the calibration's one float run per crop
//! ([`super::collect`]): im2col rows drawn at seeded positions, as LSQ+'s are, each extended
//! by a 1, per convolution group into `E[x xᵀ]` ([`InputMoments`]).

use super::collect::{empty_samples, sample_rows, SamplePlace};
use super::net::{Layer, Net};
use super::placement::Placement;
use super::{progress_bar, Calibration};
use crate::{Error, Result};
use qpose_quant::gptq::DEFAULT_DAMPING;
use qpose_quant::{gptq_round, SecondMoment};

/// Floats of im2col rows drawn per layer over all crops (upper bound), as LSQ+ keeps.
pub const SAMPLE_BUDGET: usize = 1 << 20;
/// Most bytes the input moments may take together (checked before allocating them).
const MOMENT_BYTES_LIMIT: usize = 1 << 30;

fn gptq_error(l: &Layer, e: qpose_quant::QuantError) -> Error {
    Error::invalid(format!("layer '{}': GPTQ: {e}", l.name))
}

/// Per layer, per group: the running `E[x xᵀ]` of the layer's input rows extended by a 1
/// (no groups for layers that stay float).
pub struct InputMoments {
    per_layer: Vec<Vec<SecondMoment>>,
}

impl InputMoments {
    /// Empty sums for the layers of `placement` that run in int8; a [`Error::Limit`] before
    /// allocating when they would take more than 1 GiB.
    pub fn new(net: &Net, placement: &Placement) -> Result<InputMoments> {
        let int8 = |li: usize| placement.int8_layer[li];
        let bytes = (0..net.layers.len())
            .filter(|&li| int8(li))
            .map(|li| {
                let (g, k) = (net.layers[li].groups, net.layers[li].k + 1);
                g.saturating_mul(k.saturating_mul(k + 1) / 2).saturating_mul(8)
            })
            .fold(0usize, usize::saturating_add);
        if bytes > MOMENT_BYTES_LIMIT {
            return Err(Error::Limit(format!(
                "--weight-rounding gptq: the int8 layers' input moments would take {} MiB, over the {} MiB limit \
                 (the largest grow with groups x K^2); keep those layers float (--keep-float) or round to nearest",
                bytes >> 20,
                MOMENT_BYTES_LIMIT >> 20
            )));
        }
        let per_layer = net
            .layers
            .iter()
            .enumerate()
            .map(|(li, l)| {
                let groups = if int8(li) { l.groups } else { 0 };
                (0..groups).map(|_| SecondMoment::new(l.k + 1).map_err(|e| gptq_error(l, e))).collect()
            })
            .collect::<Result<_>>()?;
        Ok(InputMoments { per_layer })
    }

    /// Adds layer `li`'s rows of one crop (its input `x`, ONNX layout `shape`) at `at`.
    pub(super) fn add(&mut self, li: usize, l: &Layer, x: &[f32], shape: &[usize], at: &SamplePlace) -> Result<()> {
        if self.per_layer[li].is_empty() {
            return Ok(());
        }
        let mut rows = empty_samples(l);
        sample_rows(l, x, shape, at, &mut rows);
        for (g, rows) in self.per_layer[li].iter_mut().zip(&rows.per_group) {
            let extended: Vec<f32> =
                rows.chunks_exact(l.k).flat_map(|r| r.iter().copied().chain(std::iter::once(1.0))).collect();
            g.add_rows(&extended).map_err(|e| gptq_error(l, e))?;
        }
        Ok(())
    }
}

/// Rounds the weights of the layers of `placement` that run in int8 and writes them, with
/// their bias changes, into `cal` (whose weight parameters set the grids).
pub fn round_layers(
    net: &Net,
    placement: &Placement,
    cal: &mut Calibration,
    moments: &InputMoments,
    progress: bool,
) -> Result<()> {
    let todo: Vec<usize> = (0..net.layers.len()).filter(|&i| placement.int8_layer[i]).collect();
    let bar = progress_bar(progress, todo.len(), "GPTQ layers");
    let results = super::lsq::parallel_map(&todo, |&li| {
        let r = round_layer(net, cal, li, &moments.per_layer[li]);
        bar.inc(1);
        r
    });
    bar.finish_and_clear();
    for (&li, r) in todo.iter().zip(results) {
        let (weights, bias_change) = r?;
        cal.rounded_weights[li] = Some(weights);
        cal.bias_corrections[li] = Some(bias_change);
    }
    Ok(())
}

/// One layer: the rounded weights (`[C_out, K]`, on the grid of `cal.weights[li]`) and the
/// change of each output channel's bias.
fn round_layer(net: &Net, cal: &Calibration, li: usize, moments: &[SecondMoment]) -> Result<(Vec<f32>, Vec<f32>)> {
    let l = &net.layers[li];
    let per_group = l.out_channels / l.groups;
    let channels = cal.weights[li].channels();
    let mut weights = Vec::with_capacity(l.weights.len());
    let mut bias_change = Vec::with_capacity(l.out_channels);
    for (g, m) in moments.iter().enumerate() {
        let rows = g * per_group..(g + 1) * per_group;
        // [W | b], one row per output channel.
        let mut wb = Vec::with_capacity(per_group * (l.k + 1));
        for c in rows.clone() {
            wb.extend_from_slice(&l.weights[c * l.k..(c + 1) * l.k]);
            wb.push(l.bias.as_ref().map_or(0.0, |b| b[c]));
        }
        let rounded = gptq_round(&wb, &channels[rows], m, DEFAULT_DAMPING, 1).map_err(|e| gptq_error(l, e))?;
        for (row, old) in rounded.chunks_exact(l.k + 1).zip(wb.chunks_exact(l.k + 1)) {
            weights.extend_from_slice(&row[..l.k]);
            bias_change.push(row[l.k] - old[l.k]);
        }
    }
    Ok((weights, bias_change))
}
