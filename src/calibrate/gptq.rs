//! `--weight-rounding gptq`: every int8 layer's weights rounded by GPTQ
//! ([`qpose_quant::gptq`]) against the second moment of its float input on the calibration
//! crops, with its bias as an unrounded column against a constant 1 (so the bias absorbs the
//! mean of the error the weights leave, which `--bias-correct` would otherwise do).
//!
//! One float run per crop (qpose's float path with every layer input as an extra output);
//! im2col rows are drawn at the same seeded positions as LSQ+'s ([`super::collect`]), each
//! extended by a 1, and summed per convolution group into `E[x xᵀ]`.

use super::collect::{empty_samples, sample_rows, Probe, SamplePlace};
use super::dataset::Sample;
use super::net::Net;
use super::placement::Placement;
use super::{progress_bar, Calibration};
use crate::{Error, Result};
use qpose_quant::gptq::DEFAULT_DAMPING;
use qpose_quant::{gptq_round, SecondMoment};

/// Floats of im2col rows drawn per layer over all crops (upper bound), as LSQ+ keeps.
const SAMPLE_BUDGET: usize = 1 << 20;
/// Most bytes the input moments may take together (checked before allocating them).
const MOMENT_BYTES_LIMIT: usize = 1 << 30;

/// Rounds the weights of the layers of `placement` that run in int8 and writes them, with
/// their bias changes, into `cal` (whose weight parameters set the grids).
pub fn round_layers(
    net: &Net,
    placement: &Placement,
    cal: &mut Calibration,
    samples: &[Sample],
    seed: u64,
    progress: bool,
) -> Result<()> {
    let todo: Vec<usize> = (0..net.layers.len()).filter(|&i| placement.int8_layer[i]).collect();
    let bytes = todo
        .iter()
        .map(|&li| {
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
    let moments = collect(net, &todo, samples, seed, progress)?;
    let bar = progress_bar(progress, todo.len(), "GPTQ layers");
    let jobs: Vec<(usize, &Vec<SecondMoment>)> = todo.iter().copied().zip(&moments).collect();
    let results = super::lsq::parallel_map(&jobs, |&(li, m)| {
        let r = round_layer(net, cal, li, m);
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

/// Per layer of `todo`, per group: `E[x xᵀ]` of its input rows extended by a 1.
fn collect(net: &Net, todo: &[usize], samples: &[Sample], seed: u64, progress: bool) -> Result<Vec<Vec<SecondMoment>>> {
    let mut inputs: Vec<String> = todo.iter().map(|&li| net.layers[li].input.clone()).collect();
    inputs.sort();
    inputs.dedup();
    let mut probe = Probe::new(net, &inputs)?;
    let err = |name: &str, e: qpose_quant::QuantError| Error::invalid(format!("layer '{name}': GPTQ: {e}"));
    let mut moments: Vec<Vec<SecondMoment>> = todo
        .iter()
        .map(|&li| {
            let l = &net.layers[li];
            (0..l.groups).map(|_| SecondMoment::new(l.k + 1).map_err(|e| err(&l.name, e))).collect()
        })
        .collect::<Result<_>>()?;
    let bar = progress_bar(progress, samples.len(), "GPTQ statistics");
    for (si, s) in samples.iter().enumerate() {
        probe.run(&s.input)?;
        for (&li, m) in todo.iter().zip(moments.iter_mut()) {
            let l = &net.layers[li];
            let at = SamplePlace { crops: samples.len(), crop: si, layer: li, seed, budget: SAMPLE_BUDGET };
            let mut x = empty_samples(l);
            sample_rows(l, probe.get(&l.input)?, &net.shapes[&l.input], &at, &mut x);
            for (g, rows) in m.iter_mut().zip(&x.per_group) {
                let extended: Vec<f32> =
                    rows.chunks_exact(l.k).flat_map(|r| r.iter().copied().chain(std::iter::once(1.0))).collect();
                g.add_rows(&extended).map_err(|e| err(&l.name, e))?;
            }
        }
        bar.set_position(si as u64 + 1);
    }
    bar.finish_and_clear();
    Ok(moments)
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
        let rounded = gptq_round(&wb, &channels[rows], m, DEFAULT_DAMPING, 1)
            .map_err(|e| Error::invalid(format!("layer '{}': GPTQ: {e}", l.name)))?;
        for (row, old) in rounded.chunks_exact(l.k + 1).zip(wb.chunks_exact(l.k + 1)) {
            weights.extend_from_slice(&row[..l.k]);
            bias_change.push(row[l.k] - old[l.k]);
        }
    }
    Ok((weights, bias_change))
}
