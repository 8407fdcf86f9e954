//! 2-D transposed convolution (the heatmap head's upsampling), with an optional fused clamp.
//!
//! Inputs: `x` (rank 4, in `layout`), `w` (constant, `[C_in, C_out/group, kh, kw]` as ONNX
//! stores it), optional `b` (constant, `[C_out]`).

use super::{Clamp, Layout};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvTranspose {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Cropping of the full output: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Extra rows/columns added at the bottom/right.
    pub output_padding: [usize; 2],
    pub group: usize,
    pub layout: Layout,
    pub clamp: Clamp,
}

impl ConvTranspose {
    /// Output size along one axis before cropping by the pads; an error when it overflows
    /// (hostile strides or dilations) or the input or kernel is empty.
    pub fn full_size(input: usize, kernel: usize, stride: usize, dilation: usize, out_pad: usize) -> Result<usize> {
        let size = || {
            stride
                .checked_mul(input.checked_sub(1)?)?
                .checked_add(out_pad)?
                .checked_add(kernel.checked_sub(1)?.checked_mul(dilation)?)?
                .checked_add(1)
        };
        size().ok_or_else(|| {
            crate::Error::Limit(format!(
                "ConvTranspose output size of input {input}, kernel {kernel}, stride {stride}, dilation {dilation}, output padding {out_pad} is empty or overflows"
            ))
        })
    }

    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, wd] = self.layout.nchw(x)?;
        if w.len() != 4 || w[0] != c {
            bail!("ConvTranspose weight {w:?} must be [C_in={c}, C_out/group, kh, kw]");
        }
        if self.group == 0 || c % self.group != 0 {
            bail!("group {} does not divide input channels {c}", self.group);
        }
        if [w[2], w[3]] != self.kernel {
            bail!("ConvTranspose weight {w:?} disagrees with kernel_shape {:?}", self.kernel);
        }
        if h == 0 || wd == 0 || self.strides.contains(&0) || self.dilations.contains(&0) {
            bail!("ConvTranspose needs a non-empty input and positive strides and dilations");
        }
        let fh = Self::full_size(h, self.kernel[0], self.strides[0], self.dilations[0], self.output_padding[0])?;
        let fw = Self::full_size(wd, self.kernel[1], self.strides[1], self.dilations[1], self.output_padding[1])?;
        if self.pads[0] + self.pads[2] >= fh || self.pads[1] + self.pads[3] >= fw {
            bail!("ConvTranspose pads {:?} crop the whole {fh}x{fw} output", self.pads);
        }
        Ok(self.layout.shape(n, w[1] * self.group, fh - self.pads[0] - self.pads[2], fw - self.pads[1] - self.pads[3]))
    }

    /// Multiply-accumulates of one run (every input pixel scatters a full kernel).
    pub fn macs(&self, x: &[usize], w: &[usize]) -> u64 {
        x.iter().product::<usize>() as u64 * (w[1] * w[2] * w[3]) as u64
    }
}

use super::deconv_phases::Phases;
use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::kernels::gemm_f32::GemmF32;
#[cfg(target_arch = "x86_64")]
use crate::kernels::pointwise_f32::PointwiseF32;

/// Bytes of column scratch a transposed convolution may use per chunk of input rows.
const COLUMN_BUDGET: usize = 1 << 20;

/// Transposed convolution as GEMM + col2im, NHWC: for a chunk of input rows, one GEMM per
/// group computes every pixel's `kh·kw·C_out/g` contributions (`cols`, in arena scratch),
/// which are then added at their output positions. Output starts at the bias; the clamp
/// runs last.
struct ConvTransposeStep {
    op: ConvTranspose,
    gemms: Vec<GemmF32>,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    rows_per_chunk: usize,
    bias: Vec<f32>,
    x: Slot,
    y: Slot,
    scratch: Slot,
}

