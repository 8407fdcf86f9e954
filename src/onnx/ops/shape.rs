//! Shape and data-movement ops. With static shapes, `Shape`, `Size`, `ConstantOfShape`,
//! `Range` and everything computed only from them become constants during import.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::concat::Concat;
use crate::ops::depth_to_space::{DepthToSpace, DepthToSpaceMode};
use crate::ops::expand::Expand;
use crate::ops::gather::Gather;
use crate::ops::norm_axis;
use crate::ops::pad::Pad;
use crate::ops::reshape::Reshape;
use crate::ops::slice::{AxisRange, Slice};
use crate::ops::transpose::Transpose;
use crate::ops::Layout;
use crate::tensor::{DType, Tensor};
use crate::{bail, Error, Result};
use tract_onnx::pb::NodeProto;

/// [`norm_axis`] for the ops that index their input's shape with the axis (Concat, Split,
/// Slice, Gather): a scalar has no axis to index, although `norm_axis` accepts axis 0 of
/// rank 0 for the ops where that is meaningful (fuzz finding: a rank-0 Split panicked).
fn indexed_axis(op: &str, axis: i64, rank: usize) -> Result<usize> {
    if rank == 0 {
        bail!("{op} of a rank-0 tensor (it has no axis {axis})");
    }
    norm_axis(axis, rank)
}

pub fn register(r: &mut Registry) {
    r.insert(("", "Reshape"), reshape);
    r.insert(("", "Flatten"), flatten);
    r.insert(("", "Squeeze"), squeeze);
    r.insert(("", "Unsqueeze"), unsqueeze);
    r.insert(("", "Transpose"), transpose);
    r.insert(("", "Concat"), concat);
    r.insert(("", "Split"), split);
    r.insert(("", "Slice"), slice);
    r.insert(("", "Gather"), gather);
    r.insert(("", "Expand"), expand);
    r.insert(("", "Shape"), shape);
    r.insert(("", "Size"), size);
    r.insert(("", "ConstantOfShape"), constant_of_shape);
    r.insert(("", "Constant"), constant);
    r.insert(("", "Cast"), cast);
    r.insert(("", "Range"), range);
    r.insert(("", "Pad"), pad);
    r.insert(("", "DepthToSpace"), depth_to_space);
}

/// Axes from the `axes` attribute (before `since`) or input `input_ix` (from `since` on).
fn axes(imp: &Importer, node: &NodeProto, since: i64, input_ix: usize) -> Result<Option<Vec<i64>>> {
    if imp.opset() < since {
        Ok(Attrs::new(node).ints("axes")?.map(<[i64]>::to_vec))
    } else {
        Ok(imp.const_input(node, input_ix, "axes")?.map(Tensor::to_i64_vec))
    }
}

fn emit_reshape(imp: &mut Importer, node: &NodeProto, shape: Vec<usize>) -> Result<()> {
    let x = imp.input(node, 0)?;
    imp.emit_node(node, Op::Reshape(Reshape { shape }), vec![x])?;
    Ok(())
}

fn reshape(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let target = imp.const_input(node, 1, "shape")?.ok_or_else(|| Error::invalid("shape is missing"))?.to_i64_vec();
    let allow_zero = Attrs::new(node).int_or("allowzero", 0)? != 0;
    let shape = Reshape::resolve(imp.shape(x), &target, allow_zero)?;
    emit_reshape(imp, node, shape)
}

fn flatten(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let axis = Attrs::new(node).int_or("axis", 1)?;
    let axis = if axis == s.len() as i64 { s.len() } else { norm_axis(axis, s.len())? };
    emit_reshape(imp, node, vec![s[..axis].iter().product(), s[axis..].iter().product()])
}

fn squeeze(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let shape = match axes(imp, node, 13, 1)? {
        None => s.iter().copied().filter(|&d| d != 1).collect(),
        Some(ax) => {
            let ax = ax.iter().map(|&a| norm_axis(a, s.len())).collect::<Result<Vec<_>>>()?;
            if let Some(&a) = ax.iter().find(|&&a| s[a] != 1) {
                bail!("cannot squeeze axis {a} of length {} (shape {s:?})", s[a]);
            }
            s.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect()
        }
    };
    emit_reshape(imp, node, shape)
}

