//! Int8 convolution and fully-connected layer: what `DequantizeLinear → Conv/Gemm/MatMul →
//! [Relu|Clip] → QuantizeLinear` sandwiches become. Exact integer accumulation, per-channel
//! requantization in the kernel epilogue (see [`crate::kernels::requant`]).
//!
//! Inputs: `x` (u8/i8, quantized with [`QConv::x`]), `w` (constant u8/i8, ONNX layout:
//! `[C_out, C_in/group, kh, kw]` for convolutions, `[N, K]` for [`QDense`]), optional bias
//! (constant i32 in units of `s_x · s_w` — exact — or f32 in real units).

use super::conv::Conv;
use super::padded_image::PaddedImage;
use super::quantize::{int_range, QParams};
use super::{Clamp, Layout};
use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::kernels::column_runs::ColumnRuns;
use crate::kernels::depthwise_i8::DepthwiseI8;
use crate::kernels::isa::Isa;
use crate::kernels::qdot::{self, QDot};
use crate::kernels::qgemm::QGemm;
use crate::kernels::requant::{Output, Requant};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use std::ops::RangeInclusive;

/// Per-tensor quantization of an activation: `real = (q − zero_point) · scale`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActQuant {
    pub scale: f32,
    pub zero_point: i32,
    /// I8 or U8.
    pub dtype: DType,
}

impl ActQuant {
    /// Checks the type (8-bit), the scale (finite, positive) and the zero point (in range).
    pub fn validate(&self) -> Result<()> {
        if !self.dtype.is_quantized() {
            bail!("an activation quantized to {} (i8 or u8 expected)", self.dtype);
        }
        QParams::per_tensor(self.scale, self.zero_point).validate(&[], self.dtype)
    }

    /// The quantized value of real `v` (ONNX QuantizeLinear, saturated to the type's range);
    /// infinities saturate.
    pub fn quantize(&self, v: f32) -> i32 {
        let (lo, hi) = if self.dtype == DType::I8 { (-128, 127) } else { (0, 255) };
        let q = (v / self.scale).round_ties_even() + self.zero_point as f32;
        if q.is_nan() {
            return self.zero_point.clamp(lo, hi);
        }
        q.clamp(lo as f32, hi as f32) as i32
    }
}

/// What an int8 convolution or matrix product produces.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum QOutput {
    /// 8-bit, quantized with `q`, clamped to `[lo, hi]` (the type's range, narrowed by a
    /// fused activation or a fake-quant range).
    Int8 { q: ActQuant, lo: i32, hi: i32 },
    /// f32 (the layer feeds float ops), with a fused clamp.
    Float { clamp: Clamp },
}

impl QOutput {
    /// Checks the output quantization and that its clamp is a non-empty range (of the
    /// type's codes, or of reals).
    pub fn validate(&self) -> Result<()> {
        match self {
            QOutput::Int8 { q, lo, hi } => {
                q.validate()?;
                check_code_range(*lo, *hi, q.dtype)
            }
            QOutput::Float { clamp } if !(clamp.min <= clamp.max) => {
                bail!("fused clamp [{}, {}] is empty", clamp.min, clamp.max)
            }
            QOutput::Float { .. } => Ok(()),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            QOutput::Int8 { q, .. } => q.dtype,
            QOutput::Float { .. } => DType::F32,
        }
    }
}

/// Per-output-channel weight quantization.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightQuant {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i32>,
}

impl WeightQuant {
    /// Checks one finite positive scale and one in-range zero point per output channel, for
    /// 8-bit weights of type `dtype`.
    pub fn validate(&self, channels: usize, dtype: DType) -> Result<()> {
        if !dtype.is_quantized() {
            bail!("int8 layer weights are {dtype} (i8 or u8 expected)");
        }
        let params = QParams { scale: self.scale.clone(), zero_point: self.zero_point.clone(), axis: Some(0) };
        params.validate(&[channels], dtype)
    }
}

/// Checks that `[lo, hi]` is a non-empty range of `dtype`'s codes.
pub(crate) fn check_code_range(lo: i32, hi: i32, dtype: DType) -> Result<()> {
    let (min, max) = int_range(dtype)?;
    if !(min <= lo && lo <= hi && hi <= max) {
        bail!("clamp [{lo}, {hi}] is not a range of {dtype} codes [{min}, {max}]");
    }
    Ok(())
}

