//! `QuantizeLinear` and `DequantizeLinear` (ONNX semantics), per tensor or per axis.
//!
//! Quantize: `q = saturate(round_half_even(x / scale) + zero_point)` to `[qmin, qmax]`
//! (the dtype's range, or the narrower range an MQBench fake-quant op states); ±inf
//! saturate, NaN quantizes to the zero point (saturated to the range), everywhere qpose
//! quantizes a float (here, int8 layer clamps, emulated int8 ops).
//! Dequantize: `x = (q - zero_point) * scale`. `scale` is the real value of one integer step.

use crate::kernels::isa::Isa;
use crate::kernels::qeltwise::{dequantize_slice, kernel_isa, quantize_slice, Quant};
use crate::tensor::{DType, Tensor, TensorData};
use crate::{bail, Result};

/// Scales and zero points, one pair per tensor or one per index along `axis`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QParams {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i32>,
    /// `None`: per tensor (one scale); `Some(a)`: per index along axis `a`.
    pub axis: Option<usize>,
}

impl QParams {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i32) -> QParams {
        QParams { scale: vec![scale], zero_point: vec![zero_point], axis: None }
    }

    /// Checks the parameters against the tensor they apply to and the integer type.
    pub fn validate(&self, shape: &[usize], dtype: DType) -> Result<()> {
        let (lo, hi) = int_range(dtype)?;
        if self.scale.len() != self.zero_point.len() {
            bail!("{} scales but {} zero points", self.scale.len(), self.zero_point.len());
        }
        match self.axis {
            None if self.scale.len() != 1 => bail!("per-tensor quantization needs one scale, got {}", self.scale.len()),
            Some(a) if a >= shape.len() => {
                bail!("quantization axis {a} out of range for shape {shape:?}")
            }
            Some(a) if shape[a] != self.scale.len() => {
                bail!("{} scales for axis {a} of length {} (shape {shape:?})", self.scale.len(), shape[a])
            }
            _ => {}
        }
        if let Some(s) = self.scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            bail!("quantization scale {s} must be finite and positive");
        }
        if let Some(z) = self.zero_point.iter().find(|&&z| z < lo || z > hi) {
            bail!("zero point {z} is outside the {dtype} range [{lo}, {hi}]");
        }
        Ok(())
    }

    /// Index into `scale`/`zero_point` for each flat element of `shape`.
    pub fn param_index(&self, shape: &[usize]) -> impl Fn(usize) -> usize {
        let (len, inner) = match self.axis {
            None => (1, 1),
            Some(a) => (shape[a], shape[a + 1..].iter().product::<usize>()),
        };
        move |flat| (flat / inner) % len
    }
}

/// The representable range of an integer type.
pub fn int_range(dtype: DType) -> Result<(i32, i32)> {
    Ok(match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I32 => (i32::MIN, i32::MAX),
        other => bail!("{other} is not a quantized integer type"),
    })
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantizeLinear {
    pub params: QParams,
    pub dtype: DType,
    /// Saturation range, within the dtype's.
    pub qmin: i32,
    pub qmax: i32,
}

impl QuantizeLinear {
    /// Quantizes one value with scale `s` and zero point `z`.
    #[inline]
    /// NaN quantizes to the zero point (the real value 0), clamped to `[qmin, qmax]`.
    pub fn quantize(&self, x: f32, s: f32, z: i32) -> i32 {
        let q = (x / s).round_ties_even() + z as f32;
        if q.is_nan() {
            return z.clamp(self.qmin, self.qmax);
        }
        q.clamp(self.qmin as f32, self.qmax as f32) as i32
    }

    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        let v = x.as_slice::<f32>()?;
        let pi = self.params.param_index(x.shape());
        let q: Vec<i32> = v
            .iter()
            .enumerate()
            .map(|(i, &a)| self.quantize(a, self.params.scale[pi(i)], self.params.zero_point[pi(i)]))
            .collect();
        let data = match self.dtype {
            DType::I8 => TensorData::I8(q.iter().map(|&a| a as i8).collect()),
            DType::U8 => TensorData::U8(q.iter().map(|&a| a as u8).collect()),
            other => bail!("QuantizeLinear to {other} is not supported"),
        };
        Tensor::new(x.shape().to_vec(), data)
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DequantizeLinear {
    pub params: QParams,
}

impl DequantizeLinear {
    pub fn eval(&self, x: &Tensor) -> Result<Tensor> {
        let pi = self.params.param_index(x.shape());
        let q = x.to_f64_vec();
        let v: Vec<f32> = q
            .iter()
            .enumerate()
            .map(|(i, &a)| (a as i64 - self.params.zero_point[pi(i)] as i64) as f32 * self.params.scale[pi(i)])
            .collect();
        Tensor::from_vec(x.shape().to_vec(), v)
    }
}

/// Where each element's scale and zero point come from, for run-time Q/DQ steps: a tensor
/// viewed as `[outer, len, inner]` with parameters indexed along `len`.
#[derive(Clone, Copy)]
struct ParamLayout {
    len: usize,
    inner: usize,
}

impl ParamLayout {
    fn new(p: &QParams, shape: &[usize]) -> ParamLayout {
        match p.axis {
            None => ParamLayout { len: 1, inner: shape.iter().product::<usize>().max(1) },
            Some(a) => ParamLayout { len: shape[a], inner: shape[a + 1..].iter().product() },
        }
    }

