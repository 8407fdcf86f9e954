//! KL-divergence (entropy) calibration, TensorRT style.

use super::histogram::{Histogram, HistogramKind};
use super::{batch_min_max, clamp_to_observed, merge_min_max, Observer};
use crate::error::{invalid, QuantError, Result};
use crate::range::RealRange;

/// Smoothing constant of the discrete distributions (ORT/MXNet `smooth_distribution`).
const SMOOTHING_EPS: f64 = 1e-4;

/// Entropy calibration (Migacz, "8-bit Inference with TensorRT", 2017), the method behind
/// ORT's `EntropyCalibrater`:
///
/// 1. histogram of `|x|` with `num_bins` bins over `[0, max|x|]` (growing with later batches
///    at the same width, see the histogram notes on [`PercentileObserver`]);
/// 2. for every candidate `i` in `num_quantized_bins ..= bins`: the reference `P` is the first
///    `i` bins with all counts above folded into bin `i - 1`; the candidate `Q` merges the
///    first `i` bins (without the folded outliers) into `num_quantized_bins` groups of
///    `i / num_quantized_bins` bins (the last group takes the remainder) and spreads each
///    group's count uniformly over the bins where `P` is nonzero;
/// 3. both are smoothed (zeros become `1e-4`, the nonzero entries give that mass back) and
///    normalised; the candidate with the smallest `KL(P || Q)` wins (the first on ties);
///    candidates whose smoothing fails count as infinitely bad;
/// 4. threshold `T = i * bin_width`, range `[-T, T]` clamped to the observed `[min, max]`.
///
/// Defaults: 2048 bins, 128 quantized bins (TensorRT's). ORT's defaults are 128 bins and
/// 128 quantized bins, which leave a single candidate (the full range), so they are not used
/// here. ORT also histograms signed values and slices `2i + 1` bins around the zero bin
/// (one bin off-centre for an even bin count), and stores the expanded `Q` in an integer
/// array (truncating it); this implementation uses `|x|` and real-valued `Q`.
///
/// [`PercentileObserver`]: super::PercentileObserver
#[derive(Debug, Clone)]
pub struct EntropyObserver {
    num_quantized_bins: usize,
    histogram: Histogram,
    observed: Option<(f32, f32)>,
}

impl EntropyObserver {
    /// TensorRT's histogram size.
    pub const DEFAULT_BINS: usize = 2048;
    /// Quantized levels of the candidate distribution (int8: 128 magnitudes).
    pub const DEFAULT_QUANTIZED_BINS: usize = 128;

    /// `num_quantized_bins >= 2`, `num_bins >= num_quantized_bins`.
    pub fn new(num_bins: usize, num_quantized_bins: usize) -> Result<Self> {
        if num_quantized_bins < 2 {
            return Err(invalid("num_quantized_bins", "at least 2 are needed"));
        }
        if num_bins < num_quantized_bins {
            return Err(invalid(
                "num_bins",
                format!("{num_bins} is smaller than num_quantized_bins {num_quantized_bins}"),
            ));
        }
        Ok(Self::unchecked(num_bins, num_quantized_bins))
    }

    fn unchecked(num_bins: usize, num_quantized_bins: usize) -> Self {
        Self {
            num_quantized_bins,
            histogram: Histogram::new(HistogramKind::Magnitude, num_bins, num_bins.saturating_mul(4)),
            observed: None,
        }
    }

    /// The KL-optimal threshold `T` on `|x|` (before clamping to the observed range).
    pub fn threshold(&self) -> Result<f32> {
        if self.observed.is_none() {
            return Err(QuantError::NoData);
        }
        let kept = best_kept_bins(self.histogram.counts(), self.num_quantized_bins);
        let right_edge = self.histogram.first() + kept as i64;
        Ok((right_edge as f64 * self.histogram.width()) as f32)
    }
}

impl Default for EntropyObserver {
    /// 2048 bins, 128 quantized bins.
    fn default() -> Self {
        Self::unchecked(Self::DEFAULT_BINS, Self::DEFAULT_QUANTIZED_BINS)
    }
}

