//! Int8 transposed convolution (the heatmap head's upsampling) — what a
//! `DequantizeLinear → ConvTranspose → [Relu] → QuantizeLinear` sandwich becomes. By phases
//! where it can (`super::deconv_phases`, no dilation, a tile that reads columns in place):
//! each phase's outputs are an int8 convolution of the zero-bordered i16 input, computed and
//! requantized in the GEMM tile, each output written once. Otherwise exact integer
//! contributions from an int8 GEMM (`kh·kw·C_out` columns per input pixel, raw i32), added at
//! their output positions in i32 (col2im), then the per-channel requantization epilogue.
//!
//! Inputs: `x` (u8/i8), `w` (constant u8/i8 `[C_in, C_out, kh, kw]`, per-output-channel
//! quantization, one group), optional bias (constant i32 in units of `s_x · s_w`, or f32).

use super::conv_transpose::ConvTranspose;
use super::deconv_phases::Phases;
use super::padded_image::PaddedImage;
use super::qconv::{requant, widen, widened_range, ActQuant, QOutput, WeightQuant};
use super::Layout;
use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::kernels::column_runs::ColumnRuns;
use crate::kernels::isa::Isa;
use crate::kernels::qgemm::QGemm;
use crate::kernels::requant::{Output, Requant};
use crate::tensor::DType;
use crate::{bail, Result};

/// Bytes of column scratch per chunk of input rows.
const COLUMN_BUDGET: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QConvTranspose {
    /// Geometry and layout (group 1; its clamp is unused).
    pub deconv: ConvTranspose,
    pub x: ActQuant,
    pub w: WeightQuant,
    pub out: QOutput,
}

struct QConvTransposeStep {
    deconv: ConvTranspose,
    gemm: QGemm,
    requant: Requant,
    isa: Isa,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    rows_per_chunk: usize,
    zx: i16,
    signed: bool,
    x: Slot,
    y: Slot,
    /// Column chunk (i32).
    cols: Slot,
    /// Whole-image i32 accumulators.
    acc: Slot,
}

impl Step for QConvTransposeStep {
    fn kernel(&self) -> String {
        let (mr, nr) = self.gemm.tile_shape();
        format!(
            "deconv{}x{}.col2im.i8.qgemm{mr}x{nr}.{}",
            self.deconv.kernel[0],
            self.deconv.kernel[1],
            self.gemm.isa().name()
        )
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let [kh, kw] = self.deconv.kernel;
        let m = kh * kw * cout;
        let d = &self.deconv;
        let size = self.requant.out.size();
        let (x, y) = (mem.read::<u8>(self.x), mem.write::<u8>(self.y));
        let acc = mem.write::<i32>(self.acc);
        let (zx, signed) = (self.zx, self.signed);
        for i in 0..n {
            let img = &x[i * h * w * cin..(i + 1) * h * w * cin];
            acc.fill(0);
            for r0 in (0..h).step_by(self.rows_per_chunk) {
                let npos = self.rows_per_chunk.min(h - r0) * w;
                let fill = |j: usize, dst: &mut [i16]| widen(&img[(r0 * w + j) * cin..][..cin], signed, zx, dst);
                self.gemm.run(npos, fill, mem.write::<u8>(self.cols), m);
                let cols = mem.read::<i32>(self.cols);
                for p in 0..npos {
                    let (iy, ix) = (r0 + p / w, p % w);
                    for ky in 0..kh {
                        let oy = (iy * d.strides[0] + ky * d.dilations[0]) as isize - d.pads[0] as isize;
                        if oy < 0 || oy as usize >= oh {
                            continue;
                        }
                        for kx in 0..kw {
                            let ox = (ix * d.strides[1] + kx * d.dilations[1]) as isize - d.pads[1] as isize;
                            if ox < 0 || ox as usize >= ow {
                                continue;
                            }
                            let dst = &mut acc[(oy as usize * ow + ox as usize) * cout..][..cout];
                            let src = &cols[p * m + (ky * kw + kx) * cout..][..cout];
                            dst.iter_mut().zip(src).for_each(|(a, &v)| *a = a.wrapping_add(v));
                        }
                    }
                }
            }
            let out = &mut y[i * oh * ow * cout * size..(i + 1) * oh * ow * cout * size];
            for (px, o) in acc.chunks_exact(cout).zip(out.chunks_exact_mut(cout * size)) {
                self.requant.store_pixel(self.isa, px, o);
            }
        }
    }
}

