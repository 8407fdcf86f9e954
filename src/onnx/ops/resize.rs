//! Resize (opset 10+) and Upsample (opset 7–9): nearest or linear on H and W.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
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
    let (scales_ix, sizes_ix) = if node.op_type == "Upsample" || imp.opset() == 10 {
        (1, None)
    } else {
        (2, Some(3))
    };
    let scales = match a.floats("scales")? {
        Some(s) => Some(s.to_vec()),
        None => imp
            .const_input(node, scales_ix, "scales")?
            .map(|t| t.to_f32_vec())
            .filter(|v| !v.is_empty()),
    };
    let sizes = match sizes_ix {
        Some(i) => imp
            .const_input(node, i, "sizes")?
            .map(|t| t.to_i64_vec())
            .filter(|v| !v.is_empty()),
        None => None,
    };
    if a.ints("axes")?.is_some() || a.int_or("antialias", 0)? != 0 {
        bail!("Resize with 'axes' or 'antialias' is not supported");
    }
    let (out_hw, sc) = match (scales, sizes) {
        (_, Some(s)) if s.len() == 4 => {
            if s[0] as usize != xs[0] || s[1] as usize != xs[1] {
                bail!("Resize may only change H and W (sizes {s:?} for input {xs:?})");
            }
            let (h, w) = (
                usize::try_from(s[2]).map_err(|_| Error::invalid("negative size"))?,
                usize::try_from(s[3]).map_err(|_| Error::invalid("negative size"))?,
            );
            ([h, w], [h as f32 / xs[2] as f32, w as f32 / xs[3] as f32])
        }
        (Some(s), _) if s.len() == 4 => {
            if s[0] != 1.0 || s[1] != 1.0 {
                bail!("Resize may only scale H and W (scales {s:?})");
            }
            if !(s[2] > 0.0 && s[3] > 0.0 && s[2].is_finite() && s[3].is_finite()) {
                bail!("Resize scales {s:?} must be finite and positive");
            }
            (
                [
                    (xs[2] as f32 * s[2]).floor() as usize,
                    (xs[3] as f32 * s[3]).floor() as usize,
                ],
                [s[2], s[3]],
            )
        }
        _ => bail!("Resize needs 4 constant scales or sizes"),
    };
    if out_hw[0] == 0 || out_hw[1] == 0 {
        bail!("Resize output would be empty");
    }
    let mode = match a.string_or("mode", "nearest")? {
        "nearest" => ResizeMode::Nearest(
            match a.string_or(
                "nearest_mode",
                if legacy {
                    "floor"
                } else {
                    "round_prefer_floor"
                },
            )? {
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
    let coord = match a.string_or(
        "coordinate_transformation_mode",
        if legacy { "asymmetric" } else { "half_pixel" },
    )? {
        "half_pixel" => CoordMode::HalfPixel,
        "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
        "asymmetric" => CoordMode::Asymmetric,
        "align_corners" => CoordMode::AlignCorners,
        other => {
            return Err(unsupported(
                imp,
                node,
                &format!(" (coordinate_transformation_mode '{other}')"),
            ))
        }
    };
    imp.emit_node(
        node,
        Op::Resize(Resize {
            mode,
            coord,
            out_hw,
            scales: sc,
            layout: Layout::Nchw,
        }),
        vec![x],
    )?;
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
