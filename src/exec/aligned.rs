//! A zero-initialised, 64-byte-aligned byte buffer. It is a tract f32 tensor underneath, so
//! tract-linalg's matrix kernels (which take their element size from the destination
//! tensor's type) can store 4-byte results directly into it.

use tract_data::prelude::{DatumType, Tensor};

/// A zeroed byte buffer whose start is 64-byte aligned.
pub struct AlignedBuf {
    t: Tensor,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes. Panics only if the allocator fails.
    pub fn zeroed(len: usize) -> AlignedBuf {
        // SAFETY: u8 has no invalid bit patterns; zeroed right below.
        let mut t = unsafe { Tensor::uninitialized_aligned_dt(DatumType::F32, &[len.div_ceil(4)], 64) }
            .unwrap_or_else(|e| panic!("allocating {len} bytes: {e}"));
        t.as_bytes_mut().fill(0);
        AlignedBuf { t, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.t.as_bytes().as_ptr()
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.t.as_bytes_mut().as_mut_ptr()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.t.as_bytes()[..self.len]
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.t.as_bytes_mut()[..self.len]
    }

    /// The underlying tract tensor (f32, `len / 4` rounded up elements).
    pub fn as_tract(&self) -> &Tensor {
        &self.t
    }
}

impl Default for AlignedBuf {
    fn default() -> Self {
        AlignedBuf::zeroed(0)
    }
}

impl Clone for AlignedBuf {
    fn clone(&self) -> Self {
        let mut b = AlignedBuf::zeroed(self.len());
        b.as_bytes_mut().copy_from_slice(self.as_bytes());
        b
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len())
    }
}
