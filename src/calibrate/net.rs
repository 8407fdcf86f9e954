//! The float model as calibration sees it: the ONNX protobuf itself (the QDQ writer patches
//! it, so every op it does not quantize stays exactly as exported), with constants decoded,
//! producers and consumers indexed, `BatchNormalization` after a `Conv` folded into the
//! conv's weights, and the quantizable layers (`Conv`, `Gemm`, `MatMul` with constant
//! weights) listed with their weights in one canonical layout, `[C_out, K]`.

use crate::onnx::{Attrs, Limits};
use crate::tensor::{DType, Tensor};
use crate::{bail, Error, Result};
use qpose_quant::Activation;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

/// Geometry of a 2-D convolution (ONNX `Conv`, NCHW).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGeom {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub groups: usize,
    /// Input `[C, H, W]` and output `[H, W]` sizes.
    pub input: [usize; 3],
    pub output: [usize; 2],
}

/// How a layer computes.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    Conv(ConvGeom),
    /// `Gemm` / `MatMul` with a constant weight; `stored_kn`: the ONNX weight is `[K, N]`
    /// (MatMul, Gemm with `transB = 0`), else `[N, K]`.
    Dense {
        stored_kn: bool,
    },
}

/// A quantizable layer. Weights are kept here (canonical `[C_out, K]`, BN folded, and
/// rewritten by equalization); the writer emits them from here, not from the initializers.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Index of the node in the graph.
    pub node: usize,
    /// The node's name (its first output's name if the node has none).
    pub name: String,
    pub kind: LayerKind,
    /// Activation input tensor.
    pub input: String,
    /// The node's output tensor (pre-activation).
    pub output: String,
    /// A `Relu` / `Clip` that is the sole reader of the output: (node index, activation, output).
    pub activation: Option<(usize, Activation, String)>,
    /// `[C_out, K]`, `K = C_in / groups · kh · kw` for convs.
    pub weights: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub out_channels: usize,
    pub k: usize,
    pub groups: usize,
    /// The ONNX weight shape (for writing it back).
    pub weight_shape: Vec<usize>,
    /// Multiply-accumulates of one inference.
    pub macs: u64,
}

impl Layer {
    /// The tensor the layer's output reaches the rest of the graph as (after its activation).
    pub fn final_output(&self) -> &str {
        self.activation.as_ref().map_or(&self.output, |a| &a.2)
    }

    /// The activation applied to the layer's output.
    pub fn act(&self) -> Activation {
        self.activation.as_ref().map_or(Activation::Identity, |a| a.1)
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        match &self.kind {
            LayerKind::Conv(g) => g.input[0],
            LayerKind::Dense { .. } => self.k,
        }
    }

    /// Whether this is a depthwise convolution.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.out_channels && self.k == self.kernel_size()
    }

    fn kernel_size(&self) -> usize {
        match &self.kind {
            LayerKind::Conv(g) => g.kernel[0] * g.kernel[1],
            LayerKind::Dense { .. } => 1,
        }
    }

    /// The layer's channel structure for `quant::dfq`.
    pub fn conv_shape(&self) -> qpose_quant::ConvShape {
        qpose_quant::ConvShape {
            out_channels: self.out_channels,
            in_channels: self.in_channels(),
            groups: self.groups,
            kernel_size: self.kernel_size(),
        }
    }

    /// A short kind label for reports.
    pub fn label(&self) -> String {
        match &self.kind {
            LayerKind::Conv(g) if self.is_depthwise() => format!("dw{}x{}", g.kernel[0], g.kernel[1]),
            LayerKind::Conv(g) => format!("conv{}x{}", g.kernel[0], g.kernel[1]),
            LayerKind::Dense { .. } => "dense".into(),
        }
    }
}

/// The model being calibrated.
pub struct Net {
    pub proto: ModelProto,
    /// Decoded constants: initializers and `Constant` node outputs.
    pub consts: HashMap<String, Tensor>,
    /// Types and shapes of every run-time tensor (from a float run), ONNX layout.
    pub shapes: HashMap<String, Vec<usize>>,
    pub producer: HashMap<String, usize>,
    pub consumers: HashMap<String, Vec<usize>>,
    pub graph_inputs: Vec<String>,
    pub graph_outputs: HashSet<String>,
    pub layers: Vec<Layer>,
    /// Opset of the default domain.
    pub opset: i64,
}

