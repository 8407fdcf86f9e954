//! Columns of an int8 product read in place instead of copied: an im2col column of a
//! zero-bordered, widened image (`crate::ops::padded_image`) is `kh` runs of `kw · c`
//! contiguous i16 values, one padded image row apart.

/// The layout of every column's K values in a source buffer: `row_at.len()` runs of `len`
/// values, run `r` starting `row_at[r]` values after the column's own start. K is
/// `row_at.len() · len`, in run order.
#[derive(Clone, Copy, Debug)]
pub struct ColumnRuns<'a> {
    pub row_at: &'a [usize],
    pub len: usize,
}

impl ColumnRuns<'_> {
    /// One run: columns of `len` contiguous values.
    pub const fn contiguous(len: usize) -> ColumnRuns<'static> {
        ColumnRuns { row_at: &[0], len }
    }

    /// K values per column.
    pub fn k(&self) -> usize {
        self.row_at.len() * self.len
    }

    /// Panics unless the runs hold `k` values in whole pairs (what the int8 kernels step by).
    pub fn assert_pairs(&self, k: usize) {
        assert!(self.len % 2 == 0 && self.k() == k, "runs of {} values for K = {k}", self.len);
    }

    /// Values from a column's start to the end of its last-ending run.
    pub fn reach(&self) -> usize {
        self.row_at.iter().max().map_or(0, |&r| r + self.len)
    }
}

/// One kernel call's `N` columns read in place: column `j` is the runs of `runs` from value
/// `starts[j]` of the source on.
#[derive(Clone, Copy, Debug)]
pub struct Gather<'a, const N: usize> {
    pub starts: [usize; N],
    pub runs: ColumnRuns<'a>,
}

impl<const N: usize> Gather<'static, N> {
    /// Columns of `len` contiguous values back to back (a column buffer).
    pub fn contiguous(len: usize) -> Self {
        Gather { starts: std::array::from_fn(|j| j * len), runs: ColumnRuns::contiguous(len) }
    }
}

impl<'a, const N: usize> Gather<'a, N> {
    /// The starts of columns `j0..j0 + nt` (`nt ≤ N`; the rest 0), each checked to keep its
    /// runs inside the `src_len` source values.
    pub fn new(j0: usize, nt: usize, start: impl Fn(usize) -> usize, runs: ColumnRuns<'a>, src_len: usize) -> Self {
        let reach = runs.reach();
        let mut starts = [0; N];
        for (j, s) in starts[..nt].iter_mut().enumerate() {
            *s = start(j0 + j);
            assert!(*s + reach <= src_len, "column {} reads past its {src_len} source values", j0 + j);
        }
        Gather { starts, runs }
    }
}
