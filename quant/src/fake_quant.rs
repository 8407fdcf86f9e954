//! LSQ/LSQ+ fake quantization and its straight-through-estimator (STE) gradients.
//!
//! Forward (LSQ+, Bhalgat et al. 2020; LSQ is the case `offset = 0`):
//!
//! ```text
//! v     = (x - offset) / scale
//! x_hat = round_half_even(clamp(v, qmin, qmax)) * scale + offset
//! ```
//!
//! `scale` is the real value of one step, `offset` (β) the real value of integer 0. ONNX
//! needs an integer zero point instead: `zero_point = -offset / scale` must be an integer for
//! `x_hat` to equal `QuantParams::fake_quantize` (and even then the two differ in the last
//! ulp of `v`, which can flip a tie: `(x - offset) / scale` vs `x / scale + zero_point`).
//!
//! Gradients (STE: `round` is treated as the identity, so the gradients are those of
//! `s * (clamp(v) + r) + β` with the rounding residual `r = round(clamp(v)) - clamp(v)` held
//! constant):
//!
//! | region | `∂x_hat/∂x` | `∂x_hat/∂scale` | `∂x_hat/∂offset` |
//! |---|---|---|---|
//! | `v <= qmin` | 0 | `qmin` | 1 |
//! | `qmin < v < qmax` | 1 | `round(v) - v` | 0 |
//! | `v >= qmax` | 0 | `qmax` | 1 |
//!
//! These are unscaled: LSQ multiplies the scale/offset gradients by `g = 1/sqrt(N * Q_P)`
//! in the optimiser (see [`crate::lsq`]). At `v == qmin` or `v == qmax` exactly the function
//! is not differentiable; the clamped row is used, as in the LSQ paper.
//!
//! Inputs are not validated: `scale` must be finite and > 0; NaN propagates to the output.

/// Value and STE partial derivatives of [`fake_quantize`] at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FakeQuantGrad {
    /// `x_hat`.
    pub value: f32,
    /// `∂x_hat/∂x`.
    pub d_input: f32,
    /// `∂x_hat/∂scale`.
    pub d_scale: f32,
    /// `∂x_hat/∂offset`.
    pub d_offset: f32,
}

/// LSQ+ fake quantization of `x` (see the module docs).
#[inline]
pub fn fake_quantize(x: f32, scale: f32, offset: f32, qmin: i32, qmax: i32) -> f32 {
    fake_quantize_with_grad(x, scale, offset, qmin, qmax).value
}

