//! `qpose-quant`: quantization math with no dependency on the runtime (no graph, no I/O).
//!
//! # Conventions
//!
//! * Affine quantization `q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`,
//!   dequantization `x = (q - zero_point) * scale`. `scale` is the real value of one integer
//!   step; `zero_point` is the integer representing real 0.
//! * Rounding is always half to even ([`round`]), as ONNX `QuantizeLinear`.
//! * Weights are laid out `[C_out, rest...]` row-major (ONNX `Conv` `[C_out, C_in/groups, kh, kw]`
//!   flattened, linear `[C_out, K]`); per-channel parameters use axis 0.
//! * Errors are [`QuantError`]; nothing panics on user data (empty slices, NaN/Inf, zero
//!   ranges and bad shapes are errors or documented behaviour).
//!
//! # Modules
//!
//! | module | what |
//! |---|---|
//! | [`scheme`], [`dtype`] | `I8`/`U8`, symmetric or affine, full or narrow range |
//! | [`params`], [`per_channel`], [`range`] | scale/zero point from a range (torch `_calculate_qparams`), quantize/dequantize slices |
//! | [`requant`] | `acc * M` in fixed point (exact for every f32 `M`) and in f32 |
//! | [`round`] | round half to even, saturating casts, rounding shifts |
//! | [`observer`] | MinMax, EMA MinMax, MSE grid, percentile (ORT), entropy/KL (TensorRT), per-channel wrapper |
//! | [`fake_quant`] | LSQ+ fake quantization and STE gradients |
//! | [`lsq`] | LSQ+ step-size/offset learning by layer-output reconstruction |
//! | [`gptq`] | GPTQ weight rounding: each column's rounding error carried to the columns after it |
//! | [`dfq`] | cross-layer equalization and bias correction |
//! | [`activation`] | identity / ReLU / clip between layers |
//! | [`prng`] | SplitMix64 for reproducible sampling |
//!
//! # Defaults
//!
//! | item | default | source |
//! |---|---|---|
//! | weight scheme | `I8` symmetric `[-127, 127]`, per channel | MQBench TensorRT/QDQ preset, ORT `WeightSymmetric` |
//! | activation scheme (LSQ+) | `I8` affine `[-128, 127]`, per tensor | ORT `quantize_static` |
//! | EMA ratio | 0.9, first batch as is | MQBench `EMAMinMaxObserver` |
//! | percentile | 99.999 %, 2048 bins, symmetric on `\|x\|` | ORT `PercentileCalibrater` |
//! | entropy | 2048 bins on `\|x\|`, 128 quantized bins | TensorRT (ORT's 128/128 leaves one candidate) |
//! | MSE grid | 95 steps per tensor, 80 per channel, step 0.01, L2 | MQBench `MSEObserver` |
//! | LSQ+ | 500 Adam steps, batch 256, lr 0.01 relative, cosine decay, seed 0 | this crate |
//! | CLE | up to 100 sweeps, tolerance `\|ln s\| < 1e-4` | this crate |
//! | GPTQ damping | 1 % of the mean of `diag H` | GPTQ paper |

pub mod activation;
mod adam;
pub mod dfq;
pub mod dtype;
pub mod error;
pub mod fake_quant;
pub mod gptq;
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
    bias_correction, equalize, ConvLayerMut, ConvShape, Equalization, EqualizationOptions, EqualizedActivation,
};
pub use dtype::{QuantDType, QuantInt};
pub use error::{QuantError, Result};
pub use fake_quant::{fake_quantize, fake_quantize_with_grad, FakeQuantGrad};
pub use gptq::{gptq_round, SecondMoment};
pub use lsq::{LayerShape, LsqPlusConfig, LsqPlusLayer, LsqPlusResult};
pub use observer::{
    EmaMinMaxObserver, EntropyObserver, MinMaxObserver, MseObserver, Observer, PerChannelObserver, PercentileObserver,
};
pub use params::QuantParams;
pub use per_channel::PerChannelParams;
pub use range::RealRange;
pub use requant::{requantize_f32, RequantMultiplier};
pub use scheme::QuantScheme;