fn unsqueeze(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let ax = axes(imp, node, 13, 1)?.ok_or_else(|| Error::invalid("axes is required"))?;
    let rank = s.len() + ax.len();
    let mut ax = ax.iter().map(|&a| norm_axis(a, rank)).collect::<Result<Vec<_>>>()?;
    ax.sort_unstable();
    if ax.windows(2).any(|w| w[0] == w[1]) {
        bail!("repeated axes in {ax:?}");
    }
    let mut shape = s.clone();
    for a in ax {
        shape.insert(a, 1);
    }
    emit_reshape(imp, node, shape)
}

fn transpose(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let rank = imp.shape(x).len();
    let perm = match Attrs::new(node).usizes("perm")? {
        Some(p) => p,
        None => (0..rank).rev().collect(),
    };
    imp.emit_node(node, Op::Transpose(Transpose { perm }), vec![x])?;
    Ok(())
}

fn concat(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let inputs =
        (0..node.input.len()).filter_map(|i| imp.opt_input(node, i).transpose()).collect::<Result<Vec<_>>>()?;
    let first = *inputs.first().ok_or_else(|| Error::invalid("Concat needs inputs"))?;
    let axis = Attrs::new(node).int("axis")?.ok_or_else(|| Error::invalid("axis is required"))?;
    let axis = indexed_axis("Concat", axis, imp.shape(first).len())?;
    imp.emit_node(node, Op::Concat(Concat { axis }), inputs)?;
    Ok(())
}

fn split(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let a = Attrs::new(node);
    let axis = indexed_axis("Split", a.int_or("axis", 0)?, s.len())?;
    let n_out = node.output.len();
    let sizes: Vec<usize> = match if imp.opset() < 13 {
        a.ints("split")?.map(<[i64]>::to_vec)
    } else {
        imp.const_input(node, 1, "split")?.map(Tensor::to_i64_vec)
    } {
        Some(v) => v
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| Error::invalid(format!("negative split {d}"))))
            .collect::<Result<_>>()?,
        None => {
            if let Some(n) = a.int("num_outputs")? {
                if usize::try_from(n).ok() != Some(n_out) {
                    bail!("Split num_outputs {n} differs from its {n_out} outputs");
                }
            }
            if n_out == 0 {
                bail!("Split needs at least one output");
            }
            let chunk = s[axis].div_ceil(n_out);
            (0..n_out).map(|i| chunk.min(s[axis].saturating_sub(i * chunk))).collect()
        }
    };
    let total = sizes.iter().try_fold(0usize, |t, &d| t.checked_add(d));
    if sizes.len() != n_out || total != Some(s[axis]) {
        bail!("split sizes {sizes:?} do not cover axis {axis} of {s:?} with {n_out} outputs");
    }
    let mut start = 0;
    for (i, &len) in sizes.iter().enumerate() {
        let mut ranges: Vec<AxisRange> = s.iter().map(|&d| AxisRange::full(d)).collect();
        ranges[axis] = AxisRange { start, step: 1, len };
        start += len;
        let name = node.output[i].clone();
        let v = imp.emit(&name, Op::Slice(Slice { ranges }), vec![x])?[0];
        imp.bind(node, i, v);
    }
    Ok(())
}

