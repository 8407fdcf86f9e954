//! Data-free quantization helpers (Nagel et al., "Data-Free Quantization Through Weight
//! Equalization and Bias Correction", ICCV 2019): cross-layer equalization of consecutive
//! layers and bias correction of the weight-quantization error.
//!
//! Layers are described by a [`ConvShape`] over ONNX `Conv` weights `[C_out, C_in/groups, kh, kw]`
//! flattened row-major (`kernel_size = kh * kw`); a linear layer `[C_out, C_in]` is a
//! convolution with `groups = 1` and `kernel_size = 1`, a depthwise convolution has
//! `groups = C_in = C_out`. Weights are expected BN-folded.
//!
//! High-bias absorption (DFQ §4.1) is not implemented.

mod bias_correction;
mod equalize;

pub use bias_correction::bias_correction;
pub use equalize::{equalize, Equalization, EqualizationOptions, EqualizedActivation};

use crate::error::{ensure_finite, ensure_len, invalid, Result};

/// Channel structure of a convolution (or linear) layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Output channels, a multiple of `groups`.
    pub out_channels: usize,
    /// Input channels, a multiple of `groups`.
    pub in_channels: usize,
    /// Convolution groups.
    pub groups: usize,
    /// Spatial kernel elements, `kh * kw` (1 for pointwise and linear layers).
    pub kernel_size: usize,
}

impl ConvShape {
    /// A dense (`groups = 1`) convolution or linear layer.
    pub const fn dense(out_channels: usize, in_channels: usize, kernel_size: usize) -> Self {
        Self { out_channels, in_channels, groups: 1, kernel_size }
    }

    /// A depthwise convolution over `channels` channels.
    pub const fn depthwise(channels: usize, kernel_size: usize) -> Self {
        Self { out_channels: channels, in_channels: channels, groups: channels, kernel_size }
    }

    /// Number of weights, `C_out * C_in / groups * kernel_size`.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_per_group() * self.kernel_size
    }

    fn validate(&self) -> Result<()> {
        let sizes = [self.out_channels, self.in_channels, self.groups, self.kernel_size];
        if sizes.contains(&0) {
            return Err(invalid("shape", format!("{self:?} has a zero size")));
        }
        if self.out_channels % self.groups != 0 || self.in_channels % self.groups != 0 {
            return Err(invalid("shape", format!("{self:?}: channels do not split into the groups")));
        }
        let len = self.out_channels.checked_mul(self.in_per_group()).and_then(|v| v.checked_mul(self.kernel_size));
        if len.is_none() {
            return Err(invalid("shape", "the weight count overflows usize"));
        }
        Ok(())
    }

    fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Weights of output channel `o`: one contiguous row.
    fn output_row(&self, o: usize) -> std::ops::Range<usize> {
        let len = self.in_per_group() * self.kernel_size;
        o * len..(o + 1) * len
    }

    /// Weights reading input channel `j`: one kernel per output channel of its group.
    fn input_kernels(&self, j: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        let (ipg, opg, ks) = (self.in_per_group(), self.out_per_group(), self.kernel_size);
        let (group, local) = (j / ipg, j % ipg);
        (group * opg..(group + 1) * opg).map(move |o| {
            let start = (o * ipg + local) * ks;
            start..start + ks
        })
    }
}

/// A layer whose weights (and bias) equalization rewrites in place.
#[derive(Debug)]
pub struct ConvLayerMut<'a> {
    shape: ConvShape,
    weights: &'a mut [f32],
    bias: Option<&'a mut [f32]>,
}

impl<'a> ConvLayerMut<'a> {
    /// Checks the shape, the lengths (`weights`: [`ConvShape::weight_len`], `bias`:
    /// `C_out`) and that every value is finite.
    pub fn new(shape: ConvShape, weights: &'a mut [f32], bias: Option<&'a mut [f32]>) -> Result<Self> {
        shape.validate()?;
        ensure_len("weights", shape.weight_len(), weights.len())?;
        ensure_finite("weights", weights)?;
        if let Some(b) = &bias {
            ensure_len("bias", shape.out_channels, b.len())?;
            ensure_finite("bias", b)?;
        }
        Ok(Self { shape, weights, bias })
    }

    /// The layer's shape.
    pub fn shape(&self) -> ConvShape {
        self.shape
    }
}
