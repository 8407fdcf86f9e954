//! Heads whose outputs are coordinates (RLE, plain regression, integral regression). Their flip
//! test is done on decoded keypoints, which for these heads equals mmpose's merge of the raw
//! outputs: coordinates are mirrored and averaged, and the scores are linear in the averaged
//! quantities (RLE: `mean(1 − σ)` of the averaged sigmoided σ; regression: averaged activated
//! scores).

use super::{FlipIndices, HeadDecoder, Keypoint, OutputTensor};
use crate::{bail, Result};

/// A decoder that reads coordinates straight from the outputs.
pub trait CoordinateDecoder: Send {
    /// Decodes one run into `out` (cleared first), in input-crop pixels.
    fn decode_coordinates(&self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()>;
}

/// Wraps a [`CoordinateDecoder`] with the flip test of coordinate heads.
pub struct CoordinateHead<D> {
    decoder: D,
    input_w: f32,
    flipped: Vec<Keypoint>,
}

impl<D: CoordinateDecoder> CoordinateHead<D> {
    /// `input_w` is the network input width in pixels.
    pub fn new(decoder: D, input_w: f32) -> CoordinateHead<D> {
        CoordinateHead { decoder, input_w, flipped: Vec::new() }
    }
}

impl<D: CoordinateDecoder> HeadDecoder for CoordinateHead<D> {
    fn decode(&mut self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        self.decoder.decode_coordinates(outputs, out)
    }

    fn decode_flip(
        &mut self,
        outputs: &[OutputTensor<'_>],
        flipped: &[OutputTensor<'_>],
        flip: &FlipIndices,
        out: &mut Vec<Keypoint>,
    ) -> Result<()> {
        self.decoder.decode_coordinates(outputs, out)?;
        self.decoder.decode_coordinates(flipped, &mut self.flipped)?;
        merge_flipped_coordinates(out, &self.flipped, flip, self.input_w)
    }
}

/// Merges keypoints decoded from the flipped input into `out` as mmpose's
/// `flip_coordinates(shift_coords=True)` followed by averaging does: the flipped keypoint
/// `flip[j]` is mirrored to `x' = (input_w − 1) − x` (the input flip maps pixel column `c` to
/// `input_w − 1 − c`) and averaged with `out[j]`; y and score are averaged.
/// All coordinates are input-crop pixels.
pub fn merge_flipped_coordinates(
    out: &mut [Keypoint],
    flipped: &[Keypoint],
    flip: &FlipIndices,
    input_w: f32,
) -> Result<()> {
    flip.check_len(out.len())?;
    if flipped.len() != out.len() {
        bail!("flipped run decoded {} keypoints, expected {}", flipped.len(), out.len());
    }
    for (j, kp) in out.iter_mut().enumerate() {
        let f = flipped[flip.of(j)];
        kp.x = 0.5 * (kp.x + (input_w - 1.0 - f.x));
        kp.y = 0.5 * (kp.y + f.y);
        kp.score = 0.5 * (kp.score + f.score);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_mirrors_and_averages() {
        // Two keypoints that swap. Input 192 wide: flipped x 10 mirrors to 181.
        let flip = FlipIndices::from_pairs(2, &[[0, 1]]).unwrap();
        let mut out = [Keypoint { x: 181.0, y: 20.0, score: 0.5 }, Keypoint { x: 100.0, y: 0.0, score: 1.0 }];
        let flipped = [Keypoint { x: 91.0, y: 2.0, score: 0.0 }, Keypoint { x: 10.0, y: 30.0, score: 0.7 }];
        merge_flipped_coordinates(&mut out, &flipped, &flip, 192.0).unwrap();
        assert_eq!((out[0].x, out[0].y), (181.0, 25.0));
        assert!((out[0].score - 0.6).abs() < 1e-6);
        assert_eq!(out[1], Keypoint { x: 100.0, y: 1.0, score: 0.5 });
    }

    #[test]
    fn merge_rejects_mismatched_lengths() {
        let flip = FlipIndices::from_pairs(2, &[]).unwrap();
        let mut out = [Keypoint::default(); 2];
        assert!(merge_flipped_coordinates(&mut out, &[Keypoint::default()], &flip, 10.0).is_err());
        assert!(merge_flipped_coordinates(&mut out[..1], &[Keypoint::default()], &flip, 10.0).is_err());
    }
}
