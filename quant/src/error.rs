//! The error type of this crate.

use crate::dtype::QuantDType;

/// Everything that can go wrong in `qpose-quant`.
///
/// Functions that user data reaches return this instead of panicking: empty inputs,
/// NaN/Inf, degenerate ranges and inconsistent shapes all end up here (or have a
/// documented, non-panicking behaviour).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    /// An input that must be finite holds NaN or ±Inf.
    #[error("{what}: element {index} is not finite ({value})")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Index of the first offending element.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// An observer was asked for a range before it saw any (non-empty) batch.
    #[error("no data observed")]
    NoData,
    /// A real range that is not finite or has `min > max`.
    #[error("invalid range [{min}, {max}]: bounds must be finite with min <= max")]
    InvalidRange {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// A scale that is not finite and strictly positive.
    #[error("invalid scale {0}: it must be finite and > 0")]
    InvalidScale(f32),
    /// A zero point outside the scheme's integer range.
    #[error("zero point {zero_point} outside [{qmin}, {qmax}]")]
    ZeroPointOutOfRange {
        /// The zero point.
        zero_point: i32,
        /// Lowest integer of the scheme.
        qmin: i32,
        /// Highest integer of the scheme.
        qmax: i32,
    },
    /// A slice has the wrong length for the declared shape.
    #[error("{what}: expected {expected} elements, got {actual}")]
    LengthMismatch {
        /// Which slice.
        what: &'static str,
        /// Length implied by the declared shape.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// Integer storage of one type used with parameters of another.
    #[error("storage type {actual:?} does not match the scheme's {expected:?}")]
    DTypeMismatch {
        /// The scheme's integer type.
        expected: QuantDType,
        /// The storage type passed in.
        actual: QuantDType,
    },
    /// A configuration or shape argument that makes no sense.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A requantization multiplier outside `[0, 2^31)` (or NaN).
    #[error("requantization multiplier {0} outside [0, 2^31)")]
    MultiplierOutOfRange(f32),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, QuantError>;

/// Fails with [`QuantError::NonFinite`] at the first NaN or ±Inf of `x`.
pub(crate) fn ensure_finite(what: &'static str, x: &[f32]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QuantError::NonFinite { what, index, value: x[index] }),
        None => Ok(()),
    }
}

/// Fails with [`QuantError::LengthMismatch`] unless `actual == expected`.
pub(crate) fn ensure_len(what: &'static str, expected: usize, actual: usize) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(QuantError::LengthMismatch { what, expected, actual })
    }
}

/// Builds a [`QuantError::InvalidArgument`].
pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> QuantError {
    QuantError::InvalidArgument { name, reason: reason.into() }
}
