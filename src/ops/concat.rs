//! Concatenation along one axis.

use crate::tensor::{Tensor, TensorData};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Concat {
    pub axis: usize,
}

impl Concat {
    pub fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let first = inputs.first().ok_or_else(|| crate::Error::invalid("Concat needs at least one input"))?;
        if self.axis >= first.len() {
            bail!("Concat axis {} out of range for rank {}", self.axis, first.len());
        }
        let mut out = first.to_vec();
        out[self.axis] = 0;
        for s in inputs {
            if s.len() != first.len() || s.iter().enumerate().any(|(i, &d)| i != self.axis && d != first[i]) {
                bail!("Concat inputs {inputs:?} differ outside axis {}", self.axis);
            }
            out[self.axis] += s[self.axis];
        }
        Ok(out)
    }

    /// (outer count, per-input inner block lengths) for copying: the output is `outer`
    /// repetitions of each input's contiguous block in turn.
    pub fn blocks(&self, inputs: &[&[usize]]) -> (usize, Vec<usize>) {
        let outer = inputs[0][..self.axis].iter().product();
        let inner = inputs.iter().map(|s| s[self.axis..].iter().product()).collect();
        (outer, inner)
    }

    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        let (outer, inner) = self.blocks(&shapes);
        macro_rules! cat {
            ($variant:ident) => {{
                let mut v = Vec::with_capacity(out.iter().product());
                for o in 0..outer {
                    for (t, &len) in inputs.iter().zip(&inner) {
                        match t.data() {
                            TensorData::$variant(d) => v.extend_from_slice(&d[o * len..(o + 1) * len]),
                            _ => bail!("Concat inputs have different types"),
                        }
                    }
                }
                TensorData::$variant(v)
            }};
        }
        let data = match inputs[0].data() {
            TensorData::F32(_) => cat!(F32),
            TensorData::I8(_) => cat!(I8),
            TensorData::U8(_) => cat!(U8),
            TensorData::I32(_) => cat!(I32),
            TensorData::I64(_) => cat!(I64),
            TensorData::Bool(_) => cat!(Bool),
        };
        Tensor::new(out, data)
    }
}

/// Run-time concatenation: `outer` rounds of copying each input's contiguous block.
struct ConcatStep {
    inputs: Vec<(crate::exec::Slot, usize)>,
    outer: usize,
    y: crate::exec::Slot,
}

impl crate::exec::Step for ConcatStep {
    fn kernel(&self) -> String {
        "concat".into()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let y = mem.write::<u8>(self.y);
        let mut at = 0;
        for o in 0..self.outer {
            for &(slot, len) in &self.inputs {
                y[at..at + len].copy_from_slice(&mem.read::<u8>(slot)[o * len..(o + 1) * len]);
                at += len;
            }
        }
    }
}

impl Concat {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let shapes: Vec<&[usize]> = ctx.inputs.iter().map(|i| i.shape).collect();
        let (outer, inner) = self.blocks(&shapes);
        let size = ctx.outputs[0].dtype.size();
        let inputs =
            ctx.inputs.iter().zip(inner).map(|(i, len)| Ok((i.slot()?, len * size))).collect::<Result<Vec<_>>>()?;
        Ok(Box::new(ConcatStep { inputs, outer, y: ctx.outputs[0].slot()? }))
    }
}