    #[inline]
    fn index(&self, i: usize) -> usize {
        (i / self.inner) % self.len
    }
}

/// The per-tensor quantization of an 8-bit type as the element-wise kernels take it.
fn per_tensor_quant(p: &QParams, dtype: DType) -> Option<Quant> {
    let signed = match dtype {
        DType::I8 => true,
        DType::U8 => false,
        _ => return None,
    };
    (p.scale.len() == 1).then(|| Quant { scale: p.scale[0], zero_point: p.zero_point[0], signed })
}

/// Run-time quantization of f32 to i8/u8: the network input of an int8 model, and the
/// float reference path of QDQ models.
struct QuantizeStep {
    op: QuantizeLinear,
    layout: ParamLayout,
    /// Per-tensor parameters: the vectorised kernel; per-axis ones take the general loop.
    fast: Option<Quant>,
    isa: Isa,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for QuantizeStep {
    fn kernel(&self) -> String {
        match self.fast {
            Some(_) => format!("quantize.{}.{}", self.op.dtype, self.isa.name()),
            None => format!("quantize.{}.per_axis", self.op.dtype),
        }
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let x = mem.read::<f32>(self.x);
        if let Some(q) = self.fast {
            return quantize_slice(self.isa, x, q, self.op.qmin, self.op.qmax, mem.write::<u8>(self.y));
        }
        let p = &self.op.params;
        let q = |i: usize, v: f32| {
            let k = self.layout.index(i);
            self.op.quantize(v, p.scale[k], p.zero_point[k])
        };
        match self.op.dtype {
            DType::I8 => {
                mem.write::<i8>(self.y).iter_mut().zip(x).enumerate().for_each(|(i, (o, &v))| *o = q(i, v) as i8)
            }
            _ => mem.write::<u8>(self.y).iter_mut().zip(x).enumerate().for_each(|(i, (o, &v))| *o = q(i, v) as u8),
        }
    }
}

/// Run-time dequantization of i8/u8/i32 to f32.
struct DequantizeStep {
    params: QParams,
    layout: ParamLayout,
    from: DType,
    /// Per-tensor 8-bit parameters: the vectorised kernel.
    fast: Option<Quant>,
    isa: Isa,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for DequantizeStep {
    fn kernel(&self) -> String {
        match self.fast {
            Some(_) => format!("dequantize.{}.{}", self.from, self.isa.name()),
            None => format!("dequantize.{}.per_axis", self.from),
        }
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let y = mem.write::<f32>(self.y);
        if let Some(q) = self.fast {
            return dequantize_slice(self.isa, mem.read::<u8>(self.x), q, y);
        }
        let p = &self.params;
        let dq = |i: usize, q: i32| {
            let k = self.layout.index(i);
            (q as i64 - p.zero_point[k] as i64) as f32 * p.scale[k]
        };
        match self.from {
            DType::I8 => {
                y.iter_mut().zip(mem.read::<i8>(self.x)).enumerate().for_each(|(i, (o, &q))| *o = dq(i, q as i32))
            }
            DType::U8 => {
                y.iter_mut().zip(mem.read::<u8>(self.x)).enumerate().for_each(|(i, (o, &q))| *o = dq(i, q as i32))
            }
            _ => y.iter_mut().zip(mem.read::<i32>(self.x)).enumerate().for_each(|(i, (o, &q))| *o = dq(i, q)),
        }
    }
}

impl QuantizeLinear {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let layout = ParamLayout::new(&self.params, ctx.inputs[0].shape);
        Ok(Box::new(QuantizeStep {
            op: self.clone(),
            layout,
            fast: per_tensor_quant(&self.params, self.dtype),
            isa: kernel_isa(ctx.isa),
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}

impl DequantizeLinear {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        let layout = ParamLayout::new(&self.params, ctx.inputs[0].shape);
        Ok(Box::new(DequantizeStep {
            params: self.params.clone(),
            layout,
            from: ctx.inputs[0].dtype,
            fast: per_tensor_quant(&self.params, ctx.inputs[0].dtype),
            isa: kernel_isa(ctx.isa),
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
