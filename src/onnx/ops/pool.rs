//! MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.

use super::{Registry, Window};
use crate::graph::Op;
use crate::onnx::{Attrs, Importer};
use crate::ops::pool::{GlobalPool, Pool, PoolKind};
use crate::ops::Layout;
use crate::{bail, Result};
use tract_onnx::pb::NodeProto;

pub fn register(r: &mut Registry) {
    r.insert(("", "MaxPool"), pool);
    r.insert(("", "AveragePool"), pool);
    r.insert(("", "GlobalAveragePool"), global_pool);
    r.insert(("", "GlobalMaxPool"), global_pool);
}

fn pool(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let xs = imp.shape(x).to_vec();
    if xs.len() != 4 {
        bail!("only 2-D pooling (rank-4 input) is supported, got {xs:?}");
    }
    if node.output.get(1).is_some_and(|o| !o.is_empty()) {
        bail!("MaxPool's Indices output is not supported");
    }
    let a = Attrs::new(node);
    if a.int_or("storage_order", 0)? != 0 {
        bail!("storage_order=1 is not supported");
    }
    let kind = if node.op_type == "MaxPool" { PoolKind::Max } else { PoolKind::Avg };
    let mut win = Window::read(imp, node, None)?;
    win.resolve_pads([xs[2], xs[3]])?;
    let op = Pool {
        kind,
        kernel: win.kernel,
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        ceil_mode: a.int_or("ceil_mode", 0)? != 0,
        count_include_pad: a.int_or("count_include_pad", 0)? != 0,
        layout: Layout::Nchw,
    };
    imp.emit_node(node, Op::Pool(op), vec![x])?;
    Ok(())
}

fn global_pool(imp: &mut Importer, node: &NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    if imp.shape(x).len() != 4 {
        bail!("only rank-4 global pooling is supported, got {:?}", imp.shape(x));
    }
    let kind = if node.op_type == "GlobalMaxPool" { PoolKind::Max } else { PoolKind::Avg };
    imp.emit_node(node, Op::GlobalPool(GlobalPool { kind, layout: Layout::Nchw }), vec![x])?;
    Ok(())
}