/// The phased step: one GEMM per phase over the bordered input, read in place.
struct PhasedQConvTransposeStep {
    deconv: ConvTranspose,
    phases: Phases,
    /// Per phase (in `phases.list` order): its GEMM, and where each window row starts from
    /// the window's first value (`taps[1] · C_in` values per row, rounded up to whole pairs).
    gemms: Vec<(QGemm, Vec<usize>, usize)>,
    bordered: PaddedImage,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    zx: i16,
    signed: bool,
    x: Slot,
    y: Slot,
}

impl Step for PhasedQConvTransposeStep {
    fn kernel(&self) -> String {
        let ([kh, kw], [sy, sx]) = (self.deconv.kernel, self.deconv.strides);
        let (mr, nr) = self.gemms[0].0.tile_shape();
        format!("deconv{kh}x{kw}.phases{sy}x{sx}.i8.qgemm{mr}x{nr}.{}", self.gemms[0].0.isa().name())
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let size = self.gemms[0].0.out_size();
        let (x, y) = (mem.read::<u8>(self.x), mem.write::<u8>(self.y));
        let p = &self.phases;
        for i in 0..n {
            self.bordered.fill(&x[i * h * w * cin..(i + 1) * h * w * cin], self.signed, self.zx);
            let b = &self.bordered;
            let out = &mut y[i * oh * ow * cout * size..(i + 1) * oh * ow * cout * size];
            for (phase, (gemm, row_at, len)) in p.list.iter().zip(&mut self.gemms) {
                let ((oy0, rows, py0), (ox0, cols, px0)) = (p.rows(phase), p.columns(phase));
                for r in 0..rows {
                    let (oy, py) = (oy0 + r * p.strides[0], py0 + r);
                    let runs = ColumnRuns { row_at, len: *len };
                    let dst = &mut out[(oy * ow + ox0) * cout * size..];
                    let start = |j: usize| b.offset(py, px0 + j);
                    gemm.run_gathered(cols, b.values(), start, runs, dst, p.strides[1] * cout);
                }
            }
        }
    }
}

