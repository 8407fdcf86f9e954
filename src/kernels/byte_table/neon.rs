//! AArch64 NEON table lookup: the 256-byte table in four groups of four q registers, 16 codes
//! per step. `tbl` of the first group answers codes 0–63 (and gives 0 elsewhere); `tbx` of
//! group g with the codes minus 64·g answers codes 64g–64g+63 and leaves the other lanes alone
//! (their shifted index wraps to 64 or more).

use std::arch::aarch64::*;

/// `y[i] = table[x[i]]`; `x` and `y` have the same length.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub unsafe fn lookup(table: &[u8; 256], x: &[u8], y: &mut [u8]) {
    let n = x.len().min(y.len());
    // SAFETY: each group reads 64 of the table's 256 bytes.
    let t = |g: usize| unsafe { vld1q_u8_x4(table.as_ptr().add(64 * g)) };
    let (t0, t1, t2, t3) = (t(0), t(1), t(2), t(3));
    let step = vdupq_n_u8(64);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n bounds both 16-byte accesses.
        unsafe {
            let c = vld1q_u8(x.as_ptr().add(i));
            let c1 = vsubq_u8(c, step);
            let c2 = vsubq_u8(c1, step);
            let c3 = vsubq_u8(c2, step);
            let r = vqtbl4q_u8(t0, c);
            let r = vqtbx4q_u8(r, t1, c1);
            let r = vqtbx4q_u8(r, t2, c2);
            let r = vqtbx4q_u8(r, t3, c3);
            vst1q_u8(y.as_mut_ptr().add(i), r);
        }
        i += 16;
    }
    super::scalar::lookup(table, &x[i..n], &mut y[i..n]);
}
