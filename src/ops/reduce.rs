//! Reductions over a set of axes (`ReduceMean`, `ReduceSum`, `ReduceMax`, `ReduceMin`).

use crate::tensor::{numel, strides, Tensor};
use crate::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReduceKind {
    Mean,
    Sum,
    Max,
    Min,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reduce {
    pub kind: ReduceKind,
    /// Sorted, distinct axes.
    pub axes: Vec<usize>,
    pub keep_dims: bool,
}

impl Reduce {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if let Some(&a) = self.axes.iter().find(|&&a| a >= x.len()) {
            bail!("reduce axis {a} out of range for rank {}", x.len());
        }
        Ok(x.iter()
            .enumerate()
            .filter_map(|(i, &d)| match (self.axes.contains(&i), self.keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect())
    }

    /// For every input flat index, the output flat index it reduces into.
    pub fn destination_indices(&self, x: &[usize]) -> Result<Vec<usize>> {
        let kept: Vec<usize> = x.iter().enumerate().map(|(i, &d)| if self.axes.contains(&i) { 1 } else { d }).collect();
        let ks = strides(&kept);
        let xs = strides(x);
        Ok((0..numel(x)?)
            .map(|k| (0..x.len()).map(|a| if self.axes.contains(&a) { 0 } else { ((k / xs[a]) % x[a]) * ks[a] }).sum())
            .collect())
    }

    /// Reduces `x` (f32) into `out`, given the destination map.
    pub fn reduce_into(&self, x: &[f32], dest: &[usize], out: &mut [f32]) {
        let init = match self.kind {
            ReduceKind::Mean | ReduceKind::Sum => 0.0,
            ReduceKind::Max => f32::NEG_INFINITY,
            ReduceKind::Min => f32::INFINITY,
        };
        out.fill(init);
        for (&v, &d) in x.iter().zip(dest) {
            out[d] = match self.kind {
                ReduceKind::Mean | ReduceKind::Sum => out[d] + v,
                ReduceKind::Max => out[d].max(v),
                ReduceKind::Min => out[d].min(v),
            };
        }
        if self.kind == ReduceKind::Mean && !out.is_empty() {
            let count = (x.len() / out.len()) as f32;
            out.iter_mut().for_each(|v| *v /= count);
        }
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        let shape = self.output_shape(x.shape())?;
        let mut out = vec![0.0; numel(&shape)?];
        self.reduce_into(&x.to_f32_vec(), &self.destination_indices(x.shape())?, &mut out);
        Ok(Tensor::from_vec(shape, out)?.cast(x.dtype()))
    }
}

/// Run-time reduction of an f32 tensor through a destination-index table.
struct ReduceStep {
    op: Reduce,
    dest: Vec<usize>,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for ReduceStep {
    fn kernel(&self) -> String {
        "reduce".into()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        self.op.reduce_into(mem.read::<f32>(self.x), &self.dest, mem.write::<f32>(self.y));
    }
}

impl Reduce {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            bail!("run-time reductions support f32 only");
        }
        Ok(Box::new(ReduceStep {
            op: self.clone(),
            dest: self.destination_indices(ctx.inputs[0].shape)?,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