impl Observer for EntropyObserver {
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
        let t = self.threshold()?;
        clamp_to_observed(-t, t, observed)
    }
}

/// Number of leading bins whose threshold minimises `KL(P || Q)`; all bins when there are
/// no more than `quantized` of them or when no candidate is finite.
fn best_kept_bins(counts: &[u64], quantized: usize) -> usize {
    let n = counts.len();
    if n <= quantized {
        return n;
    }
    // above[i] = number of values in bins i.. (the outliers folded into bin i - 1).
    let mut above = vec![0u64; n + 1];
    for i in (0..n).rev() {
        above[i] = above[i + 1] + counts[i];
    }
    let mut p = vec![0f64; n];
    let mut q = vec![0f64; n];
    let mut best = (f64::INFINITY, n);
    for kept in quantized..=n {
        let (p, q) = (&mut p[..kept], &mut q[..kept]);
        for (pj, &c) in p.iter_mut().zip(counts) {
            *pj = c as f64;
        }
        p[kept - 1] += above[kept] as f64;
        let per_group = kept / quantized;
        for group in 0..quantized {
            let start = group * per_group;
            let end = if group + 1 == quantized { kept } else { start + per_group };
            let sum: u64 = counts[start..end].iter().sum();
            let nonzero = p[start..end].iter().filter(|&&v| v != 0.0).count();
            for (qj, &pj) in q[start..end].iter_mut().zip(&p[start..end]) {
                *qj = if pj != 0.0 { sum as f64 / nonzero as f64 } else { 0.0 };
            }
        }
        let divergence = match (smooth(p), smooth(q)) {
            (true, true) => kl_divergence(p, q),
            _ => f64::INFINITY,
        };
        if divergence < best.0 {
            best = (divergence, kept);
        }
    }
    best.1
}

/// Replaces zeros by `SMOOTHING_EPS` and takes the same total mass from the nonzero entries.
/// Returns false (distribution unusable) if every entry is zero or an entry would become
/// non-positive.
fn smooth(d: &mut [f64]) -> bool {
    let zeros = d.iter().filter(|&&v| v == 0.0).count();
    let nonzeros = d.len() - zeros;
    if nonzeros == 0 {
        return false;
    }
    let take = SMOOTHING_EPS * zeros as f64 / nonzeros as f64;
    for v in d.iter_mut() {
        *v = if *v == 0.0 { SMOOTHING_EPS } else { *v - take };
    }
    d.iter().all(|&v| v > 0.0)
}