impl Step for ConvTransposeStep {
    fn kernel(&self) -> String {
        format!("deconv{}x{}.col2im.f32.{}", self.op.kernel[0], self.op.kernel[1], self.gemms[0].kernel_name())
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let groups = self.op.group;
        let (cg, og) = (cin / groups, cout / groups);
        let [kh, kw] = self.op.kernel;
        let m = kh * kw * og;
        let x = mem.read::<f32>(self.x);
        let y = mem.write::<f32>(self.y);
        for i in 0..n {
            let out = &mut y[i * oh * ow * cout..(i + 1) * oh * ow * cout];
            for px in out.chunks_exact_mut(cout) {
                px.copy_from_slice(&self.bias);
            }
            for r0 in (0..h).step_by(self.rows_per_chunk) {
                let rows = self.rows_per_chunk.min(h - r0);
                let npos = rows * w;
                for g in 0..groups {
                    let src = &x[((i * h + r0) * w) * cin + g * cg..];
                    self.gemms[g].run(npos, src, 1, cin, mem, self.scratch, 0, 1, m);
                    let cols = mem.read::<f32>(self.scratch);
                    for p in 0..npos {
                        let (iy, ix) = (r0 + p / w, p % w);
                        for ky in 0..kh {
                            let oy = (iy * self.op.strides[0] + ky * self.op.dilations[0]) as isize
                                - self.op.pads[0] as isize;
                            if oy < 0 || oy as usize >= oh {
                                continue;
                            }
                            for kx in 0..kw {
                                let ox = (ix * self.op.strides[1] + kx * self.op.dilations[1]) as isize
                                    - self.op.pads[1] as isize;
                                if ox < 0 || ox as usize >= ow {
                                    continue;
                                }
                                let dst = &mut out[(oy as usize * ow + ox as usize) * cout + g * og..][..og];
                                let c = &cols[p * m + (ky * kw + kx) * og..][..og];
                                dst.iter_mut().zip(c).for_each(|(d, &v)| *d += v);
                            }
                        }
                    }
                }
            }
            if !self.op.clamp.is_none() {
                out.iter_mut().for_each(|v| *v = self.op.clamp.apply(*v));
            }
        }
    }
}

/// Transposed convolution by phases, NHWC (see [`super::deconv_phases`]; x86-64, where the
/// tile is): the input is
/// copied into a zero border (arena scratch), then each phase's rows of outputs run as one
/// small convolution ([`PointwiseF32`] with the phase's taps), every `s_x`-th output pixel,
/// with the bias and clamp in registers.
#[cfg(target_arch = "x86_64")]
struct PhasedConvTransposeStep {
    op: ConvTranspose,
    phases: Phases,
    /// One per phase, in `phases.list` order.
    kernels: Vec<PointwiseF32>,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    x: Slot,
    y: Slot,
    bordered: Slot,
}

#[cfg(target_arch = "x86_64")]
impl Step for PhasedConvTransposeStep {
    fn kernel(&self) -> String {
        let ([kh, kw], [sy, sx]) = (self.op.kernel, self.op.strides);
        format!("deconv{kh}x{kw}.phases{sy}x{sx}.f32.{}", self.kernels[0].isa().name())
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let p = &self.phases;
        let [_, pw] = p.extent;
        let (x, y) = (mem.read::<f32>(self.x), mem.write::<f32>(self.y));
        let bordered = mem.write::<f32>(self.bordered);
        for i in 0..n {
            bordered.fill(0.0);
            for (r, row) in x[i * h * w * cin..(i + 1) * h * w * cin].chunks_exact(w * cin).enumerate() {
                let at = ((p.top + r) * pw + p.left) * cin;
                bordered[at..at + w * cin].copy_from_slice(row);
            }
            let out = &mut y[i * oh * ow * cout..(i + 1) * oh * ow * cout];
            for (phase, k) in p.list.iter().zip(&self.kernels) {
                let ((oy0, rows, py0), (ox0, cols, px0)) = (p.rows(phase), p.columns(phase));
                // Block by block through every row, so a block's weights are reused by all of
                // the phase's outputs while they are in cache.
                for b in 0..k.blocks() {
                    for r in 0..rows {
                        let (oy, py) = (oy0 + r * p.strides[0], py0 + r);
                        let from = [(py * pw + px0) * cin, cin];
                        let to = [(oy * ow + ox0) * cout, p.strides[1] * cout];
                        k.run_strided(bordered, from, cols, out, to, b..b + 1);
                    }
                }
            }
        }
    }
}

