//! f32 matrix product through tract-linalg's micro-kernels (chosen by CPU feature at plan
//! time): `C[m, n] = clamp(A[m, k] · B[k, n] + bias[m])`.
//!
//! `A` is the weight matrix, packed once at plan time. `B` is read from anywhere with
//! arbitrary element strides and packed on each run into a buffer allocated at plan time;
//! `C` is stored straight into an arena slot with arbitrary strides (NHWC convolution
//! outputs are `C^T`: row stride 1, column stride = channels). Bias and clamp run on the
//! register tile. No allocation per run.
//!
//! The clamp keeps NaN, as every qpose f32 kernel does. tract-linalg's x86 and NEON kernels
//! do so on the tile; its SVE, VFP and portable kernels map NaN to the bound (`fmaxnm`,
//! `f32::max`). Which one a kernel does is found at plan time by running it once on a NaN
//! product ([`fused_clamp_keeps_nan`]); for the others the tile's Max/Min become
//! multiplications by one and qpose clamps the stored block afterwards.

use crate::exec::{Memory, Slot};
use crate::ops::Clamp;
use crate::{Error, Result};
use tract_data::internal::TensorView;
use tract_data::prelude::{DatumType, Tensor};
use tract_linalg::mmm::{
    AsInputValue, EagerPackedInput, FusedSpec, MMMInputValue, MatMatMul, OutputStore, ScratchSpace,
};
use tract_linalg::pack::PackedFormat;
use tract_linalg::BinOp;

/// A planned f32 GEMM with packed weights.
pub struct GemmF32 {
    mmm: Box<dyn MatMatMul>,
    packing: usize,
    m: usize,
    k: usize,
    n: usize,
    a: Box<dyn MMMInputValue>,
    b_format: PackedFormat,
    b: EagerPackedInput,
    scratch: Box<dyn ScratchSpace>,
    bias: Tensor,
    /// The first and second scalar operation on the register tile (see the module doc).
    tile_lo: (Tensor, BinOp),
    tile_hi: (Tensor, BinOp),
    /// The clamp applied after the store, when the kernel's own would drop NaN.
    post_clamp: Option<Clamp>,
}

fn tract_err(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("tract-linalg: {e}"))
}

impl GemmF32 {
    /// Plans `C = clamp(A · B + bias)` with `A` given row-major `[m, k]`.
    pub fn new(a: &[f32], m: usize, k: usize, n: usize, bias: Option<&[f32]>, clamp: Clamp) -> Result<GemmF32> {
        if a.len() != m * k || m == 0 || k == 0 || n == 0 {
            return Err(Error::invalid(format!("GEMM of {m}x{k}x{n} with {} weights", a.len())));
        }
        let dispatch = tract_linalg::MmmDispatch::native();
        let mut query = tract_linalg::mmm::Query::plain(DatumType::F32, Some(m), Some(k), Some(n));
        query.allow_extractor = false;
        let (mmm, packing, _) =
            dispatch.pick(&query).ok_or_else(|| Error::invalid("no f32 matrix kernel for this CPU"))?;
        let tile_clamp_keeps_nan = fused_clamp_keeps_nan(&*mmm, packing, clamp)?;
        GemmF32::with_kernel(mmm, packing, tile_clamp_keeps_nan, a, m, k, n, bias, clamp)
    }

