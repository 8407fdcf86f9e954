//! 2-D convolution (regular, grouped, depthwise), with an optional fused clamp.
//!
//! Inputs: `x` (rank 4, in `layout`), `w` (constant, `[C_out, C_in/group, kh, kw]` as ONNX
//! stores it), optional `b` (constant, `[C_out]`).

use super::{window_out, Clamp, Layout};
use crate::{bail, Result};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conv {
    /// Kernel height, width.
    pub kernel: [usize; 2],
    /// Vertical, horizontal stride.
    pub strides: [usize; 2],
    /// Vertical, horizontal dilation.
    pub dilations: [usize; 2],
    /// Zero padding: top, left, bottom, right.
    pub pads: [usize; 4],
    pub group: usize,
    pub layout: Layout,
    /// Activation fused into the output.
    pub clamp: Clamp,
}

impl Conv {
    /// Output shape for input `x` and weight shape `w`.
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        let [n, c, h, wd] = self.layout.nchw(x)?;
        if w.len() != 4 {
            bail!("Conv weight must be rank 4 [C_out, C_in/group, kh, kw], got {w:?}");
        }
        if self.group == 0 || c % self.group != 0 || w[0] % self.group != 0 {
            bail!("group {} does not divide input channels {c} and output channels {}", self.group, w[0]);
        }
        if w[1] * self.group != c {
            bail!("Conv weight {w:?} expects {} input channels, input has {c}", w[1] * self.group);
        }
        if [w[2], w[3]] != self.kernel {
            bail!("Conv weight {w:?} disagrees with kernel_shape {:?}", self.kernel);
        }
        let oh = window_out(h, self.kernel[0], self.strides[0], self.dilations[0], self.pads[0], self.pads[2], false)?;
        let ow = window_out(wd, self.kernel[1], self.strides[1], self.dilations[1], self.pads[1], self.pads[3], false)?;
        Ok(self.layout.shape(n, w[0], oh, ow))
    }

    /// Whether every group has exactly one input and one output channel.
    pub fn is_depthwise(&self, c_in: usize, c_out: usize) -> bool {
        self.group == c_in && c_in == c_out && self.group > 1
    }

    /// Whether the direct kernel (no im2col) takes this convolution: one group, a spatial
    /// kernel, few input and output channels (stems, single-map heads).
    pub fn is_direct(&self, c_in: usize, c_out: usize) -> bool {
        self.group == 1 && !self.is_pointwise() && c_out <= MAX_COUT && c_in <= MAX_COUT
    }

    /// The spatial geometry of one image for the direct kernels: input `[h, w, c_in]`, output
    /// `[oh, ow]`.
    pub fn geometry(&self, [h, w, c]: [usize; 3], [oh, ow]: [usize; 2]) -> Geometry {
        Geometry {
            h,
            w,
            c,
            oh,
            ow,
            kh: self.kernel[0],
            kw: self.kernel[1],
            stride: self.strides,
            dilation: self.dilations,
            pad_tl: [self.pads[0], self.pads[1]],
        }
    }

    /// Multiply-accumulates of one run.
    pub fn macs(&self, out_shape: &[usize], w: &[usize]) -> u64 {
        out_shape.iter().product::<usize>() as u64 * (w[1] * w[2] * w[3]) as u64
    }
}

use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::kernels::conv_direct_f32::{ConvDirectF32, MAX_COUT};
use crate::kernels::depthwise_f32::{DepthwiseF32, Geometry};
use crate::kernels::gemm_f32::GemmF32;
#[cfg(target_arch = "x86_64")]
use crate::kernels::pointwise_f32::PointwiseF32;

/// A direct convolution kernel that convolves one NHWC image at a time.
trait ImageKernel {
    /// The kernel's name for `qpose inspect` / profiles.
    fn name(&self) -> String;
    /// Floats of one input image and one output image.
    fn image_lens(&self) -> (usize, usize);
    fn run_image(&mut self, x: &[f32], y: &mut [f32]);
}

impl ImageKernel for DepthwiseF32 {
    fn name(&self) -> String {
        let g = self.geometry;
        format!("depthwise{}x{}.f32.{}", g.kh, g.kw, self.isa().name())
    }

    fn image_lens(&self) -> (usize, usize) {
        let g = self.geometry;
        (g.h * g.w * g.c, g.oh * g.ow * g.c)
    }

    fn run_image(&mut self, x: &[f32], y: &mut [f32]) {
        self.run(x, y)
    }
}

impl ImageKernel for ConvDirectF32 {
    fn name(&self) -> String {
        let g = self.geometry;
        format!("{}{}x{}.f32.{}", self.variant(), g.kh, g.kw, self.isa().name())
    }

