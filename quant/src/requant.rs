//! Requantization: scaling an `i32` accumulator by a real multiplier `M = s_in * s_w / s_out`.
//!
//! An int8 convolution accumulates `acc = Σ (q_x - z_x) * q_w` in `i32`; its output integer
//! is `clamp(round_half_even(acc * M) + z_out, qmin, qmax)` with the real multiplier
//! `M = s_in * s_w / s_out` (per output channel for per-channel weights; the bias is folded
//! into `acc` as an `i32` with scale `s_in * s_w`).
//!
//! Two ways to compute `round_half_even(acc * M)` are provided:
//!
//! * [`RequantMultiplier`], integer only: `M` is stored as `multiplier * 2^-right_shift`
//!   with a 31-bit `multiplier`, and applied as a 64-bit product followed by an exact
//!   round-half-to-even right shift. Every `f32` multiplier in `[2^-32, 2^31)` has a 24-bit
//!   significand, so it is represented **exactly**, and the result equals the exact rational
//!   `round_half_even(acc * M)` for every `i32` accumulator (saturated to `i32` when
//!   `M >= 1`). Multipliers below `2^-32` are stored as 0, which is still exact: then
//!   `|acc * M| < 2^31 * 2^-32 = 1/2`, which rounds to 0. This is proven by a property test
//!   against `i128` rational arithmetic.
//!
//!   Unlike gemmlowp/TFLite (`SaturatingRoundingDoublingHighMul` then `RoundingDivideByPOT`),
//!   there is a single rounding and it is half-to-even, matching ONNX `QuantizeLinear`
//!   applied to the real value `acc * M`.
//! * [`requantize_f32`], float: `round_half_even(acc as f32 * M)`, as ONNX Runtime's
//!   `MlasRequantizeOutput` does. `acc as f32` and the product each round once, so the result
//!   is not exact: it differs from the exact one by at most `1 + |acc*M| * 2^-23`, and, when
//!   `|acc * M| < 2^22`, by at most 1 and only if `acc * M` lies within `|acc * M| * 2^-22`
//!   of a half-integer (also property-tested).

use crate::error::{QuantError, Result};
use crate::round::{round_half_even_to_i32, rounding_shift_right_half_even, saturate_i32};

/// `2^31` as f32 (exact).
const TWO_POW_31: f32 = 2_147_483_648.0;
/// `2^-32` as f32 (exact).
const TWO_POW_MINUS_32: f32 = 1.0 / 4_294_967_296.0;

/// A real multiplier `M` in fixed point: `M = multiplier * 2^-right_shift`.
///
/// `multiplier` is in `[2^30, 2^31)` (or 0 for `M < 2^-32`), `right_shift` in `[0, 62]`.
/// A kernel applies it as
/// `round_half_even((acc as i64 * multiplier as i64) / 2^right_shift)`, saturated to `i32`;
/// see [`RequantMultiplier::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequantMultiplier {
    multiplier: i32,
    right_shift: u32,
}

impl RequantMultiplier {
    /// The exact fixed-point form of `real`.
    ///
    /// Fails with [`QuantError::MultiplierOutOfRange`] if `real` is NaN, negative or
    /// `>= 2^31`. `-0.0` and values below `2^-32` (including subnormals) become the zero
    /// multiplier, whose results are exact (see the module docs).
    pub fn new(real: f32) -> Result<Self> {
        if !(0.0..TWO_POW_31).contains(&real) {
            return Err(QuantError::MultiplierOutOfRange(real));
        }
        if real < TWO_POW_MINUS_32 {
            return Ok(Self { multiplier: 0, right_shift: 0 });
        }
        // `real` is a normal number: real = significand * 2^(exponent - 23) with a 24-bit
        // significand in [2^23, 2^24).
        let bits = real.to_bits();
        let exponent = ((bits >> 23) & 0xff) as i32 - 127;
        let significand = (bits & 0x7f_ffff) | 0x80_0000;
        // multiplier = significand * 2^7 in [2^30, 2^31), so real = multiplier * 2^(exponent - 30).
        Ok(Self { multiplier: (significand << 7) as i32, right_shift: (30 - exponent) as u32 })
    }

    /// `M = input_scale * weight_scale / output_scale`, computed in f64 and rounded once to
    /// f32 (the product of two f32 is exact in f64, so only the division and the final
    /// conversion round), then [`RequantMultiplier::new`].
    ///
    /// Fails if a scale is not finite and > 0, or if `M` is out of range.
    pub fn from_scales(input_scale: f32, weight_scale: f32, output_scale: f32) -> Result<Self> {
        for s in [input_scale, weight_scale, output_scale] {
            if !(s.is_finite() && s > 0.0) {
                return Err(QuantError::InvalidScale(s));
            }
        }
        let real = f64::from(input_scale) * f64::from(weight_scale) / f64::from(output_scale);
        Self::new(real as f32)
    }