    /// Plans the product on the given tract-linalg kernel and packing index, with the clamp
    /// on the register tile if `tile_clamp_keeps_nan`, else after the store.
    #[allow(clippy::too_many_arguments)]
    fn with_kernel(
        mmm: Box<dyn MatMatMul>,
        packing: usize,
        tile_clamp_keeps_nan: bool,
        a: &[f32],
        m: usize,
        k: usize,
        n: usize,
        bias: Option<&[f32]>,
        clamp: Clamp,
    ) -> Result<GemmF32> {
        let (fa, fb) = &mmm.packings()[packing];
        let a_tensor = Tensor::from_shape(&[m, k], a).map_err(tract_err)?;
        let a_packed = fa.prepare_one(&a_tensor, 1, 0).map_err(tract_err)?;
        let b_format = fb
            .downcast_ref::<PackedFormat>()
            .ok_or_else(|| Error::invalid(format!("kernel {} packs activations in an unexpected format", mmm.name())))?
            .clone();
        let b = b_format.new_packed_buffer(k, n).map_err(tract_err)?;
        let bias =
            Tensor::from_shape(&[m], &bias.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; m])).map_err(tract_err)?;
        // SAFETY: allocating the scratch space has no preconditions.
        let scratch = unsafe { mmm.allocate_scratch_space() };
        // The tile's clamp is `Max lo` then `Min hi`, or two multiplications by one when the
        // kernel would drop NaN (the spec list keeps its shape either way).
        let (tile_lo, tile_hi, post_clamp) = if tile_clamp_keeps_nan {
            ((clamp.min, BinOp::Max), (clamp.max, BinOp::Min), None)
        } else {
            ((1.0, BinOp::Mul), (1.0, BinOp::Mul), Some(clamp).filter(|c| !c.is_none()))
        };
        Ok(GemmF32 {
            mmm,
            packing,
            m,
            k,
            n,
            a: a_packed,
            b_format,
            b,
            scratch,
            bias,
            tile_lo: (tract_data::prelude::tensor0(tile_lo.0), tile_lo.1),
            tile_hi: (tract_data::prelude::tensor0(tile_hi.0), tile_hi.1),
            post_clamp,
        })
    }

    /// The micro-kernel's name (for `qpose inspect`).
    pub fn kernel_name(&self) -> &str {
        self.mmm.name()
    }

    /// The largest `n` this GEMM was planned for.
    pub fn max_n(&self) -> usize {
        self.n
    }

    /// Runs the product on the first `n` columns (`n <= max_n()`). `b` holds `B` with element
    /// `(kk, j)` at `kk * b_k_stride + j * b_n_stride`; `C` element `(i, j)` goes to element
    /// `offset + i * c_m_stride + j * c_n_stride` of the f32 arena slot `c`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        n: usize,
        b: &[f32],
        b_k_stride: usize,
        b_n_stride: usize,
        mem: &Memory,
        c: Slot,
        offset: usize,
        c_m_stride: usize,
        c_n_stride: usize,
    ) {
        let (m, k) = (self.m, self.k);
        assert!(n >= 1 && n <= self.n, "GEMM planned for n <= {} run with n = {n}", self.n);
        let last_b = (k - 1) * b_k_stride + (n - 1) * b_n_stride;
        assert!(last_b < b.len(), "GEMM activation of {} elements read at {last_b}", b.len());
        let last_c = offset + (m - 1) * c_m_stride + (n - 1) * c_n_stride;
        assert!(last_c < c.bytes / 4, "GEMM output slot of {} elements written at {last_c}", c.bytes / 4);
        let packed =
            std::sync::Arc::get_mut(&mut self.b.packed).expect("activation panel buffer is owned by this GEMM");
        // SAFETY: the source reads stay inside `b` and the packed buffer was sized for
        // (k, n) by this format (both checked above / at construction).
        unsafe {
            self.b_format.pack_t::<f32>(
                packed.as_mut_ptr() as *mut f32,
                b.as_ptr(),
                n,
                b_k_stride as isize,
                b_n_stride as isize,
                0..k,
                0..n,
            );
        }
        // SAFETY: the store stays inside slot `c` (checked above).
        let store = unsafe { self.mmm.c_from_data_and_strides(4, c_m_stride as isize, c_n_stride as isize) };
        let store = mem.tract_store(&store, c, offset);
        // SAFETY: operands were packed with the formats of `packing`; the bias view has m
        // elements; the scratch space was allocated by this kernel.
        unsafe {
            let specs = fused_product(&*self.a, &self.b, self.packing, &self.bias, &self.tile_lo, &self.tile_hi, store);
            self.mmm
                .run_with_scratch_space(m, n, &mut *self.scratch, &specs)
                .unwrap_or_else(|e| panic!("matrix kernel {} failed: {e}", self.mmm.name()));
        }
        if let Some(clamp) = self.post_clamp {
            let c = &mut mem.write::<f32>(c)[offset..];
            for i in 0..m {
                for j in 0..n {
                    let v = &mut c[i * c_m_stride + j * c_n_stride];
                    *v = clamp.apply_keeping_nan(*v);
                }
            }
        }
    }
}

/// The fused operations of one product, in order: `A · B`, `+ bias` per row, the two scalar
/// operations on the tile (`Max lo`, `Min hi`, or multiplications by one), the store. `run`
/// and the plan-time NaN probe share it, so the probe tests exactly what runs.
fn fused_product<'t>(
    a: &'t dyn MMMInputValue,
    b: &'t dyn MMMInputValue,
    packing: usize,
    bias: &'t Tensor,
    tile_lo: &'t (Tensor, BinOp),
    tile_hi: &'t (Tensor, BinOp),
    store: OutputStore,
) -> [FusedSpec<'t>; 5] {
    // SAFETY: the view borrows `bias`, which outlives the returned specs ('t).
    let bias = unsafe { TensorView::view(bias) };
    [
        FusedSpec::AddMatMul { a: AsInputValue::Borrowed(a), b: AsInputValue::Borrowed(b), packing },
        FusedSpec::BinPerRow(bias, BinOp::Add),
        FusedSpec::BinScalar(&tile_lo.0, tile_lo.1),
        FusedSpec::BinScalar(&tile_hi.0, tile_hi.1),
        FusedSpec::Store(store),
    ]
}

