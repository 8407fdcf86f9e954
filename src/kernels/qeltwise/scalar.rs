//! Portable fused int8 element-wise kernel.

use super::QBinary;

pub fn binary(op: &QBinary, a: &[u8], b: &[u8], y: &mut [u8]) {
    for ((o, &p), &q) in y.iter_mut().zip(a).zip(b) {
        *o = op.one(p, q);
    }
}
