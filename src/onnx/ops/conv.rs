//! Conv and ConvTranspose.

use super::{two, Registry, Window};
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::conv::Conv;
use crate::ops::conv_transpose::ConvTranspose;
use crate::ops::{Clamp, Layout};
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "Conv"), conv);
    r.insert(("", "ConvTranspose"), conv_transpose);
}

/// Weight and optional bias of a conv-like node: constants, or dequantized constants (QDQ).
fn weight_and_bias(imp: &Importer, node: &NodeProto) -> Result<Vec<crate::graph::ValueId>> {
    let x = imp.input(node, 0)?;
    let w = imp.input(node, 1)?;
    if !imp.is_weight(w) {
        bail!("weight '{}' must be a constant (or DequantizeLinear of a constant)", node.input[1]);
    }
    if imp.shape(w).len() != 4 || imp.shape(x).len() != 4 {
        bail!(
            "only 2-D convolutions (rank-4 input and weight) are supported; input {:?}, weight {:?}",
            imp.shape(x),
            imp.shape(w)
        );
    }
    let mut inputs = vec![x, w];
    if let Some(b) = imp.opt_input(node, 2)? {
        if !imp.is_weight(b) {
            bail!("bias '{}' must be a constant (or DequantizeLinear of a constant)", node.input[2]);
        }
        inputs.push(b);
    }
    Ok(inputs)
}

/// The convolution `node`'s attributes describe, for input `x` and weight `w` (any node
/// whose attributes are Conv's: Conv, QLinearConv, ConvInteger).
pub(crate) fn conv_params(
    imp: &Importer,
    node: &NodeProto,
    x: crate::graph::ValueId,
    w: crate::graph::ValueId,
) -> Result<Conv> {
    let (ws, xs) = (imp.shape(w).to_vec(), imp.shape(x).to_vec());
    if ws.len() != 4 || xs.len() != 4 {
        bail!("only 2-D convolutions (rank-4 input and weight) are supported; input {xs:?}, weight {ws:?}");
    }
    let mut win = Window::read(imp, node, Some([ws[2], ws[3]]))?;
    win.resolve_pads([xs[2], xs[3]])?;
    let group = Attrs::new(node).int_or("group", 1)?;
    Ok(Conv {
        kernel: win.kernel,
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        group: usize::try_from(group).map_err(|_| crate::Error::invalid(format!("group {group} is invalid")))?,
        layout: Layout::Nchw,
        clamp: Clamp::NONE,
    })
}

fn conv(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let inputs = weight_and_bias(imp, node)?;
    let op = conv_params(imp, node, inputs[0], inputs[1])?;
    imp.emit_node(node, Op::Conv(op), inputs)?;
    Ok(())
}

fn conv_transpose(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let inputs = weight_and_bias(imp, node)?;
    let ws = imp.shape(inputs[1]).to_vec();
    let xs = imp.shape(inputs[0]).to_vec();
    let a = Attrs::new(node);
    let mut win = Window::read(imp, node, Some([ws[2], ws[3]]))?;
    let mut output_padding =
        a.usizes("output_padding")?.map(|v| two(&v, "output_padding")).transpose()?.unwrap_or([0, 0]);
    let group = usize::try_from(a.int_or("group", 1)?).map_err(|_| crate::Error::invalid("group is invalid"))?;
    let output_shape = a.usizes("output_shape")?;
    let same = matches!(win.auto_pad.as_str(), "SAME_UPPER" | "SAME_LOWER");
    if output_shape.is_some() || same {
        // Pads follow from the requested output size (ONNX ConvTranspose rules).
        for ax in 0..2 {
            let full = ConvTranspose::full_size(
                xs[2 + ax],
                win.kernel[ax],
                win.strides[ax],
                win.dilations[ax],
                output_padding[ax],
            )?;
            let want = match &output_shape {
                Some(o) => *o
                    .get(o.len().wrapping_sub(2) + ax)
                    .ok_or_else(|| crate::Error::invalid("output_shape needs H and W"))?,
                None => xs[2 + ax]
                    .checked_mul(win.strides[ax])
                    .ok_or_else(|| crate::Error::invalid("SAME output size overflows"))?,
            };
            if want > full {
                // Negative total padding: the extra rows/columns come after the full output
                // and receive only the bias, which is what output_padding does.
                output_padding[ax] += want - full;
                win.pads[ax] = 0;
                win.pads[ax + 2] = 0;
                continue;
            }
            let total = full - want;
            let (begin, end) = if win.auto_pad == "SAME_UPPER" {
                (total / 2, total - total / 2)
            } else {
                (total - total / 2, total / 2)
            };
            win.pads[ax] = begin;
            win.pads[ax + 2] = end;
        }
    }
    let op = ConvTranspose {
        kernel: win.kernel,
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        output_padding,
        group,
        layout: Layout::Nchw,
        clamp: Clamp::NONE,
    };
    imp.emit_node(node, Op::ConvTranspose(op), inputs)?;
    Ok(())
}
