//! A validated real-valued range `[min, max]`.

use crate::error::{QuantError, Result};

/// A finite real range with `min <= max`, in the units of the tensor (not integer steps).
///
/// Observers report the range of the data as seen (it need not contain 0);
/// [`QuantParams::from_range`](crate::QuantParams::from_range) widens it to include 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealRange {
    min: f32,
    max: f32,
}

impl RealRange {
    /// Fails with [`QuantError::InvalidRange`] unless both bounds are finite and `min <= max`.
    pub fn new(min: f32, max: f32) -> Result<Self> {
        if min.is_finite() && max.is_finite() && min <= max {
            Ok(Self { min, max })
        } else {
            Err(QuantError::InvalidRange { min, max })
        }
    }

    /// Lower bound.
    pub fn min(&self) -> f32 {
        self.min
    }

    /// Upper bound.
    pub fn max(&self) -> f32 {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_bounds() {
        assert!(RealRange::new(1.0, 0.0).is_err());
        assert!(RealRange::new(f32::NAN, 0.0).is_err());
        assert!(RealRange::new(0.0, f32::INFINITY).is_err());
        let r = RealRange::new(-2.0, -2.0).unwrap();
        assert_eq!((r.min(), r.max()), (-2.0, -2.0));
    }
}
