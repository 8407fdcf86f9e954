//! Max and average pooling over H and W (windowed and global).

use super::{window_out, Layout};
use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PoolKind {
    Max,
    Avg,
}

/// Windowed pooling (`MaxPool`, `AveragePool`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pool {
    pub kind: PoolKind,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right.
    pub pads: [usize; 4],
    pub ceil_mode: bool,
    /// Average pooling: whether padded positions count in the divisor.
    pub count_include_pad: bool,
    pub layout: Layout,
}

impl Pool {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, w] = self.layout.nchw(x)?;
        let oh = window_out(
            h,
            self.kernel[0],
            self.strides[0],
            self.dilations[0],
            self.pads[0],
            self.pads[2],
            self.ceil_mode,
        )?;
        let ow = window_out(
            w,
            self.kernel[1],
            self.strides[1],
            self.dilations[1],
            self.pads[1],
            self.pads[3],
            self.ceil_mode,
        )?;
        Ok(self.layout.shape(n, c, oh, ow))
    }

    /// Window taps of one run: output elements × kernel area.
    pub fn taps(&self, out_shape: &[usize]) -> u64 {
        let taps = (self.kernel[0] as u64).saturating_mul(self.kernel[1] as u64);
        out_shape.iter().fold(taps, |a, &d| a.saturating_mul(d as u64))
    }
}

/// Global pooling over all of H and W (`GlobalAveragePool`, `GlobalMaxPool`), keeping
/// 1x1 spatial dimensions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GlobalPool {
    pub kind: PoolKind,
    pub layout: Layout,
}

impl GlobalPool {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, _, _] = self.layout.nchw(x)?;
        Ok(self.layout.shape(n, c, 1, 1))
    }
}

/// Run-time windowed pooling, NHWC f32 (or i8/u8 for max pooling): channels innermost, so
/// every window tap is a contiguous run of channels.
struct PoolStep {
    op: Pool,
    /// Input N, H, W, C and output H, W.
    dims: [usize; 6],
    dtype: crate::tensor::DType,
    /// Per output column, [`window`] along x (computed once).
    columns: Vec<(usize, usize, usize)>,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

/// Valid input positions `[lo, hi)` (in units of taps) for output `o` along one axis, and the
/// average-pool divisor span when padding counts.
fn window(
    o: usize,
    stride: usize,
    dil: usize,
    pad_begin: usize,
    pad_end: usize,
    k: usize,
    len: usize,
) -> (usize, usize, usize) {
    // Tap t reads position o·stride − pad_begin + t·dil; count the taps below `end` (i64:
    // every term is at most a dimension or attribute, far from overflow).
    let start = (o * stride) as i64 - pad_begin as i64;
    let (k, dil) = (k as i64, dil as i64);
    let first_at_or_after = |bound: i64| (((bound - start).max(0) + dil - 1) / dil).min(k);
    let lo = first_at_or_after(0);
    let hi = first_at_or_after(len as i64);
    let padded_hi = first_at_or_after((len + pad_end) as i64);
    (lo as usize, hi.max(lo) as usize, padded_hi as usize)
}

/// The input channel rows one output pixel's valid taps read: `rows × cols` of them, the
/// first at element `first`, each next row `dy` elements on, each next column `dx` on.
#[derive(Clone, Copy)]
struct Taps {
    first: usize,
    rows: usize,
    cols: usize,
    dy: usize,
    dx: usize,
}

impl Taps {
    #[inline]
    fn for_each(self, mut f: impl FnMut(usize)) {
        for r in 0..self.rows {
            for q in 0..self.cols {
                f(self.first + r * self.dy + q * self.dx);
            }
        }
    }
}

impl PoolStep {
    /// Visits every output pixel, row-major: `visit(first output element, its taps, the
    /// averaging divisor)` (the divisor counts the padded window when the op says so).
    fn for_each_window(&self, mut visit: impl FnMut(usize, Taps, usize)) {
        let [n, h, w, c, oh, ow] = self.dims;
        let p = &self.op;
        let (dy, dx) = (p.dilations[0] * w * c, p.dilations[1] * c);
        for ni in 0..n {
            for oy in 0..oh {
                let (ky0, ky1, kyp) = window(oy, p.strides[0], p.dilations[0], p.pads[0], p.pads[2], p.kernel[0], h);
                for (ox, &(kx0, kx1, kxp)) in self.columns.iter().enumerate() {
                    let (rows, cols) = (ky1 - ky0, kx1 - kx0);
                    // The first valid tap's input pixel (none: nothing is read).
                    let first = if rows * cols == 0 {
                        0
                    } else {
                        let iy = oy * p.strides[0] + ky0 * p.dilations[0] - p.pads[0];
                        let ix = ox * p.strides[1] + kx0 * p.dilations[1] - p.pads[1];
                        ((ni * h + iy) * w + ix) * c
                    };
                    let count =
                        if p.count_include_pad { kyp.min(p.kernel[0]) * kxp.min(p.kernel[1]) } else { rows * cols };
                    visit(((ni * oh + oy) * ow + ox) * c, Taps { first, rows, cols, dy, dx }, count);
                }
            }
        }
    }

