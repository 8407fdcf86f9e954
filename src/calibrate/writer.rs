//! Writes the standard QDQ ONNX model: the float model's own protobuf with
//!
//! * per quantized tensor `T`: `T → QuantizeLinear → T_quantized → DequantizeLinear →
//!   T_dequantized` (per-tensor scale and zero point, uint8 or int8), read by the int8
//!   nodes (and by every reader when an int8 node made `T`, so that the quantizer is the
//!   sole reader of an int8 node's output, the shape int8 engines fuse);
//! * per int8 layer: int8 weights (per output channel, symmetric, `axis` 0 for `Conv` and
//!   `Gemm` with `transB = 1`, 1 for `[K, N]` weights) and an int32 bias of scale
//!   `s_x · s_w[c]` behind `DequantizeLinear` (the float bias plus the layer's bias
//!   correction, [`Quantization::bias_corrections`]; float layers keep the float bias);
//! * every layer's float weights rewritten from [`Layer`] (BN-folded, equalized);
//! * unused initializers dropped.
//!
//! Everything else (pads, resizes, reshapes, heads) is left as exported, so the file runs in
//! any ONNX runtime that runs the float model (opset >= 13).

use super::net::{encode, LayerKind, Net};
use super::placement::{topological, Placement};
use super::weights::{bias_scales, quantize_bias, quantize_weights};
use crate::tensor::Tensor;
use crate::Result;
use qpose_quant::{PerChannelParams, QuantDType, QuantParams};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};

/// What the writer needs besides the net and the placement.
pub struct Quantization<'a> {
    /// Per quantized tensor (a superset of what the placement quantizes is fine).
    pub activations: &'a HashMap<String, QuantParams>,
    /// Per layer: weight parameters (`Some` for int8 layers).
    pub weights: &'a [Option<PerChannelParams>],
    /// Per layer: the weights an int8 layer quantizes instead of its float weights (on the
    /// grid of its parameters, [`super::Calibration::rounded_weights`]).
    pub rounded_weights: &'a [Option<Vec<f32>>],
    /// Per layer: added to the bias of an int8 layer (bias correction; `None` adds nothing).
    pub bias_corrections: &'a [Option<Vec<f32>>],
}

pub fn quantized_name(t: &str) -> String {
    format!("{t}_quantized")
}

pub fn dequantized_name(t: &str) -> String {
    format!("{t}_dequantized")
}

fn zero_point_tensor(p: &QuantParams) -> Result<Tensor> {
    Ok(match p.scheme().dtype {
        QuantDType::U8 => Tensor::scalar(p.zero_point() as u8),
        QuantDType::I8 => Tensor::scalar(p.zero_point() as i8),
    })
}