impl ConvTranspose {
    /// The phased step, when the kernel is not dilated, there is one group and this CPU has
    /// the tile (else `None`: the GEMM + col2im step).
    #[cfg(target_arch = "x86_64")]
    fn lower_phased(&self, ctx: &LowerCtx, wt: &[f32], bias: &[f32]) -> Result<Option<Box<dyn Step>>> {
        let [n, cin, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = self.layout.nchw(ctx.outputs[0].shape)?;
        let Some(phases) = Phases::new(self, [h, w], [oh, ow]).filter(|_| self.group == 1) else {
            return Ok(None);
        };
        let [kh, kw] = self.kernel;
        let mut kernels = Vec::with_capacity(phases.list.len());
        for phase in &phases.list {
            let taps = phase.window(self.strides).map(|([a, b], _)| (a * phases.extent[1] + b) * cin).collect();
            let k = phase.taps[0] * phase.taps[1] * cin;
            // w[o, t · C_in + i] = W[i, o, ky, kx] for window tap t at kernel (ky, kx).
            let mut a = vec![0.0; cout * k];
            for (t, (_, [ky, kx])) in phase.window(self.strides).enumerate() {
                for o in 0..cout {
                    for i in 0..cin {
                        a[o * k + t * cin + i] = wt[((i * cout + o) * kh + ky) * kw + kx];
                    }
                }
            }
            let Some(kernel) = PointwiseF32::with_taps(&a, cout, cin, taps, Some(bias), self.clamp, ctx.isa) else {
                return Ok(None);
            };
            kernels.push(kernel);
        }
        let scratch =
            ctx.scratch.ok_or_else(|| crate::Error::invalid("transposed convolution needs scratch memory"))?;
        let bordered = Slot { bytes: phases.bordered_len(cin) * 4, ..scratch };
        Ok(Some(Box::new(PhasedConvTransposeStep {
            op: self.clone(),
            phases,
            kernels,
            dims: [n, h, w, cin, oh, ow, cout],
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
            bordered,
        })))
    }

    fn rows_per_chunk(&self, w: usize, m: usize) -> usize {
        (COLUMN_BUDGET / (w * m * 4).max(1)).max(1)
    }

    /// Arena scratch, bytes: the bordered input of the phased step or one chunk of columns of
    /// the GEMM step, whichever is larger (the step is chosen with the CPU, when lowering).
    pub fn scratch_bytes(&self, x: &[usize], y: &[usize]) -> usize {
        let (Ok([_, cin, h, w]), Ok([_, cout, oh, ow])) = (self.layout.nchw(x), self.layout.nchw(y)) else {
            return 0;
        };
        let m = self.kernel[0] * self.kernel[1] * cout / self.group.max(1);
        let columns = self.rows_per_chunk(w, m).min(h) * w * m * 4;
        let bordered = Phases::new(self, [h, w], [oh, ow]).map_or(0, |p| p.bordered_len(cin).saturating_mul(4));
        columns.max(bordered)
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if self.layout != Layout::Nhwc || ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            bail!("float transposed convolution runs on NHWC f32 here");
        }
        let [n, cin, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = self.layout.nchw(ctx.outputs[0].shape)?;
        let wt = ctx.inputs[1].constant()?.cast(crate::tensor::DType::F32).to_f32_vec();
        let bias = match ctx.inputs.get(2) {
            Some(b) => b.constant()?.cast(crate::tensor::DType::F32).to_f32_vec(),
            None => vec![0.0; cout],
        };
        #[cfg(target_arch = "x86_64")]
        if let Some(step) = self.lower_phased(ctx, &wt, &bias)? {
            return Ok(step);
        }
        let (cg, og) = (cin / self.group, cout / self.group);
        let [kh, kw] = self.kernel;
        let m = kh * kw * og;
        let rows = self.rows_per_chunk(w, m).min(h);
        let gemms = (0..self.group)
            .map(|g| {
                // A[(ky·kw + kx)·og + o, ci] = W[g·cg + ci, o, ky, kx]
                let mut a = vec![0.0; m * cg];
                for ci in 0..cg {
                    for o in 0..og {
                        for t in 0..kh * kw {
                            a[(t * og + o) * cg + ci] = wt[((g * cg + ci) * og + o) * kh * kw + t];
                        }
                    }
                }
                GemmF32::new(&a, m, cg, rows * w, None, super::Clamp::NONE)
            })
            .collect::<Result<Vec<_>>>()?;
        let scratch =
            ctx.scratch.ok_or_else(|| crate::Error::invalid("transposed convolution needs scratch memory"))?;
        Ok(Box::new(ConvTransposeStep {
            op: self.clone(),
            gemms,
            dims: [n, h, w, cin, oh, ow, cout],
            rows_per_chunk: rows,
            bias,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
            scratch,
        }))
    }
}
