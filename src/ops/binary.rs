//! Element-wise functions of two tensors, with numpy broadcasting.

use super::broadcast_shapes;
use crate::tensor::{strides, Tensor, TensorData};
use crate::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// How one operand of a run-time binary op is indexed from the output index `i`.
enum Operand {
    /// Same shape as the output: `i`.
    Full,
    /// The output's trailing dimensions (per-channel in NHWC): `i % period`.
    Repeat(usize),
    /// One element: `0`.
    Scalar,
    /// Anything else: an index table.
    Table(Vec<u32>),
}

impl Operand {
    fn classify(shape: &[usize], out: &[usize], table: impl FnOnce() -> Result<Vec<u32>>) -> Result<Operand> {
        let n: usize = shape.iter().product();
        // An operand that broadcasts to the output has each dim equal to the output's or 1,
        // so equal element counts mean equal shapes (up to leading ones).
        if n == out.iter().product::<usize>() {
            return Ok(Operand::Full);
        }
        if n == 1 {
            return Ok(Operand::Scalar);
        }
        // Drop leading ones, then the rest must equal the output's trailing dims.
        let core: Vec<usize> = shape.iter().copied().skip_while(|&d| d == 1).collect();
        if out.ends_with(&core) {
            return Ok(Operand::Repeat(n));
        }
        Ok(Operand::Table(table()?))
    }

    #[inline(always)]
    fn index(&self, i: usize) -> usize {
        match self {
            Operand::Full => i,
            Operand::Repeat(p) => i % p,
            Operand::Scalar => 0,
            Operand::Table(t) => t[i] as usize,
        }
    }
}

/// Run-time step of a broadcasting binary op on f32.
struct BinaryStep {
    op: BinaryOp,
    a: (crate::exec::Slot, Operand),
    b: (crate::exec::Slot, Operand),
    y: crate::exec::Slot,
}

impl BinaryStep {
    fn run_with(&self, mem: &crate::exec::Memory, f: impl Fn(f32, f32) -> f32) {
        let (a, b) = (mem.read::<f32>(self.a.0), mem.read::<f32>(self.b.0));
        let y = mem.write::<f32>(self.y);
        match (&self.a.1, &self.b.1) {
            (Operand::Full, Operand::Full) => y.iter_mut().zip(a).zip(b).for_each(|((o, &p), &q)| *o = f(p, q)),
            (Operand::Full, Operand::Scalar) => y.iter_mut().zip(a).for_each(|(o, &p)| *o = f(p, b[0])),
            (Operand::Scalar, Operand::Full) => y.iter_mut().zip(b).for_each(|(o, &q)| *o = f(a[0], q)),
            (Operand::Full, Operand::Repeat(p)) => {
                for (yc, ac) in y.chunks_exact_mut(*p).zip(a.chunks_exact(*p)) {
                    yc.iter_mut().zip(ac).zip(b).for_each(|((o, &u), &v)| *o = f(u, v));
                }
            }
            (Operand::Repeat(p), Operand::Full) => {
                for (yc, bc) in y.chunks_exact_mut(*p).zip(b.chunks_exact(*p)) {
                    yc.iter_mut().zip(a).zip(bc).for_each(|((o, &u), &v)| *o = f(u, v));
                }
            }
            (oa, ob) => y.iter_mut().enumerate().for_each(|(i, o)| *o = f(a[oa.index(i)], b[ob.index(i)])),
        }
    }
}

impl crate::exec::Step for BinaryStep {
    fn kernel(&self) -> String {
        format!("binary.{:?}", self.op).to_lowercase()
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        match self.op {
            BinaryOp::Add => self.run_with(mem, |a, b| a + b),
            BinaryOp::Sub => self.run_with(mem, |a, b| a - b),
            BinaryOp::Mul => self.run_with(mem, |a, b| a * b),
            BinaryOp::Div => self.run_with(mem, |a, b| a / b),
            op => self.run_with(mem, move |a, b| op.apply(a, b)),
        }
    }
}

impl BinaryOp {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let (a, b, y) = (ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]);
        if a.dtype != crate::tensor::DType::F32 {
            bail!("{self:?} at run time supports f32 only ('{}' is {})", a.name, a.dtype);
        }
        let map = BroadcastMap::new(a.shape, b.shape, y.shape)?;
        let pairs = || map.pairs();
        let ta = || Ok(pairs().map(|(i, _)| i as u32).collect());
        let tb = || Ok(pairs().map(|(_, j)| j as u32).collect());
        Ok(Box::new(BinaryStep {
            op: *self,
            a: (a.slot()?, Operand::classify(a.shape, y.shape, ta)?),
            b: (b.slot()?, Operand::classify(b.shape, y.shape, tb)?),
            y: y.slot()?,
        }))
    }
}
