//! Clipping-range search minimising the quantization MSE (MQBench `MSEObserver`, p = 2).

use super::{batch_min_max, merge_min_max, Observer};
use crate::error::{invalid, QuantError, Result};
use crate::params::QuantParams;
use crate::range::RealRange;
use crate::scheme::QuantScheme;

/// For each batch, searches the shrunk ranges `[min * f, max * f]` with
/// `f = 1 - 0.01 * i`, `i = 0 .. grid_steps`, and keeps the one whose parameters
/// (under `scheme`) minimise `mean((fake_quantize(x) - x)^2)`; the first (widest) wins ties.
/// Across batches the widest per-batch optimum wins: `min = min(old, new)`,
/// `max = max(old, new)` (as MQBench).
///
/// Grids: 95 steps per tensor ([`MseObserver::PER_TENSOR_GRID`]) and 80 per channel
/// ([`MseObserver::PER_CHANNEL_GRID`]), MQBench's values; wrap in a
/// [`PerChannelObserver`](super::PerChannelObserver) for per-channel weights.
///
/// Cost: `grid_steps` fake-quantizations of at most about `2 ·` [`MseObserver::MAX_SCORED`]
/// values per batch. A batch of more than `4 · MAX_SCORED` values is scored on a stratified
/// sample: its `MAX_SCORED` largest magnitudes exactly (the rare tail values that clipping
/// costs most on, which a regular subsample would miss), the rest on every
/// `ceil(rest / MAX_SCORED)`-th value weighted by that stride — an unbiased estimate of the
/// loss at a fraction of the cost on full-resolution feature maps. Min and max always come
/// from every value.
#[derive(Debug, Clone)]
pub struct MseObserver {
    scheme: QuantScheme,
    grid_steps: usize,
    observed: Option<(f32, f32)>,
}

impl MseObserver {
    /// MQBench's per-tensor grid (shrink factors 1.00 down to 0.06).
    pub const PER_TENSOR_GRID: usize = 95;
    /// MQBench's per-channel grid (shrink factors 1.00 down to 0.21).
    pub const PER_CHANNEL_GRID: usize = 80;
    /// Shrink step between grid points.
    pub const GRID_STEP: f32 = 0.01;
    /// Values of one batch that score the candidates (see the type docs).
    pub const MAX_SCORED: usize = 1 << 13;

    /// A per-tensor observer (95-step grid) scoring candidates under `scheme`.
    pub fn new(scheme: QuantScheme) -> Self {
        Self { scheme, grid_steps: Self::PER_TENSOR_GRID, observed: None }
    }

    /// An observer with `grid_steps` candidates, `1..=100`.
    pub fn with_grid(scheme: QuantScheme, grid_steps: usize) -> Result<Self> {
        if !(1..=100).contains(&grid_steps) {
            return Err(invalid("grid_steps", format!("{grid_steps} is outside 1..=100")));
        }
        Ok(Self { scheme, grid_steps, observed: None })
    }

    /// The best shrunk range of one (non-empty, finite) batch.
    fn best_range(&self, x: &[f32], (min, max): (f32, f32)) -> Result<(f32, f32)> {
        let (tail, body, weight) = Self::scored_sample(x);
        let mut best = (f64::INFINITY, (min, max));
        for i in 0..self.grid_steps {
            let factor = 1.0 - Self::GRID_STEP * i as f32;
            let candidate = (min * factor, max * factor);
            let params = QuantParams::from_range(RealRange::new(candidate.0, candidate.1)?, self.scheme)?;
            let err = |v: &f32| f64::from(params.fake_quantize(*v) - *v).powi(2);
            let loss = tail.iter().map(err).sum::<f64>() + weight * body.iter().map(err).sum::<f64>();
            if loss < best.0 {
                best = (loss, candidate);
            }
        }
        Ok(best.1)
    }