/// Checks an int8 layer's quantization against its input facts (`x`, weights, optional
/// bias) and its `channels` output channels: what the int8 matching pass guarantees, and a
/// planned model file must too.
pub(crate) fn check_layer(
    x: &ActQuant,
    w: &WeightQuant,
    out: &QOutput,
    inputs: &[crate::graph::Fact],
    channels: usize,
) -> Result<()> {
    x.validate()?;
    if inputs[0].0 != x.dtype {
        bail!("input is {} but its quantization is {}", inputs[0].0, x.dtype);
    }
    w.validate(channels, inputs[1].0)?;
    out.validate()
}

/// Builds the requantization of `channels` outputs.
pub(crate) fn requant(x: &ActQuant, w: &WeightQuant, bias: Option<&Tensor>, out: &QOutput) -> Result<Requant> {
    let n = w.scale.len();
    let (mult, offset_div): (Vec<f32>, f32) = match out {
        QOutput::Int8 { q, .. } => (w.scale.iter().map(|&sw| (x.scale * sw) / q.scale).collect(), q.scale),
        QOutput::Float { .. } => (w.scale.iter().map(|&sw| x.scale * sw).collect(), 1.0),
    };
    let (bias_i, offset) = match bias {
        None => (vec![0; n], vec![0.0; n]),
        Some(b) if b.dtype() == DType::I32 => (b.as_slice::<i32>()?.to_vec(), vec![0.0; n]),
        Some(b) => (vec![0; n], b.to_f32_vec().iter().map(|v| v / offset_div).collect()),
    };
    if bias_i.len() != n || offset.len() != n {
        bail!("bias has {} values for {n} output channels", bias_i.len().max(offset.len()));
    }
    if let Some(c) = (0..n).find(|&c| !(mult[c].is_finite() && offset[c].is_finite())) {
        bail!("requantization of channel {c} is not finite (scale {}, bias offset {})", mult[c], offset[c]);
    }
    let output = match out {
        QOutput::Int8 { q, lo, hi } => {
            Output::Int8 { zero_point: q.zero_point, lo: *lo, hi: *hi, signed: q.dtype == DType::I8 }
        }
        QOutput::Float { clamp } => Output::F32 { lo: clamp.min, hi: clamp.max },
    };
    Ok(Requant::new(bias_i, mult, offset, output))
}

/// Weights as i32 with their zero point subtracted, `[C_out][rest]`.
fn centred_weights(w: &Tensor, wq: &WeightQuant) -> Result<Vec<i32>> {
    let raw = w.to_i64_vec();
    let per = raw.len() / wq.zero_point.len().max(1);
    Ok(raw.iter().enumerate().map(|(i, &v)| v as i32 - wq.zero_point[i / per]).collect())
}

/// Copies `n` input bytes minus the zero point into `dst` as i16.
#[inline]
pub(crate) fn widen(src: &[u8], signed: bool, zx: i16, dst: &mut [i16]) {
    if signed {
        dst.iter_mut().zip(src).for_each(|(d, &b)| *d = b as i8 as i16 - zx);
    } else {
        dst.iter_mut().zip(src).for_each(|(d, &b)| *d = b as i16 - zx);
    }
}

/// The int8 matrix product a layer runs: the channel-tiled GEMM, the same on pairs of
/// columns when the layer fills only half its tile, or dot products along K when there are
/// too few output channels to fill it at all.
enum Product {
    Tiled(QGemm),
    /// 5-8 output channels, half a 16-channel tile: columns `2j` and `2j + 1` go in as one
    /// column of `2k` inputs to a block-diagonal product `[[W, 0], [0, W]]`, whose 16 outputs
    /// are the two columns' `m` channels side by side — where outputs are written
    /// channel-contiguous (`ldo == m`), full-width tiles and stores at half the tiles per
    /// column. `single` computes an odd last column and outputs with other strides.
    Paired {
        pairs: QGemm,
        single: QGemm,
    },
    Dot(QDot),
}

