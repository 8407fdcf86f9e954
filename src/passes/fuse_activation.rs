//! Fuses `Relu` / `Clip` into the convolution or fully-connected layer (float, or int8 with
//! a float output) that produces their input, and merges consecutive clamps.

use crate::graph::{Graph, Op};
use crate::ops::qconv::{QConv, QDense, QOutput};
use crate::ops::qconv_transpose::QConvTranspose;
use crate::Result;

/// One sweep in execution order: a clamp fused into its producer leaves that producer
/// writing the clamp's output, so a following clamp fuses into it too (linear in the graph
/// size, whatever the length of a chain of activations).
pub fn run(g: &mut Graph) -> Result<()> {
    let mut producers = g.producers();
    let consumers = g.consumers();
    let mut dead = vec![false; g.nodes.len()];
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        let Op::Unary(u) = &n.op else { continue };
        let Some(clamp) = u.as_clamp() else { continue };
        let x = n.inputs[0];
        let Some(p) = producers[x.0] else { continue };
        if consumers[x.0].len() != 1 || g.is_output(x) {
            continue;
        }
        let float_out = |o: &QOutput| matches!(o, QOutput::Float { .. });
        let fusable = match &g.nodes[p.0].op {
            Op::Conv(_) | Op::ConvTranspose(_) | Op::Dense(_) => true,
            Op::QConv(c) => float_out(&c.out),
            Op::QConvTranspose(c) => float_out(&c.out),
            Op::QDense(d) => float_out(&d.out),
            Op::Unary(v) => v.as_clamp().is_some(),
            _ => false,
        };
        if !fusable {
            continue;
        }
        match &mut g.nodes[p.0].op {
            Op::Conv(c) => c.clamp = c.clamp.and_then(clamp),
            Op::ConvTranspose(c) => c.clamp = c.clamp.and_then(clamp),
            Op::Dense(d) => d.clamp = d.clamp.and_then(clamp),
            Op::QConv(QConv { out: QOutput::Float { clamp: c }, .. })
            | Op::QConvTranspose(QConvTranspose { out: QOutput::Float { clamp: c }, .. })
            | Op::QDense(QDense { out: QOutput::Float { clamp: c }, .. }) => *c = c.and_then(clamp),
            Op::Unary(u) => {
                let merged = u.as_clamp().map(|c| c.and_then(clamp)).unwrap_or(clamp);
                *u = crate::ops::unary::UnaryOp::Clip { min: merged.min, max: merged.max };
            }
            _ => unreachable!("checked fusable above"),
        }
        let out = g.nodes[i].outputs[0];
        g.nodes[p.0].outputs[0] = out;
        producers[out.0] = Some(p);
        dead[i] = true;
    }
    let mut d = dead.iter();
    g.nodes.retain(|_| !*d.next().unwrap_or(&false));
    Ok(())
}
