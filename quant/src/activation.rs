//! Element-wise activations that follow a linear layer (what LSQ+ reconstruction and
//! cross-layer equalization need to know about them).

use crate::error::{invalid, Result};

/// An activation applied to a layer's pre-activation output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `f(x) = x`.
    Identity,
    /// `f(x) = max(x, 0)`.
    Relu,
    /// `f(x) = min(max(x, min), max)`; ReLU6 is `Clip { min: 0, max: 6 }`
    /// ([`Activation::RELU6`]). Bounds may be infinite but not NaN, and `min <= max`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl Activation {
    /// `Clip(0, 6)`, mmpose MobileNetV2's default activation.
    pub const RELU6: Activation = Activation::Clip { min: 0.0, max: 6.0 };

    /// Applies the activation. Never panics (bounds are applied with `max`/`min`).
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.max(min).min(max),
        }
    }

    /// Whether `x` lies where the activation passes gradients (derivative 1; elsewhere 0).
    #[inline]
    pub fn passes_gradient(self, x: f32) -> bool {
        match self {
            Activation::Identity => true,
            Activation::Relu => x > 0.0,
            Activation::Clip { min, max } => x > min && x < max,
        }
    }

    /// Fails for a `Clip` with NaN bounds or `min > max`.
    pub fn validate(self) -> Result<()> {
        match self {
            Activation::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => {
                Err(invalid("activation", format!("clip bounds [{min}, {max}] need min <= max")))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_gradient_mask() {
        assert_eq!(Activation::Identity.apply(-3.0), -3.0);
        assert_eq!(Activation::Relu.apply(-3.0), 0.0);
        assert_eq!(Activation::RELU6.apply(7.0), 6.0);
        assert_eq!(Activation::RELU6.apply(-1.0), 0.0);
        assert_eq!(Activation::RELU6.apply(2.5), 2.5);
        assert!(Activation::RELU6.passes_gradient(2.5));
        assert!(!Activation::RELU6.passes_gradient(6.5));
        assert!(!Activation::Relu.passes_gradient(-0.5));
        assert!(Activation::Identity.passes_gradient(-0.5));
    }

    #[test]
    fn validation() {
        assert!(Activation::RELU6.validate().is_ok());
        assert!(Activation::Clip { min: 1.0, max: 0.0 }.validate().is_err());
        assert!(Activation::Clip { min: f32::NAN, max: 0.0 }.validate().is_err());
        let open = Activation::Clip { min: f32::NEG_INFINITY, max: f32::INFINITY };
        assert!(open.validate().is_ok());
        // An invalid clip still does not panic.
        assert_eq!(Activation::Clip { min: 1.0, max: 0.0 }.apply(0.5), 0.0);
    }
}