fn slice(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let (starts, ends, axes, steps) = if imp.opset() < 10 {
        let a = Attrs::new(node);
        let need = |n: &str| a.ints(n)?.map(<[i64]>::to_vec).ok_or_else(|| Error::invalid(format!("{n} is required")));
        (need("starts")?, need("ends")?, a.ints("axes")?.map(<[i64]>::to_vec), None)
    } else {
        let get = |i: usize, n: &str| -> Result<Option<Vec<i64>>> {
            Ok(imp.const_input(node, i, n)?.map(Tensor::to_i64_vec))
        };
        (
            get(1, "starts")?.ok_or_else(|| Error::invalid("starts is required"))?,
            get(2, "ends")?.ok_or_else(|| Error::invalid("ends is required"))?,
            get(3, "axes")?,
            get(4, "steps")?,
        )
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        bail!("starts, ends, axes and steps have different lengths");
    }
    let mut ranges: Vec<AxisRange> = s.iter().map(|&d| AxisRange::full(d)).collect();
    for i in 0..starts.len() {
        let a = indexed_axis("Slice", axes[i], s.len())?;
        ranges[a] = AxisRange::from_onnx(s[a], starts[i], ends[i], steps[i])?;
    }
    imp.emit_node(node, Op::Slice(Slice { ranges }), vec![x])?;
    Ok(())
}

fn gather(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s = imp.shape(x).to_vec();
    let axis = indexed_axis("Gather", Attrs::new(node).int_or("axis", 0)?, s.len())?;
    let idx = imp.const_input(node, 1, "indices")?.ok_or_else(|| Error::invalid("indices is required"))?.clone();
    imp.emit_node(node, Op::Gather(Gather::new(axis, s[axis], &idx)?), vec![x])?;
    Ok(())
}

fn expand(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let req = imp.const_input(node, 1, "shape")?.ok_or_else(|| Error::invalid("shape is required"))?.to_i64_vec();
    let req = req.iter().map(|&d| crate::tensor::dim(d)).collect::<Result<Vec<_>>>()?;
    let shape = Expand::output_shape(imp.shape(x), &req)?;
    imp.emit_node(node, Op::Expand(Expand { shape }), vec![x])?;
    Ok(())
}

fn bind_const(imp: &mut Importer, node: &NodeProto, t: Tensor) -> Result<()> {
    let name = node.output.first().cloned().unwrap_or_default();
    let v = imp.constant(&name, t)?;
    imp.bind(node, 0, v);
    Ok(())
}

fn shape(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let s: Vec<i64> = imp.shape(x).iter().map(|&d| d as i64).collect();
    let a = Attrs::new(node);
    let r = s.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (b, e) = (clampi(a.int_or("start", 0)?), clampi(a.int_or("end", r)?));
    let v = if b < e { s[b..e].to_vec() } else { vec![] };
    bind_const(imp, node, Tensor::from_vec(vec![v.len()], v)?)
}

fn size(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let n = imp.shape(x).iter().product::<usize>() as i64;
    bind_const(imp, node, Tensor::scalar(n))
}

fn constant_of_shape(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let dims = imp.const_input(node, 0, "shape")?.ok_or_else(|| Error::invalid("shape is required"))?.to_i64_vec();
    let dims = dims.iter().map(|&d| crate::tensor::dim(d)).collect::<Result<Vec<_>>>()?;
    let value = match Attrs::new(node).tensor("value")? {
        Some(t) => imp.tensor_attr(t)?,
        None => Tensor::scalar(0f32),
    };
    let n = crate::tensor::numel(&dims)?;
    imp.check_new_const("ConstantOfShape", n, 8)?;
    if value.len() != 1 {
        bail!("ConstantOfShape value must have one element");
    }
    let out = value.reshaped(vec![1])?.gather_flat(dims, &vec![0; n])?;
    bind_const(imp, node, out)
}

fn constant(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = Attrs::new(node);
    let t = if let Some(t) = a.tensor("value")? {
        imp.tensor_attr(t)?
    } else if let Some(f) = a.float("value_float")? {
        Tensor::scalar(f)
    } else if let Some(v) = a.floats("value_floats")? {
        Tensor::from_vec(vec![v.len()], v.to_vec())?
    } else if let Some(i) = a.int("value_int")? {
        Tensor::scalar(i)
    } else if let Some(v) = a.ints("value_ints")? {
        Tensor::from_vec(vec![v.len()], v.to_vec())?
    } else {
        bail!("Constant has no supported value attribute (sparse and string constants are not supported)");
    };
    bind_const(imp, node, t)
}

