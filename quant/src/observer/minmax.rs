//! Running min/max.

use super::{batch_min_max, merge_min_max, Observer};
use crate::error::{QuantError, Result};
use crate::range::RealRange;

/// The smallest and largest value over all batches (MQBench `MinMaxObserver`, ORT MinMax
/// without moving average). The default weight observer.
#[derive(Debug, Clone, Default)]
pub struct MinMaxObserver {
    observed: Option<(f32, f32)>,
}

impl MinMaxObserver {
    /// An observer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Observer for MinMaxObserver {
    fn observe(&mut self, x: &[f32]) -> Result<()> {
        if let Some(batch) = batch_min_max(x)? {
            self.observed = Some(merge_min_max(self.observed, batch));
        }
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
    use crate::scheme::QuantScheme;

    #[test]
    fn tracks_global_extremes() {
        let mut o = MinMaxObserver::new();
        assert_eq!(o.range(), Err(QuantError::NoData));
        o.observe(&[]).unwrap();
        assert_eq!(o.range(), Err(QuantError::NoData));
        o.observe(&[0.5, -1.0, 2.0]).unwrap();
        o.observe(&[]).unwrap();
        o.observe(&[3.0, 0.0]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-1.0, 3.0));
    }

    #[test]
    fn non_finite_batches_are_rejected_without_side_effects() {
        let mut o = MinMaxObserver::new();
        o.observe(&[1.0, 2.0]).unwrap();
        assert!(matches!(o.observe(&[100.0, f32::NAN]), Err(QuantError::NonFinite { index: 1, .. })));
        assert!(o.observe(&[f32::INFINITY]).is_err());
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (1.0, 2.0));
    }

    #[test]
    fn constant_and_negative_data() {
        let mut o = MinMaxObserver::new();
        o.observe(&[-4.0; 10]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-4.0, -4.0));
        // The params widen to [-4, 0]: real 0 at the top of u8.
        let p = o.params(QuantScheme::U8_ASYMMETRIC).unwrap();
        assert_eq!((p.scale(), p.zero_point()), (4.0 / 255.0, 255));
    }
}
