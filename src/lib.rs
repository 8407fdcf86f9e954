//! qpose: an embedded-first int8 inference engine for lightweight top-down human-pose models.
//!
//! Data flows one way: ONNX file → [`onnx`] import → [`graph`] → [`passes`] → [`plan`] →
//! run ([`runtime`]) → [`heads`] → [`pipeline`] / [`eval`].

pub mod calibrate;
pub mod cli;
pub mod error;
pub mod eval;
pub mod exec;
pub mod graph;
pub mod heads;
pub mod kernels;
pub mod onnx;
pub mod ops;
pub mod passes;
pub mod pipeline;
pub mod plan;
pub mod runtime;
pub mod tensor;

pub use error::{Error, Result};
pub use runtime::{Model, ModelOptions, OutputView};
