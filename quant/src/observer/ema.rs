//! Exponential moving average of per-batch min/max.

use super::{batch_min_max, Observer};
use crate::error::{invalid, QuantError, Result};
use crate::range::RealRange;

/// EMA of the per-batch min and max (MQBench `EMAMinMaxObserver`): the first non-empty
/// batch is taken as is, then `v = ratio * v + (1 - ratio) * batch_v` for both bounds.
/// The default activation observer of MQBench's TensorRT/QDQ presets.
#[derive(Debug, Clone)]
pub struct EmaMinMaxObserver {
    ratio: f32,
    observed: Option<(f32, f32)>,
}

impl EmaMinMaxObserver {
    /// MQBench's default `ema_ratio`.
    pub const DEFAULT_RATIO: f32 = 0.9;

    /// An observer with weight `ratio` on the past, which must lie in `[0, 1]`
    /// (0: last batch only; 1: first batch only).
    pub fn new(ratio: f32) -> Result<Self> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(invalid("ratio", format!("{ratio} is outside [0, 1]")));
        }
        Ok(Self { ratio, observed: None })
    }
}

impl Default for EmaMinMaxObserver {
    /// Ratio 0.9.
    fn default() -> Self {
        Self { ratio: Self::DEFAULT_RATIO, observed: None }
    }
}

impl Observer for EmaMinMaxObserver {
    fn observe(&mut self, x: &[f32]) -> Result<()> {
        let Some((lo, hi)) = batch_min_max(x)? else {
            return Ok(());
        };
        let r = self.ratio;
        self.observed = Some(match self.observed {
            None => (lo, hi),
            Some((old_lo, old_hi)) => (r * old_lo + (1.0 - r) * lo, r * old_hi + (1.0 - r) * hi),
        });
        Ok(())
    }

    fn range(&self) -> Result<RealRange> {
        let (min, max) = self.observed.ok_or(QuantError::NoData)?;
        RealRange::new(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_batch_as_is_then_moving_average() {
        let mut o = EmaMinMaxObserver::default();
        assert_eq!(o.range(), Err(QuantError::NoData));
        o.observe(&[]).unwrap();
        o.observe(&[0.0, 1.0]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, 1.0));
        o.observe(&[]).unwrap(); // ignored, not a batch
        o.observe(&[-2.0, 3.0]).unwrap();
        // min: 0.9*0 + 0.1*(-2) = -0.2; max: 0.9*1 + 0.1*3 = 1.2.
        let r = o.range().unwrap();
        assert!((r.min() - -0.2).abs() < 1e-6);
        assert!((r.max() - 1.2).abs() < 1e-6);
        assert!(o.observe(&[f32::NAN]).is_err());
        assert_eq!(o.range().unwrap(), r);
    }

    #[test]
    fn ratio_is_validated() {
        assert!(EmaMinMaxObserver::new(1.5).is_err());
        assert!(EmaMinMaxObserver::new(f32::NAN).is_err());
        let mut last_only = EmaMinMaxObserver::new(0.0).unwrap();
        last_only.observe(&[5.0]).unwrap();
        last_only.observe(&[-1.0, 1.0]).unwrap();
        let r = last_only.range().unwrap();
        assert_eq!((r.min(), r.max()), (-1.0, 1.0));
    }
}
