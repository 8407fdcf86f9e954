//! Rounding and saturating casts.
//!
//! Every rounding in this crate is **round half to even**, as ONNX `QuantizeLinear`,
//! `numpy.round`, `torch.round` and `nearbyint` (default FP mode) do. `f32::round` rounds
//! half away from zero and is never used.

/// Rounds to the nearest integer, ties to even (`2.5 → 2`, `3.5 → 4`, `-2.5 → -2`).
/// NaN and ±Inf are returned unchanged.
#[inline]
pub fn round_half_even(x: f32) -> f32 {
    x.round_ties_even()
}

/// Rounds half to even and converts to `i32`, saturating: values beyond the `i32`
/// range (including ±Inf) become `i32::MIN`/`i32::MAX`, and NaN becomes 0.
#[inline]
pub fn round_half_even_to_i32(x: f32) -> i32 {
    // `as` from float to int saturates and maps NaN to 0.
    x.round_ties_even() as i32
}

/// Clamps to `[-128, 127]`.
#[inline]
pub fn saturate_i8(v: i32) -> i8 {
    v.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

/// Clamps to `[0, 255]`.
#[inline]
pub fn saturate_u8(v: i32) -> u8 {
    v.clamp(0, i32::from(u8::MAX)) as u8
}

/// Clamps to `[i32::MIN, i32::MAX]`.
#[inline]
pub fn saturate_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `v / 2^shift` rounded half to even, computed exactly on integers.
///
/// Any `shift` is accepted: for `shift >= 64` the exact quotient has magnitude at most
/// `1/2` (and exactly `1/2` only for `i64::MIN >> 64`, a tie that goes to 0), so the
/// result is 0.
#[inline]
pub fn rounding_shift_right_half_even(v: i64, shift: u32) -> i64 {
    if shift == 0 {
        return v;
    }
    if shift >= 64 {
        return 0;
    }
    // Arithmetic shift is floor division; the low bits of the two's complement
    // representation are the (non-negative) remainder.
    let floor = v >> shift;
    let remainder = (v as u64) & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if remainder > half || (remainder == half && floor & 1 == 1) {
        floor + 1
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_go_to_even() {
        assert_eq!(round_half_even(0.5), 0.0);
        assert_eq!(round_half_even(1.5), 2.0);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(-0.5), 0.0);
        assert_eq!(round_half_even(-1.5), -2.0);
        assert_eq!(round_half_even(-2.5), -2.0);
        assert_eq!(round_half_even(2.4999998), 2.0);
        assert_eq!(round_half_even(2.5000002), 3.0);
        // Not what f32::round does:
        assert_eq!(2.5f32.round(), 3.0);
    }

    #[test]
    fn to_i32_saturates_and_maps_nan_to_zero() {
        assert_eq!(round_half_even_to_i32(f32::NAN), 0);
        assert_eq!(round_half_even_to_i32(f32::INFINITY), i32::MAX);
        assert_eq!(round_half_even_to_i32(f32::NEG_INFINITY), i32::MIN);
        assert_eq!(round_half_even_to_i32(3e9), i32::MAX);
        assert_eq!(round_half_even_to_i32(-3e9), i32::MIN);
        assert_eq!(round_half_even_to_i32(-7.5), -8);
    }

    #[test]
    fn saturating_casts() {
        assert_eq!(saturate_i8(-129), -128);
        assert_eq!(saturate_i8(128), 127);
        assert_eq!(saturate_i8(-5), -5);
        assert_eq!(saturate_u8(-1), 0);
        assert_eq!(saturate_u8(256), 255);
        assert_eq!(saturate_u8(17), 17);
        assert_eq!(saturate_i32(i64::MAX), i32::MAX);
        assert_eq!(saturate_i32(i64::MIN), i32::MIN);
        assert_eq!(saturate_i32(-3), -3);
    }

    #[test]
    fn shift_ties_hand_checked() {
        // 5/2 = 2.5 -> 2, 7/2 = 3.5 -> 4, -5/2 -> -2, -7/2 -> -4, 6/4 = 1.5 -> 2.
        assert_eq!(rounding_shift_right_half_even(5, 1), 2);
        assert_eq!(rounding_shift_right_half_even(7, 1), 4);
        assert_eq!(rounding_shift_right_half_even(-5, 1), -2);
        assert_eq!(rounding_shift_right_half_even(-7, 1), -4);
        assert_eq!(rounding_shift_right_half_even(6, 2), 2);
        assert_eq!(rounding_shift_right_half_even(-6, 2), -2);
        assert_eq!(rounding_shift_right_half_even(9, 0), 9);
        // i64::MIN / 2^63 = -1 exactly; i64::MIN / 2^64 = -0.5 -> 0.
        assert_eq!(rounding_shift_right_half_even(i64::MIN, 63), -1);
        assert_eq!(rounding_shift_right_half_even(i64::MIN, 64), 0);
        assert_eq!(rounding_shift_right_half_even(i64::MAX, 200), 0);
    }

    proptest! {
        #[test]
        fn shift_matches_exact_division(v in any::<i64>(), shift in 0u32..70) {
            // Independent reference: Euclidean division on i128 and an explicit tie rule.
            let d: i128 = 1i128 << shift;
            let q = (v as i128).div_euclid(d);
            let r = (v as i128).rem_euclid(d);
            let expected = match (2 * r).cmp(&d) {
                std::cmp::Ordering::Less => q,
                std::cmp::Ordering::Greater => q + 1,
                std::cmp::Ordering::Equal => if q % 2 == 0 { q } else { q + 1 },
            };
            prop_assert_eq!(rounding_shift_right_half_even(v, shift) as i128, expected);
        }
    }
}
