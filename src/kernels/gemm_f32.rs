//! f32 matrix product through tract-linalg's micro-kernels (chosen by CPU feature at plan
//! time): `C[m, n] = clamp(A[m, k] · B[k, n] + bias[m])`.
//!
//! `A` is the weight matrix, packed once at plan time. `B` is read from anywhere with
//! arbitrary element strides and packed on each run into a buffer allocated at plan time;
//! `C` is stored straight into an arena slot with arbitrary strides (NHWC convolution
//! outputs are `C^T`: row stride 1, column stride = channels). Bias and clamp run on the
//! register tile. No allocation per run.

use crate::exec::{Memory, Slot};
use crate::ops::Clamp;
use crate::{Error, Result};
use tract_data::internal::TensorView;
use tract_data::prelude::{DatumType, Tensor};
use tract_linalg::mmm::{AsInputValue, EagerPackedInput, FusedSpec, MMMInputValue, MatMatMul, ScratchSpace};
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
    lo: Tensor,
    hi: Tensor,
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
            lo: tract_data::prelude::tensor0(clamp.min),
            hi: tract_data::prelude::tensor0(clamp.max),
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
            let specs = [
                FusedSpec::AddMatMul {
                    a: AsInputValue::Borrowed(&*self.a),
                    b: AsInputValue::Borrowed(&self.b),
                    packing: self.packing,
                },
                FusedSpec::BinPerRow(TensorView::view(&self.bias), BinOp::Add),
                FusedSpec::BinScalar(&self.lo, BinOp::Max),
                FusedSpec::BinScalar(&self.hi, BinOp::Min),
                FusedSpec::Store(store),
            ];
            self.mmm
                .run_with_scratch_space(m, n, &mut *self.scratch, &specs)
                .unwrap_or_else(|e| panic!("matrix kernel {} failed: {e}", self.mmm.name()));
        }
    }
}
