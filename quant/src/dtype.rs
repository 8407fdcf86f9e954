//! The 8-bit integer types a tensor can be quantized to.

use crate::round::{saturate_i8, saturate_u8};

/// Integer type of a quantized tensor (the ONNX zero-point type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantDType {
    /// Signed 8 bit, `[-128, 127]`.
    I8,
    /// Unsigned 8 bit, `[0, 255]`.
    U8,
}

impl QuantDType {
    /// Lowest value of the type (what ONNX `QuantizeLinear` saturates to).
    pub const fn min(self) -> i32 {
        match self {
            QuantDType::I8 => i8::MIN as i32,
            QuantDType::U8 => u8::MIN as i32,
        }
    }

    /// Highest value of the type.
    pub const fn max(self) -> i32 {
        match self {
            QuantDType::I8 => i8::MAX as i32,
            QuantDType::U8 => u8::MAX as i32,
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

/// Rust storage for quantized values: `i8` or `u8`.
pub trait QuantInt: Copy + sealed::Sealed {
    /// The matching [`QuantDType`].
    const DTYPE: QuantDType;
    /// Converts, clamping to the type's range.
    fn saturating_from_i32(v: i32) -> Self;
    /// Widens to `i32`.
    fn to_i32(self) -> i32;
}

impl QuantInt for i8 {
    const DTYPE: QuantDType = QuantDType::I8;
    #[inline]
    fn saturating_from_i32(v: i32) -> Self {
        saturate_i8(v)
    }
    #[inline]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
}

impl QuantInt for u8 {
    const DTYPE: QuantDType = QuantDType::U8;
    #[inline]
    fn saturating_from_i32(v: i32) -> Self {
        saturate_u8(v)
    }
    #[inline]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
}
