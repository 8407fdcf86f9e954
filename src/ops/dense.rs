//! Fully-connected layer: `y[..., n] = clamp(sum_k x[..., k] * w[n, k] + b[n])`.
//!
//! What `Gemm` and `MatMul` with constant weights become at import. Inputs: `x` (rank >= 1,
//! last axis K), `w` (constant `[N, K]`, output-major), optional `b` (constant `[N]`).

use super::Clamp;
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dense {
    pub clamp: Clamp,
}

impl Dense {
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        match (x.last(), w) {
            (Some(&k), [n, wk]) if k == *wk => {
                let mut out = x.to_vec();
                *out.last_mut().unwrap_or(&mut 0) = *n;
                Ok(out)
            }
            _ => bail!("fully-connected input {x:?} does not match weight [N, K] {w:?}"),
        }
    }

    pub fn macs(&self, x: &[usize], w: &[usize]) -> u64 {
        x.iter().product::<usize>() as u64 * w[0] as u64
    }
}

use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::kernels::gemm_f32::GemmF32;

/// Fully-connected layer as one GEMM: `B` = input rows `[K, rows]`, `C` stored transposed.
struct DenseStep {
    gemm: GemmF32,
    rows: usize,
    k: usize,
    n: usize,
    x: Slot,
    y: Slot,
}

impl Step for DenseStep {
    fn kernel(&self) -> String {
        format!("dense.f32.{}", self.gemm.kernel_name())
    }

    fn run(&mut self, mem: &Memory) {
        let x = mem.read::<f32>(self.x);
        self.gemm.run(self.rows, x, 1, self.k, mem, self.y, 0, 1, self.n);
    }
}

impl Dense {
    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            bail!("float fully-connected layer needs f32 input");
        }
        let w = ctx.inputs[1].constant()?.cast(crate::tensor::DType::F32);
        let (n, k) = (w.shape()[0], w.shape()[1]);
        let rows = ctx.inputs[0].numel() / k.max(1);
        let bias = ctx
            .inputs
            .get(2)
            .map(|b| b.constant().map(|t| t.cast(crate::tensor::DType::F32).to_f32_vec()))
            .transpose()?;
        let gemm = GemmF32::new(&w.to_f32_vec(), n, k, rows, bias.as_deref(), self.clamp)?;
        Ok(Box::new(DenseStep { gemm, rows, k, n, x: ctx.inputs[0].slot()?, y: ctx.outputs[0].slot()? }))
    }
}
