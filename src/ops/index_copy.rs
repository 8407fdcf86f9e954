//! The run-time step of pure data movement (transpose, slice, gather, expand, pad,
//! depth-to-space, reshape copies): `out[i] = in[index[i]]`, with a fill value where the
//! index is [`FILL`]. The index table is computed once at plan time from the op's shape rule
//! and stored compressed: as repetitions of its shortest period (a slice or gather of one
//! axis repeats for every outer index, shifted by the input's outer stride), and that period
//! as runs of consecutive sources when they are long enough to copy whole.

use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::tensor::DType;
use crate::{bail, Error, Result};

/// Index-table entry meaning "write the fill value".
pub const FILL: u32 = u32::MAX;

/// Shortest mean run (elements) for which copying runs beats reading an index per element.
const MIN_MEAN_RUN: usize = 4;

/// Element comparisons the period search may spend, per table entry.
const PERIOD_SEARCH_BUDGET: usize = 4;

pub struct IndexCopy {
    src: Slot,
    dst: Slot,
    /// Output elements per repetition of `period`.
    len: usize,
    /// Source offset added per repetition.
    shift: usize,
    period: Period,
    dtype: DType,
    /// Fill value as the output type's bits (f32 bits, or the integer value).
    fill: u32,
}

/// One period of the index table (sources relative to the repetition's shift).
#[derive(Debug, PartialEq)]
enum Period {
    /// `(first source or FILL, length)`: consecutive sources, or fill values.
    Runs(Vec<(u32, u32)>),
    /// One source (or FILL) per element.
    Elements(Vec<u32>),
}

/// The shortest `(length, shift)` such that `index` is whole repetitions of its first
/// `length` entries, each repetition's sources `shift` further on (FILL staying FILL). The
/// whole table when no shorter period is found within [`PERIOD_SEARCH_BUDGET`].
fn shortest_period(index: &[u32]) -> (usize, usize) {
    let n = index.len();
    let mut budget = n * PERIOD_SEARCH_BUDGET;
    for len in (1..=n / 2).filter(|len| n % len == 0) {
        let Some(first) = (0..len).find(|&j| index[j] != FILL) else { continue };
        let Some(shift) = index[first + len].checked_sub(index[first]).filter(|_| index[first + len] != FILL) else {
            continue;
        };
        let mut matches = true;
        for (a, &b) in index.iter().zip(&index[len..]) {
            if budget == 0 {
                return (n, 0);
            }
            budget -= 1;
            let same = if *a == FILL { b == FILL } else { b != FILL && b.checked_sub(*a) == Some(shift) };
            if !same {
                matches = false;
                break;
            }
        }
        if matches {
            return (len, shift as usize);
        }
    }
    (n, 0)
}

/// A period as runs when they average at least [`MIN_MEAN_RUN`] elements, else as elements.
fn compress(period: &[u32]) -> Period {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &i in period {
        match runs.last_mut() {
            Some((s, len)) if (*s == FILL && i == FILL) || (*s != FILL && i != FILL && i == *s + *len) => *len += 1,
            _ => runs.push((i, 1)),
        }
    }
    if runs.len() * MIN_MEAN_RUN <= period.len() {
        Period::Runs(runs)
    } else {
        Period::Elements(period.to_vec())
    }
}

impl IndexCopy {
    /// A step copying input 0 to output 0 through `index` (one entry per output element).
    pub fn new(ctx: &LowerCtx, index: Vec<usize>, fill: f32) -> Result<IndexCopy> {
        let out = ctx.outputs[0];
        if index.len() != out.numel() {
            bail!("index table of {} entries for {} outputs", index.len(), out.numel());
        }
        let n_in = ctx.inputs[0].numel();
        let index = index
            .into_iter()
            .map(|i| {
                if i == usize::MAX {
                    Ok(FILL)
                } else if i < n_in && i < FILL as usize {
                    Ok(i as u32)
                } else {
                    Err(Error::invalid(format!("index {i} out of range for {n_in} elements")))
                }
            })
            .collect::<Result<Vec<u32>>>()?;
        let dtype = out.dtype;
        let fill = match dtype {
            DType::F32 => fill.to_bits(),
            _ => fill as i64 as u32,
        };
        let (len, shift) = shortest_period(&index);
        let period = compress(&index[..len]);
        Ok(IndexCopy { src: ctx.inputs[0].slot()?, dst: out.slot()?, len, shift, period, dtype, fill })
    }

