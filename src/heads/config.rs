//! What a model's head is and how to decode it: the `[head]` table of a model config.

use serde::{Deserialize, Serialize};

/// An elementwise activation the decoder applies to a raw output value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The value is used as it is.
    #[default]
    None,
    /// `1 / (1 + exp(−v))`: the graph outputs a logit.
    Sigmoid,
}

impl Activation {
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::None => v,
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }
}

/// Units of regressed coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordUnits {
    /// Fractions of the input width/height (mmpose regression heads): multiplied by the input size.
    #[default]
    Normalized,
    /// Pixels of the network input (BlazePose: 0..256).
    InputPixels,
}

/// Sub-pixel refinement of a heatmap maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeatmapDecode {
    /// mmpose `MSRAHeatmap` (unbiased=False): quarter-pixel shift towards the higher neighbour.
    #[default]
    Plain,
    /// mmpose `MSRAHeatmap` (unbiased=True): DARK, Taylor expansion of the blurred log-heatmap.
    Dark,
    /// mmpose `UDPHeatmap` (gaussian): DARK-UDP refinement, coordinates scaled by `(size − 1)`.
    Udp,
}

/// The head of a pose model and the parameters of its decoder. Output names refer to the
/// network's graph outputs; all tensors are float (dequantized before decoding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HeadConfig {
    /// RLE regression (mmpose `RLEHead`): normalised coordinates and a per-axis σ.
    /// `coords` is `[1, K, 2]` with `sigma` `[1, K, 2]` beside it, or `[1, K, 4]`
    /// (μx, μy, σx, σy) when `sigma` is absent.
    Rle {
        coords: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma: Option<String>,
        /// Applied to σ before scoring: `sigmoid` for mmpose's raw `forward()` output (the
        /// sigmoid lives in `predict`), `none` when the graph already ends in a Sigmoid.
        #[serde(default = "sigmoid")]
        sigma_activation: Activation,
    },
    /// SimCC (mmpose `SimCCHead`): 1-D classification vectors `x` `[1, K, Wx]` and `y`
    /// `[1, K, Wy]`, `Wx = split_ratio · input_w`.
    Simcc {
        x: String,
        y: String,
        #[serde(default = "two")]
        split_ratio: f32,
        /// The codec's label σ (x, y); when given, 1-D DARK refinement runs with mmpose's blur
        /// kernel `(σ·20 − 7) // 3` (made odd).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dark_sigma: Option<[f32; 2]>,
    },
    /// Heatmaps `[1, K, H, W]` (mmpose `HeatmapHead`); the stride is `input / heatmap` size.
    Heatmap {
        output: String,
        #[serde(default)]
        decode: HeatmapDecode,
        /// Gaussian blur kernel of DARK and UDP (11 for a training σ of 2, 17 for σ = 3).
        #[serde(default = "eleven")]
        blur_kernel: usize,
        /// Flip test shifts the flipped-back heatmaps right by one pixel (mmpose
        /// `shift_heatmap`). Default: true for `plain`/`dark`, false for `udp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flip_shift: Option<bool>,
    },
    /// Plain coordinate regression in one output holding `keypoints × values` numbers per
    /// person (e.g. BlazePose `Identity` [1,195] = 39 × 5).
    Regression {
        output: String,
        keypoints: usize,
        values: usize,
        /// Index of x, y and (optionally) the score within each keypoint's values.
        x: usize,
        y: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<usize>,
        #[serde(default)]
        score_activation: Activation,
        #[serde(default)]
        units: CoordUnits,
    },
    /// Integral regression / soft-argmax over heatmap logits `[1, K, H, W]` (mmpose
    /// `IntegralRegressionHead`): `softmax(β·h)`, expectation of `col / W`, score 1.
    Integral {
        output: String,
        #[serde(default = "one")]
        beta: f32,
    },
}

fn sigmoid() -> Activation {
    Activation::Sigmoid
}
fn two() -> f32 {
    2.0
}
fn one() -> f32 {
    1.0
}
fn eleven() -> usize {
    11
}

impl HeadConfig {
    /// The graph outputs this head reads.
    pub fn output_names(&self) -> Vec<&str> {
        match self {
            HeadConfig::Rle { coords, sigma, .. } => std::iter::once(coords.as_str()).chain(sigma.as_deref()).collect(),
            HeadConfig::Simcc { x, y, .. } => vec![x, y],
            HeadConfig::Heatmap { output, .. }
            | HeadConfig::Regression { output, .. }
            | HeadConfig::Integral { output, .. } => vec![output],
        }
    }

    /// The head kind as written in the config (`rle`, `simcc`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            HeadConfig::Rle { .. } => "rle",
            HeadConfig::Simcc { .. } => "simcc",
            HeadConfig::Heatmap { .. } => "heatmap",
            HeadConfig::Regression { .. } => "regression",
            HeadConfig::Integral { .. } => "integral",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_values() {
        assert_eq!(Activation::Sigmoid.apply(0.0), 0.5);
        assert!((Activation::Sigmoid.apply(2.0) - 0.880_797_1).abs() < 1e-6);
        assert_eq!(Activation::None.apply(-3.0), -3.0);
    }

    #[test]
    fn toml_defaults() {
        let h: HeadConfig = toml::from_str("kind = 'simcc'\nx = 'simcc_x'\ny = 'simcc_y'").unwrap();
        assert_eq!(
            h,
            HeadConfig::Simcc { x: "simcc_x".into(), y: "simcc_y".into(), split_ratio: 2.0, dark_sigma: None }
        );
        let h: HeadConfig = toml::from_str("kind = 'rle'\ncoords = 'out'").unwrap();
        assert_eq!(h, HeadConfig::Rle { coords: "out".into(), sigma: None, sigma_activation: Activation::Sigmoid });
        assert_eq!(h.output_names(), vec!["out"]);
        let bad = toml::from_str::<HeadConfig>("kind = 'heatmap'\noutput = 'h'\nstride = 4");
        assert!(bad.is_err());
    }
}
