//! Per-channel (ONNX "per-axis") quantization parameters.

use crate::dtype::QuantInt;
use crate::error::{ensure_len, invalid, Result};
use crate::params::QuantParams;
use crate::range::RealRange;
use crate::scheme::QuantScheme;

/// One [`QuantParams`] per channel along `axis` of a tensor, all with the same scheme.
///
/// For weights the channel axis is the outermost one: an ONNX `Conv` weight
/// `[C_out, C_in/groups, kh, kw]` or a linear weight `[C_out, K]`, flattened row-major,
/// uses `axis = 0`. The slice functions take the tensor's `dims` and support any axis:
/// element `i` belongs to channel `(i / inner) % C` where `inner` is the product of the
/// dimensions after `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerChannelParams {
    channels: Vec<QuantParams>,
    axis: usize,
}

impl PerChannelParams {
    /// From per-channel parameters. Fails if `channels` is empty or mixes schemes.
    pub fn from_channels(channels: Vec<QuantParams>, axis: usize) -> Result<Self> {
        let Some(first) = channels.first() else {
            return Err(invalid("channels", "at least one channel is needed"));
        };
        let scheme = first.scheme();
        if channels.iter().any(|c| c.scheme() != scheme) {
            return Err(invalid("channels", "all channels must share one scheme"));
        }
        Ok(Self { channels, axis })
    }

    /// From explicit scales and zero points (same length, each validated as in
    /// [`QuantParams::new`]).
    pub fn new(scales: &[f32], zero_points: &[i32], axis: usize, scheme: QuantScheme) -> Result<Self> {
        ensure_len("zero points", scales.len(), zero_points.len())?;
        let channels = scales
            .iter()
            .zip(zero_points)
            .map(|(&s, &z)| QuantParams::new(s, z, scheme))
            .collect::<Result<Vec<_>>>()?;
        Self::from_channels(channels, axis)
    }

    /// From one observed range per channel, each converted with [`QuantParams::from_range`].
    pub fn from_ranges(ranges: &[RealRange], axis: usize, scheme: QuantScheme) -> Result<Self> {
        let channels = ranges.iter().map(|&r| QuantParams::from_range(r, scheme)).collect::<Result<Vec<_>>>()?;
        Self::from_channels(channels, axis)
    }

    /// Number of channels (never 0).
    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// The channel axis (the ONNX `axis` attribute).
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// The common scheme.
    pub fn scheme(&self) -> QuantScheme {
        self.channels[0].scheme()
    }

    /// Parameters of every channel, in channel order.
    pub fn channels(&self) -> &[QuantParams] {
        &self.channels
    }

    /// Scales, in channel order.
    pub fn scales(&self) -> Vec<f32> {
        self.channels.iter().map(QuantParams::scale).collect()
    }

    /// Zero points, in channel order.
    pub fn zero_points(&self) -> Vec<i32> {
        self.channels.iter().map(QuantParams::zero_point).collect()
    }

    /// Quantizes a tensor of shape `dims` (row-major) into `out`.
    pub fn quantize_slice<T: QuantInt>(&self, x: &[f32], dims: &[usize], out: &mut [T]) -> Result<()> {
        ensure_len("quantized output", x.len(), out.len())?;
        self.for_each_run(dims, x.len(), |c, range| self.channels[c].quantize_slice(&x[range.clone()], &mut out[range]))
    }

    /// Dequantizes a tensor of shape `dims` (row-major) into `out`.
    pub fn dequantize_slice<T: QuantInt>(&self, q: &[T], dims: &[usize], out: &mut [f32]) -> Result<()> {
        ensure_len("dequantized output", q.len(), out.len())?;
        self.for_each_run(dims, q.len(), |c, range| {
            self.channels[c].dequantize_slice(&q[range.clone()], &mut out[range])
        })
    }

    /// Fake-quantizes a tensor of shape `dims` (row-major) into `out`.
    pub fn fake_quantize_slice(&self, x: &[f32], dims: &[usize], out: &mut [f32]) -> Result<()> {
        ensure_len("fake-quantized output", x.len(), out.len())?;
        self.for_each_run(dims, x.len(), |c, range| {
            self.channels[c].fake_quantize_slice(&x[range.clone()], &mut out[range])
        })
    }

