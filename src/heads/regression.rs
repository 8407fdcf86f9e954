//! Plain coordinate regression with a configurable layout (BlazePose: 39 landmarks × 5 values
//! `x, y, z, visibility logit, presence logit` in pixels of the 256×256 input).

use super::coordinates::CoordinateDecoder;
use super::{Activation, CoordUnits, Keypoint, KeypointSelection, OutputTensor};
use crate::{bail, Result};

/// Where each keypoint's numbers sit in the output: `keypoints × values`, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionLayout {
    pub keypoints: usize,
    pub values: usize,
    /// Index of x, y and the optional score within one keypoint's values.
    pub x: usize,
    pub y: usize,
    pub score: Option<usize>,
    pub score_activation: Activation,
    pub units: CoordUnits,
}

/// Decodes one output of `keypoints × values` numbers (any shape with that many elements).
/// Without a score index every keypoint scores 1 (mmpose `RegressionLabel` with D = 2).
pub struct RegressionDecoder {
    output: String,
    layout: RegressionLayout,
    scale: [f32; 2],
    selection: KeypointSelection,
}

impl RegressionDecoder {
    /// `input` is the network input (width, height) in pixels.
    pub fn new(
        output: &str,
        layout: RegressionLayout,
        input: [f32; 2],
        selection: KeypointSelection,
    ) -> Result<RegressionDecoder> {
        let max_index = layout.x.max(layout.y).max(layout.score.unwrap_or(0));
        if layout.keypoints == 0 || max_index >= layout.values {
            bail!(
                "regression layout: {} keypoints × {} values cannot hold value index {max_index}",
                layout.keypoints,
                layout.values
            );
        }
        selection.count(layout.keypoints)?;
        let scale = match layout.units {
            CoordUnits::Normalized => input,
            CoordUnits::InputPixels => [1.0, 1.0],
        };
        Ok(RegressionDecoder { output: output.to_owned(), layout, scale, selection })
    }
}

impl CoordinateDecoder for RegressionDecoder {
    fn decode_coordinates(&self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        let l = &self.layout;
        let data = OutputTensor::find(outputs, &self.output)?.values(l.keypoints * l.values)?;
        let n = self.selection.count(l.keypoints)?;
        out.clear();
        for j in 0..n {
            let v = &data[self.selection.raw(j) * l.values..][..l.values];
            out.push(Keypoint {
                x: v[l.x] * self.scale[0],
                y: v[l.y] * self.scale[1],
                score: l.score.map_or(1.0, |s| l.score_activation.apply(v[s])),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blazepose_like() -> RegressionLayout {
        RegressionLayout {
            keypoints: 3,
            values: 5,
            x: 0,
            y: 1,
            score: Some(3),
            score_activation: Activation::Sigmoid,
            units: CoordUnits::InputPixels,
        }
    }

    #[test]
    fn pixels_with_sigmoid_score_and_selection() {
        #[rustfmt::skip]
        let d = [
            1.0, 2.0, 9.0, 0.0, 9.0,
            10.0, 20.0, 9.0, 3f32.ln(), 9.0,
            100.0, 200.0, 9.0, -3f32.ln(), 9.0,
        ];
        let outs = [OutputTensor { name: "Identity", shape: &[1, 15], data: &d }];
        let sel = KeypointSelection::Indices(vec![2, 1]);
        let dec = RegressionDecoder::new("Identity", blazepose_like(), [256.0, 256.0], sel).unwrap();
        let mut kps = Vec::new();
        dec.decode_coordinates(&outs, &mut kps).unwrap();
        assert_eq!((kps[0].x, kps[0].y), (100.0, 200.0));
        assert!((kps[0].score - 0.25).abs() < 1e-6);
        assert_eq!((kps[1].x, kps[1].y), (10.0, 20.0));
        assert!((kps[1].score - 0.75).abs() < 1e-6);
    }

    #[test]
    fn normalized_without_score() {
        let d = [0.5, 0.25];
        let outs = [OutputTensor { name: "o", shape: &[1, 1, 2], data: &d }];
        let layout = RegressionLayout {
            keypoints: 1,
            values: 2,
            x: 0,
            y: 1,
            score: None,
            score_activation: Activation::None,
            units: CoordUnits::Normalized,
        };
        let dec = RegressionDecoder::new("o", layout, [192.0, 256.0], KeypointSelection::All).unwrap();
        let mut kps = Vec::new();
        dec.decode_coordinates(&outs, &mut kps).unwrap();
        assert_eq!(kps[0], Keypoint { x: 96.0, y: 64.0, score: 1.0 });
    }

    #[test]
    fn bad_layouts_and_sizes_are_errors() {
        let mut l = blazepose_like();
        l.score = Some(5);
        assert!(RegressionDecoder::new("o", l, [1.0, 1.0], KeypointSelection::All).is_err());
        let sel = KeypointSelection::Indices(vec![3]);
        assert!(RegressionDecoder::new("o", blazepose_like(), [1.0, 1.0], sel).is_err());
        let dec = RegressionDecoder::new("o", blazepose_like(), [1.0, 1.0], KeypointSelection::All).unwrap();
        let d = [0.0f32; 14];
        let outs = [OutputTensor { name: "o", shape: &[1, 14], data: &d }];
        assert!(dec.decode_coordinates(&outs, &mut Vec::new()).is_err());
    }
}