    fn copy<T: bytemuck::Pod>(&self, mem: &Memory, fill: T) {
        let src = mem.read::<T>(self.src);
        let dst = mem.write::<T>(self.dst);
        for (r, out) in dst.chunks_exact_mut(self.len.max(1)).enumerate() {
            let src = &src[r * self.shift..];
            match &self.period {
                Period::Runs(runs) => {
                    let mut at = 0;
                    for &(s, len) in runs {
                        let o = &mut out[at..at + len as usize];
                        if s == FILL {
                            o.fill(fill);
                        } else {
                            o.copy_from_slice(&src[s as usize..][..len as usize]);
                        }
                        at += len as usize;
                    }
                }
                Period::Elements(index) => {
                    for (d, &i) in out.iter_mut().zip(index) {
                        *d = if i == FILL { fill } else { src[i as usize] };
                    }
                }
            }
        }
    }
}

impl Step for IndexCopy {
    fn kernel(&self) -> String {
        "index_copy".into()
    }

    fn run(&mut self, mem: &Memory) {
        match self.dtype.size() {
            1 => self.copy::<u8>(mem, self.fill as u8),
            4 => self.copy::<u32>(mem, self.fill),
            _ => self.copy::<u64>(mem, self.fill as i32 as i64 as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_of_the_last_axis_is_one_run_per_row() {
        // Channels 2..5 of 4 pixels x 6 channels.
        let index: Vec<u32> = (0..4).flat_map(|p| (2..5).map(move |c| p * 6 + c)).collect();
        assert_eq!(shortest_period(&index), (3, 6));
        assert_eq!(compress(&index[..3]), Period::Elements(vec![2, 3, 4]));
        // 8 channels of 16: runs of 8.
        let index: Vec<u32> = (0..4).flat_map(|p| (8..16).map(move |c| p * 16 + c)).collect();
        assert_eq!(shortest_period(&index), (8, 16));
        assert_eq!(compress(&index[..8]), Period::Runs(vec![(8, 8)]));
    }

    #[test]
    fn a_channel_gather_repeats_per_pixel_and_fill_stays_fill() {
        let perm = [0u32, 3, 1, 4, 2, 5];
        let index: Vec<u32> = (0..3).flat_map(|p| perm.iter().map(move |c| p * 6 + c)).collect();
        assert_eq!(shortest_period(&index), (6, 6));
        // A padded row: fill, 4 values, fill; twice.
        let row = |r: u32| [FILL, r * 4, r * 4 + 1, r * 4 + 2, r * 4 + 3, FILL];
        let index: Vec<u32> = (0..2).flat_map(row).collect();
        assert_eq!(shortest_period(&index), (6, 4));
        assert_eq!(compress(&index[..6]), Period::Elements(index[..6].to_vec()));
        let index: Vec<u32> = [FILL; 8].into_iter().chain(0..8).collect();
        assert_eq!(compress(&index), Period::Runs(vec![(FILL, 8), (0, 8)]));
    }

    #[test]
    fn a_table_without_a_shorter_period_is_its_own_period_and_any_period_is_found() {
        // A rotation: the second half would need a negative shift.
        assert_eq!(shortest_period(&[2, 3, 0, 1]), (4, 0));
        // A transpose of 3x2 to 2x3 (0 3 1 4 2 5) is a column pair shifted by 1 per pair.
        assert_eq!(shortest_period(&[0, 3, 1, 4, 2, 5]), (2, 1));
        // A period with a FILL in one repetition only is no period.
        assert_eq!(shortest_period(&[0, 1, 2, FILL]), (4, 0));
        assert_eq!(shortest_period(&[]), (0, 0));
    }
}
