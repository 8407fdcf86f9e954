//! Spatial resize of H and W (`Resize`, `Upsample`): nearest or bilinear.

use super::Layout;
use crate::Result;

/// How an output coordinate maps back to the input (ONNX `coordinate_transformation_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CoordMode {
    HalfPixel,
    PytorchHalfPixel,
    Asymmetric,
    AlignCorners,
}

/// Rounding of nearest-neighbour sampling (ONNX `nearest_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResizeMode {
    Nearest(NearestMode),
    Linear,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Resize {
    pub mode: ResizeMode,
    pub coord: CoordMode,
    /// Output height and width.
    pub out_hw: [usize; 2],
    /// Scale factors (output / input) for H and W as the model gives them; used by the
    /// coordinate transform exactly as ONNX defines it.
    pub scales: [f32; 2],
    pub layout: Layout,
}

impl Resize {
    pub fn output_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let [n, c, _, _] = self.layout.nchw(x)?;
        Ok(self.layout.shape(n, c, self.out_hw[0], self.out_hw[1]))
    }

    /// The input coordinate sampled for output coordinate `o` along an axis of input length
    /// `len_in`, output length `len_out` and scale `scale`.
    pub fn source_coord(&self, o: usize, len_in: usize, len_out: usize, scale: f32) -> f32 {
        let o = o as f32;
        match self.coord {
            CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
            CoordMode::PytorchHalfPixel => {
                if len_out > 1 {
                    (o + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            CoordMode::Asymmetric => o / scale,
            CoordMode::AlignCorners => {
                if len_out > 1 {
                    o * (len_in as f32 - 1.0) / (len_out as f32 - 1.0)
                } else {
                    0.0
                }
            }
        }
    }
}

impl NearestMode {
    /// The input index nearest to coordinate `x`, clamped to `[0, len)`.
    pub fn index(self, x: f32, len: usize) -> usize {
        let i = match self {
            NearestMode::RoundPreferFloor => {
                if x.fract() == 0.5 {
                    x.floor()
                } else {
                    x.round()
                }
            }
            NearestMode::RoundPreferCeil => {
                if x.fract() == 0.5 {
                    x.ceil()
                } else {
                    x.round()
                }
            }
            NearestMode::Floor => x.floor(),
            NearestMode::Ceil => x.ceil(),
        };
        (i.max(0.0) as usize).min(len - 1)
    }
}

/// Sampling of one output coordinate: two input indices and their weights.
#[derive(Clone, Copy, Debug)]
struct Tap {
    i0: usize,
    i1: usize,
    w0: f32,
    w1: f32,
}

/// Run-time resize, NHWC f32, from per-axis sampling tables built at plan time.
struct ResizeStep {
    linear: bool,
    n: usize,
    hw_in: [usize; 2],
    c: usize,
    ys: Vec<Tap>,
    xs: Vec<Tap>,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

impl crate::exec::Step for ResizeStep {
    fn kernel(&self) -> String {
        format!("resize.{}.nhwc.f32", if self.linear { "linear" } else { "nearest" })
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let (x, y) = (mem.read::<f32>(self.x), mem.write::<f32>(self.y));
        let [h, w] = self.hw_in;
        let c = self.c;
        let (oh, ow) = (self.ys.len(), self.xs.len());
        for ni in 0..self.n {
            let img = &x[ni * h * w * c..(ni + 1) * h * w * c];
            for (oy, ty) in self.ys.iter().enumerate() {
                for (ox, tx) in self.xs.iter().enumerate() {
                    let out = &mut y[((ni * oh + oy) * ow + ox) * c..][..c];
                    let px = |iy: usize, ix: usize| &img[(iy * w + ix) * c..][..c];
                    if self.linear {
                        let (dy0, dy1, dx0, dx1) = (ty.w0, ty.w1, tx.w0, tx.w1);
                        let p = [px(ty.i0, tx.i0), px(ty.i0, tx.i1), px(ty.i1, tx.i0), px(ty.i1, tx.i1)];
                        blend(out, p, [dx0 * dy0, dx1 * dy0, dx0 * dy1, dx1 * dy1]);
                    } else {
                        out.copy_from_slice(px(ty.i0, tx.i0));
                    }
                }
            }
        }
    }
}

/// `out[k] = w0·p0[k] + w1·p1[k] + w2·p2[k] + w3·p3[k]`, multiplied and summed left to right
/// (no fused multiply-add): the bilinear sum onnxruntime computes, in a loop the compiler
/// vectorises (every slice re-cut to `out.len()`, so no bounds check is left in it).
#[inline(always)]
fn blend(out: &mut [f32], p: [&[f32]; 4], w: [f32; 4]) {
    let n = out.len();
    let (p0, p1, p2, p3) = (&p[0][..n], &p[1][..n], &p[2][..n], &p[3][..n]);
    for k in 0..n {
        out[k] = w[0] * p0[k] + w[1] * p1[k] + w[2] * p2[k] + w[3] * p3[k];
    }
}

impl Resize {
    /// Sampling table along one axis.
    fn taps(&self, len_in: usize, len_out: usize, scale: f32) -> Vec<Tap> {
        (0..len_out)
            .map(|o| {
                let s = self.source_coord(o, len_in, len_out, scale);
                match self.mode {
                    ResizeMode::Nearest(m) => {
                        let i = m.index(s, len_in);
                        Tap { i0: i, i1: i, w0: 1.0, w1: 0.0 }
                    }
                    ResizeMode::Linear => {
                        // Each weight is the distance to the other tap, computed on its own
                        // (not as 1 - w), and 0.5 each where the taps coincide at the border:
                        // the arithmetic onnxruntime uses, so results match to the bit.
                        let s = s.clamp(0.0, (len_in - 1) as f32);
                        let i0 = s as usize;
                        let i1 = (i0 + 1).min(len_in - 1);
                        if i0 == i1 {
                            Tap { i0, i1, w0: 0.5, w1: 0.5 }
                        } else {
                            Tap { i0, i1, w0: (s - i1 as f32).abs(), w1: (s - i0 as f32).abs() }
                        }
                    }
                }
            })
            .collect()
    }

    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> Result<Box<dyn crate::exec::Step>> {
        if self.layout != Layout::Nhwc || ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            crate::bail!("resize runs on NHWC f32 here");
        }
        let [n, c, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        Ok(Box::new(ResizeStep {
            linear: self.mode == ResizeMode::Linear,
            n,
            hw_in: [h, w],
            c,
            ys: self.taps(h, self.out_hw[0], self.scales[0]),
            xs: self.taps(w, self.out_hw[1], self.scales[1]),
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
