//! Cross-layer equalization (DFQ §4.1).

use super::ConvLayerMut;
use crate::activation::Activation;
use crate::error::{invalid, Result};

/// Stopping rule of [`equalize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqualizationOptions {
    /// Upper bound on sweeps over all junctions.
    pub max_sweeps: usize,
    /// Stop after a sweep whose scales all satisfy `|ln s| < tolerance`.
    pub tolerance: f64,
}

impl Default for EqualizationOptions {
    /// 100 sweeps, tolerance 1e-4 (a relative change of 0.01 %).
    fn default() -> Self {
        Self { max_sweeps: 100, tolerance: 1e-4 }
    }
}

/// The activation between two layers after equalization.
#[derive(Debug, Clone, PartialEq)]
pub enum EqualizedActivation {
    /// Positively homogeneous (identity, ReLU): unchanged.
    Unchanged(Activation),
    /// A clip whose bounds now differ per channel: channel `i` must be clipped to
    /// `[min[i], max[i]] = [min / S_i, max / S_i]`.
    PerChannelClip {
        /// Per-channel lower bounds.
        min: Vec<f32>,
        /// Per-channel upper bounds.
        max: Vec<f32>,
    },
}

/// What [`equalize`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Equalization {
    /// For each junction `l` (between layers `l` and `l + 1`), the cumulative per-channel
    /// scale `S_i`: output channel `i` of layer `l` (weights and bias) was divided by `S_i`,
    /// input channel `i` of layer `l + 1` multiplied by it.
    pub scales: Vec<Vec<f32>>,
    /// For each junction, the activation to apply between the rewritten layers.
    pub activations: Vec<EqualizedActivation>,
    /// Sweeps performed.
    pub sweeps: usize,
    /// Whether the tolerance was reached within `max_sweeps`.
    pub converged: bool,
}

/// Equalizes the per-channel weight ranges of a chain of layers in place, e.g. the
/// `pw → dw → pw` chain of an inverted residual block (two junctions) or a single pair.
///
/// `activations[l]` is the activation between `layers[l]` and `layers[l + 1]`; layer `l`'s
/// output channels must be layer `l + 1`'s input channels (no permutation in between).
///
/// For each junction and channel `i`, with `r1` the largest `|w|` of output channel `i` of
/// the first layer and `r2` the largest `|w|` over the weights reading input channel `i` of the
/// second, the scale is `s_i = sqrt(r1 / r2)`; afterwards both ranges equal `sqrt(r1 r2)`.
/// Channels with a zero range on either side keep `s_i = 1`. Junctions are swept in order
/// until every scale of a sweep is within `tolerance` of 1 (chains longer than a pair need
/// several sweeps; a pair converges after the second).
///
/// Activations: `f(x / s) = f(x) / s` for `s > 0` holds for identity and ReLU, so the
/// composed function is unchanged. A clip (ReLU6) does not scale: `clip(x / s, lo, hi)` is
/// `clip(x, lo s, hi s) / s`, so this function keeps the composed function **exact** by
/// reporting per-channel bounds `[lo / S_i, hi / S_i]` in
/// [`EqualizedActivation::PerChannelClip`], which the caller must apply (a standard ONNX
/// `Clip` cannot express them; with per-tensor activation quantization, fold them into the
/// activation range or do not equalize across the clip). DFQ's alternative is to replace
/// ReLU6 by ReLU before equalizing (passing [`Activation::Relu`] here), which changes the
/// float model; DFQ reports the FP32 accuracy change as negligible for MobileNetV2 (Table 1,
/// "Replace ReLU6" row; marked (†) in algorithms.md: from memory of the paper, not re-read).
pub fn equalize(
    layers: &mut [ConvLayerMut<'_>],
    activations: &[Activation],
    options: &EqualizationOptions,
) -> Result<Equalization> {
    if layers.len() < 2 {
        return Err(invalid("layers", "at least two layers are needed"));
    }
    if activations.len() != layers.len() - 1 {
        return Err(invalid(
            "activations",
            format!("{} layers need {} activations, got {}", layers.len(), layers.len() - 1, activations.len()),
        ));
    }
    for (l, pair) in layers.windows(2).enumerate() {
        if pair[0].shape.out_channels != pair[1].shape.in_channels {
            return Err(invalid(
                "layers",
                format!(
                    "layer {l} has {} outputs but layer {} has {} inputs",
                    pair[0].shape.out_channels,
                    l + 1,
                    pair[1].shape.in_channels
                ),
            ));
        }
    }
    for a in activations {
        a.validate()?;
    }
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(invalid("tolerance", "must be finite and > 0"));
    }

    let mut scales: Vec<Vec<f64>> =
        layers[..layers.len() - 1].iter().map(|l| vec![1.0; l.shape.out_channels]).collect();
    let mut sweeps = 0;
    let mut converged = false;
    while sweeps < options.max_sweeps && !converged {
        sweeps += 1;
        let mut largest_log = 0f64;
        for (l, cumulative) in scales.iter_mut().enumerate() {
            let (head, tail) = layers.split_at_mut(l + 1);
            let step = equalize_junction(&mut head[l], &mut tail[0]);
            for (total, s) in cumulative.iter_mut().zip(step) {
                *total *= s;
                largest_log = largest_log.max(s.ln().abs());
            }
        }
        converged = largest_log < options.tolerance;
    }

    let activations = activations
        .iter()
        .zip(&scales)
        .map(|(&a, s)| match a {
            Activation::Clip { min, max } => EqualizedActivation::PerChannelClip {
                min: s.iter().map(|&si| (f64::from(min) / si) as f32).collect(),
                max: s.iter().map(|&si| (f64::from(max) / si) as f32).collect(),
            },
            other => EqualizedActivation::Unchanged(other),
        })
        .collect();
    Ok(Equalization {
        scales: scales.into_iter().map(|s| s.into_iter().map(|v| v as f32).collect()).collect(),
        activations,
        sweeps,
        converged,
    })
}

