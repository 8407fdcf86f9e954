//! BatchNormalization (inference form): becomes a per-channel multiply and add, which the
//! folding pass merges into the preceding convolution or fully-connected layer.

use super::Registry;
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::binary::BinaryOp;
use crate::tensor::Tensor;
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "BatchNormalization"), batch_norm);
}

fn batch_norm(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let a = Attrs::new(node);
    if a.int_or("training_mode", 0)? != 0 || node.output.iter().skip(1).any(|o| !o.is_empty()) {
        bail!("training-mode BatchNormalization is not supported");
    }
    let eps = a.float_or("epsilon", 1e-5)?;
    let x = imp.input(node, 0)?;
    let rank = imp.shape(x).len();
    if rank < 2 {
        bail!("BatchNormalization input must have rank >= 2, got {:?}", imp.shape(x));
    }
    let c = imp.shape(x)[1];
    let get = |i: usize, what: &str| -> Result<Vec<f32>> {
        let t = imp.const_input(node, i, what)?.ok_or_else(|| crate::Error::invalid(format!("{what} is missing")))?;
        if t.len() != c {
            bail!("{what} has {} values for {c} channels", t.len());
        }
        Ok(t.cast(crate::tensor::DType::F32).to_f32_vec())
    };
    let (gamma, beta, mean, var) = (get(1, "scale")?, get(2, "B")?, get(3, "mean")?, get(4, "var")?);
    let mul: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps).sqrt()).collect();
    let add: Vec<f32> = beta.iter().zip(&mean).zip(&mul).map(|((b, m), s)| b - m * s).collect();
    let mut bshape = vec![c];
    bshape.extend(std::iter::repeat_n(1, rank - 2));
    let mul = imp.constant(&imp.derived(node, "bn_mul"), Tensor::from_vec(bshape.clone(), mul)?)?;
    let add = imp.constant(&imp.derived(node, "bn_add"), Tensor::from_vec(bshape, add)?)?;
    let scaled = imp.emit(&imp.derived(node, "bn_scaled"), Op::Binary(BinaryOp::Mul), vec![x, mul])?[0];
    imp.emit_node(node, Op::Binary(BinaryOp::Add), vec![scaled, add])?;
    Ok(())
}
