//! Execution primitives: where tensors live at run time ([`Slot`]), the memory a planned model
//! runs in ([`Memory`]), and the unit of execution ([`Step`]).
//!
//! A plan places every runtime tensor in one arena (offsets reused by liveness) and every
//! constant a step reads at run time in a read-only constant area. Steps read and write
//! through [`Memory`]; nothing is allocated while running.

mod aligned;
mod lower;

pub use aligned::AlignedBuf;
pub use lower::{LowerCtx, ValInfo};

use std::marker::PhantomData;

/// Alignment of every slot, in bytes (a cache line; enough for any SIMD load).
pub const SLOT_ALIGN: usize = 64;

/// Which buffer a slot lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The read-write activation arena.
    Arena,
    /// The read-only constant area.
    Const,
}

/// A byte range in one of the run-time buffers, holding one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub region: Region,
    /// Byte offset, a multiple of [`SLOT_ALIGN`].
    pub offset: usize,
    /// Length in bytes.
    pub bytes: usize,
}

impl Slot {
    /// Whether two slots share any byte.
    pub fn overlaps(&self, other: &Slot) -> bool {
        self.region == other.region
            && self.bytes > 0
            && other.bytes > 0
            && self.offset < other.offset + other.bytes
            && other.offset < self.offset + self.bytes
    }
}

/// The run-time buffers of a planned model, viewed by steps through typed slices.
///
/// The plan guarantees that a step's output slots never overlap its input slots or each
/// other, which is what makes handing out `&mut` slices from `&self` sound.
pub struct Memory<'a> {
    arena_tensor: &'a tract_data::prelude::Tensor,
    arena: *mut u8,
    arena_len: usize,
    consts: *const u8,
    consts_len: usize,
    _lifetime: PhantomData<&'a mut [u8]>,
}

impl<'a> Memory<'a> {
    pub fn new(arena: &'a mut AlignedBuf, consts: &'a AlignedBuf) -> Memory<'a> {
        let arena_ptr = arena.as_mut_ptr();
        Memory {
            arena_tensor: arena.as_tract(),
            arena: arena_ptr,
            arena_len: arena.len(),
            consts: consts.as_ptr(),
            consts_len: consts.len(),
            _lifetime: PhantomData,
        }
    }

    fn ptr(&self, s: Slot) -> *mut u8 {
        let (base, len) = match s.region {
            Region::Arena => (self.arena, self.arena_len),
            Region::Const => (self.consts as *mut u8, self.consts_len),
        };
        assert!(s.offset + s.bytes <= len, "slot {s:?} outside its buffer of {len} bytes");
        // SAFETY: in bounds, checked above.
        unsafe { base.add(s.offset) }
    }

    /// The tensor in `s` as `&[T]`.
    pub fn read<T: bytemuck::Pod>(&self, s: Slot) -> &[T] {
        let p = self.ptr(s);
        debug_assert_eq!(p as usize % std::mem::align_of::<T>(), 0);
        // SAFETY: in bounds and aligned (slots are 64-byte aligned, buffers too); no step
        // writes a slot it also reads (plan invariant).
        unsafe { std::slice::from_raw_parts(p as *const T, s.bytes / std::mem::size_of::<T>()) }
    }

    /// A tract output store of 4-byte elements (f32 or i32) into arena slot `s`, starting
    /// `offset` elements in, with the strides of `spec`. For tract-linalg matrix kernels.
    pub fn tract_store(
        &self,
        spec: &tract_linalg::mmm::OutputStoreSpec,
        s: Slot,
        offset: usize,
    ) -> tract_linalg::mmm::OutputStore {
        assert_eq!(s.region, Region::Arena, "constant slots are read-only");
        assert!(offset * 4 <= s.bytes);
        // SAFETY: the view stays inside the arena tensor (checked above); the strides in
        // `spec` are the caller's, who keeps every store inside the slot.
        unsafe {
            let view = tract_data::internal::TensorView::from_bytes(
                self.arena_tensor,
                (s.offset + offset * 4) as isize,
                &[],
                &[],
            );
            spec.wrap(&view)
        }
    }

    /// The tensor in `s` as `&mut [T]`. Only arena slots are writable.
    #[allow(clippy::mut_from_ref)]
    pub fn write<T: bytemuck::Pod>(&self, s: Slot) -> &mut [T] {
        assert_eq!(s.region, Region::Arena, "constant slots are read-only");
        let p = self.ptr(s);
        debug_assert_eq!(p as usize % std::mem::align_of::<T>(), 0);
        // SAFETY: in bounds and aligned; the plan never gives a step two overlapping
        // output slots nor an output overlapping one of its inputs.
        unsafe { std::slice::from_raw_parts_mut(p as *mut T, s.bytes / std::mem::size_of::<T>()) }
    }
}

/// One planned operation: kernels chosen, weights packed, buffers placed.
pub trait Step: Send {
    /// The kernel that runs, as `qpose inspect` shows it (e.g. `depthwise3x3.f32.avx2`).
    fn kernel(&self) -> String;

    /// Runs the step. Never allocates.
    fn run(&mut self, mem: &Memory);
}