    /// The 31-bit fixed-point multiplier (`[2^30, 2^31)`, or 0).
    pub fn multiplier(&self) -> i32 {
        self.multiplier
    }

    /// The right shift (`[0, 62]`).
    pub fn right_shift(&self) -> u32 {
        self.right_shift
    }

    /// The represented real value `multiplier * 2^-right_shift` (exact in f64).
    pub fn real(&self) -> f64 {
        f64::from(self.multiplier) * (-f64::from(self.right_shift)).exp2()
    }

    /// `round_half_even(acc * M)`, saturated to `i32`, in integer arithmetic only.
    ///
    /// `|acc * multiplier| < 2^62` always fits in `i64`, and the shift rounds exactly.
    #[inline]
    pub fn apply(&self, acc: i32) -> i32 {
        let product = i64::from(acc) * i64::from(self.multiplier);
        saturate_i32(rounding_shift_right_half_even(product, self.right_shift))
    }
}

/// The float requantization path: `round_half_even(acc as f32 * multiplier)`, saturated to
/// `i32` (NaN multipliers give 0). See the module docs for how far it is from exact.
#[inline]
pub fn requantize_f32(acc: i32, multiplier: f32) -> i32 {
    round_half_even_to_i32(acc as f32 * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// Exact `(num / 2^den_log2)` rounded half to even, by Euclidean division on i128.
    fn exact_round(num: i128, den_log2: u32) -> i128 {
        if den_log2 >= 126 {
            // |num / 2^den_log2| < 2^125 / 2^126 = 1/2: rounds to 0.
            assert!(num.abs() < 1i128 << 125);
            return 0;
        }
        let den = 1i128 << den_log2;
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        match (2 * r).cmp(&den) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => q + (q & 1),
        }
    }

    /// `acc * m` as an exact rational `num / 2^den_log2`, decoding the f32 independently
    /// of the code under test (via `frexp`-style arithmetic on f64).
    fn exact_product(acc: i32, m: f32) -> (i128, u32) {
        let m = f64::from(m);
        // Scale m by 2^k until it is an integer (at most 24 significant bits, so k <= 149).
        let mut k = 0u32;
        let mut scaled = m;
        while scaled.fract() != 0.0 {
            scaled *= 2.0;
            k += 1;
        }
        (i128::from(acc) * scaled as i128, k)
    }

    fn exact_requant(acc: i32, m: f32) -> i32 {
        let (num, k) = exact_product(acc, m);
        let v = exact_round(num, k);
        v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    /// f32 values with exponents in [lo, hi) and a random significand.
    fn multiplier_strategy(lo: i32, hi: i32) -> impl Strategy<Value = f32> {
        (lo..hi, 0u32..(1 << 23)).prop_map(|(e, frac)| f32::from_bits((((e + 127) as u32) << 23) | frac))
    }

    #[test]
    fn representation_hand_checked() {
        let half = RequantMultiplier::new(0.5).unwrap();
        assert_eq!((half.multiplier(), half.right_shift()), (1 << 30, 31));
        assert_eq!(half.real(), 0.5);
        let m = RequantMultiplier::new(0.75).unwrap();
        assert_eq!((m.multiplier(), m.right_shift()), (3 << 29, 31));
        let tiny = RequantMultiplier::new(TWO_POW_MINUS_32).unwrap();
        assert_eq!((tiny.multiplier(), tiny.right_shift()), (1 << 30, 62));
        let big = RequantMultiplier::new(3.0).unwrap();
        assert_eq!((big.multiplier(), big.right_shift()), (3 << 29, 29));
        assert_eq!(RequantMultiplier::new(0.0).unwrap().multiplier(), 0);
        assert_eq!(RequantMultiplier::new(1e-12).unwrap().apply(i32::MIN), 0);
    }

    #[test]
    fn ties_go_to_even() {
        let half = RequantMultiplier::new(0.5).unwrap();
        // 1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2, 0.5 -> 0.
        assert_eq!(half.apply(3), 2);
        assert_eq!(half.apply(5), 2);
        assert_eq!(half.apply(-3), -2);
        assert_eq!(half.apply(-5), -2);
        assert_eq!(half.apply(1), 0);
        // i32::MIN * 2^-32 = -0.5 exactly -> 0.
        let tiny = RequantMultiplier::new(TWO_POW_MINUS_32).unwrap();
        assert_eq!(tiny.apply(i32::MIN), 0);
        assert_eq!(tiny.apply(i32::MAX), 0);
        // 0.25 * 6 = 1.5 -> 2; 0.25 * 10 = 2.5 -> 2.
        let quarter = RequantMultiplier::new(0.25).unwrap();
        assert_eq!(quarter.apply(6), 2);
        assert_eq!(quarter.apply(10), 2);
    }

    #[test]
    fn large_multipliers_saturate() {
        let m = RequantMultiplier::new(3.0).unwrap();
        assert_eq!(m.apply(1000), 3000);
        assert_eq!(m.apply(i32::MAX), i32::MAX);
        assert_eq!(m.apply(i32::MIN), i32::MIN);
    }

    #[test]
    fn rejects_invalid_multipliers() {
        for bad in [f32::NAN, -1.0, -1e-30, TWO_POW_31, f32::INFINITY] {
            assert!(matches!(RequantMultiplier::new(bad), Err(QuantError::MultiplierOutOfRange(_))));
        }
        assert!(RequantMultiplier::new(-0.0).is_ok());
        assert!(RequantMultiplier::from_scales(0.0, 1.0, 1.0).is_err());
        assert!(RequantMultiplier::from_scales(1.0, 1.0, f32::NAN).is_err());
    }

    #[test]
    fn from_scales_rounds_once() {
        // 0.02 * 0.005 / 0.1 in f64, then to f32.
        let m = RequantMultiplier::from_scales(0.02, 0.005, 0.1).unwrap();
        let expected = (0.02f32 as f64 * 0.005f32 as f64 / 0.1f32 as f64) as f32;
        assert_eq!(m.real(), f64::from(expected));
    }

    #[test]
    fn f32_path_can_miss_a_near_tie() {
        // M = 0.75 + 2^-24 (bits 0x3f400001), acc = 4194303 = 2^22 - 1. By hand:
        // acc * 0.75 = 3145727.25 and acc * 2^-24 = 0.2499999404..., so
        // acc * M = 3145727.4999999404...: the exact result is 3145727.
        // In f32 (ulp 0.25 at this magnitude) the product rounds to 3145727.5, a tie that
        // goes to the even 3145728.
        let m = f32::from_bits(0x3f40_0001);
        assert_eq!(f64::from(m), 0.75 + 2f64.powi(-24));
        assert_eq!(RequantMultiplier::new(m).unwrap().apply(4_194_303), 3_145_727);
        assert_eq!(requantize_f32(4_194_303, m), 3_145_728);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn fixed_point_is_exact_below_one(acc in any::<i32>(), m in multiplier_strategy(-32, 0)) {
            let r = RequantMultiplier::new(m).unwrap();
            prop_assert_eq!(r.real(), f64::from(m));
            prop_assert_eq!(r.apply(acc), exact_requant(acc, m));
        }

        #[test]
        fn fixed_point_is_exact_above_one(acc in any::<i32>(), m in multiplier_strategy(0, 31)) {
            let r = RequantMultiplier::new(m).unwrap();
            prop_assert_eq!(r.apply(acc), exact_requant(acc, m));
        }

        #[test]
        fn tiny_multipliers_give_zero(acc in any::<i32>(), m in multiplier_strategy(-126, -32)) {
            prop_assert_eq!(exact_requant(acc, m), 0);
            prop_assert_eq!(RequantMultiplier::new(m).unwrap().apply(acc), 0);
        }

        #[test]
        fn small_accumulators_are_exact(acc in -(1i32 << 16)..(1 << 16), m in multiplier_strategy(-32, 0)) {
            prop_assert_eq!(RequantMultiplier::new(m).unwrap().apply(acc), exact_requant(acc, m));
        }

        #[test]
        fn f32_path_error_bound(acc in any::<i32>(), m in multiplier_strategy(-32, 0)) {
            let exact = exact_requant(acc, m);
            let approx = requantize_f32(acc, m);
            let (num, k) = exact_product(acc, m);
            let den = 1i128 << k;
            let magnitude = num.abs(); // |acc*M| * den
            let diff = i128::from(approx) - i128::from(exact);
            // |diff| <= 1 + |acc*M| * 2^-23.
            prop_assert!(diff.abs() * den <= den + (magnitude >> 23) + 1);
            if diff != 0 && magnitude < (den << 22) {
                prop_assert_eq!(diff.abs(), 1);
                // Nearest half-integer h = floor(P) + 1/2; |P - h| <= |P| * 2^-22, i.e.
                // |2 num - (2 floor + 1) den| * 2^22 <= 2 |num|.
                let floor = num.div_euclid(den);
                let twice_gap = (2 * num - (2 * floor + 1) * den).abs();
                prop_assert!(twice_gap << 22 <= 2 * magnitude);
            }
        }
    }
}