    /// Calls `f(channel, element_range)` for every contiguous run of one channel, after
    /// checking that `dims` matches `len`, `axis` and the channel count.
    fn for_each_run(
        &self,
        dims: &[usize],
        len: usize,
        mut f: impl FnMut(usize, std::ops::Range<usize>) -> Result<()>,
    ) -> Result<()> {
        let Some(&axis_len) = dims.get(self.axis) else {
            return Err(invalid(
                "dims",
                format!("axis {} needs at least {} dims, got {}", self.axis, self.axis + 1, dims.len()),
            ));
        };
        ensure_len("channels along the axis", self.channels.len(), axis_len)?;
        let total = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        let Some(total) = total else {
            return Err(invalid("dims", "the element count overflows usize"));
        };
        ensure_len("tensor", total, len)?;
        if total == 0 {
            return Ok(());
        }
        let inner: usize = dims[self.axis + 1..].iter().product();
        for run in 0..total / inner {
            let start = run * inner;
            f(run % axis_len, start..start + inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::QuantError;

    fn params_2ch() -> PerChannelParams {
        PerChannelParams::new(&[1.0, 0.25], &[0, 0], 0, QuantScheme::I8_SYMMETRIC_NARROW).unwrap()
    }

    #[test]
    fn axis_zero_uses_contiguous_rows() {
        let p = params_2ch();
        // [2, 3]: row 0 with scale 1, row 1 with scale 0.25.
        let x = [1.4, -2.5, 300.0, 1.4, -2.5, 0.125];
        let mut q = [0i8; 6];
        p.quantize_slice(&x, &[2, 3], &mut q).unwrap();
        assert_eq!(q, [1, -2, 127, 6, -10, 0]);
        let mut back = [0f32; 6];
        p.dequantize_slice(&q, &[2, 3], &mut back).unwrap();
        assert_eq!(back, [1.0, -2.0, 127.0, 1.5, -2.5, 0.0]);
        let mut fq = [0f32; 6];
        p.fake_quantize_slice(&x, &[2, 3], &mut fq).unwrap();
        assert_eq!(fq, back);
    }

    #[test]
    fn inner_axis_interleaves_channels() {
        let p = PerChannelParams::new(&[1.0, 0.25], &[0, 0], 1, QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        // dims [2, 2, 2]: channel = (i / 2) % 2 -> 0 0 1 1 0 0 1 1.
        let x = [1.0; 8];
        let mut q = [0i8; 8];
        p.quantize_slice(&x, &[2, 2, 2], &mut q).unwrap();
        assert_eq!(q, [1, 1, 4, 4, 1, 1, 4, 4]);
    }

    #[test]
    fn shape_errors() {
        let p = params_2ch();
        let mut q = [0i8; 6];
        assert!(matches!(p.quantize_slice(&[0.0; 6], &[3, 2], &mut q), Err(QuantError::LengthMismatch { .. })));
        assert!(matches!(p.quantize_slice(&[0.0; 6], &[2, 4], &mut q), Err(QuantError::LengthMismatch { .. })));
        assert!(p.quantize_slice(&[0.0; 6], &[], &mut q).is_err());
        assert!(p.quantize_slice(&[0.0; 6], &[2, usize::MAX], &mut q).is_err());
        // Zero-sized tensors are fine.
        p.quantize_slice(&[], &[2, 0], &mut [0i8; 0]).unwrap();
        assert!(PerChannelParams::new(&[], &[], 0, QuantScheme::I8_SYMMETRIC).is_err());
        assert!(PerChannelParams::new(&[1.0], &[0, 0], 0, QuantScheme::I8_SYMMETRIC).is_err());
    }

    #[test]
    fn from_ranges_and_accessors() {
        let ranges = [RealRange::new(-1.0, 0.5).unwrap(), RealRange::new(-0.1, 12.7).unwrap()];
        let p = PerChannelParams::from_ranges(&ranges, 0, QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!(p.scales(), vec![1.0 / 127.0, 12.7 / 127.0]);
        assert_eq!(p.zero_points(), vec![0, 0]);
        assert_eq!(p.num_channels(), 2);
        assert_eq!(p.axis(), 0);
        assert_eq!(p.scheme(), QuantScheme::I8_SYMMETRIC_NARROW);
        assert_eq!(p.channels()[1].scale(), 12.7 / 127.0);
    }
}