/// LSQ+ fake quantization of `x` with its STE gradients (see the module docs).
#[inline]
pub fn fake_quantize_with_grad(x: f32, scale: f32, offset: f32, qmin: i32, qmax: i32) -> FakeQuantGrad {
    let (n, p) = (qmin as f32, qmax as f32);
    let v = (x - offset) / scale;
    if v <= n {
        FakeQuantGrad { value: n * scale + offset, d_input: 0.0, d_scale: n, d_offset: 1.0 }
    } else if v >= p {
        FakeQuantGrad { value: p * scale + offset, d_input: 0.0, d_scale: p, d_offset: 1.0 }
    } else {
        let q = v.round_ties_even();
        FakeQuantGrad { value: q * scale + offset, d_input: 1.0, d_scale: q - v, d_offset: 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QMIN: i32 = -128;
    const QMAX: i32 = 127;

    /// The STE surrogate written independently in f64: `s * (clamp(v) + r0) + β`, with the
    /// rounding residual `r0` frozen at the evaluation point `(x0, s0, b0)`.
    fn surrogate(x: f64, s: f64, b: f64, r0: f64) -> f64 {
        let v = ((x - b) / s).clamp(f64::from(QMIN), f64::from(QMAX));
        s * (v + r0) + b
    }

    fn central_difference(f: impl Fn(f64) -> f64, at: f64, h: f64) -> f64 {
        (f(at + h) - f(at - h)) / (2.0 * h)
    }

    #[test]
    fn hand_checked_values() {
        // v = (1.3 - 0.1) / 0.5 = 2.4 -> 2 -> 1.1.
        let g = fake_quantize_with_grad(1.3, 0.5, 0.1, QMIN, QMAX);
        assert!((g.value - 1.1).abs() < 1e-6);
        assert_eq!(g.d_input, 1.0);
        assert!((g.d_scale - -0.4).abs() < 1e-5);
        assert_eq!(g.d_offset, 0.0);
        // Ties to even: v = 2.5 -> 2, v = -2.5 -> -2.
        assert_eq!(fake_quantize(1.25, 0.5, 0.0, QMIN, QMAX), 1.0);
        assert_eq!(fake_quantize(-1.25, 0.5, 0.0, QMIN, QMAX), -1.0);
        // Clamped.
        let lo = fake_quantize_with_grad(-1000.0, 1.0, 2.0, QMIN, QMAX);
        assert_eq!((lo.value, lo.d_input, lo.d_scale, lo.d_offset), (-126.0, 0.0, -128.0, 1.0));
        let hi = fake_quantize_with_grad(1000.0, 1.0, 2.0, QMIN, QMAX);
        assert_eq!((hi.value, hi.d_input, hi.d_scale, hi.d_offset), (129.0, 0.0, 127.0, 1.0));
        assert!(fake_quantize(f32::NAN, 1.0, 0.0, QMIN, QMAX).is_nan());
    }

    #[test]
    fn integer_offset_matches_onnx_params() {
        // offset = -z * s with z integer gives the ONNX result (away from ties).
        let params = crate::QuantParams::new(0.05, 17, crate::QuantScheme::I8_ASYMMETRIC).unwrap();
        for &x in &[-7.0f32, -0.73, 0.0, 0.31, 3.9, 100.0] {
            let lsq = fake_quantize(x, 0.05, -17.0 * 0.05, QMIN, QMAX);
            assert!((lsq - params.fake_quantize(x)).abs() < 1e-5, "{x}");
        }
    }

    proptest! {
        #[test]
        fn inside_gradients_match_the_ste_surrogate(
            v0 in -120.0f64..120.0, s0 in 0.01f64..2.0, b0 in -3.0f64..3.0,
        ) {
            // Keep away from rounding ties, where the frozen residual is ambiguous.
            prop_assume!((v0 - v0.floor() - 0.5).abs() > 1e-3);
            let x0 = v0 * s0 + b0;
            let g = fake_quantize_with_grad(x0 as f32, s0 as f32, b0 as f32, QMIN, QMAX);
            let r0 = v0.round_ties_even() - v0;
            prop_assert!((f64::from(g.value) - surrogate(x0, s0, b0, r0)).abs() < 1e-4 * (1.0 + x0.abs()));
            let h = 1e-4;
            let dx = central_difference(|x| surrogate(x, s0, b0, r0), x0, h);
            let ds = central_difference(|s| surrogate(x0, s, b0, r0), s0, h * s0);
            let db = central_difference(|b| surrogate(x0, s0, b, r0), b0, h);
            prop_assert!((f64::from(g.d_input) - dx).abs() < 1e-6);
            prop_assert!((f64::from(g.d_scale) - ds).abs() < 1e-3, "{} vs {ds}", g.d_scale);
            prop_assert!((f64::from(g.d_offset) - db).abs() < 1e-6);
        }

        #[test]
        fn clamped_gradients_match_the_true_function(
            v0 in prop_oneof![-1000.0f64..-130.0, 130.0f64..1000.0],
            s0 in 0.01f64..2.0, b0 in -3.0f64..3.0,
        ) {
            // Outside the range the forward is affine in (x, s, β): finite differences of the
            // real fake_quantize must give the STE gradients exactly.
            let x0 = v0 * s0 + b0;
            let g = fake_quantize_with_grad(x0 as f32, s0 as f32, b0 as f32, QMIN, QMAX);
            let f = |x: f64, s: f64, b: f64| f64::from(fake_quantize(x as f32, s as f32, b as f32, QMIN, QMAX));
            let h = 1e-3;
            let dx = central_difference(|x| f(x, s0, b0), x0, h);
            let ds = central_difference(|s| f(x0, s, b0), s0, h * s0);
            let db = central_difference(|b| f(x0, s0, b), b0, h);
            prop_assert!((f64::from(g.d_input) - dx).abs() < 1e-2);
            prop_assert!((f64::from(g.d_scale) - ds).abs() < 0.05 * ds.abs().max(1.0), "{} vs {ds}", g.d_scale);
            prop_assert!((f64::from(g.d_offset) - db).abs() < 1e-2);
        }
    }
}