    fn image_lens(&self) -> (usize, usize) {
        let g = self.geometry;
        (g.h * g.w * g.c, g.oh * g.ow * self.cout)
    }

    fn run_image(&mut self, x: &[f32], y: &mut [f32]) {
        self.run(x, y)
    }
}

/// A depthwise or few-channel convolution: one direct-kernel call per image.
struct PerImageStep<K> {
    kernel: K,
    n: usize,
    x: Slot,
    y: Slot,
}

impl<K: ImageKernel + Send> Step for PerImageStep<K> {
    fn kernel(&self) -> String {
        self.kernel.name()
    }

    fn run(&mut self, mem: &Memory) {
        let (xi, yi) = self.kernel.image_lens();
        let (x, y) = (mem.read::<f32>(self.x), mem.write::<f32>(self.y));
        for i in 0..self.n {
            self.kernel.run_image(&x[i * xi..(i + 1) * xi], &mut y[i * yi..(i + 1) * yi]);
        }
    }
}

/// 1x1 stride-1 unpadded convolution on the NHWC input: qpose's pointwise kernel where the
/// ISA has one, else one tract GEMM per image (`B` = input as `[C_in, H·W]`, `C` = output as
/// `[C_out, H·W]` transposed).
struct PointwiseStep {
    product: PointwiseProduct,
    n: usize,
    hw: usize,
    cin: usize,
    cout: usize,
    x: Slot,
    y: Slot,
}

enum PointwiseProduct {
    #[cfg(target_arch = "x86_64")]
    Own(PointwiseF32),
    Gemm(Box<GemmF32>),
}

impl Step for PointwiseStep {
    fn kernel(&self) -> String {
        match &self.product {
            #[cfg(target_arch = "x86_64")]
            PointwiseProduct::Own(p) => format!("pointwise.f32.{}", p.isa().name()),
            PointwiseProduct::Gemm(g) => format!("pointwise.f32.{}", g.kernel_name()),
        }
    }

    fn run(&mut self, mem: &Memory) {
        let x = mem.read::<f32>(self.x);
        let (xi, yi) = (self.hw * self.cin, self.hw * self.cout);
        for i in 0..self.n {
            let img = &x[i * xi..(i + 1) * xi];
            match &mut self.product {
                #[cfg(target_arch = "x86_64")]
                PointwiseProduct::Own(p) => p.run(img, self.hw, &mut mem.write::<f32>(self.y)[i * yi..(i + 1) * yi]),
                PointwiseProduct::Gemm(g) => g.run(self.hw, img, 1, self.cin, mem, self.y, i * yi, 1, self.cout),
            }
        }
    }
}

/// Any other convolution: per image and group, gather patches (`[H_out·W_out, kh·kw·C_in/g]`,
/// channels innermost, zeros for padding) into arena scratch, then one GEMM.
struct Im2colStep {
    conv: Conv,
    gemms: Vec<GemmF32>,
    /// N, H, W, C_in, H_out, W_out, C_out.
    dims: [usize; 7],
    x: Slot,
    y: Slot,
    scratch: Slot,
}

impl Im2colStep {
    fn patches(&self, img: &[f32], g: usize, out: &mut [f32]) {
        let [_, h, w, cin, oh, ow, _] = self.dims;
        let cg = cin / self.conv.group;
        let [kh, kw] = self.conv.kernel;
        let k = kh * kw * cg;
        for oy in 0..oh {
            for ox in 0..ow {
                let row = &mut out[(oy * ow + ox) * k..][..k];
                for ky in 0..kh {
                    let iy =
                        (oy * self.conv.strides[0] + ky * self.conv.dilations[0]) as isize - self.conv.pads[0] as isize;
                    for kx in 0..kw {
                        let ix = (ox * self.conv.strides[1] + kx * self.conv.dilations[1]) as isize
                            - self.conv.pads[1] as isize;
                        let dst = &mut row[(ky * kw + kx) * cg..][..cg];
                        if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                            dst.fill(0.0);
                        } else {
                            dst.copy_from_slice(&img[(iy as usize * w + ix as usize) * cin + g * cg..][..cg]);
                        }
                    }
                }
            }
        }
    }
}

impl Step for Im2colStep {
    fn kernel(&self) -> String {
        format!("im2col{}x{}.f32.{}", self.conv.kernel[0], self.conv.kernel[1], self.gemms[0].kernel_name())
    }