    /// The values that score the candidates: `(scored exactly, sampled, weight of a sampled
    /// value)`. Small batches: every value, weight 1. Large ones: the `MAX_SCORED` largest
    /// magnitudes exactly and a regular sample of the others (see the type docs).
    fn scored_sample(x: &[f32]) -> (Vec<f32>, Vec<f32>, f64) {
        if x.len() <= 4 * Self::MAX_SCORED {
            return (Vec::new(), x.to_vec(), 1.0);
        }
        let mut magnitudes: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let at = x.len() - Self::MAX_SCORED;
        let threshold = *magnitudes.select_nth_unstable_by(at, f32::total_cmp).1;
        let tail: Vec<f32> = x.iter().copied().filter(|v| v.abs() > threshold).collect();
        let rest = x.len() - tail.len();
        let stride = rest.div_ceil(Self::MAX_SCORED);
        let body: Vec<f32> = x.iter().copied().filter(|v| v.abs() <= threshold).step_by(stride).collect();
        let weight = rest as f64 / body.len().max(1) as f64;
        (tail, body, weight)
    }
}

impl Observer for MseObserver {
    fn observe(&mut self, x: &[f32]) -> Result<()> {
        let Some(batch) = batch_min_max(x)? else {
            return Ok(());
        };
        let best = self.best_range(x, batch)?;
        self.observed = Some(merge_min_max(self.observed, best));
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
    use crate::observer::test_data::{gaussian, uniform};

    /// Independent reference: the same grid search for a symmetric scheme with integer range
    /// `[qmin, qmax]` (zero point 0), written naively in f64. Returns the best shrink factor.
    fn reference_best_factor(x: &[f32], steps: usize, qmin: f64, qmax: f64) -> f64 {
        let amax = x.iter().fold(0.0f64, |a, &v| a.max(f64::from(v).abs()));
        let mut best = (f64::INFINITY, 1.0);
        for i in 0..steps {
            let f = 1.0 - 0.01 * i as f64;
            let s = amax * f / ((qmax - qmin) / 2.0);
            let loss: f64 = x
                .iter()
                .map(|&v| {
                    let q = (f64::from(v) / s).round_ties_even().clamp(qmin, qmax);
                    (q * s - f64::from(v)).powi(2)
                })
                .sum();
            if loss < best.0 {
                best = (loss, f);
            }
        }
        best.1
    }

    fn assert_range_shrunk_by(r: RealRange, x: &[f32], factor: f64) {
        let (min, max) = x.iter().fold((0.0f64, 0.0f64), |(lo, hi), &v| (lo.min(f64::from(v)), hi.max(f64::from(v))));
        assert!((f64::from(r.min()) - min * factor).abs() < 1e-5, "{r:?} vs {factor}");
        assert!((f64::from(r.max()) - max * factor).abs() < 1e-5, "{r:?} vs {factor}");
    }

    #[test]
    fn exactly_representable_data_is_not_clipped() {
        // ±1 with [-1, 1] -> scale 1/127: zero error at f = 1; any shrink clips.
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC_NARROW);
        o.observe(&[-1.0, 1.0, 1.0, -1.0]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-1.0, 1.0));
    }

    #[test]
    fn outlier_is_clipped_and_matches_reference() {
        let mut x = gaussian(20_000, 1);
        x.push(60.0);
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC_NARROW);
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        assert_range_shrunk_by(r, &x, reference_best_factor(&x, 95, -127.0, 127.0));
        // Closed form with the uniform rounding-noise model: shrinking by f costs
        // (60 (1 - f))^2 on the outlier and saves N s^2 / 12 with s = 60 f / 127 on the rest:
        // minimise 3600 (1 - f)^2 + 20000 (60 f / 127)^2 / 12 -> f = 3600 / (3600 + 372) ≈ 0.906.
        assert!((50.0..58.0).contains(&r.max()), "{}", r.max());
    }

    #[test]
    fn uniform_data_keeps_most_of_the_range() {
        let x = uniform(10_000, -1.0, 1.0, 3);
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC);
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        let factor = reference_best_factor(&x, 95, -128.0, 127.0);
        assert_range_shrunk_by(r, &x, factor);
        assert!(factor > 0.95);
    }

    #[test]
    fn per_channel_weights_use_their_own_optimum() {
        // Channel 0: exactly representable ±1 (no shrink). Channel 1: Gaussian + outlier,
        // shrunk as the 80-step reference says.
        let mut channel1 = gaussian(20_000, 9);
        channel1.push(40.0);
        let mut channel0 = [1.0f32, -1.0].repeat(channel1.len() / 2);
        channel0.push(1.0);
        let mut o = crate::observer::PerChannelObserver::new(2, || {
            MseObserver::with_grid(QuantScheme::I8_SYMMETRIC_NARROW, MseObserver::PER_CHANNEL_GRID).unwrap()
        })
        .unwrap();
        o.observe(&[channel0.clone(), channel1.clone()].concat()).unwrap();
        let ranges = o.ranges().unwrap();
        assert_eq!((ranges[0].min(), ranges[0].max()), (-1.0, 1.0));
        assert_range_shrunk_by(ranges[1], &channel1, reference_best_factor(&channel1, 80, -127.0, 127.0));
        // Noise model as above: 1600 (1 - f)^2 + 20000 (40 f / 127)^2 / 12 -> f ≈ 0.906.
        assert!((34.0..38.5).contains(&ranges[1].max()), "{:?}", ranges[1]);
    }

    #[test]
    fn a_large_batch_scored_on_a_subsample_finds_the_full_batch_optimum() {
        // 200k Gaussian values (over twenty times MAX_SCORED) with a heavy tail (|x| > 3 stretched
        // eightfold, 0.3 % of the values): the shrink factor of the sampled search is within one
        // grid step of the full search's.
        let mut x = gaussian(200_000, 5);
        x.iter_mut().filter(|v| v.abs() > 3.0).for_each(|v| *v *= 8.0);
        assert!(x.len() > 4 * MseObserver::MAX_SCORED);
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC_NARROW);
        o.observe(&x).unwrap();
        let r = o.range().unwrap();
        let amax = x.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
        let factor = f64::from(r.max().max(-r.min()) / amax);
        let reference = reference_best_factor(&x, 95, -127.0, 127.0);
        assert!((factor - reference).abs() <= 0.0101, "{factor} vs {reference}");
    }

    #[test]
    fn a_single_outlier_in_a_large_batch_still_counts() {
        // One outlier among 100k values: a regular subsample would skip it and shrink the range
        // as if it were not there; the exactly scored tail keeps its clipping cost.
        let mut x = gaussian(100_000, 11);
        x.push(60.0);
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC_NARROW);
        o.observe(&x).unwrap();
        let factor = f64::from(o.range().unwrap().max()) / 60.0;
        let reference = reference_best_factor(&x, 95, -127.0, 127.0);
        assert!((factor - reference).abs() <= 0.0101, "{factor} vs {reference}");
    }

    #[test]
    fn widest_batch_optimum_wins() {
        let mut o = MseObserver::new(QuantScheme::I8_SYMMETRIC_NARROW);
        o.observe(&[-1.0, 1.0]).unwrap();
        o.observe(&[-2.0, 2.0]).unwrap();
        o.observe(&[-0.5, 0.5]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (-2.0, 2.0));
    }

    #[test]
    fn degenerate_inputs() {
        let mut o = MseObserver::new(QuantScheme::U8_ASYMMETRIC);
        assert_eq!(o.range(), Err(QuantError::NoData));
        o.observe(&[]).unwrap();
        assert_eq!(o.range(), Err(QuantError::NoData));
        o.observe(&[0.0; 8]).unwrap();
        let r = o.range().unwrap();
        assert_eq!((r.min(), r.max()), (0.0, 0.0));
        assert!(o.observe(&[f32::NAN]).is_err());
        // A constant 3.0 is exact at f = 1 (top of [0, 3]).
        let mut c = MseObserver::new(QuantScheme::U8_ASYMMETRIC);
        c.observe(&[3.0; 5]).unwrap();
        assert_eq!(c.range().unwrap().max(), 3.0);
        assert!(MseObserver::with_grid(QuantScheme::U8_ASYMMETRIC, 0).is_err());
        assert!(MseObserver::with_grid(QuantScheme::U8_ASYMMETRIC, 101).is_err());
    }
}
