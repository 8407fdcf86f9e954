//! Softmax along one axis (opset-13 semantics; older opsets are rewritten at import).

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Softmax {
    pub axis: usize,
    /// `LogSoftmax` instead of `Softmax`.
    pub log: bool,
}

impl Softmax {
    /// Softmax of one contiguous row in place (max-subtracted for stability).
    pub fn row(&self, x: &mut [f32]) {
        let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if self.log {
            let ls = x.iter().map(|&v| (v - m).exp()).sum::<f32>().ln();
            for v in x.iter_mut() {
                *v = *v - m - ls;
            }
        } else {
            let mut sum = 0.0;
            for v in x.iter_mut() {
                *v = (*v - m).exp();
                sum += *v;
            }
            for v in x.iter_mut() {
                *v /= sum;
            }
        }
    }
}

/// Run-time softmax over one axis of an f32 tensor viewed as `[outer, len, inner]`.
struct SoftmaxStep {
    op: Softmax,
    outer: usize,
    len: usize,
    inner: usize,
    column: Vec<f32>,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for SoftmaxStep {
    fn kernel(&self) -> String {
        "softmax".into()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let x = mem.read::<f32>(self.x);
        let y = mem.write::<f32>(self.y);
        let (len, inner) = (self.len, self.inner);
        for o in 0..self.outer {
            for i in 0..inner {
                let base = o * len * inner + i;
                for (k, c) in self.column.iter_mut().enumerate() {
                    *c = x[base + k * inner];
                }
                self.op.row(&mut self.column);
                for (k, &c) in self.column.iter().enumerate() {
                    y[base + k * inner] = c;
                }
            }
        }
    }
}

impl Softmax {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> crate::Result<Box<dyn crate::exec::Step>> {
        let s = ctx.inputs[0].shape;
        Ok(Box::new(SoftmaxStep {
            op: self.clone(),
            outer: s[..self.axis].iter().product(),
            len: s[self.axis],
            inner: s[self.axis + 1..].iter().product(),
            column: vec![0.0; s[self.axis]],
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
