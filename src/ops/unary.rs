//! Element-wise functions of one tensor.

use crate::tensor::{Tensor, TensorData};
use crate::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum UnaryOp {
    Relu,
    /// Clamp to `[min, max]` (Clip; Relu6 is `Clip(0, 6)`).
    Clip {
        min: f32,
        max: f32,
    },
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Neg,
    Abs,
    Sqrt,
    Reciprocal,
    Floor,
    Ceil,
    /// Round half to even.
    Round,
    LeakyRelu {
        alpha: f32,
    },
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    HardSwish,
    Softplus,
    Erf,
}

impl UnaryOp {
    /// The function on one f32 (always inlined, so that a known op reduces to its own arm).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Clip { min, max } => x.max(min).min(max),
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Reciprocal => 1.0 / x,
            UnaryOp::Floor => x.floor(),
            UnaryOp::Ceil => x.ceil(),
            UnaryOp::Round => x.round_ties_even(),
            UnaryOp::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            UnaryOp::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            UnaryOp::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            UnaryOp::Softplus => {
                if x > 20.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            UnaryOp::Erf => erf(x),
        }
    }

    /// The clamp this op is equivalent to, if it is a pure clamp (fusable into a producer).
    pub fn as_clamp(self) -> Option<super::Clamp> {
        match self {
            UnaryOp::Relu => Some(super::Clamp { min: 0.0, max: f32::INFINITY }),
            UnaryOp::Clip { min, max } => Some(super::Clamp { min, max }),
            _ => None,
        }
    }

    /// Applies the op to a constant tensor (constant folding). Integer tensors support the
    /// ops that are exact on integers.
    pub fn eval(self, x: &Tensor) -> Result<Tensor> {
        let data = match x.data() {
            TensorData::F32(v) => TensorData::F32(v.iter().map(|&a| self.apply(a)).collect()),
            TensorData::I64(v) => TensorData::I64(match self {
                UnaryOp::Neg => v.iter().map(|&a| a.wrapping_neg()).collect(),
                UnaryOp::Abs => v.iter().map(|&a| a.wrapping_abs()).collect(),
                UnaryOp::Relu => v.iter().map(|&a| a.max(0)).collect(),
                _ => bail!("{self:?} on an int64 tensor is not supported"),
            }),
            _ => bail!("{self:?} on a {} tensor is not supported", x.dtype()),
        };
        Tensor::new(x.shape().to_vec(), data)
    }
}

/// Error function through the classic Chebyshev-fitted `erfc` approximation (fractional error
/// below 1.2e-7 everywhere), evaluated in f64.
fn erf(x: f32) -> f32 {
    let x64 = x as f64;
    let t = 1.0 / (1.0 + 0.5 * x64.abs());
    let y = 1.0
        - t * (-x64 * x64 - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    (if x64 >= 0.0 { y } else { -y }) as f32
}

/// Run-time step: `y = f(x)` element-wise on f32.
struct UnaryStep {
    op: UnaryOp,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for UnaryStep {
    fn kernel(&self) -> String {
        "unary".into()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let x = mem.read::<f32>(self.x);
        let y = mem.write::<f32>(self.y);
        // The clamps get a loop of their own, with the op's match resolved outside it, so that
        // it vectorises (a match per element kept Relu6 scalar).
        match self.op {
            UnaryOp::Relu => map(x, y, |v| UnaryOp::Relu.apply(v)),
            UnaryOp::Clip { min, max } => map(x, y, |v| UnaryOp::Clip { min, max }.apply(v)),
            op => map(x, y, |v| op.apply(v)),
        }
    }
}

/// `y[i] = f(x[i])`.
#[inline(always)]
fn map(x: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &i) in y.iter_mut().zip(x) {
        *o = f(i);
    }
}

impl UnaryOp {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            bail!("{self:?} runs on f32 tensors only, '{}' is {}", ctx.inputs[0].name, ctx.inputs[0].dtype);
        }
        Ok(Box::new(UnaryStep { op: *self, x: ctx.inputs[0].slot()?, y: ctx.outputs[0].slot()? }))
    }
}
