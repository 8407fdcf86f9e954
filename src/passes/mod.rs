//! Graph rewrites between import and planning. Each pass is one file, keeps the graph valid
//! and sorted, and leaves what it does not match untouched.

pub mod channel_shuffle;
pub mod const_fold;
pub mod fold_affine;
pub mod fold_pad;
pub mod fuse_activation;
pub mod layout;
pub mod qdq;
pub mod simplify;
pub mod transpose_sink;

use crate::graph::Graph;
use crate::Result;
use std::collections::HashSet;

/// What the optimiser does.
#[derive(Clone, Debug)]
pub struct PassOptions {
    /// Run QDQ models as int8 (`false`: the float reference path).
    pub int8: bool,
    /// Nodes (by node or output tensor name) to keep in float.
    pub keep_float: HashSet<String>,
}

impl Default for PassOptions {
    fn default() -> Self {
        PassOptions { int8: true, keep_float: HashSet::new() }
    }
}

/// Runs the pipeline: channel shuffles made one gather, QDQ sandwiches to int8 ops (unless
/// float is asked for), remaining quantized weights dequantized, per-channel affine ops
/// folded into their producers, activations fused, the switch to NHWC, the transposes that
/// leaves sunk and cancelled, and zero `Pad` nodes folded into the convolutions they feed.
/// Returns what the int8 matching did.
pub fn optimize(g: &mut Graph, opts: &PassOptions) -> Result<qdq::QdqSummary> {
    channel_shuffle::run(g)?;
    let summary = if opts.int8 { qdq::run(g, &opts.keep_float)? } else { qdq::QdqSummary::default() };
    const_fold::run(g, true)?;
    fold_affine::run(g)?;
    fuse_activation::run(g)?;
    simplify::run(g)?;
    layout::to_nhwc(g)?;
    transpose_sink::run(g)?;
    fold_pad::run(g)?;
    simplify::run(g)?;
    g.prune();
    g.sort()?;
    Ok(summary)
}
