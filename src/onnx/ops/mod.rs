//! Op importers, one file per op family. Each registers `(domain, op_type) → ImportFn`.

mod conv;
mod elementwise;
mod matmul;
mod normalization;
mod pool;
mod qoperator;
mod quant;
mod reduce;
mod resize;
mod shape;
mod softmax;

use super::{ImportFn, Importer};
use crate::ops::Clamp;
use crate::{bail, Result};
use std::collections::HashMap;
use tract_onnx::pb::NodeProto;

/// Every op qpose imports, keyed by (domain, op type); the default domain is "".
pub type Registry = HashMap<(&'static str, &'static str), ImportFn>;

pub fn registry() -> Registry {
    let mut r = Registry::new();
    conv::register(&mut r);
    elementwise::register(&mut r);
    matmul::register(&mut r);
    normalization::register(&mut r);
    pool::register(&mut r);
    qoperator::register(&mut r);
    quant::register(&mut r);
    reduce::register(&mut r);
    resize::register(&mut r);
    shape::register(&mut r);
    softmax::register(&mut r);
    r
}

/// The names of every supported op (for docs and `qpose inspect --ops`).
pub fn supported_ops() -> Vec<String> {
    let mut v: Vec<String> =
        registry().keys().map(|(d, o)| if d.is_empty() { o.to_string() } else { format!("{d}.{o}") }).collect();
    v.sort();
    v
}

/// Spatial attributes shared by Conv, ConvTranspose and the pools: kernel, strides,
/// dilations and explicit pads, for rank-4 (2-D) operations only.
pub(crate) struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right.
    pub pads: [usize; 4],
    pub auto_pad: String,
}

pub(crate) fn two(v: &[usize], what: &str) -> Result<[usize; 2]> {
    match v {
        [a, b] => Ok([*a, *b]),
        _ => bail!("{what} {v:?}: only 2-D (rank-4) operations are supported"),
    }
}

impl Window {
    /// Reads the attributes; `kernel` comes from `kernel_shape` or the given fallback.
    pub fn read(imp: &Importer, node: &NodeProto, kernel_fallback: Option<[usize; 2]>) -> Result<Window> {
        let _ = imp;
        let a = super::Attrs::new(node);
        let kernel = match a.usizes("kernel_shape")? {
            Some(k) => two(&k, "kernel_shape")?,
            None => kernel_fallback.ok_or_else(|| crate::Error::invalid("kernel_shape is required"))?,
        };
        let strides = a.usizes("strides")?.map(|s| two(&s, "strides")).transpose()?.unwrap_or([1, 1]);
        let dilations = a.usizes("dilations")?.map(|s| two(&s, "dilations")).transpose()?.unwrap_or([1, 1]);
        let pads = match a.usizes("pads")? {
            Some(p) if p.len() == 4 => [p[0], p[1], p[2], p[3]],
            Some(p) => bail!("pads {p:?}: only 2-D (rank-4) operations are supported"),
            None => [0; 4],
        };
        let auto_pad = a.string_or("auto_pad", "NOTSET")?.to_string();
        Ok(Window { kernel, strides, dilations, pads, auto_pad })
    }

    /// Resolves `auto_pad` SAME_UPPER / SAME_LOWER / VALID against input height and width.
    pub fn resolve_pads(&mut self, hw: [usize; 2]) -> Result<()> {
        match self.auto_pad.as_str() {
            "NOTSET" | "" => {}
            "VALID" => self.pads = [0; 4],
            mode @ ("SAME_UPPER" | "SAME_LOWER") => {
                for ax in 0..2 {
                    if self.strides[ax] == 0 {
                        bail!("strides must be positive");
                    }
                    let out = hw[ax].div_ceil(self.strides[ax]);
                    let span = (self.kernel[ax].max(1) - 1) * self.dilations[ax] + 1;
                    let total = ((out.max(1) - 1) * self.strides[ax] + span).saturating_sub(hw[ax]);
                    let (small, big) = (total / 2, total - total / 2);
                    let (begin, end) = if mode == "SAME_UPPER" { (small, big) } else { (big, small) };
                    self.pads[ax] = begin;
                    self.pads[ax + 2] = end;
                }
            }
            other => bail!("auto_pad '{other}' is not a valid value"),
        }
        Ok(())
    }
}

/// Clamp bounds of a `Clip` node (attributes before opset 11, inputs after).
pub(crate) fn clip_bounds(imp: &Importer, node: &NodeProto) -> Result<Clamp> {
    if imp.opset() < 11 {
        let a = super::Attrs::new(node);
        return Ok(Clamp { min: a.float_or("min", f32::NEG_INFINITY)?, max: a.float_or("max", f32::INFINITY)? });
    }
    let bound = |i: usize, default: f32| -> Result<f32> {
        Ok(match imp.const_input(node, i, if i == 1 { "min" } else { "max" })? {
            None => default,
            Some(t) => *t.to_f32_vec().first().ok_or_else(|| crate::Error::invalid("empty Clip bound"))?,
        })
    };
    Ok(Clamp { min: bound(1, f32::NEG_INFINITY)?, max: bound(2, f32::INFINITY)? })
}
