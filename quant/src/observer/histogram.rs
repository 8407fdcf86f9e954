//! A fixed-width histogram on the lattice `j * width` that grows with the data.
//!
//! Shared by the percentile and entropy observers. Bin `j` (an integer, possibly negative)
//! counts values in `[j * width, (j + 1) * width)`, so 0 is always a bin edge. The width is
//! set by the first batch holding a nonzero value:
//!
//! * [`HistogramKind::Magnitude`] histograms `|x|` with `width = max|x| / initial_bins`
//!   (ORT's percentile collector, TensorRT's entropy calibrator);
//! * [`HistogramKind::Signed`] histograms `x` with `width = 2 max|x| / initial_bins`
//!   (ORT's `[-T, T]` value histogram).
//!
//! The largest value of the first batch lands on the edge `initial_bins * width` and gets a
//! bin of its own (numpy closes the last bin instead; the difference is one bin width at the
//! top). Later batches with a wider range append bins at the same width, as ORT's collectors
//! do. Unlike ORT, the number of bins is capped: when it would exceed `max_bins`, adjacent
//! bins are merged in pairs (repeatedly) so memory stays bounded.
//!
//! Zeros seen before the width is known (all-zero batches) are kept aside and counted in the
//! bin holding 0 once it exists.

/// What is histogrammed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistogramKind {
    /// `|x|`.
    Magnitude,
    /// `x`.
    Signed,
}

#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    kind: HistogramKind,
    initial_bins: usize,
    max_bins: usize,
    /// 0 until a nonzero value was seen.
    width: f64,
    /// Lattice index of `counts[0]`.
    first: i64,
    counts: Vec<u64>,
    zeros_before_width: u64,
}

impl Histogram {
    /// `initial_bins >= 1`, `max_bins >= 2` (checked by the observers).
    pub(crate) fn new(kind: HistogramKind, initial_bins: usize, max_bins: usize) -> Self {
        Self { kind, initial_bins, max_bins, width: 0.0, first: 0, counts: Vec::new(), zeros_before_width: 0 }
    }