/// Decodes a `TensorProto` with qpose's own decoder.
pub fn decode(t: &TensorProto) -> Result<Tensor> {
    crate::onnx::decode_tensor_proto(&prost::Message::encode_to_vec(t), &Limits::default())
        .map_err(|e| Error::invalid(format!("tensor '{}': {e}", t.name)))
}

/// A `TensorProto` holding `t` as raw data.
pub fn encode(name: &str, t: &Tensor) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: t.dtype().onnx_code(),
        raw_data: t.bytes().to_vec(),
        ..Default::default()
    }
}

/// The label qpose and reports use for a node.
pub fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

impl Net {
    /// Reads a model file.
    pub fn load(path: &std::path::Path) -> Result<Net> {
        let proto = tract_onnx::prelude::Framework::proto_model_for_path(&tract_onnx::onnx(), path).map_err(|e| {
            Error::Model { file: path.display().to_string(), msg: format!("not a valid ONNX protobuf ({e})") }
        })?;
        Net::new(proto).map_err(|e| Error::Context { context: path.display().to_string(), source: Box::new(e) })
    }

    /// Indexes a model, folds `Conv → BatchNormalization`, finds the layers and infers the
    /// shapes of every tensor with a float run of qpose.
    pub fn new(mut proto: ModelProto) -> Result<Net> {
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .unwrap_or(1);
        if opset < 13 {
            bail!("the model uses opset {opset}; calibration writes per-axis QuantizeLinear/DequantizeLinear, which needs opset 13 or newer (re-export the model with opset >= 13)");
        }
        let graph = proto.graph.as_mut().ok_or_else(|| Error::invalid("the model has no graph"))?;
        for n in &graph.node {
            if n.op_type.contains("QuantizeLinear") || n.op_type.starts_with("QLinear") {
                bail!(
                    "the model is already quantized (node '{}' is {}); calibrate its float export",
                    node_name(n),
                    n.op_type
                );
            }
        }
        let mut consts = HashMap::new();
        for init in &graph.initializer {
            consts.insert(init.name.clone(), decode(init)?);
        }
        for n in &graph.node {
            if n.op_type == "Constant" && n.domain.is_empty() {
                if let Some(t) = Attrs::new(n).tensor("value")? {
                    consts.insert(n.output[0].clone(), decode(t)?);
                }
            }
        }
        let graph_inputs: Vec<String> =
            graph.input.iter().map(|i| i.name.clone()).filter(|n| !consts.contains_key(n)).collect();
        let graph_outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        let mut net = Net {
            proto,
            consts,
            shapes: HashMap::new(),
            producer: HashMap::new(),
            consumers: HashMap::new(),
            graph_inputs,
            graph_outputs,
            layers: Vec::new(),
            opset,
        };
        net.fold_batch_norm()?;
        net.index();
        net.shapes = net.infer_shapes()?;
        net.layers = net.find_layers()?;
        if net.layers.is_empty() {
            bail!("the model has no Conv, Gemm or MatMul with constant weights: nothing to quantize");
        }
        Ok(net)
    }

    pub fn nodes(&self) -> &[NodeProto] {
        self.proto.graph.as_ref().map(|g| g.node.as_slice()).unwrap_or(&[])
    }

