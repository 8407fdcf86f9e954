//! The maximum of a response (SimCC vector or flattened heatmap) with numpy's tie rule.

/// Index and value of the **first** maximum, as `np.argmax` / `np.amax` give them. NaN never
/// wins over a number. `v` must not be empty.
pub fn first_argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, v[0]);
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > best.1 || (best.1.is_nan() && !x.is_nan()) {
            best = (i, x);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_of_equal_maxima_wins() {
        assert_eq!(first_argmax(&[1.0, 3.0, 2.0, 3.0]), (1, 3.0));
        assert_eq!(first_argmax(&[-2.0]), (0, -2.0));
        assert_eq!(first_argmax(&[f32::NAN, -1.0, -1.0]), (1, -1.0));
    }
}
