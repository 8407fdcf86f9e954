//! Resize (opset 10+) and Upsample (opset 7–9): nearest or linear on H and W.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::norm_axis;
use crate::ops::resize::{CoordMode, NearestMode, Resize, ResizeMode};
use crate::ops::Layout;
use crate::{bail, Error, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "Resize"), resize);
    r.insert(("", "Upsample"), resize);
}

fn resize(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = Attrs::new(node);
    let x = imp.input(node, 0)?;
    let xs = imp.shape(x).to_vec();
    if xs.len() != 4 {
        bail!("only rank-4 (N, C, H, W) resize is supported, got {xs:?}");
    }
    let legacy = node.op_type == "Upsample" || imp.opset() < 11;
    let (scales_ix, sizes_ix) = if node.op_type == "Upsample" || imp.opset() == 10 { (1, None) } else { (2, Some(3)) };
    let scales = match a.floats("scales")? {
        Some(s) => Some(s.to_vec()),
        None => imp.const_input(node, scales_ix, "scales")?.map(|t| t.to_f32_vec()).filter(|v| !v.is_empty()),
    };
    let sizes = match sizes_ix {
        Some(i) => imp.const_input(node, i, "sizes")?.map(|t| t.to_i64_vec()).filter(|v| !v.is_empty()),
        None => None,
    };
    if a.int_or("antialias", 0)? != 0 {
        bail!("Resize with 'antialias' is not supported");
    }
    // Opset 18: `scales`/`sizes` may name only some axes; the others keep their size.
    let axes: Vec<usize> = match a.ints("axes")? {
        None => (0..4).collect(),
        Some(ax) => {
            let v = ax.iter().map(|&x| norm_axis(x, 4)).collect::<Result<Vec<_>>>()?;
            if (1..v.len()).any(|i| v[..i].contains(&v[i])) {
                bail!("Resize axes {ax:?} repeat an axis");
            }
            v
        }
    };
    let spread = |v: Vec<f64>, keep: [f64; 4], what: &str| -> Result<Vec<f64>> {
        if v.len() != axes.len() {
            bail!("{} {what} for axes {axes:?}", v.len());
        }
        let mut full = keep.to_vec();
        for (&ax, x) in axes.iter().zip(v) {
            full[ax] = x;
        }
        Ok(full)
    };
    let dims = [xs[0] as f64, xs[1] as f64, xs[2] as f64, xs[3] as f64];
    let scales = scales
        .map(|v| spread(v.into_iter().map(f64::from).collect(), [1.0; 4], "scales"))
        .transpose()?
        .map(|v| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>());
    let sizes = sizes.map(|v| spread(v.into_iter().map(|x| x as f64).collect(), dims, "sizes")).transpose()?;
    let policy = a.string_or("keep_aspect_ratio_policy", "stretch")?;
    let (out_hw, sc) = match (scales, sizes) {
        (_, Some(s)) => {
            // not_larger / not_smaller: one scale for every resized axis, the smallest or
            // largest of the requested ratios; sizes are then rounded half up.
            let ratios = axes.iter().map(|&ax| s[ax] / dims[ax]);
            let (s, kept) = match policy {
                "stretch" => (s, None),
                "not_larger" | "not_smaller" => {
                    let k = if policy == "not_larger" {
                        ratios.fold(f64::INFINITY, f64::min)
                    } else {
                        ratios.fold(0.0, f64::max)
                    };
                    let mut s = s;
                    for &ax in &axes {
                        s[ax] = (k * dims[ax] + 0.5).floor();
                    }
                    (s, Some(k))
                }
                other => bail!("keep_aspect_ratio_policy '{other}' is not valid"),
            };
            if s[0] != dims[0] || s[1] != dims[1] {
                bail!("Resize may only change H and W (sizes {s:?} for input {xs:?})");
            }
            if !(s[2] >= 0.0 && s[3] >= 0.0 && s[2].is_finite() && s[3].is_finite()) {
                bail!("Resize sizes {s:?} must be finite and non-negative");
            }
            let (h, w) = (s[2] as usize, s[3] as usize);
            let scale = |ax: usize| match kept {
                Some(k) if axes.contains(&ax) => k as f32,
                Some(_) => 1.0,
                None => s[ax] as f32 / dims[ax] as f32,
            };
            ([h, w], [scale(2), scale(3)])
        }
        (Some(s), _) => {
            if s[0] != 1.0 || s[1] != 1.0 {
                bail!("Resize may only scale H and W (scales {s:?})");
            }
            if !(s[2] > 0.0 && s[3] > 0.0 && s[2].is_finite() && s[3].is_finite()) {
                bail!("Resize scales {s:?} must be finite and positive");
            }
            ([(xs[2] as f32 * s[2]).floor() as usize, (xs[3] as f32 * s[3]).floor() as usize], [s[2], s[3]])
        }
        _ => bail!("Resize needs constant scales or sizes"),
    };
    if out_hw[0] == 0 || out_hw[1] == 0 {
        bail!("Resize output would be empty");
    }
    let mode = match a.string_or("mode", "nearest")? {
        "nearest" => ResizeMode::Nearest(
            match a.string_or("nearest_mode", if legacy { "floor" } else { "round_prefer_floor" })? {
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "floor" => NearestMode::Floor,
                "ceil" => NearestMode::Ceil,
                other => bail!("nearest_mode '{other}' is not valid"),
            },
        ),
        "linear" | "bilinear" => ResizeMode::Linear,
        other => return Err(unsupported(imp, node, &format!(" (mode '{other}')"))),
    };
    let coord = match a.string_or("coordinate_transformation_mode", if legacy { "asymmetric" } else { "half_pixel" })? {
        "half_pixel" => CoordMode::HalfPixel,
        "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
        "asymmetric" => CoordMode::Asymmetric,
        "align_corners" => CoordMode::AlignCorners,
        other => return Err(unsupported(imp, node, &format!(" (coordinate_transformation_mode '{other}')"))),
    };
    imp.emit_node(node, Op::Resize(Resize { mode, coord, out_hw, scales: sc, layout: Layout::Nchw }), vec![x])?;
    Ok(())
}

fn unsupported(imp: &Importer, node: &NodeProto, detail: &str) -> Error {
    Error::Unsupported {
        op: node.op_type.clone(),
        domain: node.domain.clone(),
        node: node.name.clone(),
        opset: imp.opset(),
        detail: detail.to_string(),
    }
}