impl Product {
    /// `m x k` weights (zero points subtracted) and the values `fill` can write: see
    /// [`QGemm::new`].
    fn new(w: &[i32], m: usize, k: usize, x_range: RangeInclusive<i32>, requant: Requant, isa: Isa) -> Product {
        if m <= qdot::MAX_M {
            return Product::Dot(QDot::new(w, m, k, requant, isa));
        }
        let pairs = requant.repeated(2);
        let single = QGemm::new(w, m, k, x_range.clone(), requant, isa);
        if 2 * m > single.tile_shape().0 {
            return Product::Tiled(single);
        }
        let mut block_diagonal = vec![0i32; 4 * m * k];
        for (c, row) in w.chunks_exact(k).enumerate() {
            block_diagonal[c * 2 * k..][..k].copy_from_slice(row);
            block_diagonal[(m + c) * 2 * k + k..][..k].copy_from_slice(row);
        }
        let pairs = QGemm::new(&block_diagonal, 2 * m, 2 * k, x_range, pairs, isa);
        Product::Paired { pairs, single }
    }

    /// See [`QGemm::run`].
    #[inline]
    fn run(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [i16]), out: &mut [u8], ldo: usize) {
        match self {
            Product::Tiled(g) => g.run(n, fill, out, ldo),
            Product::Paired { pairs, single } if ldo == single.m() => {
                let k = single.k();
                let fill_pair = |j: usize, d: &mut [i16]| {
                    fill(2 * j, &mut d[..k]);
                    fill(2 * j + 1, &mut d[k..]);
                };
                pairs.run(n / 2, fill_pair, out, 2 * ldo);
                if n % 2 == 1 {
                    let last = &mut out[(n - 1) * ldo * single.out_size()..];
                    single.run(1, |_, d| fill(n - 1, d), last, ldo);
                }
            }
            Product::Paired { single, .. } => single.run(n, fill, out, ldo),
            Product::Dot(d) => d.run(n, fill, out, ldo),
        }
    }

    /// Whether [`Product::run_columns`] can take this product's columns as `k` contiguous
    /// widened values each.
    fn takes_columns(&self) -> bool {
        match self {
            Product::Tiled(g) => g.takes_columns(),
            Product::Paired { pairs, single } => pairs.takes_columns() && single.takes_columns(),
            Product::Dot(_) => true,
        }
    }

    /// Like [`Product::run`], on columns already widened: column `j` is
    /// `cols[j * k..(j + 1) * k]`. Needs [`Product::takes_columns`].
    fn run_columns(&mut self, n: usize, cols: &[i16], out: &mut [u8], ldo: usize) {
        let k = self.k();
        match self {
            Product::Tiled(g) => g.run_columns(n, cols, out, ldo),
            Product::Paired { pairs, single } if ldo == single.m() => {
                // Two neighbouring columns are one column of the block-diagonal product.
                pairs.run_columns(n / 2, cols, out, 2 * ldo);
                if n % 2 == 1 {
                    let last = &mut out[(n - 1) * ldo * single.out_size()..];
                    single.run_columns(1, &cols[(n - 1) * k..n * k], last, ldo);
                }
            }
            Product::Paired { single, .. } => single.run_columns(n, cols, out, ldo),
            Product::Dot(d) => d.run(n, |j, dst| dst.copy_from_slice(&cols[j * k..(j + 1) * k]), out, ldo),
        }
    }

    /// Whether [`Product::run_gathered`] can read this product's columns in place.
    fn takes_gathered(&self) -> bool {
        match self {
            Product::Tiled(g) => g.takes_gathered(),
            Product::Dot(d) => d.takes_gathered(),
            // Pairing thin layers' columns pays more than reading them in place.
            Product::Paired { .. } => false,
        }
    }

    /// See [`QGemm::run_gathered`]. Needs [`Product::takes_gathered`].
    fn run_gathered(
        &mut self,
        n: usize,
        src: &[i16],
        start: impl Fn(usize) -> usize,
        runs: ColumnRuns,
        out: &mut [u8],
        ldo: usize,
    ) {
        match self {
            Product::Tiled(g) => g.run_gathered(n, src, start, runs, out, ldo),
            Product::Dot(d) => d.run_gathered(n, src, start, runs, out, ldo),
            Product::Paired { single, .. } => single.run_gathered(n, src, start, runs, out, ldo),
        }
    }

    fn k(&self) -> usize {
        match self {
            Product::Tiled(g) | Product::Paired { single: g, .. } => g.k(),
            Product::Dot(d) => d.k(),
        }
    }

    /// The kernel's name for `qpose inspect`: `qgemm16x6.avx2`, `qgemm8x4.neon32`,
    /// `qgemm16x6.pairs.avx2`, `qdot.avx2`.
    fn name(&self) -> String {
        let tiled = |g: &QGemm, how: &str| {
            let (mr, nr) = g.tile_shape();
            format!("qgemm{mr}x{nr}.{how}{}", g.isa().name())
        };
        match self {
            Product::Tiled(g) => tiled(g, ""),
            Product::Paired { pairs, .. } => tiled(pairs, "pairs."),
            Product::Dot(d) => format!("qdot.{}", d.isa().name()),
        }
    }
}

