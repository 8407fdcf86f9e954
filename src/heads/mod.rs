//! Float head decoders: network outputs → keypoints in input-crop pixels.
//!
//! Every decoder follows mmpose 1.x's codec for its head kind (see each module) and writes
//! keypoints in **pixels of the network input crop** (x right, y down, pixel centres at integer
//! coordinates as in `cv2.warpAffine`), each with a score. Decoders own their scratch buffers, so
//! decoding one person after another does not allocate once the buffers have grown.

pub mod blur;
pub mod coco17;
pub mod config;
pub mod coordinates;
pub mod detect;
pub mod flip;
pub mod heatmap;
pub mod heatmap_refine;
pub mod integral;
pub mod maximum;
pub mod output;
pub mod regression;
pub mod rle;
pub mod selection;
pub mod simcc;

pub use coco17::{COCO17_FLIP_PAIRS, COCO17_NAMES, COCO17_SIGMAS, COCO17_SKELETON};
pub use config::{Activation, CoordUnits, HeadConfig, HeatmapDecode};
pub use detect::{detect_head, TensorSpec};
pub use flip::FlipIndices;
pub use output::{OutputStore, OutputTensor};
pub use selection::KeypointSelection;

use crate::Result;

/// One decoded keypoint. Where it lives (input-crop or image pixels) is said by the type that
/// holds it; `score` is the head's confidence (its range depends on the head: SimCC scores are
/// raw logits and can be negative, RLE scores are in (0, 1)).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// Turns one person's network outputs into keypoints in input-crop pixels.
pub trait HeadDecoder: Send {
    /// Decodes one run. `out` is cleared, then holds one keypoint per selected keypoint.
    fn decode(&mut self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()>;

    /// Flip test: `outputs` come from the input, `flipped` from the horizontally mirrored input;
    /// the two are merged the way mmpose merges this head kind, then decoded into `out`.
    /// `flip` permutes the selected (output) keypoints.
    fn decode_flip(
        &mut self,
        outputs: &[OutputTensor<'_>],
        flipped: &[OutputTensor<'_>],
        flip: &FlipIndices,
        out: &mut Vec<Keypoint>,
    ) -> Result<()>;
}

/// Builds the decoder for `head`. `input_size` is the network input (width, height) in pixels;
/// `selection` picks and orders the head's keypoints (e.g. BlazePose's 17 of 33).
pub fn build_decoder(
    head: &HeadConfig,
    input_size: [usize; 2],
    selection: KeypointSelection,
) -> Result<Box<dyn HeadDecoder>> {
    let input = [input_size[0] as f32, input_size[1] as f32];
    Ok(match head {
        HeadConfig::Rle { coords, sigma, sigma_activation } => Box::new(coordinates::CoordinateHead::new(
            rle::RleDecoder::new(coords, sigma.as_deref(), *sigma_activation, input, selection),
            input[0],
        )),
        HeadConfig::Simcc { x, y, split_ratio, dark_sigma } => {
            Box::new(simcc::SimccDecoder::new(x, y, *split_ratio, *dark_sigma, selection)?)
        }
        HeadConfig::Heatmap { output, decode, blur_kernel, flip_shift } => {
            Box::new(heatmap::HeatmapDecoder::new(output, *decode, *blur_kernel, *flip_shift, input, selection)?)
        }
        HeadConfig::Regression { output, keypoints, values, x, y, score, score_activation, units } => {
            let layout = regression::RegressionLayout {
                keypoints: *keypoints,
                values: *values,
                x: *x,
                y: *y,
                score: *score,
                score_activation: *score_activation,
                units: *units,
            };
            Box::new(coordinates::CoordinateHead::new(
                regression::RegressionDecoder::new(output, layout, input, selection)?,
                input[0],
            ))
        }
        HeadConfig::Integral { output, beta } => Box::new(coordinates::CoordinateHead::new(
            integral::IntegralDecoder::new(output, *beta, input, selection),
            input[0],
        )),
    })
}

#[cfg(test)]
mod fixture_tests;