fn node(op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>, axis: Option<i64>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name,
        input: inputs,
        output: outputs,
        attribute: axis
            .map(|a| AttributeProto {
                name: "axis".into(),
                i: a,
                r#type: tract_onnx::pb::attribute_proto::AttributeType::Int as i32,
                ..Default::default()
            })
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

/// The QDQ model.
pub fn write(net: &Net, placement: &Placement, q: &Quantization) -> Result<ModelProto> {
    let nodes = net.nodes();
    let order = topological(net)?;
    let mut inits: Vec<TensorProto> = Vec::new();
    let mut out_nodes: Vec<NodeProto> = Vec::new();
    // Q/DQ of one tensor.
    let qdq = |t: &str, p: &QuantParams, inits: &mut Vec<TensorProto>, out: &mut Vec<NodeProto>| -> Result<()> {
        let (s, z) = (format!("{t}_scale"), format!("{t}_zero_point"));
        inits.push(encode(&s, &Tensor::scalar(p.scale())));
        inits.push(encode(&z, &zero_point_tensor(p)?));
        out.push(node(
            "QuantizeLinear",
            format!("{t}_QuantizeLinear"),
            vec![t.to_string(), s.clone(), z.clone()],
            vec![quantized_name(t)],
            None,
        ));
        out.push(node(
            "DequantizeLinear",
            format!("{t}_DequantizeLinear"),
            vec![quantized_name(t), s, z],
            vec![dequantized_name(t)],
            None,
        ));
        Ok(())
    };
    let act = |t: &str| placement.group_of(t).and_then(|_| q.activations.get(t).copied());
    for t in placement.quantized.keys() {
        if !q.activations.contains_key(t) {
            return Err(crate::Error::invalid(format!("no quantization parameters for tensor '{t}'")));
        }
    }
    for t in &net.graph_inputs {
        if let Some(p) = act(t) {
            qdq(t, &p, &mut inits, &mut out_nodes)?;
        }
    }
    // Whether a reader of `t` reads the dequantized tensor.
    let reads_dq = |t: &str, reader_int8: bool| -> bool {
        if placement.group_of(t).is_none() {
            return false;
        }
        if reader_int8 {
            return true;
        }
        let made_by_int8 = net.producer.get(t).is_some_and(|&p| placement.node_is_int8(p));
        made_by_int8 && !net.graph_outputs.contains(t)
    };
    for &i in &order {
        let mut n = nodes[i].clone();
        let int8 = placement.node_is_int8(i);
        if let Some(&li) = placement.layer_of_node.get(&i) {
            let l = &net.layers[li];
            let (w_name, b_name) = (format!("{}_weight", l.name), format!("{}_bias", l.name));
            let (stored, axis) = stored_weights(l)?;
            if let (true, Some(wp)) = (int8, q.weights[li].as_ref()) {
                let xp = act(&l.input)
                    .ok_or_else(|| crate::Error::invalid(format!("layer '{}' input is not quantized", l.name)))?;
                let source = q.rounded_weights.get(li).and_then(Option::as_ref).unwrap_or(&l.weights);
                let wq = quantize_weights(source, wp)?;
                let wq = Tensor::from_vec(vec![l.out_channels, l.k], wq)?;
                let wq = if axis == 1 { crate::ops::transpose::Transpose { perm: vec![1, 0] }.eval(&wq)? } else { wq };
                let wq = wq.reshaped(l.weight_shape.clone())?;
                let c = l.out_channels;
                inits.push(encode(&quantized_name(&w_name), &wq));
                inits.push(encode(&format!("{w_name}_scale"), &Tensor::from_vec(vec![c], wp.scales())?));
                inits.push(encode(&format!("{w_name}_zero_point"), &Tensor::from_vec(vec![c], vec![0i8; c])?));
                out_nodes.push(node(
                    "DequantizeLinear",
                    format!("{w_name}_DequantizeLinear"),
                    vec![quantized_name(&w_name), format!("{w_name}_scale"), format!("{w_name}_zero_point")],
                    vec![w_name.clone()],
                    Some(axis),
                ));
                n.input[1] = w_name;
                let bias = match (&l.bias, q.bias_corrections.get(li).and_then(Option::as_ref)) {
                    (Some(b), Some(c)) => Some(b.iter().zip(c).map(|(b, c)| b + c).collect()),
                    (None, Some(c)) => Some(c.clone()),
                    (b, None) => b.clone(),
                };
                if let Some(b) = &bias {
                    let scales = bias_scales(&xp, wp);
                    let bq = quantize_bias(b, &scales);
                    inits.push(encode(&quantized_name(&b_name), &Tensor::from_vec(vec![c], bq)?));
                    inits.push(encode(&format!("{b_name}_scale"), &Tensor::from_vec(vec![c], scales)?));
                    inits.push(encode(&format!("{b_name}_zero_point"), &Tensor::from_vec(vec![c], vec![0i32; c])?));
                    out_nodes.push(node(
                        "DequantizeLinear",
                        format!("{b_name}_DequantizeLinear"),
                        vec![quantized_name(&b_name), format!("{b_name}_scale"), format!("{b_name}_zero_point")],
                        vec![b_name.clone()],
                        Some(0),
                    ));
                    set_bias(&mut n, b_name);
                }
            } else {
                inits.push(encode(&w_name, &stored));
                n.input[1] = w_name;
                if let Some(b) = &l.bias {
                    inits.push(encode(&b_name, &Tensor::from_vec(vec![l.out_channels], b.clone())?));
                    set_bias(&mut n, b_name);
                }
            }
            if reads_dq(&l.input, int8) {
                n.input[0] = dequantized_name(&l.input);
            }
        } else {
            for x in n.input.iter_mut() {
                if !x.is_empty() && net.is_activation(x) && reads_dq(x, int8) {
                    *x = dequantized_name(x);
                }
            }
        }
        let outputs = n.output.clone();
        out_nodes.push(n);
        for o in &outputs {
            if let Some(p) = act(o) {
                qdq(o, &p, &mut inits, &mut out_nodes)?;
            }
        }
    }
    let mut proto = net.proto.clone();
    let g = proto.graph.as_mut().ok_or_else(|| crate::Error::invalid("no graph"))?;
    g.node = out_nodes;
    g.initializer.extend(inits);
    // Drop initializers nothing reads any more (the float weights of int8 layers).
    let used: HashSet<&str> = g.node.iter().flat_map(|n| n.input.iter().map(String::as_str)).collect();
    let outs: HashSet<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    let mut seen = HashSet::new();
    let inits = std::mem::take(&mut g.initializer);
    g.initializer = inits
        .into_iter()
        .filter(|t| (used.contains(t.name.as_str()) || outs.contains(t.name.as_str())) && seen.insert(t.name.clone()))
        .collect();
    let init_names: HashSet<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    g.input.retain(|i| !init_names.contains(&i.name) || net.graph_inputs.contains(&i.name));
    g.value_info.clear();
    proto.producer_name = "qpose calibrate".into();
    proto.producer_version = env!("CARGO_PKG_VERSION").into();
    Ok(proto)
}

fn set_bias(n: &mut NodeProto, name: String) {
    if n.input.len() > 2 {
        n.input[2] = name;
    } else {
        n.input.push(name);
    }
}

/// The layer's float weights in the ONNX layout and the output-channel axis of that layout.
fn stored_weights(l: &super::net::Layer) -> Result<(Tensor, i64)> {
    let canon = Tensor::from_vec(vec![l.out_channels, l.k], l.weights.clone())?;
    Ok(match l.kind {
        LayerKind::Dense { stored_kn: true } => {
            (crate::ops::transpose::Transpose { perm: vec![1, 0] }.eval(&canon)?.reshaped(l.weight_shape.clone())?, 1)
        }
        _ => (canon.reshaped(l.weight_shape.clone())?, 0),
    })
}

/// Map tensor → params for every quantized tensor (for reports and tests).
pub fn tensor_params(placement: &Placement, activations: &[QuantParams]) -> HashMap<String, QuantParams> {
    placement.quantized.iter().map(|(t, &g)| (t.clone(), activations[g])).collect()
}
