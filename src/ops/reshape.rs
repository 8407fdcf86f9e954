//! Reshape (also what `Flatten`, `Squeeze` and `Unsqueeze` become at import): same elements,
//! new static shape. Free at run time: the output aliases the input's buffer.

use crate::tensor::{numel, Tensor};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reshape {
    pub shape: Vec<usize>,
}

impl Reshape {
    /// Resolves an ONNX `Reshape` target (`0` copies the input dimension unless
    /// `allow_zero`, `-1` is inferred) against the input shape.
    pub fn resolve(input: &[usize], target: &[i64], allow_zero: bool) -> Result<Vec<usize>> {
        let total = numel(input)?;
        let mut out = Vec::with_capacity(target.len());
        let mut infer = None;
        for (i, &d) in target.iter().enumerate() {
            out.push(match d {
                -1 if infer.is_none() => {
                    infer = Some(i);
                    1
                }
                -1 => bail!("Reshape target {target:?} has more than one -1"),
                0 if !allow_zero => *input.get(i).ok_or_else(|| {
                    crate::Error::invalid(format!(
                        "Reshape target {target:?} copies dim {i} of rank-{} input",
                        input.len()
                    ))
                })?,
                d if d >= 0 => d as usize,
                d => bail!("Reshape target {target:?} has invalid dimension {d}"),
            });
        }
        if let Some(i) = infer {
            let known = numel(&out)?;
            if known == 0 || total % known != 0 {
                bail!("cannot reshape {input:?} into {target:?}");
            }
            out[i] = total / known;
        }
        if numel(&out)? != total {
            bail!("cannot reshape {input:?} ({total} elements) into {target:?}");
        }
        Ok(out)
    }

    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if numel(x)? != numel(&self.shape)? {
            bail!("cannot reshape {x:?} into {:?}", self.shape);
        }
        Ok(self.shape.clone())
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        x.clone().reshaped(self.shape.clone())
    }
}

impl Reshape {
    /// The step of a reshape the planner cannot alias: one whose input is a constant (a
    /// graph output that folded to a constant), copied into the output's buffer.
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let n = ctx.inputs[0].numel();
        Ok(Box::new(super::index_copy::IndexCopy::new(ctx, (0..n).collect(), 0.0)?))
    }
}
