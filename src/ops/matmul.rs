//! Matrix product of two run-time tensors with numpy semantics (batch broadcasting; rank-1
//! operands promoted). Products with a constant right-hand side become [`super::dense::Dense`].

use super::broadcast_shapes;
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Run-time product of two f32 tensors (numpy semantics), a plain loop: models use it only
/// where both operands are activations, which pose heads never do on hot paths.
struct MatMulStep {
    /// For each batch: (offset into a, offset into b).
    batches: Vec<(usize, usize)>,
    m: usize,
    k: usize,
    n: usize,
    a: crate::exec::Slot,
    b: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for MatMulStep {
    fn kernel(&self) -> String {
        "matmul.naive".into()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let (a, b, y) = (mem.read::<f32>(self.a), mem.read::<f32>(self.b), mem.write::<f32>(self.y));
        let (m, k, n) = (self.m, self.k, self.n);
        for (bi, &(ao, bo)) in self.batches.iter().enumerate() {
            let yb = &mut y[bi * m * n..(bi + 1) * m * n];
            yb.fill(0.0);
            for i in 0..m {
                for kk in 0..k {
                    let av = a[ao + i * k + kk];
                    for j in 0..n {
                        yb[i * n + j] += av * b[bo + kk * n + j];
                    }
                }
            }
        }
    }
}

impl MatMul {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let (a, b) = (ctx.inputs[0].shape, ctx.inputs[1].shape);
        let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
        let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
        let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
        let batch = broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
        let map = super::binary::BroadcastMap::new(&a2[..a2.len() - 2], &b2[..b2.len() - 2], &batch)?;
        let batches = map.pairs().map(|(i, j)| (i * m * k, j * k * n)).collect();
        Ok(Box::new(MatMulStep {
            batches,
            m,
            k,
            n,
            a: ctx.inputs[0].slot()?,
            b: ctx.inputs[1].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
