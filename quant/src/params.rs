//! Per-tensor quantization parameters: scale and zero point.

use crate::dtype::QuantInt;
use crate::error::{ensure_len, invalid, QuantError, Result};
use crate::range::RealRange;
use crate::round::round_half_even_to_i32;
use crate::scheme::QuantScheme;

/// Scale and zero point of one tensor (or of one channel of a per-channel tensor).
///
/// * `scale`: the real value of one integer step (real units per step), finite and > 0.
/// * `zero_point`: the integer that represents real 0, inside `[qmin, qmax]` of the scheme.
///
/// Quantize: `q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`
/// (division, as ONNX `QuantizeLinear`; PyTorch's CPU kernel multiplies by `1/scale`,
/// which can flip a tie by one ulp). Dequantize: `x = (q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    scale: f32,
    zero_point: i32,
    scheme: QuantScheme,
}

impl QuantParams {
    /// Parameters from explicit values.
    ///
    /// Fails if `scale` is not finite and > 0, if `zero_point` is outside
    /// `[qmin, qmax]`, or if the scheme is symmetric and `zero_point` is not
    /// [`QuantScheme::symmetric_zero_point`].
    pub fn new(scale: f32, zero_point: i32, scheme: QuantScheme) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(QuantError::InvalidScale(scale));
        }
        let (qmin, qmax) = (scheme.qmin(), scheme.qmax());
        if !(qmin..=qmax).contains(&zero_point) {
            return Err(QuantError::ZeroPointOutOfRange { zero_point, qmin, qmax });
        }
        if scheme.symmetric && zero_point != scheme.symmetric_zero_point() {
            return Err(invalid(
                "zero_point",
                format!("a symmetric scheme needs zero point {}, got {zero_point}", scheme.symmetric_zero_point()),
            ));
        }
        Ok(Self { scale, zero_point, scheme })
    }

    /// Parameters covering `range`, computed as torch's `_ObserverBase._calculate_qparams`
    /// (in `f32`) does:
    ///
    /// * the range is widened to contain 0: `min_neg = min(min, 0)`, `max_pos = max(max, 0)`;
    /// * symmetric: `scale = max(-min_neg, max_pos) / ((qmax - qmin) / 2)`, zero point
    ///   [`QuantScheme::symmetric_zero_point`] (so `amax / 127` for `[-127, 127]`,
    ///   `amax / 127.5` for `[-128, 127]`);
    /// * affine: `scale = (max_pos - min_neg) / (qmax - qmin)`,
    ///   `zero_point = clamp(qmin - round_half_even(min_neg / scale), qmin, qmax)`;
    /// * `scale` is clamped to at least `f32::EPSILON`, so a zero range (e.g. a constant-0
    ///   tensor) gives `scale = f32::EPSILON` rather than an error.
    ///
    /// ORT's `compute_scale_zp` computes the same numbers in f64 and replaces a scale
    /// below `tiny` by 1; the results can differ from these by one f32 ulp.
    ///
    /// Fails only if `max_pos - min_neg` overflows f32.
    pub fn from_range(range: RealRange, scheme: QuantScheme) -> Result<Self> {
        let min_neg = range.min().min(0.0);
        let max_pos = range.max().max(0.0);
        let (qmin, qmax) = (scheme.qmin(), scheme.qmax());
        let (scale, zero_point) = if scheme.symmetric {
            let amax = (-min_neg).max(max_pos);
            let scale = amax / (scheme.steps() as f32 / 2.0);
            (scale, scheme.symmetric_zero_point())
        } else {
            let scale = (max_pos - min_neg) / scheme.steps() as f32;
            if !scale.is_finite() {
                return Err(QuantError::InvalidRange { min: range.min(), max: range.max() });
            }
            let scale = scale.max(f32::EPSILON);
            let zp = qmin.saturating_sub(round_half_even_to_i32(min_neg / scale));
            (scale, zp.clamp(qmin, qmax))
        };
        Self::new(scale.max(f32::EPSILON), zero_point, scheme)
    }

    /// Real value of one integer step.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Integer representing real 0.
    pub fn zero_point(&self) -> i32 {
        self.zero_point
    }

    /// The scheme these parameters belong to.
    pub fn scheme(&self) -> QuantScheme {
        self.scheme
    }

    /// Quantizes one value to `[qmin, qmax]`. ±Inf saturate to the rails; NaN maps to the
    /// zero point (it dequantizes to 0.0).
    #[inline]
    pub fn quantize(&self, x: f32) -> i32 {
        let v = (x / self.scale).round_ties_even() + self.zero_point as f32;
        if v.is_nan() {
            return self.zero_point;
        }
        // Both bounds are small integers, exact in f32; the clamp happens before the cast so
        // huge values saturate instead of wrapping.
        v.max(self.scheme.qmin() as f32).min(self.scheme.qmax() as f32) as i32
    }

    /// Dequantizes one integer: `(q - zero_point) * scale`.
    #[inline]
    pub fn dequantize(&self, q: i32) -> f32 {
        q.saturating_sub(self.zero_point) as f32 * self.scale
    }

    /// `dequantize(quantize(x))`: the value the integer pipeline sees.
    #[inline]
    pub fn fake_quantize(&self, x: f32) -> f32 {
        self.dequantize(self.quantize(x))
    }

    /// Quantizes `x` into `out` (same length). `T` must match the scheme's dtype.
    pub fn quantize_slice<T: QuantInt>(&self, x: &[f32], out: &mut [T]) -> Result<()> {
        self.ensure_dtype::<T>()?;
        ensure_len("quantized output", x.len(), out.len())?;
        for (o, &v) in out.iter_mut().zip(x) {
            *o = T::saturating_from_i32(self.quantize(v));
        }
        Ok(())
    }

    /// Dequantizes `q` into `out` (same length). `T` must match the scheme's dtype.
    pub fn dequantize_slice<T: QuantInt>(&self, q: &[T], out: &mut [f32]) -> Result<()> {
        self.ensure_dtype::<T>()?;
        ensure_len("dequantized output", q.len(), out.len())?;
        for (o, &v) in out.iter_mut().zip(q) {
            *o = self.dequantize(v.to_i32());
        }
        Ok(())
    }

    /// Fake-quantizes `x` into `out` (same length).
    pub fn fake_quantize_slice(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        ensure_len("fake-quantized output", x.len(), out.len())?;
        for (o, &v) in out.iter_mut().zip(x) {
            *o = self.fake_quantize(v);
        }
        Ok(())
    }

    fn ensure_dtype<T: QuantInt>(&self) -> Result<()> {
        if T::DTYPE == self.scheme.dtype {
            Ok(())
        } else {
            Err(QuantError::DTypeMismatch { expected: self.scheme.dtype, actual: T::DTYPE })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::QuantDType;

    fn range(min: f32, max: f32) -> RealRange {
        RealRange::new(min, max).unwrap()
    }

    #[test]
    fn symmetric_scales_follow_the_range_width() {
        let narrow = QuantParams::from_range(range(-1.0, 2.0), QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!(narrow.scale(), 2.0 / 127.0);
        assert_eq!(narrow.zero_point(), 0);
        let full = QuantParams::from_range(range(-1.0, 2.0), QuantScheme::I8_SYMMETRIC).unwrap();
        assert_eq!(full.scale(), 2.0 / 127.5);
        let u8_sym = QuantScheme::new(QuantDType::U8, true, false);
        let p = QuantParams::from_range(range(-3.0, 1.0), u8_sym).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (3.0 / 127.5, 128));
    }

    #[test]
    fn affine_hand_computed() {
        // [-1, 2] -> 3/255 per step, real 0 at integer 85.
        let p = QuantParams::from_range(range(-1.0, 2.0), QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(p.scale(), 3.0 / 255.0);
        assert_eq!(p.zero_point(), 85);
        // Positive-only data still includes 0: [0, 2] on [-128, 127].
        let p = QuantParams::from_range(range(0.5, 2.0), QuantScheme::I8_ASYMMETRIC).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (2.0 / 255.0, -128));
        // All-negative data: [-5, 0], real 0 at the top integer.
        let p = QuantParams::from_range(range(-5.0, -1.0), QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (5.0 / 255.0, 255));
        assert_eq!(p.quantize(-5.0), 0);
        assert_eq!(p.quantize(0.0), 255);
    }

    #[test]
    fn zero_point_ties_round_to_even() {
        // Scale 1, min/scale = -2.5: round_half_even gives -2 (half away from zero: -3).
        let p = QuantParams::from_range(range(-2.5, 252.5), QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(p.scale(), 1.0);
        assert_eq!(p.zero_point(), 2);
        let p = QuantParams::from_range(range(-3.5, 251.5), QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(p.zero_point(), 4);
    }

    #[test]
    fn zero_and_constant_ranges() {
        let p = QuantParams::from_range(range(0.0, 0.0), QuantScheme::I8_ASYMMETRIC).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (f32::EPSILON, -128));
        assert_eq!(p.fake_quantize(0.0), 0.0);
        let p = QuantParams::from_range(range(0.0, 0.0), QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (f32::EPSILON, 0));
        // A constant 3.0 is exactly representable: it is the top of [0, 3].
        let p = QuantParams::from_range(range(3.0, 3.0), QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(p.quantize(3.0), 255);
        assert_eq!(p.fake_quantize(3.0), 3.0);
    }

    #[test]
    fn overflowing_range_is_an_error() {
        let r = range(-3e38, 3e38);
        assert!(QuantParams::from_range(r, QuantScheme::U8_ASYMMETRIC).is_err());
        // Symmetric needs only amax, which is finite.
        let p = QuantParams::from_range(r, QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!(p.scale(), 3e38 / 127.0);
    }

    #[test]
    fn new_validates() {
        let s = QuantScheme::U8_ASYMMETRIC;
        assert!(matches!(QuantParams::new(0.0, 0, s), Err(QuantError::InvalidScale(_))));
        assert!(QuantParams::new(f32::NAN, 0, s).is_err());
        assert!(QuantParams::new(-1.0, 0, s).is_err());
        assert!(matches!(QuantParams::new(1.0, 256, s), Err(QuantError::ZeroPointOutOfRange { .. })));
        assert!(QuantParams::new(1.0, 3, QuantScheme::I8_SYMMETRIC_NARROW).is_err());
        assert!(QuantParams::new(1.0, -128, QuantScheme::I8_SYMMETRIC_NARROW).is_err());
    }

    #[test]
    fn quantize_rounds_half_even_and_saturates() {
        let p = QuantParams::new(0.5, 10, QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!(p.quantize(1.25), 12); // 2.5 -> 2
        assert_eq!(p.quantize(1.75), 14); // 3.5 -> 4
        assert_eq!(p.quantize(-1.25), 8); // -2.5 -> -2
        assert_eq!(p.quantize(-100.0), 0);
        assert_eq!(p.quantize(1000.0), 255);
        assert_eq!(p.quantize(f32::INFINITY), 255);
        assert_eq!(p.quantize(f32::NEG_INFINITY), 0);
        assert_eq!(p.quantize(f32::NAN), 10);
        assert_eq!(p.dequantize(12), 1.0);
        assert_eq!(p.fake_quantize(1.3), 1.5);
        // Narrow range clamps at -127 even though i8 holds -128.
        let n = QuantParams::new(1.0, 0, QuantScheme::I8_SYMMETRIC_NARROW).unwrap();
        assert_eq!(n.quantize(-1000.0), -127);
    }

    #[test]
    fn slices_check_dtype_and_length() {
        let p = QuantParams::new(0.5, -3, QuantScheme::I8_ASYMMETRIC).unwrap();
        let x = [0.0, 0.26, -1.0, 100.0];
        let mut q = [0i8; 4];
        p.quantize_slice(&x, &mut q).unwrap();
        assert_eq!(q, [-3, -2, -5, 127]);
        let mut back = [0.0f32; 4];
        p.dequantize_slice(&q, &mut back).unwrap();
        assert_eq!(back, [0.0, 0.5, -1.0, 65.0]);
        let mut fq = [0.0f32; 4];
        p.fake_quantize_slice(&x, &mut fq).unwrap();
        assert_eq!(fq, back);
        let mut wrong = [0u8; 4];
        assert!(matches!(p.quantize_slice(&x, &mut wrong), Err(QuantError::DTypeMismatch { .. })));
        let mut short = [0i8; 3];
        assert!(matches!(p.quantize_slice(&x, &mut short), Err(QuantError::LengthMismatch { .. })));
        // Empty slices are fine.
        p.quantize_slice(&[], &mut [0i8; 0]).unwrap();
    }
}
