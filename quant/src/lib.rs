//! `qpose-quant`: quantization math with no dependency on the runtime.
//!
//! Conventions: affine quantization `q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`,
//! dequantization `x = (q - zero_point) * scale`; `scale` is the real value of one integer step.

pub mod dtype;
pub mod error;
pub mod observer;
pub mod params;
pub mod per_channel;
pub mod prng;
pub mod range;
pub mod requant;
pub mod round;
pub mod scheme;

pub use dtype::{QuantDType, QuantInt};
pub use error::{QuantError, Result};
pub use observer::{
    EmaMinMaxObserver, EntropyObserver, MinMaxObserver, MseObserver, Observer, PerChannelObserver,
    PercentileObserver,
};
pub use params::QuantParams;
pub use per_channel::PerChannelParams;
pub use range::RealRange;
pub use requant::{requantize_f32, RequantMultiplier};
pub use scheme::QuantScheme;
