//! Operators: for each, its parameters, its shape rule, its constant evaluation where shape
//! sub-graphs need one, and its lowering to a planned [`crate::exec::Step`].
//!
//! Spatial ops carry a [`Layout`]: the importer creates them in ONNX's NCHW, the layout pass
//! switches them to NHWC (channels innermost), the only layout their kernels implement.

pub mod binary;
pub mod cast;
pub mod concat;
pub mod conv;
pub mod conv_transpose;
pub mod deconv_phases;
pub mod dense;
pub mod depth_to_space;
pub mod expand;
pub mod gather;
pub mod index_copy;
pub mod matmul;
pub mod pad;
pub mod padded_image;
pub mod permute_copy;
pub mod pool;
pub mod qconv;
pub mod qconv_transpose;
pub mod qemulated;
pub mod quantize;
pub mod reduce;
pub mod reshape;
pub mod resize;
pub mod slice;
pub mod softmax;
pub mod transpose;
pub mod unary;

use crate::{bail, Result};

/// Memory order of a rank-4 activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// ONNX's order: batch, channels, height, width.
    Nchw,
    /// Channels innermost: batch, height, width, channels.
    Nhwc,
}

impl Layout {
    /// Index of the (channel, height, width) axes in a rank-4 shape.
    pub fn chw_axes(self) -> (usize, usize, usize) {
        match self {
            Layout::Nchw => (1, 2, 3),
            Layout::Nhwc => (3, 1, 2),
        }
    }

    /// (N, C, H, W) of a rank-4 shape in this layout.
    pub fn nchw(self, shape: &[usize]) -> Result<[usize; 4]> {
        if shape.len() != 4 {
            bail!("expected a rank-4 {self:?} tensor, got shape {shape:?}");
        }
        let (c, h, w) = self.chw_axes();
        Ok([shape[0], shape[c], shape[h], shape[w]])
    }

    /// The rank-4 shape of (N, C, H, W) in this layout.
    pub fn shape(self, n: usize, c: usize, h: usize, w: usize) -> Vec<usize> {
        match self {
            Layout::Nchw => vec![n, c, h, w],
            Layout::Nhwc => vec![n, h, w, c],
        }
    }
}

/// An activation fused into its producer: the output is clamped to `[min, max]`
/// (`Relu` = [0, +inf], `Relu6` = [0, 6], none = [-inf, +inf]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clamp {
    pub min: f32,
    pub max: f32,
}

impl Clamp {
    pub const NONE: Clamp = Clamp { min: f32::NEG_INFINITY, max: f32::INFINITY };

    pub fn is_none(&self) -> bool {
        *self == Clamp::NONE
    }

    /// The clamp equivalent to applying `self` then `then`.
    pub fn and_then(self, then: Clamp) -> Clamp {
        Clamp { min: self.min.max(then.min).min(then.max), max: self.max.min(then.max).max(then.min) }
    }

    /// The standalone Relu/Clip clamp: NaN maps to the lower bound.
    #[inline(always)]
    pub fn apply(&self, x: f32) -> f32 {
        x.max(self.min).min(self.max)
    }

    /// The clamp fused into a convolution or matrix product: NaN passes through (as in NEON's
    /// `vmaxq`/`vminq`; on x86 the NaN operand goes second to `max_ps`/`min_ps`, which return
    /// their second operand when either is NaN).
    #[inline(always)]
    pub fn apply_keeping_nan(&self, x: f32) -> f32 {
        if x < self.min {
            self.min
        } else if x > self.max {
            self.max
        } else {
            x
        }
    }
}

impl Default for Clamp {
    fn default() -> Self {
        Clamp::NONE
    }
}

/// Output size of a sliding window along one axis (ONNX Conv/Pool formula).
pub fn window_out(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad_begin: usize,
    pad_end: usize,
    ceil_mode: bool,
) -> Result<usize> {
    if stride == 0 || dilation == 0 || kernel == 0 {
        bail!("kernel, stride and dilation must be positive (got {kernel}, {stride}, {dilation})");
    }
    let overflow = || {
        crate::Error::Limit(format!(
            "window of kernel {kernel}, dilation {dilation}, pads {pad_begin}+{pad_end} overflows"
        ))
    };
    let span = dilation.checked_mul(kernel - 1).and_then(|s| s.checked_add(1)).ok_or_else(overflow)?;
    let padded = input.checked_add(pad_begin).and_then(|p| p.checked_add(pad_end)).ok_or_else(overflow)?;
    if padded < span {
        bail!("window of {span} does not fit the padded input of {padded}");
    }
    let steps = padded - span;
    let mut out = if ceil_mode { steps.div_ceil(stride) } else { steps / stride } + 1;
    // ONNX/PyTorch rule: the last window must start inside the input or the begin padding.
    if ceil_mode && (out - 1) * stride >= input + pad_begin {
        out -= 1;
    }
    Ok(out)
}

/// Numpy-style broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => bail!("shapes {a:?} and {b:?} cannot be broadcast together"),
        };
    }
    Ok(out)
}

/// Normalises a possibly negative axis for a tensor of `rank` dimensions.
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r.max(1) {
        bail!("axis {axis} is out of range for rank {rank}");
    }
    Ok(if axis < 0 { (axis + r) as usize } else { axis as usize })
}
