//! Portable table lookup, one code at a time.

/// `y[i] = table[x[i]]`; `x` and `y` have the same length.
pub fn lookup(table: &[u8; 256], x: &[u8], y: &mut [u8]) {
    for (o, &c) in y.iter_mut().zip(x) {
        *o = table[c as usize];
    }
}