    /// Adds a batch whose values are all finite.
    pub(crate) fn add(&mut self, x: &[f32]) {
        let Some((lo, hi)) = x.iter().map(|&v| self.value(v)).fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        }) else {
            return;
        };
        if self.width == 0.0 {
            let span = match self.kind {
                HistogramKind::Magnitude => hi,
                HistogramKind::Signed => 2.0 * lo.abs().max(hi.abs()),
            };
            if span == 0.0 {
                self.zeros_before_width += x.len() as u64;
                return;
            }
            self.width = span / self.initial_bins as f64;
            self.first = 0;
            self.counts = vec![std::mem::take(&mut self.zeros_before_width)];
        }
        self.cover(lo, hi);
        for &v in x {
            let bin = self.bin_of(self.value(v));
            self.counts[bin] += 1;
        }
    }

    /// Width of one bin (0 while only zeros were seen).
    pub(crate) fn width(&self) -> f64 {
        self.width
    }

    /// Bin counts, from lattice index [`Histogram::first`] on.
    pub(crate) fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Lattice index of the first bin.
    pub(crate) fn first(&self) -> i64 {
        self.first
    }

    /// Number of values added.
    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.zeros_before_width
    }

    /// Left edge of the first bin at which the cumulative count reaches `fraction` of the
    /// total (numpy `hist_edges[searchsorted(cdf, fraction)]`, as ORT's percentile). 0 while
    /// only zeros were seen.
    pub(crate) fn left_edge_at_fraction(&self, fraction: f64) -> f64 {
        let target = fraction * self.total() as f64;
        let mut cumulative = 0u64;
        let last = self.counts.len().saturating_sub(1);
        let index = self
            .counts
            .iter()
            .position(|&c| {
                cumulative += c;
                cumulative as f64 >= target
            })
            .unwrap_or(last);
        (self.first + index as i64) as f64 * self.width
    }

    fn value(&self, v: f32) -> f64 {
        match self.kind {
            HistogramKind::Magnitude => f64::from(v.abs()),
            HistogramKind::Signed => f64::from(v),
        }
    }

    /// Lattice index of `v` (saturating for absurd ratios).
    fn lattice(&self, v: f64) -> f64 {
        (v / self.width).floor()
    }

    /// Index into `counts` of `v`, clamped to the allocated bins.
    fn bin_of(&self, v: f64) -> usize {
        let j = self.lattice(v) as i64;
        j.saturating_sub(self.first).clamp(0, self.counts.len() as i64 - 1) as usize
    }

    /// Grows (and if needed coarsens) the bins so that `[lo, hi]` is covered.
    fn cover(&mut self, lo: f64, hi: f64) {
        let current_last = self.first + self.counts.len() as i64 - 1;
        let lo_j = self.lattice(lo).min(self.first as f64);
        let hi_j = self.lattice(hi).max(current_last as f64);
        if lo_j >= self.first as f64 && hi_j <= current_last as f64 {
            return;
        }
        // Power-of-two merge factor, in f64 so that huge ratios cannot overflow.
        let mut factor = 1.0f64;
        while (hi_j / factor).floor() - (lo_j / factor).floor() + 1.0 > self.max_bins as f64 {
            factor *= 2.0;
        }
        let new_first = (lo_j / factor).floor() as i64;
        let new_len = ((hi_j / factor).floor() as i64 - new_first + 1) as usize;
        let mut counts = vec![0u64; new_len];
        for (i, &c) in self.counts.iter().enumerate() {
            let j = (self.first + i as i64) as f64;
            counts[((j / factor).floor() as i64 - new_first) as usize] += c;
        }
        self.counts = counts;
        self.first = new_first;
        self.width *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bins_hand_checked() {
        let mut h = Histogram::new(HistogramKind::Magnitude, 4, 64);
        // max|x| = 4 -> width 1; bins [0,1) [1,2) [2,3) [3,4) [4,5).
        h.add(&[0.5, -1.5, 2.0, -4.0, 3.9]);
        assert_eq!(h.width(), 1.0);
        assert_eq!(h.first(), 0);
        assert_eq!(h.counts(), &[1, 1, 1, 1, 1]);
        // A wider batch appends bins at the same width.
        h.add(&[6.5]);
        assert_eq!(h.counts(), &[1, 1, 1, 1, 1, 0, 1]);
        assert_eq!(h.total(), 6);
        // cdf: 1/6, 2/6, ... reaches 0.5 at bin 2 -> left edge 2.
        assert_eq!(h.left_edge_at_fraction(0.5), 2.0);
        assert_eq!(h.left_edge_at_fraction(1.0), 6.0);
        assert_eq!(h.left_edge_at_fraction(0.0), 0.0);
    }

    #[test]
    fn signed_bins_grow_on_both_sides() {
        let mut h = Histogram::new(HistogramKind::Signed, 4, 64);
        // T = 2 -> width 1; values -2, -0.5, 1.5 -> lattice -2, -1, 1.
        h.add(&[-2.0, -0.5, 1.5]);
        assert_eq!(h.width(), 1.0);
        assert_eq!(h.first(), -2);
        assert_eq!(h.counts(), &[1, 1, 0, 1]);
        h.add(&[-3.5]);
        assert_eq!(h.first(), -4);
        assert_eq!(h.counts(), &[1, 0, 1, 1, 0, 1]);
    }

    #[test]
    fn zeros_before_the_width_is_known() {
        let mut h = Histogram::new(HistogramKind::Magnitude, 2, 64);
        h.add(&[0.0, -0.0, 0.0]);
        assert_eq!(h.width(), 0.0);
        assert_eq!(h.total(), 3);
        assert_eq!(h.left_edge_at_fraction(1.0), 0.0);
        h.add(&[2.0]);
        assert_eq!(h.width(), 1.0);
        assert_eq!(h.counts(), &[3, 0, 1]);
    }

    #[test]
    fn growth_is_capped_by_merging_pairs() {
        let mut h = Histogram::new(HistogramKind::Magnitude, 4, 8);
        h.add(&[0.5, 1.5, 4.0]); // width 1: [1, 1, 0, 0, 1]
        h.add(&[12.5]); // needs bins 0..=12 (13 > 8): merge pairs -> width 2, bins 0..=6.
        assert_eq!(h.width(), 2.0);
        assert_eq!(h.counts(), &[2, 0, 1, 0, 0, 0, 1]);
        // An absurdly wide batch must not overflow anything.
        h.add(&[3e38]);
        assert!(h.counts().len() <= 8);
        assert_eq!(h.total(), 5);
        assert_eq!(h.counts()[0], 4);
    }
}
