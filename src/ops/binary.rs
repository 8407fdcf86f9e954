//! Element-wise functions of two tensors, with numpy broadcasting.

use super::broadcast_shapes;
use crate::tensor::{strides, Tensor, TensorData};
use crate::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
    /// `x` if `x >= 0` else `slope * x` (ONNX PRelu: a = x, b = slope).
    PRelu,
}

impl BinaryOp {
    #[inline]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
            BinaryOp::Pow => a.powf(b),
            BinaryOp::PRelu => {
                if a >= 0.0 {
                    a
                } else {
                    a * b
                }
            }
        }
    }

    fn apply_i64(self, a: i64, b: i64) -> Result<i64> {
        Ok(match self {
            BinaryOp::Add => a.wrapping_add(b),
            BinaryOp::Sub => a.wrapping_sub(b),
            BinaryOp::Mul => a.wrapping_mul(b),
            BinaryOp::Div => {
                if b == 0 {
                    bail!("integer division by zero");
                }
                a.wrapping_div(b)
            }
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
            BinaryOp::Pow => a.checked_pow(b.clamp(0, u32::MAX as i64) as u32).unwrap_or(i64::MAX),
            BinaryOp::PRelu => {
                if a >= 0 {
                    a
                } else {
                    a.wrapping_mul(b)
                }
            }
        })
    }

    /// Whether `op(a, b) == op(b, a)`.
    pub fn commutes(self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min)
    }

    /// Applies the op to two constant tensors (constant folding).
    pub fn eval(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let shape = broadcast_shapes(a.shape(), b.shape())?;
        let map = BroadcastMap::new(a.shape(), b.shape(), &shape)?;
        let data = match (a.data(), b.data()) {
            (TensorData::F32(x), TensorData::F32(y)) => {
                TensorData::F32(map.pairs().map(|(i, j)| self.apply(x[i], y[j])).collect())
            }
            (TensorData::I64(x), TensorData::I64(y)) => {
                TensorData::I64(map.pairs().map(|(i, j)| self.apply_i64(x[i], y[j])).collect::<Result<_>>()?)
            }
            (TensorData::I32(x), TensorData::I32(y)) => TensorData::I32(
                map.pairs()
                    .map(|(i, j)| self.apply_i64(x[i] as i64, y[j] as i64).map(|v| v as i32))
                    .collect::<Result<_>>()?,
            ),
            _ => bail!("{self:?} of {} and {} tensors is not supported", a.dtype(), b.dtype()),
        };
        Tensor::new(shape, data)
    }
}

/// Maps each flat index of a broadcast output to the flat indices of its two inputs.
pub struct BroadcastMap {
    out_shape: Vec<usize>,
    a_strides: Vec<usize>,
    b_strides: Vec<usize>,
}

impl BroadcastMap {
    pub fn new(a: &[usize], b: &[usize], out: &[usize]) -> Result<BroadcastMap> {
        Ok(BroadcastMap {
            out_shape: out.to_vec(),
            a_strides: Self::broadcast_strides(a, out)?,
            b_strides: Self::broadcast_strides(b, out)?,
        })
    }

    /// Strides of `shape` seen as `out` (0 on broadcast axes).
    pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Result<Vec<usize>> {
        if shape.len() > out.len() {
            bail!("cannot broadcast {shape:?} to {out:?}");
        }
        let s = strides(shape);
        let lead = out.len() - shape.len();
        (0..out.len())
            .map(|i| {
                if i < lead {
                    Ok(0)
                } else if shape[i - lead] == out[i] {
                    Ok(if out[i] == 1 { 0 } else { s[i - lead] })
                } else if shape[i - lead] == 1 {
                    Ok(0)
                } else {
                    bail!("cannot broadcast {shape:?} to {out:?}")
                }
            })
            .collect()
    }

    /// (index in a, index in b) for every output element, in row-major order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n: usize = self.out_shape.iter().product();
        let mut coord = vec![0usize; self.out_shape.len()];
        (0..n).map(move |k| {
            if k > 0 {
                for ax in (0..coord.len()).rev() {
                    coord[ax] += 1;
                    if coord[ax] < self.out_shape[ax] {
                        break;
                    }
                    coord[ax] = 0;
                }
            }
            let ia = coord.iter().zip(&self.a_strides).map(|(c, s)| c * s).sum();
            let ib = coord.iter().zip(&self.b_strides).map(|(c, s)| c * s).sum();
            (ia, ib)
        })
    }
}