/// `KL(p || q)` of two positive vectors after normalising each to sum 1 (scipy `entropy`).
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let p_sum: f64 = p.iter().sum();
    let q_sum: f64 = q.iter().sum();
    p.iter()
        .zip(q)
        .map(|(&pi, &qi)| {
            let (pi, qi) = (pi / p_sum, qi / q_sum);
            pi * (pi / qi).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::test_data::{gaussian, uniform};

    /// Bin width of the default 2048-bin histogram of `x`.
    fn bin_width(x: &[f32]) -> f32 {
        x.iter().fold(0.0f32, |a, &v| a.max(v.abs())) / 2048.0
    }

    #[test]
    fn post_relu_gaussian_threshold_is_well_below_max() {
        // ReLU(N(0, 1)), the typical activation: half the values are exactly 0 and the
        // tail is thin, so KL clips it hard. An independent numpy implementation of the
        // TensorRT algorithm on the same samples (SplitMix64 + Box-Muller reproduced in
        // Python) gives T = 1.849928 with max 4.233131.
        let x: Vec<f32> = gaussian(200_000, 11).iter().map(|v| v.max(0.0)).collect();
        let mut o = EntropyObserver::default();
        o.observe(&x).unwrap();
        let t = o.threshold().unwrap();
        assert!((f64::from(t) - 1.849928).abs() <= f64::from(bin_width(&x)), "{t}");
        let max = x.iter().fold(0.0f32, |a, &v| a.max(v));
        assert!(t < 0.5 * max, "threshold {t}, max {max}");
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, t));
    }

    #[test]
    fn symmetric_gaussian_threshold_clips_the_sparse_tail() {
        // |N(0, 1)|: the same numpy reference gives T = 4.261660 with max 4.464389. The
        // sparse tail costs little KL (Q is spread only over nonzero bins), so the threshold
        // stays beyond 4σ but below the maximum.
        let x = gaussian(200_000, 11);
        let mut o = EntropyObserver::default();
        o.observe(&x).unwrap();
        let t = o.threshold().unwrap();
        assert!((f64::from(t) - 4.261660).abs() <= f64::from(bin_width(&x)), "{t}");
        let (min, max) = x.iter().fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), ((-t).max(min), t.min(max)));
    }

    #[test]
    fn uniform_data_keeps_nearly_everything() {
        // Clipping a uniform distribution piles mass into the last bin, which Q cannot
        // reproduce: the full range is (close to) optimal.
        let x = uniform(100_000, -1.0, 1.0, 5);
        let mut o = EntropyObserver::default();
        o.observe(&x).unwrap();
        let t = o.threshold().unwrap();
        assert!(t > 0.9, "{t}");
    }

    #[test]
    fn single_outlier_is_clipped() {
        // 10^5 values in [0, 1) and one at 1000: width 1000/2048, the bulk sits in bins 0..=2
        // and the outlier alone in bin 2048. Every candidate keeps at least 128 bins
        // (T >= 62.5, so the bulk is never clipped); the candidates that keep the outlier
        // must spread bins 0..=2 over groups of >= 16 bins, which costs far more KL than
        // folding the single outlier into the last kept bin.
        let mut x: Vec<f32> = (0..100_000).map(|k| k as f32 / 1e5).collect();
        x.push(1000.0);
        let mut o = EntropyObserver::default();
        o.observe(&x).unwrap();
        let t = o.threshold().unwrap();
        assert!((62.5..200.0).contains(&t), "{t}");
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, t));
    }

    #[test]
    fn constant_negative_and_zero_data() {
        // A constant lands in the top bin: only the full-width candidate has a usable Q.
        let mut o = EntropyObserver::default();
        o.observe(&[3.0; 50]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (3.0, 3.0));

        let mut o = EntropyObserver::default();
        o.observe(&gaussian(10_000, 2).iter().map(|v| -v.abs() - 1.0).collect::<Vec<_>>()).unwrap();
        let r = o.range().unwrap();
        assert!(r.max() <= -1.0 && r.min() < r.max());

        let mut o = EntropyObserver::default();
        o.observe(&[0.0; 4]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, 0.0));
    }

    #[test]
    fn empty_nan_and_bad_config() {
        let mut o = EntropyObserver::default();
        o.observe(&[]).unwrap();
        assert_eq!(o.range(), Err(QuantError::NoData));
        assert_eq!(o.threshold(), Err(QuantError::NoData));
        assert!(o.observe(&[f32::NAN]).is_err());
        assert!(EntropyObserver::new(100, 128).is_err());
        assert!(EntropyObserver::new(100, 1).is_err());
        // Few bins: a single candidate, the full range.
        let mut small = EntropyObserver::new(4, 4).unwrap();
        small.observe(&[1.0, -2.0, 4.0]).unwrap();
        let r = small.range().unwrap();
        assert_eq!((r.min(), r.max()), (-2.0, 4.0));
    }

    #[test]
    fn kl_of_identical_distributions_is_zero() {
        assert_eq!(kl_divergence(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), 0.0);
        // Hand-computed: p = (1/2, 1/2), q = (1/4, 3/4):
        // 1/2 ln 2 + 1/2 ln(2/3).
        let expected = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        assert!((kl_divergence(&[1.0, 1.0], &[1.0, 3.0]) - expected).abs() < 1e-15);
        let mut d = [0.0, 2.0, 0.0, 4.0];
        assert!(smooth(&mut d));
        assert_eq!(d, [1e-4, 2.0 - 1e-4, 1e-4, 4.0 - 1e-4]);
        assert!(!smooth(&mut [0.0, 0.0]));
    }
}
