//! The run-time step of pure data movement (transpose, slice, gather, expand, pad,
//! depth-to-space): `out[i] = in[index[i]]`, with a fill value where the index is
//! [`FILL`]. The index table is computed once at plan time from the op's shape rule.

use crate::exec::{LowerCtx, Memory, Slot, Step};
use crate::tensor::DType;
use crate::{bail, Error, Result};

/// Index-table entry meaning "write the fill value".
pub const FILL: u32 = u32::MAX;

pub struct IndexCopy {
    src: Slot,
    dst: Slot,
    index: Vec<u32>,
    dtype: DType,
    /// Fill value as the output type's bits (f32 bits, or the integer value).
    fill: u32,
}

impl IndexCopy {
    /// A step copying input 0 to output 0 through `index` (one entry per output element).
    pub fn new(ctx: &LowerCtx, index: Vec<usize>, fill: f32) -> Result<IndexCopy> {
        let out = ctx.outputs[0];
        if index.len() != out.numel() {
            bail!("index table of {} entries for {} outputs", index.len(), out.numel());
        }
        let n_in = ctx.inputs[0].numel();
        let index = index
            .into_iter()
            .map(|i| {
                if i == usize::MAX {
                    Ok(FILL)
                } else if i < n_in && i < FILL as usize {
                    Ok(i as u32)
                } else {
                    Err(Error::invalid(format!("index {i} out of range for {n_in} elements")))
                }
            })
            .collect::<Result<Vec<u32>>>()?;
        let dtype = out.dtype;
        let fill = match dtype {
            DType::F32 => fill.to_bits(),
            _ => fill as i64 as u32,
        };
        Ok(IndexCopy { src: ctx.inputs[0].slot()?, dst: out.slot()?, index, dtype, fill })
    }

    fn copy<T: bytemuck::Pod>(&self, mem: &Memory, fill: T) {
        let src = mem.read::<T>(self.src);
        let dst = mem.write::<T>(self.dst);
        for (d, &i) in dst.iter_mut().zip(&self.index) {
            *d = if i == FILL { fill } else { src[i as usize] };
        }
    }
}

impl Step for IndexCopy {
    fn kernel(&self) -> String {
        "index_copy".into()
    }

    fn run(&mut self, mem: &Memory) {
        match self.dtype.size() {
            1 => self.copy::<u8>(mem, self.fill as u8),
            4 => self.copy::<u32>(mem, self.fill),
            _ => self.copy::<u64>(mem, self.fill as i32 as i64 as u64),
        }
    }
}