    fn index(&mut self) {
        self.producer.clear();
        self.consumers.clear();
        let nodes = self.proto.graph.as_ref().map(|g| g.node.clone()).unwrap_or_default();
        for (i, n) in nodes.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                self.producer.insert(o.clone(), i);
            }
            for x in n.input.iter().filter(|x| !x.is_empty()) {
                self.consumers.entry(x.clone()).or_default().push(i);
            }
        }
    }

    /// Readers of `t` (a node reading it twice appears twice).
    pub fn readers(&self, t: &str) -> &[usize] {
        self.consumers.get(t).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The sole reader of `t` if it has exactly one and is not a graph output.
    pub fn sole_reader(&self, t: &str) -> Option<usize> {
        match self.readers(t) {
            [one] if !self.graph_outputs.contains(t) => Some(*one),
            _ => None,
        }
    }

    /// Whether `t` is a run-time float tensor (not a constant).
    pub fn is_activation(&self, t: &str) -> bool {
        !t.is_empty() && !self.consts.contains_key(t) && self.shapes.contains_key(t)
    }

    /// `Relu` / `Clip` with constant bounds as an activation.
    pub fn activation_of(&self, n: &NodeProto) -> Option<Activation> {
        match n.op_type.as_str() {
            "Relu" => Some(Activation::Relu),
            "Clip" => {
                let bound = |i: usize, default: f32| -> Option<f32> {
                    match n.input.get(i).map(String::as_str) {
                        None | Some("") => Some(default),
                        Some(name) => self.consts.get(name).and_then(|t| t.to_f32_vec().first().copied()),
                    }
                };
                let a = Attrs::new(n);
                let (min, max) = if self.opset >= 11 {
                    (bound(1, f32::NEG_INFINITY)?, bound(2, f32::INFINITY)?)
                } else {
                    (a.float_or("min", f32::MIN).ok()?, a.float_or("max", f32::MAX).ok()?)
                };
                (min <= max).then_some(Activation::Clip { min, max })
            }
            _ => None,
        }
    }

    /// Folds `BatchNormalization` nodes that are the sole reader of a `Conv` output with
    /// constant weights into that conv (the QDQ model quantizes the folded weights).
    fn fold_batch_norm(&mut self) -> Result<()> {
        self.index();
        let nodes = self.nodes().to_vec();
        let mut remove = HashSet::new();
        let mut rename: Vec<(usize, String)> = Vec::new();
        let mut new_inits: Vec<TensorProto> = Vec::new();
        for (i, bn) in nodes.iter().enumerate() {
            if bn.op_type != "BatchNormalization" || bn.output.len() > 1 && bn.output[1..].iter().any(|o| !o.is_empty())
            {
                continue;
            }
            let Some(&p) = self.producer.get(&bn.input[0]) else { continue };
            let conv = &nodes[p];
            if conv.op_type != "Conv" || self.sole_reader(&conv.output[0]) != Some(i) {
                continue;
            }
            let get = |j: usize| bn.input.get(j).and_then(|n| self.consts.get(n)).map(|t| t.to_f32_vec());
            let (Some(gamma), Some(beta), Some(mean), Some(var)) = (get(1), get(2), get(3), get(4)) else { continue };
            let Some(w) = self.consts.get(&conv.input[1]) else { continue };
            let eps = Attrs::new(bn).float_or("epsilon", 1e-5)?;
            let c = w.shape()[0];
            if [&gamma, &beta, &mean, &var].iter().any(|v| v.len() != c) {
                continue;
            }
            let scale: Vec<f32> = (0..c).map(|j| gamma[j] / (var[j] + eps).sqrt()).collect();
            let mut wv = w.cast(DType::F32).to_f32_vec();
            let per = wv.len() / c;
            for (j, v) in wv.iter_mut().enumerate() {
                *v *= scale[j / per];
            }
            let b0 = conv.input.get(2).and_then(|n| self.consts.get(n)).map(|t| t.to_f32_vec()).unwrap_or(vec![0.0; c]);
            let b: Vec<f32> = (0..c).map(|j| (b0[j] - mean[j]) * scale[j] + beta[j]).collect();
            let wname = format!("{}/bn_folded_weight", node_name(conv));
            let bname = format!("{}/bn_folded_bias", node_name(conv));
            let wt = Tensor::from_vec(w.shape().to_vec(), wv)?;
            let bt = Tensor::from_vec(vec![c], b)?;
            new_inits.push(encode(&wname, &wt));
            new_inits.push(encode(&bname, &bt));
            self.consts.insert(wname.clone(), wt);
            self.consts.insert(bname.clone(), bt);
            remove.insert(i);
            rename.push((p, bn.output[0].clone()));
            let g = self.proto.graph.as_mut().expect("graph");
            let cn = &mut g.node[p];
            cn.input.truncate(2);
            cn.input[1] = wname;
            cn.input.push(bname);
        }
        let g = self.proto.graph.as_mut().expect("graph");
        for (p, out) in rename {
            g.node[p].output[0] = out;
        }
        g.initializer.extend(new_inits);
        let mut i = 0;
        g.node.retain(|_| {
            i += 1;
            !remove.contains(&(i - 1))
        });
        Ok(())
    }

    /// Shapes of every tensor, from one float run of qpose with every tensor as an output.
    fn infer_shapes(&self) -> Result<HashMap<String, Vec<usize>>> {
        let mut names: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for n in self.nodes() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                if !self.consts.contains_key(o) && seen.insert(o.clone()) {
                    names.push(o.clone());
                }
            }
        }
        let g = crate::onnx::from_proto(&probe_proto(&self.proto, &names), &Default::default(), None)?;
        let mut shapes = HashMap::new();
        for v in &g.values {
            if v.dtype == DType::F32 && !v.is_const() {
                if let Some(o) = &v.origin {
                    let mut s = vec![0; v.shape.len()];
                    for (i, &p) in o.perm.iter().enumerate() {
                        if p < s.len() {
                            s[p] = v.shape[i];
                        }
                    }
                    shapes.entry(o.name.clone()).or_insert(s);
                }
            }
        }
        for id in &g.inputs {
            let v = g.value(*id);
            if v.dtype == DType::F32 {
                shapes.insert(v.name.clone(), v.shape.clone());
            }
        }
        for id in &g.outputs {
            let v = g.value(*id);
            if v.dtype == DType::F32 {
                shapes.insert(v.name.clone(), v.shape.clone());
            }
        }
        Ok(shapes)
    }

    fn find_layers(&self) -> Result<Vec<Layer>> {
        let mut layers = Vec::new();
        for (i, n) in self.nodes().iter().enumerate() {
            let layer = match (n.domain.as_str(), n.op_type.as_str()) {
                ("", "Conv") => self.conv_layer(i, n)?,
                ("", "Gemm") | ("", "MatMul") => self.dense_layer(i, n)?,
                _ => None,
            };
            layers.extend(layer);
        }
        Ok(layers)
    }

    fn activation_after(&self, out: &str) -> Option<(usize, Activation, String)> {
        let r = self.sole_reader(out)?;
        let n = &self.nodes()[r];
        let a = self.activation_of(n)?;
        Some((r, a, n.output[0].clone()))
    }

    fn conv_layer(&self, i: usize, n: &NodeProto) -> Result<Option<Layer>> {
        let (Some(w), Some(xs), Some(ys)) =
            (self.consts.get(&n.input[1]), self.shapes.get(&n.input[0]), self.shapes.get(&n.output[0]))
        else {
            return Ok(None);
        };
        if w.rank() != 4 || xs.len() != 4 || ys.len() != 4 || w.dtype() != DType::F32 {
            return Ok(None);
        }
        let a = Attrs::new(n);
        let ws = w.shape().to_vec();
        let two = |name: &str, default: usize| -> Result<[usize; 2]> {
            Ok(match a.usizes(name)? {
                Some(v) if v.len() == 2 => [v[0], v[1]],
                Some(v) => bail!("Conv '{}': {name} {v:?} is not 2-D", node_name(n)),
                None => [default, default],
            })
        };
        let kernel = [ws[2], ws[3]];
        let strides = two("strides", 1)?;
        let dilations = two("dilations", 1)?;
        let groups = a.int_or("group", 1)? as usize;
        let (ih, iw, oh, ow) = (xs[2], xs[3], ys[2], ys[3]);
        let pads = match a.string_or("auto_pad", "NOTSET")? {
            "NOTSET" => match a.usizes("pads")? {
                Some(p) if p.len() == 4 => [p[0], p[1], p[2], p[3]],
                Some(p) => bail!("Conv '{}': pads {p:?} are not 2-D", node_name(n)),
                None => [0; 4],
            },
            "VALID" => [0; 4],
            mode => {
                let total = |inp: usize, out: usize, ax: usize| {
                    ((out - 1) * strides[ax] + (kernel[ax] - 1) * dilations[ax] + 1).saturating_sub(inp)
                };
                let (th, tw) = (total(ih, oh, 0), total(iw, ow, 1));
                if mode == "SAME_LOWER" {
                    [th - th / 2, tw - tw / 2, th / 2, tw / 2]
                } else {
                    [th / 2, tw / 2, th - th / 2, tw - tw / 2]
                }
            }
        };
        if groups == 0 || xs[1] % groups != 0 || ws[0] % groups != 0 {
            bail!("Conv '{}': group {groups} does not divide the channels", node_name(n));
        }
        let bias = n.input.get(2).filter(|b| !b.is_empty()).map(|b| {
            self.consts
                .get(b)
                .map(|t| t.to_f32_vec())
                .ok_or_else(|| Error::invalid(format!("Conv '{}': bias is not constant", node_name(n))))
        });
        let bias = bias.transpose()?;
        let k = ws[1] * ws[2] * ws[3];
        Ok(Some(Layer {
            node: i,
            name: node_name(n),
            input: n.input[0].clone(),
            output: n.output[0].clone(),
            activation: self.activation_after(&n.output[0]),
            weights: w.to_f32_vec(),
            bias,
            out_channels: ws[0],
            k,
            groups,
            weight_shape: ws.clone(),
            macs: (ws[0] * k * oh * ow * ys[0]) as u64,
            kind: LayerKind::Conv(ConvGeom {
                kernel,
                strides,
                dilations,
                pads,
                groups,
                input: [xs[1], ih, iw],
                output: [oh, ow],
            }),
        }))
    }

    fn dense_layer(&self, i: usize, n: &NodeProto) -> Result<Option<Layer>> {
        let Some(w) = self.consts.get(&n.input[1]) else { return Ok(None) };
        let Some(xs) = self.shapes.get(&n.input[0]) else { return Ok(None) };
        if w.rank() != 2 || w.dtype() != DType::F32 || xs.is_empty() {
            return Ok(None);
        }
        let a = Attrs::new(n);
        let gemm = n.op_type == "Gemm";
        if gemm && (a.int_or("transA", 0)? != 0 || a.float_or("alpha", 1.0)? != 1.0 || a.float_or("beta", 1.0)? != 1.0)
        {
            return Ok(None);
        }
        let stored_kn = !(gemm && a.int_or("transB", 0)? != 0);
        let ws = w.shape();
        let (kk, nn) = if stored_kn { (ws[0], ws[1]) } else { (ws[1], ws[0]) };
        if *xs.last().unwrap_or(&0) != kk {
            return Ok(None);
        }
        let wv = w.to_f32_vec();
        let weights: Vec<f32> = if stored_kn { (0..nn * kk).map(|j| wv[(j % kk) * nn + j / kk]).collect() } else { wv };
        let bias = if gemm {
            match n.input.get(2).filter(|b| !b.is_empty()) {
                None => None,
                Some(b) => match self.consts.get(b).map(|t| t.to_f32_vec()) {
                    Some(v) if v.len() == nn => Some(v),
                    Some(v) if v.len() == 1 => Some(vec![v[0]; nn]),
                    _ => return Ok(None),
                },
            }
        } else {
            None
        };
        let rows: usize = xs[..xs.len() - 1].iter().product();
        Ok(Some(Layer {
            node: i,
            name: node_name(n),
            input: n.input[0].clone(),
            output: n.output[0].clone(),
            activation: self.activation_after(&n.output[0]),
            weights,
            bias,
            out_channels: nn,
            k: kk,
            groups: 1,
            weight_shape: ws.to_vec(),
            macs: (rows * nn * kk) as u64,
            kind: LayerKind::Dense { stored_kn },
        }))
    }
}

/// `proto` with the tensors `names` added as graph outputs (qpose keeps graph outputs
/// intact, so every listed tensor is computed and readable after a run).
pub fn probe_proto(proto: &ModelProto, names: &[String]) -> ModelProto {
    let mut p = proto.clone();
    if let Some(g) = p.graph.as_mut() {
        let have: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
        for n in names {
            if !have.contains(n) {
                g.output.push(tract_onnx::pb::ValueInfoProto { name: n.clone(), ..Default::default() });
            }
        }
    }
    p
}
