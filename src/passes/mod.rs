//! Graph rewrites between import and planning. Each pass is one file, keeps the graph valid
//! and sorted, and leaves what it does not match untouched.

pub mod const_fold;
pub mod fold_affine;
pub mod fuse_activation;
pub mod layout;
pub mod simplify;
pub mod transpose_sink;

use crate::graph::Graph;
use crate::Result;

/// Runs the float pipeline: constant weights (dequantized where the model stores them
/// quantized), per-channel affine ops folded into their producers, activations fused, the
/// switch to NHWC, and the transposes that leaves sunk and cancelled.
pub fn optimize_float(g: &mut Graph) -> Result<()> {
    const_fold::run(g, true)?;
    fold_affine::run(g)?;
    fuse_activation::run(g)?;
    simplify::run(g)?;
    layout::to_nhwc(g)?;
    transpose_sink::run(g)?;
    simplify::run(g)?;
    g.prune();
    g.sort()
}
