//! Lossless narrowing of residual inputs before a clip: in `y = clip(a + b, lo, hi)` only
//! the values of `a` in `[lo - max(b), hi - min(b)]` can change `y`, so `a` may be quantized
//! on that interval (intersected with its calibrated range) without changing the result.
//!
//! Proof: if `a > hi - min(b)` then `a + b > hi` for every `b`, and `y = hi`; replacing `a` by
//! the bound `hi - min(b)` gives `a + b >= hi`, so again `y = hi`. The lower side is the
//! mirror image. `b`'s bounds are those of its quantization grid (what the int8 `Add` sees),
//! so the rewrite is exact in the deployed model, not only on the calibration crops.
//!
//! BlazePose's later blocks are `Conv (linear) → Add(ReLU6 input) → Clip(0, 6)`: the linear
//! conv outputs reach `[-90, 19]` while only `[-6, 6]` matters, so the narrowed step is about
//! nine times finer.

use super::net::Net;
use super::placement::Placement;
use crate::Result;
use qpose_quant::{Activation, QuantParams, QuantScheme, RealRange};

/// The representable real interval of `p`'s integer grid, `[(qmin - z) s, (qmax - z) s]`.
fn grid(p: &QuantParams) -> (f32, f32) {
    let s = p.scheme();
    ((s.qmin() - p.zero_point()) as f32 * p.scale(), (s.qmax() - p.zero_point()) as f32 * p.scale())
}

/// Narrows `ranges` (one per group of `p`) in place and returns how many groups changed.
///
/// A group is narrowed only when it has a single tensor whose single reader is an int8 `Add`
/// of two activations, and the `Add`'s output is read only by a `Clip` (standalone or a
/// layer's). The other input's bounds come from its group's range under `scheme`.
pub fn narrow(net: &Net, p: &Placement, scheme: QuantScheme, ranges: &mut [RealRange]) -> Result<usize> {
    let nodes = net.nodes();
    let mut changed = 0;
    for &i in &p.int8_nodes {
        let n = &nodes[i];
        if n.op_type != "Add" || n.input.len() != 2 || n.output.len() != 1 {
            continue;
        }
        let Some(reader) = net.sole_reader(&n.output[0]) else { continue };
        let Some(Activation::Clip { min: lo, max: hi }) = net.activation_of(&nodes[reader]) else { continue };
        let groups = [p.group_of(&n.input[0]), p.group_of(&n.input[1])];
        let [Some(g0), Some(g1)] = groups else { continue };
        for (mine, other, t) in [(g0, g1, &n.input[0]), (g1, g0, &n.input[1])] {
            if mine == other || p.groups[mine].members.len() != 1 || net.sole_reader(t) != Some(i) {
                continue;
            }
            let (b_min, b_max) = grid(&QuantParams::from_range(ranges[other], scheme).map_err(super::qerr)?);
            let (keep_lo, keep_hi) = (lo - b_max, hi - b_min);
            let r = ranges[mine];
            if r.min() >= keep_lo && r.max() <= keep_hi {
                continue;
            }
            let (new_lo, new_hi) = (r.min().max(keep_lo), r.max().min(keep_hi));
            ranges[mine] =
                if new_lo <= new_hi { RealRange::new(new_lo, new_hi) } else { RealRange::new(keep_lo, keep_hi) }
                    .map_err(super::qerr)?;
            changed += 1;
        }
    }
    Ok(changed)
}
