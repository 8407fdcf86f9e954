//! Bias correction of the weight-quantization error (DFQ §4.2, empirical variant).

use super::ConvShape;
use crate::error::{ensure_finite, ensure_len, Result};

/// The per-output-channel term to **add** to a layer's bias so that the quantized layer's
/// expected output matches the float layer's.
///
/// With `ε = Ŵ - W` (`quantized_weights` are the dequantized weights, e.g. from
/// [`PerChannelParams::fake_quantize_slice`](crate::PerChannelParams::fake_quantize_slice)),
/// the quantized layer's output is off by `ε · x`, whose expectation is `ε · E[x]`. For a
/// convolution every kernel tap of input channel `j` sees the same expectation `μ_j`
/// (ignoring padding), so
///
/// ```text
/// correction[o] = -Σ_{j in group(o)} Σ_t ε[o, j, t] · μ_j
/// ```
///
/// `input_channel_means` (`[C_in]`) are the means of the layer's input per channel, measured
/// on calibration data by the caller (DFQ's data-free variant derives them from the preceding
/// BN instead). Layouts as in [`ConvShape`]. Computed in f64.
pub fn bias_correction(
    shape: &ConvShape,
    weights: &[f32],
    quantized_weights: &[f32],
    input_channel_means: &[f32],
) -> Result<Vec<f32>> {
    shape.validate()?;
    ensure_len("weights", shape.weight_len(), weights.len())?;
    ensure_len("quantized weights", shape.weight_len(), quantized_weights.len())?;
    ensure_len("input channel means", shape.in_channels, input_channel_means.len())?;
    ensure_finite("weights", weights)?;
    ensure_finite("quantized weights", quantized_weights)?;
    ensure_finite("input channel means", input_channel_means)?;
    let (ipg, opg, ks) = (shape.in_per_group(), shape.out_per_group(), shape.kernel_size);
    Ok((0..shape.out_channels)
        .map(|o| {
            let means = &input_channel_means[(o / opg) * ipg..][..ipg];
            let row = shape.output_row(o);
            let error: f64 = weights[row.clone()]
                .chunks_exact(ks)
                .zip(quantized_weights[row].chunks_exact(ks))
                .zip(means)
                .map(|((w, q), &mean)| {
                    let kernel_error: f64 = w.iter().zip(q).map(|(&w, &q)| f64::from(q) - f64::from(w)).sum();
                    kernel_error * f64::from(mean)
                })
                .sum();
            -error as f32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::{MinMaxObserver, PerChannelObserver};
    use crate::prng::SplitMix64;
    use crate::scheme::QuantScheme;

    fn quantize_weights(shape: ConvShape, w: &[f32]) -> Vec<f32> {
        let mut observer = PerChannelObserver::new(shape.out_channels, MinMaxObserver::new).unwrap();
        observer.observe(w).unwrap();
        let params = observer.params(QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        let mut q = vec![0f32; w.len()];
        params.fake_quantize_slice(w, &[shape.out_channels, w.len() / shape.out_channels], &mut q).unwrap();
        q
    }

    /// Mean over positions of (quantized output - float output) per channel, naive 1-D conv
    /// (stride 1, no padding) on `x` `[C_in, L]`, in f64.
    fn mean_output_error(shape: ConvShape, w: &[f32], q: &[f32], correction: &[f32], x: &[Vec<f32>]) -> Vec<f64> {
        let (ipg, opg, ks) = (shape.in_channels / shape.groups, shape.out_channels / shape.groups, shape.kernel_size);
        let len = x[0].len() - ks + 1;
        (0..shape.out_channels)
            .map(|o| {
                let g = o / opg;
                let mut total = 0.0;
                for p in 0..len {
                    let mut diff = f64::from(correction[o]);
                    for jl in 0..ipg {
                        for t in 0..ks {
                            let i = (o * ipg + jl) * ks + t;
                            diff += (f64::from(q[i]) - f64::from(w[i])) * f64::from(x[g * ipg + jl][p + t]);
                        }
                    }
                    total += diff;
                }
                total / len as f64
            })
            .collect()
    }

    fn data(channels: usize, len: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<f32>) {
        let mut rng = SplitMix64::new(seed);
        let x: Vec<Vec<f32>> = (0..channels)
            .map(|c| {
                let mean = 5.0 + 3.0 * c as f32;
                (0..len).map(|_| mean + (2.0 * rng.next_f64() as f32 - 1.0)).collect()
            })
            .collect();
        let means =
            x.iter().map(|row| (row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64) as f32).collect();
        (x, means)
    }

    #[test]
    fn removes_the_mean_error_of_a_pointwise_layer() {
        let shape = ConvShape::dense(5, 4, 1);
        let mut rng = SplitMix64::new(1);
        let w: Vec<f32> = (0..20).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let q = quantize_weights(shape, &w);
        let (x, means) = data(4, 2000, 2);
        let zero = vec![0f32; 5];
        let before = mean_output_error(shape, &w, &q, &zero, &x);
        let correction = bias_correction(&shape, &w, &q, &means).unwrap();
        let after = mean_output_error(shape, &w, &q, &correction, &x);
        let worst_before = before.iter().fold(0f64, |m, v| m.max(v.abs()));
        assert!(worst_before > 1e-3, "{before:?}");
        // Pointwise: the mean over positions is exactly ε·μ, so only float rounding remains.
        for a in &after {
            assert!(a.abs() < 1e-6, "{after:?}");
        }
    }

    #[test]
    fn shrinks_the_mean_error_of_a_depthwise_layer() {
        // k = 3 without padding: each tap sees a window mean slightly different from μ_j.
        let shape = ConvShape::depthwise(3, 3);
        let w = vec![0.31, -0.77, 0.052, 1.9, 0.013, -0.4, 0.6, 0.6, -0.0049];
        let q = quantize_weights(shape, &w);
        let (x, means) = data(3, 4000, 3);
        let before = mean_output_error(shape, &w, &q, &[0.0; 3], &x);
        let correction = bias_correction(&shape, &w, &q, &means).unwrap();
        let after = mean_output_error(shape, &w, &q, &correction, &x);
        for (b, a) in before.iter().zip(&after) {
            assert!(a.abs() * 20.0 < b.abs() || a.abs() < 1e-7, "{before:?} -> {after:?}");
        }
    }

    #[test]
    fn hand_computed_grouped_case() {
        // 2 groups, 2 inputs and 1 output per group, kernel 1:
        // ε = [[0.1, -0.2], [0.5, 0.0]], μ = [1, 2, 3, 4]
        // -> correction = [-(0.1*1 - 0.2*2), -(0.5*3)] = [0.3, -1.5].
        let shape = ConvShape { out_channels: 2, in_channels: 4, groups: 2, kernel_size: 1 };
        let w = [1.0, 1.0, 1.0, 1.0];
        let q = [1.1, 0.8, 1.5, 1.0];
        let c = bias_correction(&shape, &w, &q, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((c[0] - 0.3).abs() < 1e-6 && (c[1] + 1.5).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn validates_inputs() {
        let shape = ConvShape::dense(1, 2, 1);
        assert!(bias_correction(&shape, &[1.0, 1.0], &[1.0], &[0.0, 0.0]).is_err());
        assert!(bias_correction(&shape, &[1.0, 1.0], &[1.0, 1.0], &[0.0]).is_err());
        assert!(bias_correction(&shape, &[1.0, f32::NAN], &[1.0, 1.0], &[0.0, 0.0]).is_err());
        assert!(bias_correction(&ConvShape::dense(0, 2, 1), &[], &[], &[0.0, 0.0]).is_err());
        assert_eq!(bias_correction(&shape, &[1.0, 1.0], &[1.0, 1.0], &[3.0, -2.0]).unwrap(), vec![0.0]);
    }
}
