//! QuantizeLinear / DequantizeLinear, and the older MQBench fake-quant custom ops
//! (`LearnablePerTensorAffine`, `FakeQuantizeLearnablePerchannelAffine`,
//! `FixedPerTensorAffine`, `FixedPerChannelAffine`), which become a Q → DQ pair with the
//! op's own saturation range.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::norm_axis;
use crate::ops::quantize::{int_range, DequantizeLinear, QParams, QuantizeLinear};
use crate::tensor::{DType, Tensor};
use crate::{bail, Error, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "QuantizeLinear"), quantize_linear);
    r.insert(("", "DequantizeLinear"), dequantize_linear);
    r.insert(("", "LearnablePerTensorAffine"), fake_quant);
    r.insert(("", "FakeQuantizeLearnablePerchannelAffine"), fake_quant);
    r.insert(("", "FixedPerTensorAffine"), fake_quant);
    r.insert(("", "FixedPerChannelAffine"), fake_quant);
}

/// Scale and zero point of a Q/DQ node. A scale with one element is per tensor (torch exports
/// per-tensor scales as shape `[1]`); a longer 1-D scale is per `axis`.
fn qparams(
    imp: &Importer,
    node: &NodeProto,
    x_shape: &[usize],
    zp_default: Option<Tensor>,
) -> Result<(QParams, DType)> {
    let a = Attrs::new(node);
    if a.int_or("block_size", 0)? != 0 {
        bail!("blocked quantization (block_size) is not supported");
    }
    qparams_at(imp, node, (1, 2), x_shape, a.int_or("axis", 1)?, zp_default)
}

/// Scale and zero point read from inputs `scale_ix` and `zp_ix` of `node` (constants); per
/// `axis` when the scale has more than one element.
pub(crate) fn qparams_at(
    imp: &Importer,
    node: &NodeProto,
    (scale_ix, zp_ix): (usize, usize),
    x_shape: &[usize],
    axis: i64,
    zp_default: Option<Tensor>,
) -> Result<(QParams, DType)> {
    let scale = imp.const_input(node, scale_ix, "scale")?.ok_or_else(|| Error::invalid("scale is required"))?;
    if scale.dtype() != DType::F32 {
        bail!("scale must be float, got {}", scale.dtype());
    }
    let zp = match imp.const_input(node, zp_ix, "zero_point")? {
        Some(z) => z.clone(),
        None => zp_default
            .unwrap_or_else(|| Tensor::zeros(DType::U8, scale.shape().to_vec()).unwrap_or(Tensor::scalar(0u8))),
    };
    let s = scale.to_f32_vec();
    let z: Vec<i32> = zp.to_i64_vec().into_iter().map(|v| v as i32).collect();
    if z.len() != s.len() && z.len() != 1 {
        bail!("{} zero points for {} scales", z.len(), s.len());
    }
    let z = if z.len() == 1 && s.len() > 1 { vec![z[0]; s.len()] } else { z };
    let axis = if s.len() == 1 { None } else { Some(norm_axis(axis, x_shape.len())?) };
    let p = QParams { scale: s, zero_point: z, axis };
    Ok((p, zp.dtype()))
}

fn quantize_linear(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let out_dtype = match Attrs::new(node).int("output_dtype")? {
        Some(code) if code != 0 => Some(DType::from_onnx_code(code as i32)?),
        _ => None,
    };
    // Opset 23: the precision of `x / scale`; unset (the scale's type) or float is f32.
    match Attrs::new(node).int_or("precision", 0)? {
        0 | 1 => {}
        p => bail!("precision {} is not supported (float only)", crate::tensor::onnx_type_name(p as i32)),
    }
    let default_zp = out_dtype.map(|d| Tensor::zeros(d, vec![]).unwrap_or(Tensor::scalar(0u8)));
    let (params, dtype) = qparams(imp, node, imp.shape(x), default_zp)?;
    let (qmin, qmax) = int_range(dtype).and_then(|r| {
        if dtype == DType::I32 {
            bail!("QuantizeLinear to int32 is not supported")
        } else {
            Ok(r)
        }
    })?;
    record_quantized(imp, node, &params);
    imp.emit_node(node, Op::QuantizeLinear(QuantizeLinear { params, dtype, qmin, qmax }), vec![x])?;
    Ok(())
}