    /// Average pooling (f32): the sum of the valid taps' channel rows over the divisor.
    fn run_avg(&self, mem: &crate::exec::Memory) {
        let c = self.dims[3];
        let (x, y) = (mem.read::<f32>(self.x), mem.write::<f32>(self.y));
        self.for_each_window(|o, taps, count| average(&mut y[o..o + c], x, taps, count));
    }

    /// Max pooling in the element type: each output pixel starts at `lowest` and takes the
    /// `max` of every valid tap's channel row (vectorises, no conversion to f32; `f32::max`
    /// drops a NaN input, as the f32 accumulation this replaces did).
    fn run_max<T: bytemuck::Pod>(&self, mem: &crate::exec::Memory, lowest: T, max: impl Fn(T, T) -> T + Copy) {
        let c = self.dims[3];
        let (x, y) = (mem.read::<T>(self.x), mem.write::<T>(self.y));
        self.for_each_window(|o, taps, _| maximum(&mut y[o..o + c], x, taps, lowest, max));
    }
}

/// One output pixel of average pooling: `out` (its channels) = the sum of the taps' rows of
/// `x` over `count` (at least 1).
fn average(out: &mut [f32], x: &[f32], taps: Taps, count: usize) {
    let c = out.len();
    out.fill(0.0);
    taps.for_each(|r| out.iter_mut().zip(&x[r..r + c]).for_each(|(a, &v)| *a += v));
    let divisor = count.max(1) as f32;
    out.iter_mut().for_each(|a| *a /= divisor);
}

/// One output pixel of max pooling: `out` = `lowest`, then the `max` with every tap's row of
/// `x`.
fn maximum<T: Copy>(out: &mut [T], x: &[T], taps: Taps, lowest: T, max: impl Fn(T, T) -> T) {
    let c = out.len();
    out.fill(lowest);
    taps.for_each(|r| out.iter_mut().zip(&x[r..r + c]).for_each(|(o, &v)| *o = max(*o, v)));
}

impl crate::exec::Step for PoolStep {
    fn kernel(&self) -> String {
        format!("{}pool.nhwc.{}", if self.op.kind == PoolKind::Max { "max" } else { "avg" }, self.dtype)
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        use crate::tensor::DType;
        match (self.op.kind, self.dtype) {
            (PoolKind::Max, DType::I8) => self.run_max::<i8>(mem, i8::MIN, Ord::max),
            (PoolKind::Max, DType::U8) => self.run_max::<u8>(mem, 0, Ord::max),
            (PoolKind::Max, _) => self.run_max::<f32>(mem, f32::NEG_INFINITY, f32::max),
            // Average pooling is f32 (lower refused the other types).
            _ => self.run_avg(mem),
        }
    }
}

impl Pool {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if self.layout != Layout::Nhwc {
            crate::bail!("pooling runs in NHWC only");
        }
        let dtype = ctx.inputs[0].dtype;
        use crate::tensor::DType;
        if !matches!(dtype, DType::F32 | DType::I8 | DType::U8) {
            crate::bail!("pooling of {dtype:?} is not supported (f32, or int8 max pooling)");
        }
        if dtype != DType::F32 && self.kind == PoolKind::Avg {
            crate::bail!("integer average pooling needs requantization (handled by the int8 planner)");
        }
        let [n, c, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        let [_, _, oh, ow] = self.layout.nchw(ctx.outputs[0].shape)?;
        Ok(Box::new(PoolStep {
            op: self.clone(),
            dims: [n, h, w, c, oh, ow],
            dtype,
            columns: (0..ow)
                .map(|ox| window(ox, self.strides[1], self.dilations[1], self.pads[1], self.pads[3], self.kernel[1], w))
                .collect(),
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}

/// Run-time global pooling, NHWC f32: per image, reduce H·W rows of C channels.
struct GlobalPoolStep {
    kind: PoolKind,
    n: usize,
    hw: usize,
    c: usize,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for GlobalPoolStep {
    fn kernel(&self) -> String {
        format!("global{}pool.nhwc.f32", if self.kind == PoolKind::Max { "max" } else { "avg" })
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let (x, y) = (mem.read::<f32>(self.x), mem.write::<f32>(self.y));
        for ni in 0..self.n {
            let out = &mut y[ni * self.c..(ni + 1) * self.c];
            out.fill(if self.kind == PoolKind::Max { f32::NEG_INFINITY } else { 0.0 });
            // `max(1)`: zero channels make an empty image (chunks of 0 are not allowed).
            for row in x[ni * self.hw * self.c..(ni + 1) * self.hw * self.c].chunks_exact(self.c.max(1)) {
                match self.kind {
                    PoolKind::Max => out.iter_mut().zip(row).for_each(|(a, &v)| *a = a.max(v)),
                    PoolKind::Avg => out.iter_mut().zip(row).for_each(|(a, &v)| *a += v),
                }
            }
            if self.kind == PoolKind::Avg {
                let inv = 1.0 / self.hw as f32;
                out.iter_mut().for_each(|a| *a *= inv);
            }
        }
    }
}

impl GlobalPool {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if self.layout != Layout::Nhwc || ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            crate::bail!("global pooling runs on NHWC f32 here");
        }
        let [n, c, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        Ok(Box::new(GlobalPoolStep {
            kind: self.kind,
            n,
            hw: h * w,
            c,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
