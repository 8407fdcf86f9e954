//! Integral regression / soft-argmax (mmpose `IntegralRegressionHead`): heatmap logits
//! `[1, K, H, W]` → `softmax(β·h)` over the whole map → expected position.
//!
//! mmpose's expectation uses `linspace = arange(W) / W`, so `x_in = E[col] · input_w / W`
//! (no half-pixel offset) and likewise for y. The score is 1 (`RegressionLabel` with D = 2).

use super::coordinates::CoordinateDecoder;
use super::{Keypoint, KeypointSelection, OutputTensor};
use crate::{bail, Result};

/// Decodes heatmap logits by soft-argmax.
pub struct IntegralDecoder {
    output: String,
    beta: f32,
    input: [f32; 2],
    selection: KeypointSelection,
}

impl IntegralDecoder {
    /// `input` is the network input (width, height) in pixels.
    pub fn new(output: &str, beta: f32, input: [f32; 2], selection: KeypointSelection) -> IntegralDecoder {
        IntegralDecoder { output: output.to_owned(), beta, input, selection }
    }
}

impl CoordinateDecoder for IntegralDecoder {
    fn decode_coordinates(&self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        let t = OutputTensor::find(outputs, &self.output)?;
        let (k, h, w) = t.maps()?;
        if h == 0 || w == 0 {
            bail!("integral head output '{}' {:?} is empty", t.name, t.shape);
        }
        let n = self.selection.count(k)?;
        out.clear();
        for j in 0..n {
            let c = self.selection.raw(j);
            let map = &t.data[c * h * w..(c + 1) * h * w];
            let m = map.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(self.beta * v));
            let (mut sum, mut ex, mut ey) = (0.0f64, 0.0f64, 0.0f64);
            for (i, &v) in map.iter().enumerate() {
                let p = f64::from(self.beta * v - m).exp();
                sum += p;
                ex += p * (i % w) as f64;
                ey += p * (i / w) as f64;
            }
            out.push(Keypoint {
                x: (ex / sum / w as f64 * f64::from(self.input[0])) as f32,
                y: (ey / sum / h as f64 * f64::from(self.input[1])) as f32,
                score: 1.0,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_and_two_point_maps() {
        // Map 0: uniform 2×4 → E[col] = 1.5, E[row] = 0.5 → (1.5/4·16, 0.5/2·8) = (6, 2).
        // Map 1: logits ln 3 at (0, 0) and 0 at (3, 1), −inf-like elsewhere → p = (.75, .25):
        // E[col] = .75, E[row] = .25 → (3, 1).
        let mut d = vec![0.0f32; 16];
        for v in &mut d[8..] {
            *v = -1e4;
        }
        d[8] = 3f32.ln();
        d[8 + 7] = 0.0;
        let outs = [OutputTensor { name: "hm", shape: &[1, 2, 2, 4], data: &d }];
        let dec = IntegralDecoder::new("hm", 1.0, [16.0, 8.0], KeypointSelection::All);
        let mut kps = Vec::new();
        dec.decode_coordinates(&outs, &mut kps).unwrap();
        assert!((kps[0].x - 6.0).abs() < 1e-5 && (kps[0].y - 2.0).abs() < 1e-5);
        assert!((kps[1].x - 3.0).abs() < 1e-5 && (kps[1].y - 1.0).abs() < 1e-5, "{:?}", kps[1]);
        assert_eq!(kps[1].score, 1.0);
    }
}