fn cast(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let to = Attrs::new(node).int("to")?.ok_or_else(|| Error::invalid("'to' is required"))?;
    let to = DType::from_onnx_code(to as i32)?;
    imp.emit_node(node, Op::Cast(crate::ops::cast::Cast { to }), vec![x])?;
    Ok(())
}

fn range(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let get = |i: usize, n: &str| {
        imp.const_input(node, i, n)?.ok_or_else(|| Error::invalid(format!("{n} is required"))).cloned()
    };
    let (start, limit, delta) = (get(0, "start")?, get(1, "limit")?, get(2, "delta")?);
    let scalar = |t: &Tensor, n: &str| match t.to_f64_vec()[..] {
        [v] => Ok(v),
        _ => Err(Error::invalid(format!("Range {n} must have one element, not {:?}", t.shape()))),
    };
    let (s, l, d) = (scalar(&start, "start")?, scalar(&limit, "limit")?, scalar(&delta, "delta")?);
    if d == 0.0 || !d.is_finite() {
        bail!("Range delta must be finite and non-zero");
    }
    let n = ((l - s) / d).ceil().max(0.0);
    // `as` saturates: an infinite count is usize::MAX elements, over any limit.
    imp.check_new_const("Range", n as usize, 8)?;
    let v: Vec<f32> = (0..n as usize).map(|i| (s + i as f64 * d) as f32).collect();
    let t = Tensor::from_vec(vec![v.len()], v)?;
    let t = if start.dtype() == DType::F32 {
        t
    } else {
        Tensor::from_vec(vec![n as usize], (0..n as usize).map(|i| (s + i as f64 * d) as i64).collect())?
            .cast(start.dtype())
    };
    bind_const(imp, node, t)
}

fn pad(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let rank = imp.shape(x).len();
    let a = Attrs::new(node);
    let mode = a.string_or("mode", "constant")?;
    if mode != "constant" {
        return Err(Error::Unsupported {
            op: "Pad".into(),
            domain: String::new(),
            node: node.name.clone(),
            opset: imp.opset(),
            detail: format!(" (mode '{mode}')"),
        });
    }
    let (pads, value, axes) = if imp.opset() < 11 {
        let p = a.ints("pads")?.or(a.ints("paddings")?).ok_or_else(|| Error::invalid("pads is required"))?.to_vec();
        (p, a.float_or("value", 0.0)?, None)
    } else {
        let p = imp.const_input(node, 1, "pads")?.ok_or_else(|| Error::invalid("pads is required"))?.to_i64_vec();
        let v = imp
            .const_input(node, 2, "constant_value")?
            .map(|t| t.to_f32_vec().first().copied().unwrap_or(0.0))
            .unwrap_or(0.0);
        let ax = imp.const_input(node, 3, "axes")?.map(Tensor::to_i64_vec);
        (p, v, ax)
    };
    let axes: Vec<usize> = match axes {
        Some(ax) => ax.iter().map(|&v| norm_axis(v, rank)).collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        bail!("{} pads for {} axes", pads.len(), axes.len());
    }
    let mut per_axis = vec![(0usize, 0usize); rank];
    for (i, &ax) in axes.iter().enumerate() {
        let (b, e) = (pads[i], pads[i + axes.len()]);
        if b < 0 || e < 0 {
            bail!("negative pads {pads:?} (cropping) are not supported");
        }
        per_axis[ax] = (b as usize, e as usize);
    }
    imp.emit_node(node, Op::Pad(Pad { pads: per_axis, value }), vec![x])?;
    Ok(())
}

fn depth_to_space(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let a = Attrs::new(node);
    let block = a.int("blocksize")?.ok_or_else(|| Error::invalid("blocksize is required"))?;
    let mode = match a.string_or("mode", "DCR")? {
        "DCR" => DepthToSpaceMode::Dcr,
        "CRD" => DepthToSpaceMode::Crd,
        other => bail!("mode '{other}' is not valid"),
    };
    let block = usize::try_from(block).map_err(|_| Error::invalid("blocksize must be positive"))?;
    imp.emit_node(node, Op::DepthToSpace(DepthToSpace { block, mode, layout: Layout::Nchw }), vec![x])?;
    Ok(())
}