/// One equalization step of the junction `first → second`; returns the scales applied.
fn equalize_junction(first: &mut ConvLayerMut<'_>, second: &mut ConvLayerMut<'_>) -> Vec<f64> {
    let max_abs = |w: &[f32]| w.iter().fold(0f32, |m, &v| m.max(v.abs()));
    (0..first.shape.out_channels)
        .map(|i| {
            let row = first.shape.output_row(i);
            let r1 = max_abs(&first.weights[row.clone()]);
            let r2 = second.shape.input_kernels(i).fold(0f32, |m, k| m.max(max_abs(&second.weights[k])));
            if r1 == 0.0 || r2 == 0.0 {
                return 1.0;
            }
            let s = (f64::from(r1) / f64::from(r2)).sqrt();
            let s32 = s as f32;
            if !s32.is_normal() || s == 1.0 {
                return 1.0;
            }
            for w in &mut first.weights[row] {
                *w /= s32;
            }
            if let Some(b) = first.bias.as_deref_mut() {
                b[i] /= s32;
            }
            for kernel in second.shape.input_kernels(i) {
                for w in &mut second.weights[kernel] {
                    *w *= s32;
                }
            }
            f64::from(s32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfq::ConvShape;
    use crate::prng::SplitMix64;

    /// Naive 1-D grouped convolution (stride 1, no padding) on `[C_in, L]`, in f64.
    fn conv1d(shape: ConvShape, w: &[f32], b: &[f32], x: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let (ipg, opg, ks) = (shape.in_channels / shape.groups, shape.out_channels / shape.groups, shape.kernel_size);
        let len = x[0].len() - ks + 1;
        (0..shape.out_channels)
            .map(|o| {
                let g = o / opg;
                (0..len)
                    .map(|p| {
                        let mut acc = f64::from(b[o]);
                        for jl in 0..ipg {
                            for t in 0..ks {
                                acc += f64::from(w[(o * ipg + jl) * ks + t]) * x[g * ipg + jl][p + t];
                            }
                        }
                        acc
                    })
                    .collect()
            })
            .collect()
    }

    fn activate(a: &EqualizedActivation, x: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        x.into_iter()
            .enumerate()
            .map(|(c, row)| {
                row.into_iter()
                    .map(|v| match a {
                        EqualizedActivation::Unchanged(f) => f64::from(f.apply(v as f32)),
                        EqualizedActivation::PerChannelClip { min, max } => {
                            v.max(f64::from(min[c])).min(f64::from(max[c]))
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn random(rng: &mut SplitMix64, n: usize, magnitude: f32) -> Vec<f32> {
        (0..n).map(|_| magnitude * (2.0 * rng.next_f64() as f32 - 1.0)).collect()
    }

    struct Block {
        shapes: [ConvShape; 3],
        weights: [Vec<f32>; 3],
        biases: [Vec<f32>; 3],
    }

    /// pw (3 -> 6) → dw (6, k = 3) → pw (6 -> 4) with wildly different channel magnitudes.
    fn inverted_residual(seed: u64) -> Block {
        let mut rng = SplitMix64::new(seed);
        let shapes = [ConvShape::dense(6, 3, 1), ConvShape::depthwise(6, 3), ConvShape::dense(4, 6, 1)];
        let magnitudes = [0.01, 5.0, 0.2, 30.0, 1.0, 0.05];
        let mut w1 = Vec::new();
        for &m in &magnitudes {
            w1.extend(random(&mut rng, 3, m));
        }
        let mut w2 = Vec::new();
        for &m in magnitudes.iter().rev() {
            w2.extend(random(&mut rng, 3, m));
        }
        let w3 = random(&mut rng, 24, 1.0);
        Block {
            shapes,
            weights: [w1, w2, w3],
            biases: [random(&mut rng, 6, 0.5), random(&mut rng, 6, 0.5), random(&mut rng, 4, 0.5)],
        }
    }

    fn run(block: &Block, acts: &[EqualizedActivation; 2], x: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let h1 = activate(&acts[0], conv1d(block.shapes[0], &block.weights[0], &block.biases[0], x));
        let h2 = activate(&acts[1], conv1d(block.shapes[1], &block.weights[1], &block.biases[1], &h1));
        conv1d(block.shapes[2], &block.weights[2], &block.biases[2], &h2)
    }

    fn equalize_block(block: &mut Block, acts: &[Activation; 2]) -> Equalization {
        let [w1, w2, w3] = &mut block.weights;
        let [b1, b2, b3] = &mut block.biases;
        let mut layers = [
            ConvLayerMut::new(block.shapes[0], w1, Some(b1)).unwrap(),
            ConvLayerMut::new(block.shapes[1], w2, Some(b2)).unwrap(),
            ConvLayerMut::new(block.shapes[2], w3, Some(b3)).unwrap(),
        ];
        equalize(&mut layers, acts, &EqualizationOptions::default()).unwrap()
    }

    fn channel_ranges(shape: ConvShape, w: &[f32]) -> Vec<f32> {
        (0..shape.out_channels).map(|o| w[shape.output_row(o)].iter().fold(0f32, |m, v| m.max(v.abs()))).collect()
    }

    fn disparity(r: &[f32]) -> f32 {
        let max = r.iter().fold(0f32, |m, &v| m.max(v));
        let min = r.iter().fold(f32::INFINITY, |m, &v| m.min(v));
        max / min
    }

    fn input(seed: u64) -> Vec<Vec<f64>> {
        let mut rng = SplitMix64::new(seed);
        (0..3).map(|_| (0..12).map(|_| 4.0 * rng.next_f64() - 2.0).collect()).collect()
    }

    fn assert_close(a: &[Vec<f64>], b: &[Vec<f64>]) {
        for (ra, rb) in a.iter().zip(b) {
            for (&va, &vb) in ra.iter().zip(rb) {
                assert!((va - vb).abs() <= 1e-4 * (1.0 + vb.abs()), "{va} vs {vb}");
            }
        }
    }

    #[test]
    fn relu_chain_is_preserved_and_ranges_even_out() {
        let mut block = inverted_residual(1);
        let x = input(2);
        let relu = [Activation::Relu, Activation::Relu];
        let unchanged = relu.map(EqualizedActivation::Unchanged);
        let before = run(&block, &unchanged, &x);
        let disparity_before = disparity(&channel_ranges(block.shapes[1], &block.weights[1]));
        let eq = equalize_block(&mut block, &relu);
        assert!(eq.converged, "{eq:?}");
        assert_eq!(eq.activations, unchanged.to_vec());
        assert_close(&run(&block, &unchanged, &x), &before);
        let disparity_after = disparity(&channel_ranges(block.shapes[1], &block.weights[1]));
        assert!(disparity_after < disparity_before / 10.0, "{disparity_before} -> {disparity_after}");
    }

    #[test]
    fn relu6_is_exact_with_per_channel_bounds() {
        let mut block = inverted_residual(3);
        let x = input(4);
        let acts = [Activation::RELU6, Activation::RELU6];
        let before = run(&block, &acts.map(EqualizedActivation::Unchanged), &x);
        // Sanity: the clip at 6 is active somewhere, so ignoring it would be visible.
        let h1 = conv1d(block.shapes[0], &block.weights[0], &block.biases[0], &x);
        assert!(h1.iter().flatten().any(|&v| v > 6.0));
        let eq = equalize_block(&mut block, &acts);
        for (a, s) in eq.activations.iter().zip(&eq.scales) {
            let EqualizedActivation::PerChannelClip { min, max } = a else {
                panic!("expected per-channel bounds, got {a:?}");
            };
            for i in 0..s.len() {
                assert_eq!(min[i], 0.0);
                assert!((max[i] - 6.0 / s[i]).abs() <= 1e-5 * max[i]);
            }
        }
        let acts_after = [eq.activations[0].clone(), eq.activations[1].clone()];
        assert_close(&run(&block, &acts_after, &x), &before);
    }

    #[test]
    fn a_pair_ends_with_equal_geometric_mean_ranges() {
        // Closed form: after one step both ranges of channel i are sqrt(r1 r2).
        let mut w1 = vec![0.5, -2.0, 0.001, 0.002, 40.0, -1.0];
        let mut w2 = vec![8.0, 0.5, -3.0, 0.25, 0.01, 0.1];
        let (r1, r2) = ([2.0f32, 0.002, 40.0], [8.0f32, 0.5, 3.0]);
        let mut layers = [
            ConvLayerMut::new(ConvShape::dense(3, 2, 1), &mut w1, None).unwrap(),
            ConvLayerMut::new(ConvShape::dense(2, 3, 1), &mut w2, None).unwrap(),
        ];
        let eq = equalize(&mut layers, &[Activation::Identity], &EqualizationOptions::default()).unwrap();
        assert!(eq.converged);
        assert_eq!(eq.sweeps, 2);
        for i in 0..3 {
            let expected = (r1[i] * r2[i]).sqrt();
            let first = w1[2 * i].abs().max(w1[2 * i + 1].abs());
            let second = w2[i].abs().max(w2[3 + i].abs());
            assert!((first - expected).abs() <= 1e-5 * expected, "{first} vs {expected}");
            assert!((second - expected).abs() <= 1e-5 * expected, "{second} vs {expected}");
            assert!((eq.scales[0][i] - (r1[i] / r2[i]).sqrt()).abs() <= 1e-5 * eq.scales[0][i]);
        }
    }

    #[test]
    fn dead_channels_keep_scale_one() {
        let mut w1 = vec![0.0, 0.0, 1.0, 2.0];
        let mut w2 = vec![5.0, 0.0];
        let mut layers = [
            ConvLayerMut::new(ConvShape::dense(2, 2, 1), &mut w1, None).unwrap(),
            ConvLayerMut::new(ConvShape::dense(1, 2, 1), &mut w2, None).unwrap(),
        ];
        let eq = equalize(&mut layers, &[Activation::Relu], &EqualizationOptions::default()).unwrap();
        assert_eq!(eq.scales[0], vec![1.0, 1.0]);
        assert_eq!(w1, vec![0.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn invalid_chains_are_errors() {
        let mut a = vec![1.0; 4];
        let mut b = vec![1.0; 3];
        let mut layers = [
            ConvLayerMut::new(ConvShape::dense(2, 2, 1), &mut a, None).unwrap(),
            ConvLayerMut::new(ConvShape::dense(1, 3, 1), &mut b, None).unwrap(),
        ];
        let opts = EqualizationOptions::default();
        assert!(equalize(&mut layers, &[Activation::Relu], &opts).is_err());
        assert!(equalize(&mut layers[..1], &[], &opts).is_err());
        let mut c = vec![1.0; 2];
        let mut d = vec![1.0; 2];
        let mut ok = [
            ConvLayerMut::new(ConvShape::dense(2, 1, 1), &mut c, None).unwrap(),
            ConvLayerMut::new(ConvShape::dense(1, 2, 1), &mut d, None).unwrap(),
        ];
        assert!(equalize(&mut ok, &[], &opts).is_err());
        let bad_clip = Activation::Clip { min: 1.0, max: 0.0 };
        assert!(equalize(&mut ok, &[bad_clip], &opts).is_err());
        let bad_tol = EqualizationOptions { tolerance: 0.0, ..opts };
        assert!(equalize(&mut ok, &[Activation::Relu], &bad_tol).is_err());
        let mut nan = vec![f32::NAN, 1.0];
        assert!(ConvLayerMut::new(ConvShape::dense(2, 1, 1), &mut nan, None).is_err());
        let mut short = vec![1.0; 3];
        assert!(ConvLayerMut::new(ConvShape::dense(2, 2, 1), &mut short, None).is_err());
        let mut w = vec![1.0; 4];
        let mut bias = vec![0.0; 3];
        assert!(ConvLayerMut::new(ConvShape::dense(2, 2, 1), &mut w, Some(&mut bias)).is_err());
        let grouped = ConvShape { out_channels: 3, in_channels: 4, groups: 2, kernel_size: 1 };
        assert!(ConvLayerMut::new(grouped, &mut w, None).is_err());
    }
}
