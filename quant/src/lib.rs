//! `qpose-quant`: quantization math with no dependency on the runtime.
//!
//! Conventions: affine quantization `q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`,
//! dequantization `x = (q - zero_point) * scale`; `scale` is the real value of one integer step.

pub mod activation;
mod adam;
pub mod dfq;
pub mod dtype;
pub mod error;
pub mod fake_quant;
pub mod lsq;
pub mod observer;
pub mod params;
pub mod per_channel;
pub mod prng;
pub mod range;
pub mod requant;
pub mod round;
pub mod scheme;

pub use activation::Activation;
pub use dfq::{
    bias_correction, equalize, ConvLayerMut, ConvShape, Equalization, EqualizationOptions,
    EqualizedActivation,
};
pub use dtype::{QuantDType, QuantInt};
pub use error::{QuantError, Result};
pub use fake_quant::{fake_quantize, fake_quantize_with_grad, FakeQuantGrad};
pub use lsq::{LayerShape, LsqPlusConfig, LsqPlusLayer, LsqPlusResult};
pub use observer::{
    EmaMinMaxObserver, EntropyObserver, MinMaxObserver, MseObserver, Observer, PerChannelObserver,
    PercentileObserver,
};
pub use params::QuantParams;
pub use per_channel::PerChannelParams;
pub use range::RealRange;
pub use requant::{requantize_f32, RequantMultiplier};
pub use scheme::QuantScheme;