    fn run(&mut self, mem: &Memory) {
        let [n, h, w, cin, oh, ow, cout] = self.dims;
        let groups = self.conv.group;
        let x = mem.read::<f32>(self.x);
        let k = self.conv.kernel[0] * self.conv.kernel[1] * cin / groups;
        for i in 0..n {
            let img = &x[i * h * w * cin..(i + 1) * h * w * cin];
            for g in 0..groups {
                self.patches(img, g, &mut mem.write::<f32>(self.scratch)[..oh * ow * k]);
                let patches = &mem.read::<f32>(self.scratch)[..oh * ow * k];
                self.gemms[g].run(
                    oh * ow,
                    patches,
                    1,
                    k,
                    mem,
                    self.y,
                    i * oh * ow * cout + g * (cout / groups),
                    1,
                    cout,
                );
            }
        }
    }
}

impl Conv {
    /// Whether this convolution is a plain GEMM on its NHWC input.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.strides == [1, 1] && self.pads == [0; 4] && self.group == 1
    }

    /// Arena scratch the lowering needs (im2col patches), bytes.
    pub fn scratch_bytes(&self, x: &[usize], y: &[usize]) -> usize {
        let (Ok([_, cin, _, _]), Ok([_, cout, oh, ow])) = (self.layout.nchw(x), self.layout.nchw(y)) else {
            return 0;
        };
        if self.is_pointwise() || self.is_depthwise(cin, cout) || self.is_direct(cin, cout) {
            0
        } else {
            oh * ow * self.kernel[0] * self.kernel[1] * (cin / self.group.max(1)) * 4
        }
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if self.layout != Layout::Nhwc || ctx.inputs[0].dtype != crate::tensor::DType::F32 {
            bail!("float convolution runs on NHWC f32 here");
        }
        let [n, cin, h, w] = self.layout.nchw(ctx.inputs[0].shape)?;
        let [_, cout, oh, ow] = self.layout.nchw(ctx.outputs[0].shape)?;
        let wt = ctx.inputs[1].constant()?.cast(crate::tensor::DType::F32).to_f32_vec();
        let bias = ctx
            .inputs
            .get(2)
            .map(|b| b.constant().map(|t| t.cast(crate::tensor::DType::F32).to_f32_vec()))
            .transpose()?;
        let (x, y) = (ctx.inputs[0].slot()?, ctx.outputs[0].slot()?);
        let geometry = self.geometry([h, w, cin], [oh, ow]);
        if self.is_depthwise(cin, cout) {
            let kernel = DepthwiseF32::new(geometry, &wt, bias.as_deref(), self.clamp, ctx.isa);
            return Ok(Box::new(PerImageStep { kernel, n, x, y }));
        }
        if self.is_direct(cin, cout) {
            let kernel = ConvDirectF32::new(geometry, cout, &wt, bias.as_deref(), self.clamp, ctx.isa);
            return Ok(Box::new(PerImageStep { kernel, n, x, y }));
        }
        if self.is_pointwise() {
            #[cfg(target_arch = "x86_64")]
            if let Some(p) = PointwiseF32::new(&wt, cout, cin, bias.as_deref(), self.clamp, ctx.isa) {
                let product = PointwiseProduct::Own(p);
                return Ok(Box::new(PointwiseStep { product, n, hw: h * w, cin, cout, x, y }));
            }
            let product =
                PointwiseProduct::Gemm(Box::new(GemmF32::new(&wt, cout, cin, h * w, bias.as_deref(), self.clamp)?));
            return Ok(Box::new(PointwiseStep { product, n, hw: h * w, cin, cout, x, y }));
        }
        let (cg, og) = (cin / self.group, cout / self.group);
        let [kh, kw] = self.kernel;
        let k = kh * kw * cg;
        let gemms = (0..self.group)
            .map(|g| {
                // [C_out/g, C_in/g, kh, kw] → [C_out/g, kh, kw, C_in/g], matching the patch order.
                let mut a = vec![0.0; og * k];
                for o in 0..og {
                    for ci in 0..cg {
                        for t in 0..kh * kw {
                            a[o * k + t * cg + ci] = wt[((g * og + o) * cg + ci) * kh * kw + t];
                        }
                    }
                }
                let b = bias.as_ref().map(|b| b[g * og..(g + 1) * og].to_vec());
                GemmF32::new(&a, og, k, oh * ow, b.as_deref(), self.clamp)
            })
            .collect::<Result<Vec<_>>>()?;
        let scratch = ctx.scratch.ok_or_else(|| crate::Error::invalid("im2col needs scratch memory"))?;
        Ok(Box::new(Im2colStep { conv: self.clone(), gemms, dims: [n, h, w, cin, oh, ow, cout], x, y, scratch }))
    }
}
