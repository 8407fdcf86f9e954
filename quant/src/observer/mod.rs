//! Observers: statistics collected over calibration batches that end in a real range.
//!
//! Every observer follows the same rules:
//!
//! * [`Observer::observe`] takes one batch (any number of values, in any layout).
//!   An **empty batch is ignored** (it does not count as a batch for EMA).
//! * A batch holding NaN or ±Inf is rejected with [`QuantError::NonFinite`] and leaves the
//!   observer unchanged.
//! * [`Observer::range`] fails with [`QuantError::NoData`] until a non-empty batch was seen.
//!   The range is the data's (it may exclude 0); [`QuantParams::from_range`] widens it.
//!
//! Per-channel statistics (weights, layout `[C, rest...]`) use [`PerChannelObserver`],
//! which runs one observer per contiguous channel block.
//!
//! [`QuantError::NonFinite`]: crate::QuantError::NonFinite
//! [`QuantError::NoData`]: crate::QuantError::NoData

mod ema;
mod entropy;
mod histogram;
mod minmax;
mod mse;
mod per_channel;
mod percentile;

pub use ema::EmaMinMaxObserver;
pub use entropy::EntropyObserver;
pub use minmax::MinMaxObserver;
pub use mse::MseObserver;
pub use per_channel::PerChannelObserver;
pub use percentile::PercentileObserver;

use crate::error::{ensure_finite, Result};
use crate::params::QuantParams;
use crate::range::RealRange;
use crate::scheme::QuantScheme;

/// A calibration statistic over batches of real values.
pub trait Observer {
    /// Feeds one batch. See the [module docs](self) for empty and non-finite batches.
    fn observe(&mut self, x: &[f32]) -> Result<()>;

    /// The calibrated range so far.
    fn range(&self) -> Result<RealRange>;

    /// [`QuantParams::from_range`] of [`Observer::range`].
    fn params(&self, scheme: QuantScheme) -> Result<QuantParams> {
        QuantParams::from_range(self.range()?, scheme)
    }
}

/// `(min, max)` of a batch, `None` when it is empty, an error when it holds NaN/Inf.
pub(crate) fn batch_min_max(x: &[f32]) -> Result<Option<(f32, f32)>> {
    ensure_finite("observed batch", x)?;
    Ok(x.iter().fold(None, |acc, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    }))
}

/// Widens a running `(min, max)` by a batch's.
pub(crate) fn merge_min_max(running: Option<(f32, f32)>, batch: (f32, f32)) -> (f32, f32) {
    match running {
        None => batch,
        Some((lo, hi)) => (lo.min(batch.0), hi.max(batch.1)),
    }
}

/// Clamps calibrated thresholds `[lo, hi]` to the observed `[min, max]`, as ORT does.
///
/// If the thresholds lie closer to 0 than every observed value (e.g. a percentile threshold
/// of `|x|` below the minimum of all-positive data), the result is the degenerate range at the
/// observed value nearest to 0.
pub(crate) fn clamp_to_observed(lo: f32, hi: f32, observed: (f32, f32)) -> Result<RealRange> {
    let (min, max) = observed;
    let lo = lo.max(min);
    let hi = hi.min(max);
    if lo <= hi {
        RealRange::new(lo, hi)
    } else {
        let nearest = if min > 0.0 { min } else { max };
        RealRange::new(nearest, nearest)
    }
}

#[cfg(test)]
pub(crate) mod test_data {
    //! Deterministic synthetic data for observer tests.
    use crate::prng::SplitMix64;

    /// `n` standard normal samples (Box–Muller on SplitMix64).
    pub fn gaussian(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|_| {
                let u1 = 1.0 - rng.next_f64(); // (0, 1]
                let u2 = rng.next_f64();
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect()
    }

    /// `n` samples uniform in `[lo, hi)`.
    pub fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| lo + (hi - lo) * rng.next_f64() as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_keeps_thresholds_inside_observed_data() {
        let r = clamp_to_observed(-2.0, 2.0, (-1.0, 5.0)).unwrap();
        assert_eq!((r.min(), r.max()), (-1.0, 2.0));
        // Threshold below every value of all-positive data.
        let r = clamp_to_observed(-0.5, 0.5, (1.0, 3.0)).unwrap();
        assert_eq!((r.min(), r.max()), (1.0, 1.0));
        // Same for all-negative data.
        let r = clamp_to_observed(-0.5, 0.5, (-3.0, -1.0)).unwrap();
        assert_eq!((r.min(), r.max()), (-1.0, -1.0));
    }

    #[test]
    fn batch_min_max_handles_empty_and_non_finite() {
        assert_eq!(batch_min_max(&[]).unwrap(), None);
        assert_eq!(batch_min_max(&[2.0, -1.0, 0.5]).unwrap(), Some((-1.0, 2.0)));
        assert!(batch_min_max(&[0.0, f32::NAN]).is_err());
        assert!(batch_min_max(&[f32::NEG_INFINITY]).is_err());
    }
}