/// Every value [`widen`] can write for this input type and zero point, and the zero of
/// padding: the `x_range` of [`QGemm::new`].
pub(crate) fn widened_range(signed: bool, zx: i16) -> RangeInclusive<i32> {
    let lo = if signed { -128 } else { 0 } - zx as i32;
    lo.min(0)..=(lo + 255).max(0)
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QConv {
    /// Geometry and layout (its clamp is unused: activations fuse into `out`).
    pub conv: Conv,
    pub x: ActQuant,
    pub w: WeightQuant,
    pub out: QOutput,
}

/// How a planned int8 convolution computes.
enum Plan {
    Depthwise(DepthwiseI8),
    /// One product per group; im2col when not pointwise.
    Gemm(Vec<Product>),
}

struct QConvStep {
    conv: Conv,
    plan: Plan,
    /// Arena scratch: for a pointwise convolution whose products take contiguous columns,
    /// the whole input widened to i16 (minus its zero point) — one pass over the image
    /// instead of one `widen` call per column; for a depthwise one, its border patch.
    scratch: Option<Slot>,
    /// The input, widened into its padding, for im2col of ungrouped undilated kernels.
    padded: Option<PaddedImage>,
    /// With `padded`: an im2col column in the padded image, kernel row `ky` at
    /// `row_at[ky]` from the column's first value, each `kw · cin` values rounded up to whole
    /// K pairs (`row_len`; the extra value meets a zero weight).
    row_at: Vec<usize>,
    row_len: usize,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    zx: i16,
    signed: bool,
    out_size: usize,
    x: Slot,
    y: Slot,
}

impl Step for QConvStep {
    fn kernel(&self) -> String {
        let [kh, kw] = self.conv.kernel;
        match &self.plan {
            Plan::Depthwise(d) => format!("depthwise{kh}x{kw}.i8.{}", d.isa().name()),
            Plan::Gemm(g) if kh * kw == 1 && self.conv.strides == [1, 1] => format!("pointwise.i8.{}", g[0].name()),
            // im2col columns read in place from the padded image.
            Plan::Gemm(g) if self.padded.is_some() && g[0].takes_gathered() => {
                format!("gather{kh}x{kw}.i8.{}", g[0].name())
            }
            Plan::Gemm(g) => format!("im2col{kh}x{kw}.i8.{}", g[0].name()),
        }
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let x = mem.read::<u8>(self.x);
        let y = mem.write::<u8>(self.y);
        let (xi, yi) = (h * w * cin, oh * ow * cout * self.out_size);
        let c = &self.conv;
        let (zx, signed) = (self.zx, self.signed);
        for i in 0..n {
            let img = &x[i * xi..(i + 1) * xi];
            let out = &mut y[i * yi..(i + 1) * yi];
            match &mut self.plan {
                Plan::Depthwise(d) => d.run(img, out, self.scratch.map_or(&mut [], |slot| mem.write::<u8>(slot))),
                Plan::Gemm(gemms) => {
                    let groups = gemms.len();
                    let (cg, og) = (cin / groups, cout / groups);
                    let [kh, kw] = c.kernel;
                    let pointwise = kh * kw == 1 && c.strides == [1, 1] && c.pads.iter().all(|&p| p == 0);
                    if let (Some(slot), [gemm]) = (self.scratch, gemms.as_mut_slice()) {
                        let cols = &mut mem.write::<i16>(slot)[..img.len()];
                        widen(img, signed, zx, cols);
                        gemm.run_columns(oh * ow, cols, out, cout);
                        continue;
                    }
                    for (g, gemm) in gemms.iter_mut().enumerate() {
                        let dst = &mut out[g * og * self.out_size..];
                        if pointwise {
                            // Output pixel j reads input pixel j: no index arithmetic.
                            let fill = |j: usize, d: &mut [i16]| widen(&img[j * cin + g * cg..][..cg], signed, zx, d);
                            gemm.run(oh * ow, fill, dst, cout);
                            continue;
                        }
                        if let Some(p) = self.padded.as_mut() {
                            p.fill(img, signed, zx);
                            let p = &*p;
                            let start = |j: usize| p.offset(j / ow * c.strides[0], j % ow * c.strides[1]);
                            let runs = ColumnRuns { row_at: &self.row_at, len: self.row_len };
                            if gemm.takes_gathered() {
                                gemm.run_gathered(oh * ow, p.values(), start, runs, dst, cout);
                                continue;
                            }
                            let row = kw * cin;
                            let fill = |j: usize, dst: &mut [i16]| {
                                let at = start(j);
                                for (d, &r) in dst.chunks_exact_mut(runs.len).zip(runs.row_at) {
                                    d[..row].copy_from_slice(&p.values()[at + r..at + r + row]);
                                    if row < runs.len {
                                        d[row] = 0;
                                    }
                                }
                            };
                            gemm.run(oh * ow, fill, dst, cout);
                            continue;
                        }
                        let fill = |j: usize, dst: &mut [i16]| {
                            let (oy, ox) = (j / ow, j % ow);
                            for ky in 0..kh {
                                let iy = (oy * c.strides[0] + ky * c.dilations[0]) as isize - c.pads[0] as isize;
                                for kx in 0..kw {
                                    let ix = (ox * c.strides[1] + kx * c.dilations[1]) as isize - c.pads[1] as isize;
                                    let d = &mut dst[(ky * kw + kx) * cg..][..cg];
                                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                        d.fill(0);
                                    } else {
                                        widen(
                                            &img[(iy as usize * w + ix as usize) * cin + g * cg..][..cg],
                                            signed,
                                            zx,
                                            d,
                                        );
                                    }
                                }
                            }
                        };
                        gemm.run(oh * ow, fill, dst, cout);
                    }
                }
            }
        }
    }
}

