//! Quantization scheme: integer type, symmetric or affine, full or narrow range.

use crate::dtype::QuantDType;
use crate::round::round_half_even;

/// How real values map to integers, independently of any observed range.
///
/// The integer range `[qmin, qmax]` is:
///
/// | dtype | full | `narrow_range` |
/// |---|---|---|
/// | `I8` | `[-128, 127]` | `[-127, 127]` |
/// | `U8` | `[0, 255]` | `[0, 254]` (ORT's symmetric uint8 range) |
///
/// Quantizing clamps to `[qmin, qmax]` (as training-time fake quantization does). ONNX
/// `QuantizeLinear` saturates to the full type range instead; with symmetric narrow
/// weights (`scale = amax / 127`) the two never differ, for activations they differ
/// by one step at the lower rail (see algorithms.md A1b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantScheme {
    /// Integer type.
    pub dtype: QuantDType,
    /// Symmetric: the zero point is fixed at the middle of the range and the scale
    /// covers `max(|min|, |max|)`. Otherwise affine (asymmetric).
    pub symmetric: bool,
    /// Drop the lowest (`I8`) or highest (`U8`) integer, see the table above.
    pub narrow_range: bool,
}

impl QuantScheme {
    /// Signed, symmetric, `[-127, 127]`: the usual per-channel weight scheme
    /// (TensorRT/MQBench `symmetric_range`, ORT's `WeightSymmetric`).
    pub const I8_SYMMETRIC_NARROW: Self = Self::new(QuantDType::I8, true, true);
    /// Signed, symmetric, `[-128, 127]` (`scale = amax / 127.5`).
    pub const I8_SYMMETRIC: Self = Self::new(QuantDType::I8, true, false);
    /// Signed, affine, `[-128, 127]` (ORT's default activation scheme).
    pub const I8_ASYMMETRIC: Self = Self::new(QuantDType::I8, false, false);
    /// Unsigned, affine, `[0, 255]`.
    pub const U8_ASYMMETRIC: Self = Self::new(QuantDType::U8, false, false);

    /// A scheme from its three choices.
    pub const fn new(dtype: QuantDType, symmetric: bool, narrow_range: bool) -> Self {
        Self { dtype, symmetric, narrow_range }
    }

    /// Lowest integer of the scheme.
    pub const fn qmin(&self) -> i32 {
        match (self.dtype, self.narrow_range) {
            (QuantDType::I8, true) => self.dtype.min() + 1,
            _ => self.dtype.min(),
        }
    }

    /// Highest integer of the scheme.
    pub const fn qmax(&self) -> i32 {
        match (self.dtype, self.narrow_range) {
            (QuantDType::U8, true) => self.dtype.max() - 1,
            _ => self.dtype.max(),
        }
    }

    /// Zero point of the symmetric variant: `round_half_even((qmin + qmax) / 2)`, as ORT's
    /// `compute_scale_zp` does. That is 0 for `I8` (both ranges), 128 for `U8` full range
    /// (torch's default quint8 value) and 127 for `U8` narrow.
    pub fn symmetric_zero_point(&self) -> i32 {
        // Exact: |qmin + qmax| <= 509, so the halves are representable in f32.
        round_half_even((self.qmin() + self.qmax()) as f32 / 2.0) as i32
    }

    /// Number of integer steps, `qmax - qmin`.
    pub const fn steps(&self) -> i32 {
        self.qmax() - self.qmin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ranges() {
        let cases = [
            (QuantScheme::I8_SYMMETRIC_NARROW, -127, 127, 0),
            (QuantScheme::I8_SYMMETRIC, -128, 127, 0),
            (QuantScheme::I8_ASYMMETRIC, -128, 127, 0),
            (QuantScheme::U8_ASYMMETRIC, 0, 255, 128),
            (QuantScheme::new(QuantDType::U8, true, true), 0, 254, 127),
        ];
        for (scheme, qmin, qmax, zp) in cases {
            assert_eq!(scheme.qmin(), qmin, "{scheme:?}");
            assert_eq!(scheme.qmax(), qmax, "{scheme:?}");
            assert_eq!(scheme.symmetric_zero_point(), zp, "{scheme:?}");
            assert_eq!(scheme.steps(), qmax - qmin);
        }
    }
}
