//! Spatial resize of H and W (`Resize`, `Upsample`): nearest or bilinear.

use super::Layout;
use crate::Result;

/// How an output coordinate maps back to the input (ONNX `coordinate_transformation_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordMode {
    HalfPixel,
    PytorchHalfPixel,
    Asymmetric,
    AlignCorners,
}

/// Rounding of nearest-neighbour sampling (ONNX `nearest_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeMode {
    Nearest(NearestMode),
    Linear,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resize {
    pub mode: ResizeMode,
    pub coord: CoordMode,
    /// Output height and width.
    pub out_hw: [usize; 2],
    /// Scale factors (output / input) for H and W as the model gives them; used by the
    /// coordinate transform exactly as ONNX defines it.
    pub scales: [f32; 2],
    pub layout: Layout,
}

impl Resize {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, _, _] = self.layout.nchw(x)?;
        Ok(self.layout.shape(n, c, self.out_hw[0], self.out_hw[1]))
    }

    /// The input coordinate sampled for output coordinate `o` along an axis of input length
    /// `len_in`, output length `len_out` and scale `scale`.
    pub fn source_coord(&self, o: usize, len_in: usize, len_out: usize, scale: f32) -> f32 {
        let o = o as f32;
        match self.coord {
            CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
            CoordMode::PytorchHalfPixel => {
                if len_out > 1 {
                    (o + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            CoordMode::Asymmetric => o / scale,
            CoordMode::AlignCorners => {
                if len_out > 1 {
                    o * (len_in as f32 - 1.0) / (len_out as f32 - 1.0)
                } else {
                    0.0
                }
            }
        }
    }
}

impl NearestMode {
    /// The input index nearest to coordinate `x`, clamped to `[0, len)`.
    pub fn index(self, x: f32, len: usize) -> usize {
        let i = match self {
            NearestMode::RoundPreferFloor => {
                if x.fract() == 0.5 {
                    x.floor()
                } else {
                    x.round()
                }
            }
            NearestMode::RoundPreferCeil => {
                if x.fract() == 0.5 {
                    x.ceil()
                } else {
                    x.round()
                }
            }
            NearestMode::Floor => x.floor(),
            NearestMode::Ceil => x.ceil(),
        };
        (i.max(0.0) as usize).min(len - 1)
    }
}
