//! The run-time step of an axis permutation: a strided copy, with no index table. The two
//! innermost output axes form a block, walked along whichever of them is longer so the
//! inner loop is long (an NCHW → NHWC image of 3 channels copies runs of a whole row).

use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::tensor::strides;
use crate::{bail, Result};

pub struct PermuteCopy {
    src: Slot,
    dst: Slot,
    /// Output shape without its axes of length 1, at least two axes (leading 1s added).
    dims: Vec<usize>,
    /// Per output axis, the input stride (elements) of the axis it reads.
    from: Vec<usize>,
    /// Bytes per element.
    size: usize,
}

impl PermuteCopy {
    /// The step writing output axis `i` from input axis `perm[i]` (a permutation of the
    /// input's axes, checked by the op).
    pub fn new(ctx: &LowerCtx, perm: &[usize]) -> Result<PermuteCopy> {
        Self::viewed(ctx, ctx.inputs[0].shape, perm)
    }

    /// Like [`PermuteCopy::new`], with the input viewed as shape `x` (same element count).
    pub fn viewed(ctx: &LowerCtx, x: &[usize], perm: &[usize]) -> Result<PermuteCopy> {
        if x.iter().product::<usize>() != ctx.inputs[0].numel() {
            bail!("a {:?} view of {} elements", x, ctx.inputs[0].numel());
        }
        let xs = strides(x);
        // Axes of length 1 move nothing: dropped, so the two innermost axes are real ones.
        let kept = perm.iter().filter(|&&p| x[p] != 1);
        let mut dims: Vec<usize> = kept.clone().map(|&p| x[p]).collect();
        let mut from: Vec<usize> = kept.map(|&p| xs[p]).collect();
        while dims.len() < 2 {
            dims.insert(0, 1);
            from.insert(0, 0);
        }
        let size = ctx.outputs[0].dtype.size();
        if ![1, 2, 4, 8].contains(&size) {
            bail!("transpose of {size}-byte elements");
        }
        Ok(PermuteCopy { src: ctx.inputs[0].slot()?, dst: ctx.outputs[0].slot()?, dims, from, size })
    }

    fn copy<T: bytemuck::Pod>(&self, mem: &Memory) {
        let (src, dst) = (mem.read::<T>(self.src), mem.write::<T>(self.dst));
        let r = self.dims.len();
        let (l1, l0) = (self.dims[r - 2], self.dims[r - 1]);
        let (s1, s0) = (self.from[r - 2], self.from[r - 1]);
        if l1 * l0 == 0 {
            return;
        }
        let outer = &self.dims[..r - 2];
        let blocks = outer.iter().product::<usize>();
        for (o, out) in dst.chunks_exact_mut(l1 * l0).take(blocks).enumerate() {
            // Input offset of outer index `o`, axis by axis from the last.
            let (mut rest, mut base) = (o, 0);
            for (&d, &s) in outer.iter().zip(&self.from).rev() {
                base += rest % d * s;
                rest /= d;
            }
            if l0 >= l1 {
                for (a, row) in out.chunks_exact_mut(l0).enumerate() {
                    let at = base + a * s1;
                    for (b, v) in row.iter_mut().enumerate() {
                        *v = src[at + b * s0];
                    }
                }
            } else if s1 == 1 && l0 <= 4 {
                // Up to four contiguous planes interleaved (NCHW -> NHWC of an image).
                match l0 {
                    1 => interleave::<T, 1>(out, src, base, s0),
                    2 => interleave::<T, 2>(out, src, base, s0),
                    3 => interleave::<T, 3>(out, src, base, s0),
                    _ => interleave::<T, 4>(out, src, base, s0),
                }
            } else {
                for b in 0..l0 {
                    let at = base + b * s0;
                    for a in 0..l1 {
                        out[a * l0 + b] = src[at + a * s1];
                    }
                }
            }
        }
    }
}

/// `out[a · L + b] = src[base + b · plane + a]`: `L` planes of `out.len() / L` contiguous
/// values, `plane` apart, interleaved.
fn interleave<T: Copy, const L: usize>(out: &mut [T], src: &[T], base: usize, plane: usize) {
    let n = out.len() / L;
    let planes: [&[T]; L] = std::array::from_fn(|b| &src[base + b * plane..][..n]);
    for (a, o) in out.chunks_exact_mut(L).enumerate() {
        for (v, p) in o.iter_mut().zip(&planes) {
            *v = p[a];
        }
    }
}

impl Step for PermuteCopy {
    fn kernel(&self) -> String {
        "permute".into()
    }

    fn run(&mut self, mem: &Memory) {
        match self.size {
            1 => self.copy::<u8>(mem),
            2 => self.copy::<u16>(mem),
            4 => self.copy::<u32>(mem),
            _ => self.copy::<u64>(mem),
        }
    }
}