impl QConv {
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        self.conv.output_shape(x, w)
    }

    /// Arena scratch the step needs, bytes: a pointwise convolution widens one image to i16,
    /// a depthwise one copies its border pixels' inputs (`DepthwiseI8::scratch_bytes`).
    pub fn scratch_bytes(&self, x: &[usize], y: &[usize]) -> usize {
        match (self.conv.layout.nchw(x), self.conv.layout.nchw(y)) {
            (Ok([_, c, h, w]), _) if self.conv.is_pointwise() => h * w * c * 2,
            (Ok([_, c, h, w]), Ok([_, co, oh, ow])) if self.conv.is_depthwise(c, co) => {
                DepthwiseI8::scratch_bytes(&self.conv.geometry([h, w, c], [oh, ow]))
            }
            _ => 0,
        }
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if self.conv.layout != Layout::Nhwc {
            bail!("int8 convolution runs in NHWC only");
        }
        let [n, cin, h, w] = self.conv.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = self.conv.layout.nchw(ctx.outputs[0].shape)?;
        let bias = ctx.inputs.get(2).map(|b| b.constant()).transpose()?;
        let rq = requant(&self.x, &self.w, bias, &self.out)?;
        let wc = centred_weights(ctx.inputs[1].constant()?, &self.w)?;
        let signed = self.x.dtype == DType::I8;
        let c = &self.conv;
        let depthwise = c.is_depthwise(cin, cout);
        let padded = padded_input(c, [h, w, cin], [oh, ow], !depthwise)?;
        let [kh, kw] = c.kernel;
        // im2col rows of the padded image hold whole K pairs (see `QConvStep::row_at`).
        let row = kw * cin / c.group;
        let row_pad = if padded.is_some() { row.next_multiple_of(2) } else { row };
        let row_at = match &padded {
            Some(p) => (0..kh).map(|ky| p.offset(ky, 0)).collect(),
            None => Vec::new(),
        };
        let plan = if depthwise {
            let geometry = c.geometry([h, w, cin], [oh, ow]);
            Plan::Depthwise(DepthwiseI8::new(geometry, &wc, rq, self.x.zero_point, signed, ctx.isa))
        } else {
            let (cg, og) = (cin / c.group, cout / c.group);
            let k = kh * row_pad;
            let gemms = (0..c.group)
                .map(|g| {
                    // [og, cg, kh, kw] → [og, kh, kw, cg] (rows `row_pad` apart), the order
                    // patches are gathered in.
                    let mut a = vec![0i32; og * k];
                    for o in 0..og {
                        for ci in 0..cg {
                            for t in 0..kh * kw {
                                a[o * k + t / kw * row_pad + t % kw * cg + ci] =
                                    wc[((g * og + o) * cg + ci) * kh * kw + t];
                            }
                        }
                    }
                    let sub = |v: &[i32]| v[g * og..(g + 1) * og].to_vec();
                    let subf = |v: &[f32]| v[g * og..(g + 1) * og].to_vec();
                    let r = Requant::new(sub(&rq.bias), subf(&rq.mult), subf(&rq.offset), rq.out);
                    Product::new(&a, og, k, widened_range(signed, self.x.zero_point as i16), r, ctx.isa)
                })
                .collect();
            Plan::Gemm(gemms)
        };
        let scratch = match &plan {
            Plan::Gemm(g) if c.is_pointwise() && g[0].takes_columns() => ctx.scratch,
            Plan::Depthwise(_) => ctx.scratch,
            _ => None,
        };
        Ok(Box::new(QConvStep {
            conv: c.clone(),
            padded,
            row_at,
            row_len: row_pad,
            plan,
            scratch,
            dims: [n, h, w, cin, oh, ow, cout],
            zx: self.x.zero_point as i16,
            signed,
            out_size: self.out.dtype().size(),
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}

/// The zero-bordered input im2col reads, for an ungrouped undilated non-pointwise
/// convolution whose pads are smaller than its kernel (so the copy is at most the image plus
/// two kernel borders) and whose windows all lie inside `pads + image`.
fn padded_input(c: &Conv, [h, w, cin]: [usize; 3], [oh, ow]: [usize; 2], gemm: bool) -> Result<Option<PaddedImage>> {
    let [kh, kw] = c.kernel;
    let [top, left, bottom, right] = c.pads;
    let (ph, pw) = (top + h + bottom, left + w + right);
    let thin_border = top.max(bottom) < kh && left.max(right) < kw;
    let inside = oh >= 1 && ow >= 1 && (oh - 1) * c.strides[0] + kh <= ph && (ow - 1) * c.strides[1] + kw <= pw;
    if !gemm || c.group != 1 || c.is_pointwise() || c.dilations != [1, 1] || !thin_border || !inside {
        return Ok(None);
    }
    PaddedImage::new([h, w, cin], [top, left], [ph, pw]).map(Some)
}

/// Int8 fully-connected layer: `x [..., K]`, weights `[N, K]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QDense {
    pub x: ActQuant,
    pub w: WeightQuant,
    pub out: QOutput,
}

struct QDenseStep {
    gemm: Product,
    rows: usize,
    n: usize,
    zx: i16,
    signed: bool,
    x: Slot,
    y: Slot,
}

impl Step for QDenseStep {
    fn kernel(&self) -> String {
        format!("dense.i8.{}", self.gemm.name())
    }

    fn run(&mut self, mem: &Memory) {
        let x = mem.read::<u8>(self.x);
        let k = self.gemm.k();
        let (zx, signed) = (self.zx, self.signed);
        self.gemm.run(
            self.rows,
            |j, dst| widen(&x[j * k..(j + 1) * k], signed, zx, dst),
            mem.write::<u8>(self.y),
            self.n,
        );
    }
}

impl QDense {
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        super::dense::Dense { clamp: Clamp::NONE }.output_shape(x, w)
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        let wt = ctx.inputs[1].constant()?;
        let (n, k) = (wt.shape()[0], wt.shape()[1]);
        let bias = ctx.inputs.get(2).map(|b| b.constant()).transpose()?;
        let rq = requant(&self.x, &self.w, bias, &self.out)?;
        let (zx, signed) = (self.x.zero_point as i16, self.x.dtype == DType::I8);
        let gemm = Product::new(&centred_weights(wt, &self.w)?, n, k, widened_range(signed, zx), rq, ctx.isa);
        Ok(Box::new(QDenseStep {
            gemm,
            rows: ctx.inputs[0].numel() / k.max(1),
            n,
            zx,
            signed,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
