//! Percentile of a histogram (ONNX Runtime's `PercentileCalibrater`).

use super::histogram::{Histogram, HistogramKind};
use super::{batch_min_max, clamp_to_observed, merge_min_max, Observer};
use crate::error::{invalid, QuantError, Result};
use crate::range::RealRange;

/// ORT-style percentile calibration.
///
/// * Symmetric (the default, as ORT): histogram of `|x|`; the threshold `t` is the left
///   edge of the first bin at which the cumulative count reaches `percentile / 100` of all
///   values (`hist_edges[searchsorted(cdf, p / 100)]`); the range is `[-t, t]`.
/// * Asymmetric: histogram of `x`; `(100 - p) / 200` is cut on each side, each bound being
///   the left edge of the bin where the cdf reaches the cut.
///
/// Both are then clamped to the observed `[min, max]`. Defaults: 99.999 %, 2048 bins.
///
/// Differences from ORT, all within one bin width: the `|x|` histogram starts at 0 (ORT's
/// first batch starts at `min|x|`), the maximum of the first batch gets a bin of its own
/// just above the initial bins (a value on the top edge `max` falls in `[max, max + width)`),
/// and growth past `4 * num_bins` bins (later batches with a wider range add bins at the same
/// width) merges adjacent bins in pairs so memory stays bounded.
#[derive(Debug, Clone)]
pub struct PercentileObserver {
    percentile: f64,
    symmetric: bool,
    histogram: Histogram,
    observed: Option<(f32, f32)>,
}

impl PercentileObserver {
    /// ORT's default percentile.
    pub const DEFAULT_PERCENTILE: f64 = 99.999;
    /// ORT's default number of bins.
    pub const DEFAULT_BINS: usize = 2048;

    /// `percentile` in `(0, 100]`, `num_bins >= 1`.
    pub fn new(percentile: f64, num_bins: usize, symmetric: bool) -> Result<Self> {
        if !(percentile > 0.0 && percentile <= 100.0) {
            return Err(invalid("percentile", format!("{percentile} is outside (0, 100]")));
        }
        if num_bins == 0 {
            return Err(invalid("num_bins", "at least one bin is needed"));
        }
        Ok(Self::unchecked(percentile, num_bins, symmetric))
    }

    fn unchecked(percentile: f64, num_bins: usize, symmetric: bool) -> Self {
        let kind = if symmetric { HistogramKind::Magnitude } else { HistogramKind::Signed };
        Self {
            percentile,
            symmetric,
            histogram: Histogram::new(kind, num_bins, num_bins.saturating_mul(4)),
            observed: None,
        }
    }
}

impl Default for PercentileObserver {
    /// 99.999 %, 2048 bins, symmetric.
    fn default() -> Self {
        Self::unchecked(Self::DEFAULT_PERCENTILE, Self::DEFAULT_BINS, true)
    }
}

impl Observer for PercentileObserver {
    fn observe(&mut self, x: &[f32]) -> Result<()> {
        let Some(batch) = batch_min_max(x)? else {
            return Ok(());
        };
        self.histogram.add(x);
        self.observed = Some(merge_min_max(self.observed, batch));
        Ok(())
    }

    fn range(&self) -> Result<RealRange> {
        let observed = self.observed.ok_or(QuantError::NoData)?;
        let p = self.percentile / 100.0;
        let (lo, hi) = if self.symmetric {
            let t = self.histogram.left_edge_at_fraction(p);
            (-t, t)
        } else {
            let cut = (1.0 - p) / 2.0;
            (self.histogram.left_edge_at_fraction(cut), self.histogram.left_edge_at_fraction(1.0 - cut))
        };
        clamp_to_observed(lo as f32, hi as f32, observed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ramp_hand_computed() {
        // Values 1..=100000, width 100000/2048 = 48.828125. 99 % of 100000 = 99000 values.
        // Bin 2027 = [98974.6, 99023.4) holds 98975..=99023; the cdf first reaches 99000
        // there (98974 values below it), so t = 2027 * 48.828125 = 98974.609375.
        let x: Vec<f32> = (1..=100_000).map(|k| k as f32).collect();
        let mut o = PercentileObserver::new(99.0, 2048, true).unwrap();
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        assert_eq!(r.max(), 2027.0 * 48.828125);
        // -t is below the observed min (1), so the lower bound is the min.
        assert_eq!(r.min(), 1.0);
    }

    #[test]
    fn single_outlier_is_clipped() {
        // 10^6 values k / 10^6 in [0, 1) plus one outlier at 1000. Width 1000/2048: bins
        // 0..=2 hold the bulk (bin 2 = [0.9765625, 1.46484375)), the outlier is alone in
        // bin 2048. 99.999 % of 1000001 values is reached in bin 2 (all 10^6 bulk values
        // lie at or below it, only the outlier above), so t = 2 * 1000/2048 = 0.9765625.
        let mut x: Vec<f32> = (0..1_000_000).map(|k| k as f32 / 1e6).collect();
        x.push(1000.0);
        let mut o = PercentileObserver::default();
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, 0.9765625));
    }

    #[test]
    fn asymmetric_cuts_each_side() {
        // -100..=99 (200 values, T = 100, width 200/200 = 1 with 200 bins, bin j = [j, j+1)).
        // 90.5 % cuts 4.75 % = 9.5 values on each side. Lower: the cdf first reaches 9.5 at
        // the 10th value, -91, left edge -91. Upper: it first reaches 190.5 at the 191st
        // value, 90, left edge 90.
        let x: Vec<f32> = (-100..100).map(|k| k as f32).collect();
        let mut o = PercentileObserver::new(90.5, 200, false).unwrap();
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-91.0, 90.0));
    }

    #[test]
    fn constant_all_negative_and_zero_data() {
        let mut o = PercentileObserver::default();
        o.observe(&[3.0; 100]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (3.0, 3.0));

        // All negative, values -1..=-5 in equal parts: |x| percentile ~5, clamped to
        // the observed [-5, -1].
        let mut o = PercentileObserver::default();
        o.observe(&[-1.0, -2.0, -3.0, -4.0, -5.0]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-5.0, -1.0));

        let mut o = PercentileObserver::default();
        o.observe(&[0.0; 10]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, 0.0));
    }

    #[test]
    fn empty_nan_and_bad_config() {
        let mut o = PercentileObserver::default();
        o.observe(&[]).unwrap();
        assert_eq!(o.range(), Err(QuantError::NoData));
        assert!(o.observe(&[1.0, f32::INFINITY]).is_err());
        assert_eq!(o.range(), Err(QuantError::NoData));
        assert!(PercentileObserver::new(0.0, 10, true).is_err());
        assert!(PercentileObserver::new(100.5, 10, true).is_err());
        assert!(PercentileObserver::new(f64::NAN, 10, true).is_err());
        assert!(PercentileObserver::new(99.0, 0, true).is_err());
    }
}
