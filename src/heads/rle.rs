//! RLE regression decoding (mmpose `RLEHead.predict` + `RegressionLabel.decode`).
//!
//! The head regresses normalised coordinates μ and a per-axis σ. Keypoints are
//! `μ · (input_w, input_h)` in input-crop pixels and `score = mean(1 − σx, 1 − σy)` with
//! `σ = sigmoid(raw)` (or the raw value when the graph already applies the sigmoid).

use super::coordinates::CoordinateDecoder;
use super::{Activation, Keypoint, KeypointSelection, OutputTensor};
use crate::{bail, Result};

/// Decodes `coords` `[1, K, 2]` + `sigma` `[1, K, 2]`, or a single `[1, K, 4]`.
pub struct RleDecoder {
    coords: String,
    sigma: Option<String>,
    sigma_activation: Activation,
    input: [f32; 2],
    selection: KeypointSelection,
}

impl RleDecoder {
    /// `input` is the network input (width, height) in pixels.
    pub fn new(
        coords: &str,
        sigma: Option<&str>,
        sigma_activation: Activation,
        input: [f32; 2],
        selection: KeypointSelection,
    ) -> RleDecoder {
        RleDecoder { coords: coords.to_owned(), sigma: sigma.map(str::to_owned), sigma_activation, input, selection }
    }
}

impl CoordinateDecoder for RleDecoder {
    fn decode_coordinates(&self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        let c = OutputTensor::find(outputs, &self.coords)?;
        let (k, cw) = c.matrix()?;
        // (coords, coords row width, sigma, sigma row width, sigma column offset)
        let (sd, sw, so) = match &self.sigma {
            Some(name) => {
                let s = OutputTensor::find(outputs, name)?;
                let (sk, sw) = s.matrix()?;
                if cw != 2 || sw != 2 || sk != k {
                    bail!("RLE outputs must be [1, K, 2] each: '{}' {:?}, '{}' {:?}", c.name, c.shape, s.name, s.shape);
                }
                (s.data, 2, 0)
            }
            None => {
                if cw != 4 {
                    bail!("RLE output '{}' must be [1, K, 4] (μx, μy, σx, σy), got {:?}", c.name, c.shape);
                }
                (c.data, 4, 2)
            }
        };
        let n = self.selection.count(k)?;
        out.clear();
        for j in 0..n {
            let r = self.selection.raw(j);
            let mu = &c.data[r * cw..r * cw + 2];
            let sx = self.sigma_activation.apply(sd[r * sw + so]);
            let sy = self.sigma_activation.apply(sd[r * sw + so + 1]);
            out.push(Keypoint {
                x: mu[0] * self.input[0],
                y: mu[1] * self.input[1],
                score: ((1.0 - sx) + (1.0 - sy)) * 0.5,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_output_with_logit_sigma() {
        // μ = (0.5, 0.25) on 192×256 → (96, 64); σ logits 0 and ln 3 → sigmoid .5 and .75,
        // score = mean(.5, .25) = .375.
        let d = [0.5, 0.25, 0.0, 3f32.ln()];
        let outs = [OutputTensor { name: "out", shape: &[1, 1, 4], data: &d }];
        let dec = RleDecoder::new("out", None, Activation::Sigmoid, [192.0, 256.0], KeypointSelection::All);
        let mut kps = Vec::new();
        dec.decode_coordinates(&outs, &mut kps).unwrap();
        assert_eq!((kps[0].x, kps[0].y), (96.0, 64.0));
        assert!((kps[0].score - 0.375).abs() < 1e-6);
    }

    #[test]
    fn separate_outputs_with_sigmoided_sigma_and_selection() {
        let coords = [0.1, 0.2, 0.3, 0.4];
        let sigma = [0.1, 0.3, 0.2, 0.2];
        let outs = [
            OutputTensor { name: "sigma", shape: &[1, 2, 2], data: &sigma },
            OutputTensor { name: "coords", shape: &[1, 2, 2], data: &coords },
        ];
        let sel = KeypointSelection::Indices(vec![1]);
        let dec = RleDecoder::new("coords", Some("sigma"), Activation::None, [10.0, 100.0], sel);
        let mut kps = Vec::new();
        dec.decode_coordinates(&outs, &mut kps).unwrap();
        assert_eq!(kps.len(), 1);
        assert!((kps[0].x - 3.0).abs() < 1e-6 && (kps[0].y - 40.0).abs() < 1e-5);
        assert!((kps[0].score - 0.8).abs() < 1e-6);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let d = [0.0f32; 6];
        let outs = [OutputTensor { name: "out", shape: &[1, 2, 3], data: &d }];
        let dec = RleDecoder::new("out", None, Activation::Sigmoid, [192.0, 256.0], KeypointSelection::All);
        assert!(dec.decode_coordinates(&outs, &mut Vec::new()).is_err());
    }
}