/// Whether `mmm`'s tile clamp (`Max clamp.min` then `Min clamp.max`) keeps NaN, found by
/// running the kernel on the 1x1x1 product NaN · 1.
fn fused_clamp_keeps_nan(mmm: &dyn MatMatMul, packing: usize, clamp: Clamp) -> Result<bool> {
    let (fa, fb) = &mmm.packings()[packing];
    let a = fa.prepare_one(&Tensor::from_shape(&[1, 1], &[f32::NAN]).map_err(tract_err)?, 1, 0).map_err(tract_err)?;
    let b = fb.prepare_one(&Tensor::from_shape(&[1, 1], &[1.0f32]).map_err(tract_err)?, 0, 1).map_err(tract_err)?;
    let bias = Tensor::from_shape(&[1], &[0.0f32]).map_err(tract_err)?;
    let lo = (tract_data::prelude::tensor0(clamp.min), BinOp::Max);
    let hi = (tract_data::prelude::tensor0(clamp.max), BinOp::Min);
    let mut c = Tensor::from_shape(&[1, 1], &[0.0f32]).map_err(tract_err)?;
    // SAFETY: both operands were packed by the formats of `packing`; the store is the 1x1
    // tensor `c`, alive until the product returns.
    unsafe {
        let store = mmm.c_view(Some(0), Some(1)).wrap(&c.view_mut());
        mmm.run(1, 1, &fused_product(&*a, &*b, packing, &bias, &lo, &hi, store)).map_err(tract_err)?;
    }
    Ok(c.to_plain_array_view::<f32>().map_err(tract_err)?.iter().all(|v| v.is_nan()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{AlignedBuf, Region};

    /// `clamp(A · B + bias)` in f64 sums, NaN kept, as the reference.
    fn naive(a: &[f32], b: &[f32], bias: &[f32], m: usize, k: usize, n: usize, clamp: Clamp) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k).map(|kk| a[i * k + kk] as f64 * b[kk * n + j] as f64).sum();
                c[i * n + j] = clamp.apply_keeping_nan((dot + bias[i] as f64) as f32);
            }
        }
        c
    }

    /// Runs `gemm` on `B` given row-major `[k, n]` and returns `C` row-major `[m, n]`.
    fn run(gemm: &mut GemmF32, b: &[f32], m: usize, n: usize) -> Vec<f32> {
        let mut arena = AlignedBuf::zeroed(m * n * 4);
        let consts = AlignedBuf::zeroed(0);
        let mem = Memory::new(&mut arena, &consts);
        let c = Slot { region: Region::Arena, offset: 0, bytes: m * n * 4 };
        gemm.run(n, b, n, 1, &mem, c, 0, n, 1);
        mem.read::<f32>(c).to_vec()
    }

    /// The clamp on the register tile (where the kernel keeps NaN there) and after the store
    /// (where it would not) give the same result, NaN included, with and without a clamp.
    #[test]
    fn clamp_on_the_tile_and_after_the_store_agree_and_keep_nan() {
        let (m, k, n) = (5, 3, 7);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.7).sin() * 3.0).collect();
        let mut b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 1.3).cos() * 2.0).collect();
        b[2] = f32::NAN; // column 2 of every row is NaN
        let bias: Vec<f32> = (0..m).map(|i| i as f32 - 2.0).collect();
        for clamp in [Clamp::NONE, Clamp { min: 0.0, max: 6.0 }, Clamp { min: -1.0, max: 1.0 }] {
            let want = naive(&a, &b, &bias, m, k, n, clamp);
            let planned = GemmF32::new(&a, m, k, n, Some(&bias), clamp).unwrap();
            let kernel = planned.mmm.clone();
            let after_store =
                GemmF32::with_kernel(kernel, planned.packing, false, &a, m, k, n, Some(&bias), clamp).unwrap();
            assert_eq!(after_store.post_clamp.is_some(), !clamp.is_none());
            for mut gemm in [planned, after_store] {
                let got = run(&mut gemm, &b, m, n);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-5 * w.abs().max(1.0);
                    assert!(same, "{} clamp {clamp:?}: C[{i}] = {g}, want {w}", gemm.kernel_name());
                }
            }
        }
    }
}