fn dequantize_linear(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    // Opset 23: the output type; unset (the scale's type) or float is f32.
    match Attrs::new(node).int_or("output_dtype", 0)? {
        0 | 1 => {}
        t => bail!("output_dtype {} is not supported (float only)", crate::tensor::onnx_type_name(t as i32)),
    }
    let x = imp.input(node, 0)?;
    let xd = imp.dtype(x);
    let (params, zp_dtype) = qparams(imp, node, imp.shape(x), Some(Tensor::zeros(xd, vec![])?))?;
    if zp_dtype != xd {
        bail!("zero point is {zp_dtype} but the input is {xd}");
    }
    imp.emit_node(node, Op::DequantizeLinear(DequantizeLinear { params }), vec![x])?;
    Ok(())
}

/// Records which float tensor the node's output quantizes.
fn record_quantized(imp: &mut Importer, node: &NodeProto, params: &QParams) {
    if let (Some(out), Some(inp)) = (node.output.first(), node.input.first()) {
        let scale_zero_point = (params.scale.len() == 1).then(|| (params.scale[0], params.zero_point[0]));
        imp.graph
            .quantized_tensors
            .insert(out.clone(), crate::graph::QuantizedTensor { float_name: inp.clone(), scale_zero_point });
    }
}

/// MQBench fake quantization: `x → Q(qmin, qmax) → DQ` with the float zero point rounded.
fn fake_quant(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = Attrs::new(node);
    let x = imp.input(node, 0)?;
    let rank = imp.shape(x).len();
    let scalar_input = |i: usize, what: &str| -> Result<Option<i64>> {
        Ok(imp.const_input(node, i, what)?.and_then(|t| t.to_f64_vec().first().map(|v| *v as i64)))
    };
    let per_channel = node.op_type.contains("Channel");
    let (axis, qmin, qmax) = match node.op_type.as_str() {
        "FixedPerChannelAffine" => {
            (scalar_input(3, "ch_axis")?.unwrap_or(0), scalar_input(4, "quant_min")?, scalar_input(5, "quant_max")?)
        }
        "FakeQuantizeLearnablePerchannelAffine" => {
            (a.int("ch_axis")?.or(a.int("axis")?).unwrap_or(0), a.int("quant_min")?, a.int("quant_max")?)
        }
        _ => (
            0,
            a.int("quant_min")?.or(scalar_input(3, "quant_min")?),
            a.int("quant_max")?.or(scalar_input(4, "quant_max")?),
        ),
    };
    let (qmin, qmax) = match (qmin, qmax) {
        (Some(lo), Some(hi)) if lo < hi => (lo as i32, hi as i32),
        _ => bail!("quant_min/quant_max are missing or empty"),
    };
    let dtype = if qmin >= 0 && qmax <= 255 {
        DType::U8
    } else if qmin >= -128 && qmax <= 127 {
        DType::I8
    } else {
        return Err(Error::Unsupported {
            op: node.op_type.clone(),
            domain: node.domain.clone(),
            node: node.name.clone(),
            opset: imp.opset(),
            detail: format!(" (range [{qmin}, {qmax}] does not fit 8 bits)"),
        });
    };
    let scale = imp.const_input(node, 1, "scale")?.ok_or_else(|| Error::invalid("scale is required"))?.to_f32_vec();
    let zp =
        imp.const_input(node, 2, "zero_point")?.ok_or_else(|| Error::invalid("zero_point is required"))?.to_f32_vec();
    if zp.len() != scale.len() {
        bail!("{} zero points for {} scales", zp.len(), scale.len());
    }
    let zero_point: Vec<i32> = zp.iter().map(|z| (z.round_ties_even() as i32).clamp(qmin, qmax)).collect();
    if let Some(s) = scale.iter().find(|s| !s.is_finite()) {
        bail!("quantization scale {s} must be finite");
    }
    let scale: Vec<f32> = scale.iter().map(|s| s.abs().max(f32::EPSILON)).collect();
    let axis = if per_channel && scale.len() > 1 { Some(norm_axis(axis, rank)?) } else { None };
    if !per_channel && scale.len() != 1 {
        bail!("per-tensor fake quantization with {} scales", scale.len());
    }
    let params = QParams { scale, zero_point, axis };
    let q = imp.emit(
        &imp.derived(node, "q"),
        Op::QuantizeLinear(QuantizeLinear { params: params.clone(), dtype, qmin, qmax }),
        vec![x],
    )?[0];
    imp.emit_node(node, Op::DequantizeLinear(DequantizeLinear { params }), vec![q])?;
    Ok(())
}
