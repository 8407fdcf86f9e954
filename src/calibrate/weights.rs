//! Weight and bias quantization: per-output-channel symmetric int8 weights (`[-127, 127]`,
//! scale from a MinMax or MSE observer per channel, each weight rounded to nearest or by
//! GPTQ) and int32 biases with scale `s_x · s_w[c]` and zero point 0, as ONNX QDQ exports
//! store them.

use super::qerr;
use crate::Result;
use qpose_quant::{MinMaxObserver, MseObserver, PerChannelObserver, PerChannelParams, QuantParams, QuantScheme};

/// The weight scheme: symmetric int8, narrow range, per channel on axis 0.
pub const WEIGHT_SCHEME: QuantScheme = QuantScheme::I8_SYMMETRIC_NARROW;

/// How weight ranges are chosen per output channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WeightObserverKind {
    /// `amax / 127` per channel.
    #[default]
    MinMax,
    /// The clipping range minimising the weights' quantization MSE per channel (MQBench's
    /// 80-step grid).
    Mse,
}

impl std::str::FromStr for WeightObserverKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "minmax" => Ok(Self::MinMax),
            "mse" => Ok(Self::Mse),
            _ => Err(crate::Error::Config(format!("unknown weight observer '{s}' (minmax, mse)"))),
        }
    }
}

/// How each weight goes to its grid (`--weight-rounding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WeightRounding {
    /// To the nearest grid point (half to even).
    #[default]
    Nearest,
    /// GPTQ against the layer's float calibration inputs ([`super::gptq`]): weights and bias
    /// chosen so that the layer's output, not its weights, is closest to the float layer's.
    Gptq,
}

impl std::str::FromStr for WeightRounding {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "nearest" => Ok(Self::Nearest),
            "gptq" => Ok(Self::Gptq),
            _ => Err(crate::Error::Config(format!("unknown weight rounding '{s}' (nearest, gptq)"))),
        }
    }
}

/// Per-channel parameters of `weights` (`[channels, per_channel]`).
pub fn weight_params(weights: &[f32], channels: usize, kind: WeightObserverKind) -> Result<PerChannelParams> {
    match kind {
        WeightObserverKind::MinMax => {
            let mut o = PerChannelObserver::new(channels, MinMaxObserver::new).map_err(qerr)?;
            o.observe(weights).map_err(qerr)?;
            o.params(WEIGHT_SCHEME).map_err(qerr)
        }
        WeightObserverKind::Mse => {
            let proto = MseObserver::with_grid(WEIGHT_SCHEME, MseObserver::PER_CHANNEL_GRID).map_err(qerr)?;
            let mut o = PerChannelObserver::new(channels, || proto.clone()).map_err(qerr)?;
            o.observe(weights).map_err(qerr)?;
            o.params(WEIGHT_SCHEME).map_err(qerr)
        }
    }
}

/// Integer weights `[channels, per_channel]`.
pub fn quantize_weights(weights: &[f32], params: &PerChannelParams) -> Result<Vec<i8>> {
    let c = params.num_channels();
    let mut q = vec![0i8; weights.len()];
    params.quantize_slice(weights, &[c, weights.len() / c], &mut q).map_err(qerr)?;
    Ok(q)
}

/// The weights as the int8 layer sees them (quantized and dequantized).
pub fn fake_quantize_weights(weights: &[f32], params: &PerChannelParams) -> Result<Vec<f32>> {
    let c = params.num_channels();
    let mut out = vec![0f32; weights.len()];
    params.fake_quantize_slice(weights, &[c, weights.len() / c], &mut out).map_err(qerr)?;
    Ok(out)
}

/// The bias scales `s_x · s_w[c]`, computed in f32 exactly as qpose and onnxruntime check them.
pub fn bias_scales(input: &QuantParams, weights: &PerChannelParams) -> Vec<f32> {
    weights.scales().iter().map(|&sw| input.scale() * sw).collect()
}

/// int32 bias `round_half_even(b / (s_x s_w[c]))`, saturated.
pub fn quantize_bias(bias: &[f32], scales: &[f32]) -> Vec<i32> {
    bias.iter()
        .zip(scales)
        .map(|(&b, &s)| {
            let q = (f64::from(b) / f64::from(s)).round_ties_even();
            q.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
        })
        .collect()
}