impl QConvTranspose {
    /// The phases this deconvolution runs by: on x86-64 (whose AVX2 and scalar tiles read
    /// columns in place), with one group, no dilation, and kernel taps in every phase. `None`:
    /// the col2im step.
    fn phases(&self, [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Option<Phases> {
        let d = &self.deconv;
        let phases = Phases::new(d, [h, w], [oh, ow])?;
        let usable =
            cfg!(target_arch = "x86_64") && d.group == 1 && phases.list.iter().all(|p| p.taps[0] * p.taps[1] > 0);
        usable.then_some(phases)
    }

    /// The phased step (see [`QConvTranspose::phases`]).
    fn lower_phased(&self, ctx: &LowerCtx, phases: Phases, raw: &[i64], rq: &Requant) -> Result<Box<dyn Step>> {
        let d = &self.deconv;
        let [n, cin, h, w] = d.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = d.layout.nchw(ctx.outputs[0].shape)?;
        let bordered = PaddedImage::new([h, w, cin], [phases.top, phases.left], phases.extent)?;
        let [kh, kw] = d.kernel;
        let (signed, zx) = (self.x.dtype == DType::I8, self.x.zero_point as i16);
        let mut gemms = Vec::with_capacity(phases.list.len());
        for phase in &phases.list {
            let [ty, tx] = phase.taps;
            let len = (tx * cin).next_multiple_of(2);
            let k = ty * len;
            // A[o, a · len + b · C_in + i] = w[i, o, ky, kx] − zw[o] for window tap (a, b).
            let mut a = vec![0i32; cout * k];
            for ([ta, tb], [ky, kx]) in phase.window(d.strides) {
                for o in 0..cout {
                    for i in 0..cin {
                        a[o * k + ta * len + tb * cin + i] =
                            raw[((i * cout + o) * kh + ky) * kw + kx] as i32 - self.w.zero_point[o];
                    }
                }
            }
            let gemm = QGemm::new(&a, cout, k, widened_range(signed, zx), rq.clone(), ctx.isa);
            if !gemm.takes_gathered() {
                bail!("the {} int8 tile does not read a transposed convolution's columns in place", gemm.isa().name());
            }
            gemms.push((gemm, (0..ty).map(|ta| bordered.offset(ta, 0)).collect(), len));
        }
        Ok(Box::new(PhasedQConvTransposeStep {
            deconv: d.clone(),
            phases,
            gemms,
            bordered,
            dims: [n, h, w, cin, oh, ow, cout],
            zx,
            signed,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }

    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        self.deconv.output_shape(x, w)
    }

    fn rows_per_chunk(&self, w: usize, m: usize) -> usize {
        (COLUMN_BUDGET / (w * m * 4).max(1)).max(1)
    }

    /// Arena scratch of the col2im step: one chunk of columns and the image's i32
    /// accumulators, bytes (none for the phased step, whose bordered input it owns).
    pub fn scratch_bytes(&self, x: &[usize], y: &[usize]) -> usize {
        let (Ok([_, _, h, w]), Ok([_, cout, oh, ow])) = (self.deconv.layout.nchw(x), self.deconv.layout.nchw(y)) else {
            return 0;
        };
        if self.phases([h, w], [oh, ow]).is_some() {
            return 0;
        }
        let m = self.deconv.kernel[0] * self.deconv.kernel[1] * cout;
        (self.rows_per_chunk(w, m).min(h) * w * m * 4).next_multiple_of(crate::exec::SLOT_ALIGN) + oh * ow * cout * 4
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if self.deconv.layout != Layout::Nhwc || self.deconv.group != 1 {
            bail!("int8 transposed convolution runs in NHWC with one group only");
        }
        let [n, cin, h, w] = self.deconv.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = self.deconv.layout.nchw(ctx.outputs[0].shape)?;
        let [kh, kw] = self.deconv.kernel;
        let (t, m) = (kh * kw, kh * kw * cout);
        let raw = ctx.inputs[1].constant()?.to_i64_vec();
        let bias = ctx.inputs.get(2).map(|b| b.constant()).transpose()?;
        let rq = requant(&self.x, &self.w, bias, &self.out)?;
        if let Some(phases) = self.phases([h, w], [oh, ow]) {
            return self.lower_phased(ctx, phases, &raw, &rq);
        }
        // A[(tap · C_out + o), ci] = w[ci, o, tap] − zw[o]
        let mut a = vec![0i32; m * cin];
        for ci in 0..cin {
            for o in 0..cout {
                for tap in 0..t {
                    a[(tap * cout + o) * cin + ci] = raw[(ci * cout + o) * t + tap] as i32 - self.w.zero_point[o];
                }
            }
        }
        let (zx, signed) = (self.x.zero_point as i16, self.x.dtype == DType::I8);
        let raw_acc = Requant::new(vec![0; m], vec![1.0; m], vec![0.0; m], Output::I32);
        let gemm = QGemm::new(&a, m, cin, widened_range(signed, zx), raw_acc, ctx.isa);
        let scratch =
            ctx.scratch.ok_or_else(|| crate::Error::invalid("transposed convolution needs scratch memory"))?;
        let rows = self.rows_per_chunk(w, m).min(h);
        let cols_bytes = (rows * w * m * 4).next_multiple_of(crate::exec::SLOT_ALIGN);
        let cols = Slot { bytes: rows * w * m * 4, ..scratch };
        let acc = Slot { offset: scratch.offset + cols_bytes, bytes: oh * ow * cout * 4, ..scratch };
        Ok(Box::new(QConvTransposeStep {
            deconv: self.deconv.clone(),
            gemm,
            requant: rq,
            isa: ctx.isa,
            dims: [n, h, w, cin, oh, ow, cout],
            rows_per_chunk: rows,
            zx,
            signed,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
            cols,
            acc,
        }))
    }
}
