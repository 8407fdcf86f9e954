//! `qpose-quant`: quantization math with no dependency on the runtime.
//!
//! Conventions: affine quantization `q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`,
//! dequantization `x = (q - zero_point) * scale`; `scale` is the real value of one integer step.
