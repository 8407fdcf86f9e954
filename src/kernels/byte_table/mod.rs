//! A unary op on 8-bit codes applied as a 256-entry table: `y[i] = table[x[i]]` (bytes of u8
//! or i8 tensors; the table is built for the op's quantization, see
//! [`super::qeltwise::lookup_table`]).
//!
//! AArch64 NEON looks up 16 codes per step in four 64-byte table registers (`tbl`/`tbx`).
//! Others run the byte loop: AVX2's byte shuffle reaches 16 entries per lane (a 256-entry
//! table takes 16 shuffles and 16 blends per 32 codes), and armv7 NEON's `vtbl` reaches 32
//! entries (the table would fill all 32 double registers) — neither beats one load per code.

#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use super::isa::Isa;

/// A planned table lookup.
pub struct ByteTable {
    table: [u8; 256],
    isa: Isa,
}

impl ByteTable {
    /// The lookup of `table` with the best code for `isa`.
    pub fn new(table: [u8; 256], isa: Isa) -> ByteTable {
        let isa = match isa {
            #[cfg(target_arch = "aarch64")]
            Isa::Neon | Isa::NeonDot => Isa::Neon,
            _ => Isa::Scalar,
        };
        ByteTable { table, isa }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// `y[i] = table[x[i]]` for `i < min(x.len(), y.len())`.
    pub fn run(&self, x: &[u8], y: &mut [u8]) {
        let n = x.len().min(y.len());
        let (x, y) = (&x[..n], &mut y[..n]);
        match self.isa {
            // SAFETY: NEON was detected when the plan chose this ISA.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::lookup(&self.table, x, y) },
            _ => scalar::lookup(&self.table, x, y),
        }
    }
}

#[cfg(test)]
mod tests;
