//! Matrix product of two run-time tensors with numpy semantics (batch broadcasting; rank-1
//! operands promoted). Products with a constant right-hand side become [`super::dense::Dense`].

use super::broadcast_shapes;
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatMul;

impl MatMul {
    pub fn output_shape(&self, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
        if a.is_empty() || b.is_empty() {
            bail!("MatMul operands must have rank >= 1 (got {a:?}, {b:?})");
        }
        let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
        let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
        let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
        let (kb, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
        if k != kb {
            bail!("MatMul inner dimensions differ: {a:?} x {b:?}");
        }
        let mut out = broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
        if a.len() > 1 {
            out.push(m);
        }
        if b.len() > 1 {
            out.push(n);
        }
        Ok(out)
    }
}
