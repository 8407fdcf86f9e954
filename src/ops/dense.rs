//! Fully-connected layer: `y[..., n] = clamp(sum_k x[..., k] * w[n, k] + b[n])`.
//!
//! What `Gemm` and `MatMul` with constant weights become at import. Inputs: `x` (rank >= 1,
//! last axis K), `w` (constant `[N, K]`, output-major), optional `b` (constant `[N]`).

use super::Clamp;
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq)]
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
