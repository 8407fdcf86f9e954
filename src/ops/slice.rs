//! Strided slicing (ONNX `Slice`; `Split` becomes one slice per output at import).

use crate::tensor::{numel, strides, Tensor};
use crate::{bail, Result};

/// Elements `start, start + step, ...` (count `len`) along one axis, after ONNX clamping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AxisRange {
    pub start: usize,
    pub step: i64,
    pub len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slice {
    /// One range per input axis.
    pub ranges: Vec<AxisRange>,
}

impl AxisRange {
    /// The whole axis.
    pub fn full(dim: usize) -> AxisRange {
        AxisRange { start: 0, step: 1, len: dim }
    }

    /// ONNX `Slice` semantics for one axis: negative indices count from the end, then start
    /// and end are clamped (to `[0, dim]` for positive steps, `[-1, dim-1]` for negative ones).
    pub fn from_onnx(dim: usize, start: i64, end: i64, step: i64) -> Result<AxisRange> {
        if step == 0 {
            bail!("Slice step must not be 0");
        }
        let d = dim as i64;
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = if step > 0 {
            (norm(start).clamp(0, d), norm(end).clamp(0, d))
        } else {
            (norm(start).clamp(0, (d - 1).max(0)), norm(end).clamp(-1, d - 1))
        };
        let len = if step > 0 {
            if e > s {
                (e - s + step - 1) / step
            } else {
                0
            }
        } else if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        };
        Ok(AxisRange { start: s as usize, step, len: len as usize })
    }

    /// Index along the axis of the `k`-th selected element.
    pub fn index(&self, k: usize) -> usize {
        (self.start as i64 + k as i64 * self.step) as usize
    }
}

impl Slice {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if self.ranges.len() != x.len() {
            bail!("Slice has {} axis ranges for a rank-{} input", self.ranges.len(), x.len());
        }
        for (r, &d) in self.ranges.iter().zip(x) {
            if r.len > 0 && (r.index(0) >= d || r.index(r.len - 1) >= d) {
                bail!("Slice range {r:?} is outside an axis of {d}");
            }
        }
        Ok(self.ranges.iter().map(|r| r.len).collect())
    }

    /// For each output flat index, the input flat index it reads.
    pub fn source_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let out = self.output_shape(x)?;
        let xs = strides(x);
        let os = strides(&out);
        Ok((0..numel(&out)?)
            .map(|k| (0..out.len()).map(|a| self.ranges[a].index((k / os[a]) % out[a]) * xs[a]).sum())
            .collect())
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        x.gather_flat(self.output_shape(x.shape())?, &self.source_indices(x.shape())?)
    }
}

impl Slice {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let idx = self.source_indices(ctx.inputs[0].shape)?;
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, idx, 0.0)?))
    }
}
