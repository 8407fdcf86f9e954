//! Every ISA variant against the table itself, on every code and on lengths around the
//! vector width.

use super::*;

#[test]
fn every_isa_looks_up_every_code() {
    // A table that is neither monotone nor periodic in 64: catches a wrong group or offset.
    let table: [u8; 256] = std::array::from_fn(|c| (c as u8).wrapping_mul(167).wrapping_add(29) ^ (c >> 6) as u8);
    for n in [0, 1, 15, 16, 17, 31, 33, 256, 300] {
        let x: Vec<u8> = (0..n).map(|i| (i * 97 % 256) as u8).collect();
        let want: Vec<u8> = x.iter().map(|&c| table[c as usize]).collect();
        for isa in Isa::available() {
            let lut = ByteTable::new(table, isa);
            let mut y = vec![0u8; n];
            lut.run(&x, &mut y);
            assert_eq!(y, want, "{:?} n={n}", lut.isa());
        }
    }
}
